//! Command-line interface: subcommands, flags and help text. Values are typed as they are
//! parsed (durations, enums, paths); what depends on several flags is checked by each
//! command's `validate` before anything runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::render::Templates;
use astro_deploy::resolve::Stage;
use astro_deploy::resolve::{CertIssuer, ResolveOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kubectl_astro::settings::{self, Settings, Tls};
use kubectl_astro::{Cluster, ConnectOptions, DeployStep, Event, Observer};

use super::exit::Failure;
use super::inputs;
use super::output::{err_line, stderr_is_terminal};

const EXIT_CODES: &str = "\
Exit codes (deploy, validate):
  0  success            2  partial: some objects failed (see errors)
  1  failure            3  invalid request, build record, spec or template
  4  unauthorized or forbidden by the cluster
  5  build not found
  6  busy: another deploy or undeploy of the agent held its Lease past --lock-wait
  130  deploy interrupted (SIGINT/SIGTERM): partial result printed, nothing pruned
Errors print {\"error\", \"details\"} JSON on stdout and one line on stderr.
A reader closing stdout early (| head) ends the output quietly and changes no exit code.";

const DEPLOY_EXAMPLES: &str = "\
Examples:
  # Review what would be deployed, no cluster needed
  kubectl astro deploy --dry-run -f examples/deploy-request.json --catalog examples/catalog

  # Same, from flags, with the web chat adapter and a credential read from the environment
  kubectl astro deploy --dry-run --account astro-team --name weather-agent \\
      --interface web --credential ANTHROPIC_API_KEY --catalog examples/catalog

  # One build record directly, output as a JSON List
  kubectl astro deploy --dry-run -f request.json --build build.yaml -o json

  # A named build of the in-cluster catalog instead of the latest
  kubectl astro deploy -f request.json --build-id build-20240601-0900

Render flags not given take their value from the ConfigMap astro-system/astro-settings
(keys: the flag names without --, e.g. ingress-domain, cluster-issuer, network-policy), then
from the built-in default; -v prints each setting and where it came from. --dry-run reads
no cluster: flags and built-in defaults only.";

/// Deploy Astropods agents to Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "kubectl-astro", bin_name = "kubectl astro", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log to stderr: -v the plugin's steps, -vv also every request, -vvv everything (the
    /// kube client's HTTP traces too). RUST_LOG, when set, replaces these levels.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render (and with a cluster, apply) an agent's latest build.
    #[command(after_help = format!("{DEPLOY_EXAMPLES}\n\n{EXIT_CODES}"))]
    Deploy(DeployArgs),
    /// Check a deploy request against its build without touching a cluster.
    #[command(after_help = format!("Examples:\n  kubectl astro validate -f examples/deploy-request.json --catalog examples/catalog\n\n{EXIT_CODES}"))]
    Validate(RequestArgs),
    /// Show what deploy would change: server-side dry-run against the live objects.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Delete an agent's deployment (its namespace, only if kubectl-astro created it).
    #[command(after_help = UNDEPLOY_HELP)]
    Undeploy(UndeployArgs),
    /// Manage the in-cluster build catalog (namespace astro-system).
    #[command(subcommand, after_help = BUILD_HELP)]
    Build(BuildCommand),
    /// List the deployments kubectl-astro made (found by their namespaces' labels).
    #[command(after_help = LIST_HELP)]
    List(ListArgs),
    /// Run an ingestion of a deployment now: a Job from its CronJob (manual or scheduled).
    #[command(after_help = TRIGGER_HELP)]
    Trigger(TriggerArgs),
    /// Show one deployment in detail: workloads, pods and containers, jobs, endpoints.
    #[command(after_help = STATUS_HELP)]
    Status(AgentArgs),
    /// List an agent's deployment history: the last 10 deploys that changed something.
    #[command(after_help = HISTORY_HELP)]
    History(AgentArgs),
    /// Redeploy the previous build (or --to BUILD) of the deployment history.
    #[command(after_help = ROLLBACK_HELP)]
    Rollback(RollbackArgs),
    /// Serve the Deploy API over HTTP (POST /api/v1/deploy, …) with the engine of deploy.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  source <(kubectl astro completion bash)\n  kubectl astro completion zsh > \"${fpath[1]}/_kubectl-astro\""
    )]
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

const DIFF_HELP: &str = "\
Examples:
  kubectl astro diff -f examples/deploy-request.json --catalog examples/catalog
  kubectl astro diff -f request.yaml -o json
  kubectl astro diff -f request.yaml --color always | less -R

Exit codes: 0 no changes, 1 changes, >1 error (3 invalid input, 4 denied, 5 build not found).
Secret values are masked as <redacted sha256:xxxxxxxx>: a changed value changes the fingerprint.";

const UNDEPLOY_HELP: &str = "\
Examples:
  kubectl astro undeploy --account astro-team --name weather-agent --wait

Exit codes: 0 deleted, 1 failure, 4 denied, 5 no such deployment, 6 busy (another deploy
or undeploy of the agent held its Lease past --lock-wait).";

const TRIGGER_HELP: &str = "\
Examples:
  kubectl astro trigger --account flags --name feature-flag-assistant reindex
  kubectl astro trigger --account flags --name feature-flag-assistant reindex --wait --timeout 10m

Prints {\"status\": \"triggered\", \"job_name\", \"namespace\"}. The Job is what
`kubectl create job --from=cronjob/<cronjob>` makes; it is deleted with its CronJob.
Exit codes: 0 triggered (with --wait: completed), 1 the Job failed or --timeout passed,
3 invalid input, 4 denied, 5 no such deployment or ingestion.";

const BUILD_HELP: &str = "\
Examples:
  kubectl astro build push examples/catalog/astro-team/weather-agent/build-20240612-1530.yaml
  kubectl astro build list --account astro-team
  kubectl astro build list -o json
  kubectl astro build publish --account astro-team --name weather-agent --build-id build-20240612-1530 --version 1.0.0";

const LIST_HELP: &str = "\
Examples:
  kubectl astro list --account astro-team
  kubectl astro list -A -o json

STATUS: Ready (every Deployment and StatefulSet ready), Progressing, Failed, Terminating.
READY: ready workloads / workloads. ENDPOINTS: the URL of each Ingress host.";

const STATUS_HELP: &str = "\
Examples:
  kubectl astro status --account astro-team --name weather-agent
  kubectl astro status --account astro-team --name weather-agent -o json

Shows the summary list prints, then each Deployment and StatefulSet with its readiness (the
kstatus rules --wait uses), each pod with its containers' states, restarts and the reason of
the last failure, and each Job with its completions.

Exit codes: 0 found, 1 failure, 3 invalid account or name, 4 denied, 5 no such deployment.";

const HISTORY_HELP: &str = "\
Examples:
  kubectl astro history --account astro-team --name weather-agent
  kubectl astro history --account astro-team --name weather-agent -o json

Each deploy that changed something records the build, the request without credential values
and the build record, in a ConfigMap of the agent's namespace; the last 10 are kept, newest
first. -o json prints {deployments: DeploymentRecord[], count}.

Exit codes: 0 found, 1 failure, 3 invalid account or name, 4 denied, 5 no such deployment.";

const ROLLBACK_HELP: &str = "\
Examples:
  # Back to the build deployed before the current one
  kubectl astro rollback --account astro-team --name weather-agent

  # Back to a named build of the history, showing the diff first
  kubectl astro rollback --account astro-team --name weather-agent --to build-20240601-0900 --diff

  # Credentials are never recorded: give them again, as to deploy
  kubectl astro rollback -f request.json --to build-20240601-0900
  kubectl astro rollback --account astro-team --name weather-agent --credential ANTHROPIC_API_KEY

Redeploys the recorded build record (image and spec) with the recorded request (interfaces,
schedules, source account) and the render flags given here, with deploy's diff, apply, prune
and DeployResponse; the rollback is recorded as a deploy of its own.

Exit codes: as deploy; 5 when the history has no such (or no earlier) build, or no deployment.";

const SERVE_HELP: &str = "\
Routes (every /api/v1 route needs `Authorization: Bearer <token>`, every POST a JSON body):
  POST /api/v1/deploy           DeployRequest -> DeployResponse: 200 success, 207 partial
  POST /api/v1/deploy/validate  DeployRequest -> {valid, build_id, name} or 400 {valid: false, validation_errors}
  POST /api/v1/undeploy         {account, name} -> UndeployResponse
  GET  /api/v1/deployments?account=A                   {deployments, count}, as list -o json
  GET  /api/v1/agents/{account}/{name}/deployment          as status -o json
  GET  /api/v1/agents/{account}/{name}/deployment/history  {deployments, count}, as history -o json
  POST /api/v1/deployments/{namespace}/ingestion/{ingestion}/trigger?account=A
                                no body -> {status: \"triggered\", job_name, namespace}, as trigger prints
  GET  /api/v1/openapi.yaml     the OpenAPI document of these routes
  GET  /healthz                 200 while the server runs
  GET  /readyz                  200 when the cluster answers, else 503
  GET  /metrics                 Prometheus metrics (OpenMetrics text)
Errors answer {\"error\", \"details\"}: 400 invalid request, 401 no or unknown token,
403 no role for the account, 404 no such build or deployment, 409 the agent is busy
(another deploy or undeploy of it past --lock-wait), 408 body not sent within --read-timeout,
413 body over 1 MiB, 415 not JSON, 500 cluster failures, 503 shutting down, 504 past
--request-deadline. Every answer carries an x-request-id header (the client's, or a new one),
which the access log line on stderr names.

Tokens file (YAML; each token known by the SHA-256 of its value, \"*\" = every account):
  tokens:
    - name: ci
      sha256: <hex of sha256(token)>       # printf %s \"$TOKEN\" | sha256sum
      accounts: {astro-team: deployer}     # viewer: validate, GETs; deployer: + deploy, undeploy; admin

Examples:
  kubectl astro serve --tokens tokens.yaml --catalog examples/catalog
  kubectl astro serve --tokens tokens.yaml --listen 127.0.0.1:0   # any free port, printed at start
  kubectl astro serve --tokens tokens.yaml --listen 0.0.0.0:8443 --tls-cert tls.crt --tls-key tls.key

  # The manifests that run the server in a cluster (docs/server.md)
  kubectl astro serve --print-manifests --image registry.example.com/kubectl-astro:0.1.0 | kubectl apply -f -

At SIGTERM or SIGINT the server accepts nothing new and lets the requests in flight finish for
--shutdown-grace; then it interrupts their deploys, which answer their partial result (207, or
503 when nothing was applied yet). A second signal stops at once (exit 130). A request past
--request-deadline: a deploy is interrupted the same way (207, or 504); others answer 504.

Exit codes: 0 stopped by SIGINT/SIGTERM after every request in flight was answered, 1 failure
(or a deploy still running 10 s after its interrupt), 3 invalid flags or tokens file, 130
stopped at once by a second signal.";

/// `serve` flags: where to listen, who may call, and the server-wide render and cluster
/// settings every deploy uses.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:PORT (port 0: any free port; the address is printed on
    /// stderr at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Allow a --listen address that is not loopback without --tls-cert: bearer tokens then
    /// cross the network in clear text unless a TLS proxy is in front.
    #[arg(long)]
    pub insecure_listen: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Tokens file (YAML): each caller's token digest and role per account.
    #[arg(long, value_name = "FILE", required_unless_present = "print_manifests")]
    pub tokens: Option<PathBuf>,
    /// Also accept Kubernetes identities: a bearer token the tokens file does not know is
    /// sent to the cluster as a TokenReview, and the user or groups it authenticates get the
    /// roles of the tokens file's `kubernetes` section (the server needs `create` on
    /// `tokenreviews.authentication.k8s.io`).
    #[arg(long)]
    pub token_review: bool,
    /// Build catalog directory DIR/ACCOUNT/AGENT/BUILD_ID.yaml (default: the in-cluster
    /// catalog, as deploy uses).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// How long a deploy or undeploy waits while another one of the same agent runs (in this
    /// server, or holding the agent's Lease elsewhere), before answering 409 (30s, 500ms, …).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Duration,
    /// At SIGTERM or SIGINT, how long the requests in flight may still run before their
    /// deploys are interrupted and answer their partial result.
    #[arg(long, default_value = "20s", value_name = "DURATION", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// The deadline of every HTTP request to the server: past it a deploy is interrupted and
    /// answers its partial result (207), any other request answers 504. (--request-timeout is
    /// kubectl's: each request to the cluster.)
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub request_deadline: Duration,
    /// How long a client may take to send a request's headers, and then its body; past it
    /// the connection is closed (headers) or the request answers 408 (body).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub read_timeout: Duration,
    /// Print the manifests that run this server in a cluster (Namespace, ServiceAccount,
    /// ClusterRole and binding, Deployment, Service) and exit; needs no tokens file or cluster.
    #[arg(long)]
    pub print_manifests: bool,
    #[command(flatten)]
    pub manifests: ManifestArgs,
    #[command(flatten)]
    pub render: RenderArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// What `serve --print-manifests` fills in.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// The server's container image (with --print-manifests).
    #[arg(long, value_name = "IMAGE", default_value = concat!("ghcr.io/astropods/kubectl-astro:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// The namespace the server runs in (with --print-manifests).
    #[arg(long, value_name = "NS", default_value = "astro-system")]
    pub server_namespace: String,
    /// How many replicas of the server run (with --print-manifests).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub replicas: u16,
}

/// Where the request and the build come from.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// DeployRequest as JSON or YAML; `-` reads standard input. Flags below override it.
    #[arg(short = 'f', long = "filename", value_name = "FILE|-")]
    pub filename: Option<String>,
    /// Account that owns the deployment.
    #[arg(long)]
    pub account: Option<String>,
    /// Agent name.
    #[arg(long)]
    pub name: Option<String>,
    /// Deploy the latest published build of this account's agent.
    #[arg(long)]
    pub source_account: Option<String>,
    /// Credential KEY=VALUE, or KEY to read the value from the environment variable KEY.
    #[arg(long = "credential", value_name = "KEY[=VALUE]")]
    pub credentials: Vec<String>,
    /// Interface adapter to enable (slack, web); repeat for several.
    #[arg(long = "interface", value_name = "ADAPTER")]
    pub interfaces: Vec<String>,
    /// Cron schedule NAME=CRON for a schedule-triggered ingestion.
    #[arg(long = "schedule", value_name = "NAME=CRON")]
    pub schedules: Vec<String>,
    /// One build record file to deploy (YAML or JSON).
    #[arg(long, value_name = "FILE", conflicts_with = "catalog")]
    pub build: Option<PathBuf>,
    /// Build catalog directory: DIR/ACCOUNT/AGENT/BUILD_ID.yaml.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// This build of the catalog (--catalog or the in-cluster one) instead of the latest.
    #[arg(long, value_name = "BUILD", conflicts_with = "build")]
    pub build_id: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Multi-document YAML.
    Yaml,
    /// A JSON `List`.
    Json,
}

/// Flags that shape the rendered objects.
#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// Directory of templates overriding the embedded ones, file by file.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Namespace to deploy into (default astro-{account}-{name}).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Domain of agent and web-chat ingress hosts [default: the cluster settings, else
    /// agents.localtest.me].
    #[arg(long, value_name = "DOMAIN")]
    pub ingress_domain: Option<String>,
    /// Domain of webhook ingestion hosts [default: the cluster settings, else
    /// ingestion.localtest.me].
    #[arg(long, value_name = "DOMAIN")]
    pub ingestion_domain: Option<String>,
    /// IngressClass of every Ingress [default: the cluster settings, else the controller's
    /// default class].
    #[arg(long, value_name = "NAME")]
    pub ingress_class: Option<String>,
    /// TLS Secret of every Ingress (no TLS block when unset); it must exist in the agent's
    /// namespace: deploy warns when it does not. Any TLS flag replaces the cluster settings'
    /// tls-secret, cluster-issuer and issuer.
    #[arg(long, value_name = "SECRET", conflicts_with_all = ["cluster_issuer", "issuer"])]
    pub tls_secret: Option<String>,
    /// cert-manager ClusterIssuer giving each Ingress its own certificate, stored in the
    /// Secret `{ingress}-tls`.
    #[arg(long, value_name = "NAME", conflicts_with = "issuer")]
    pub cluster_issuer: Option<String>,
    /// cert-manager Issuer of the agent's namespace giving each Ingress its own certificate,
    /// stored in the Secret `{ingress}-tls`.
    #[arg(long, value_name = "NAME")]
    pub issuer: Option<String>,
    /// NetworkPolicies isolating the namespace: deny ingress except from the namespace and,
    /// on their backend ports, to the pods behind an Ingress (`--network-policy=false`: none)
    /// [default: the cluster settings, else true].
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub network_policy: Option<bool>,
    /// Image of the messaging sidecar [default: the cluster settings, else the platform's
    /// pinned digest].
    #[arg(long, value_name = "IMAGE")]
    pub messaging_image: Option<String>,
    /// StorageClass of persistent volumes [default: the cluster settings, else the
    /// cluster's default class].
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,
    /// Leave the agent's replica count to an autoscaler (do not send `replicas`).
    #[arg(long)]
    pub no_replicas: bool,
}

/// How to reach the cluster (as kubectl).
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Path of the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Timeout of each request (30s, 1m, 500ms; 0 = none).
    #[arg(long, default_value = "0", global = true, value_parser = parse_request_timeout)]
    pub request_timeout: RequestTimeout,
    /// Field manager of server-side applies.
    #[arg(long, default_value = "kubectl-astro", global = true)]
    pub field_manager: String,
}

/// `deploy` flags.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub render: RenderArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Print the manifests instead of applying them (no cluster needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of --dry-run.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Output,
    /// Show Secret values in --dry-run output instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// How `deploy` and `rollback` apply.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Print the diff against the cluster on stderr before applying.
    #[arg(long)]
    pub diff: bool,
    /// Take over fields another field manager owns instead of failing with a conflict.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Delete objects of the previous deploy that this one no longer renders.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub prune: bool,
    /// Refuse to deploy when more objects than this would be pruned.
    #[arg(long, default_value_t = 10)]
    pub max_prune: usize,
    /// Wait for workloads to become ready (kstatus rules) before answering.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (30s, 5m, …).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Objects applied at once within a stage.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// How long to wait while another deploy or undeploy of the agent holds its Lease
    /// (60s, 500ms, …); exit 6 after that, naming the holder.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Duration,
    /// How long other runs wait for this one's Lease once it stops renewing it (a killed
    /// run): whole seconds, at least 1s; renewed every third of it.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_lease_duration)]
    pub lease_duration: Duration,
}

/// `diff` flags.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub render: RenderArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// `text` (unified diff) or `json`.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: DiffOutput,
    /// Objects compared at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Colour the text diff: auto (only on a terminal, and not when NO_COLOR is set), always,
    /// never.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
}

/// When `diff` colours its text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only when stdout is a terminal and NO_COLOR is unset or empty.
    Auto,
    /// Always, even into a pipe or with NO_COLOR set.
    Always,
    /// Never.
    Never,
}

/// Machine-readable formats of a listing (the default is a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListOutput {
    /// Pretty JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Diff output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffOutput {
    /// Unified diff, coloured on a terminal.
    Text,
    /// One JSON object per changed object, in an array.
    Json,
}

/// `undeploy` flags.
#[derive(Debug, Clone, Args)]
pub struct UndeployArgs {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Wait until the namespace is gone.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long to wait while a deploy of the agent holds its Lease (60s, 500ms, …); exit 6
    /// after that, naming the holder.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Duration,
    /// How long other runs wait for this one's Lease once it stops renewing it (a killed
    /// run): whole seconds, at least 1s; renewed every third of it.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_lease_duration)]
    pub lease_duration: Duration,
}

/// Which deployment a command is about, and the cluster it is in.
#[derive(Debug, Clone, Args)]
pub struct DeploymentArgs {
    /// Account of the deployment.
    #[arg(long)]
    pub account: String,
    /// Agent name.
    #[arg(long)]
    pub name: String,
    /// Namespace, when deployed with --namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `trigger` flags.
#[derive(Debug, Clone, Args)]
pub struct TriggerArgs {
    /// The ingestion, as the spec names it.
    pub ingestion: String,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Wait until the Job completes (its progress on stderr).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `list` flags: whose deployments, and how to print them.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this account's deployments.
    #[arg(long, required_unless_present = "all_accounts")]
    pub account: Option<String>,
    /// Every account's deployments.
    #[arg(short = 'A', long, conflicts_with = "account")]
    pub all_accounts: bool,
    /// json or yaml: `{deployments, count}`; a table when not given.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<ListOutput>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Flags of `status` and `history`: which agent, and how to print.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// json or yaml; a table when not given.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<ListOutput>,
}

/// `rollback` flags: which agent, to which build, its credentials, and deploy's render,
/// cluster and apply flags.
#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// Account of the deployment (or `account` of -f).
    #[arg(long)]
    pub account: Option<String>,
    /// Agent name (or `name` of -f).
    #[arg(long)]
    pub name: Option<String>,
    /// The build to go back to (default: the newest build of the history other than the
    /// current one).
    #[arg(long, value_name = "BUILD")]
    pub to: Option<String>,
    /// A DeployRequest (JSON or YAML, `-` for stdin) whose user_credentials the rollback
    /// uses; its other fields must name the same agent, and the recorded ones are used.
    #[arg(short = 'f', long = "filename", value_name = "FILE|-")]
    pub filename: Option<String>,
    /// Credential KEY=VALUE, or KEY to read the value from the environment variable KEY.
    #[arg(long = "credential", value_name = "KEY[=VALUE]")]
    pub credentials: Vec<String>,
    #[command(flatten)]
    pub render: RenderArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// `build` subcommands: the in-cluster catalog.
#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Register a build record (YAML or JSON file) in the cluster catalog.
    Push {
        /// The record file.
        file: PathBuf,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// List build records in the cluster catalog.
    List {
        /// Only this account's builds.
        #[arg(long)]
        account: Option<String>,
        /// Only this agent's builds.
        #[arg(long)]
        name: Option<String>,
        /// json or yaml: one object per build; a table when not given.
        #[arg(short = 'o', long, value_enum)]
        output: Option<ListOutput>,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Publish a build: give it a semantic version (cross-account deploys use published builds).
    Publish {
        /// Account of the build.
        #[arg(long)]
        account: String,
        /// Agent name.
        #[arg(long)]
        name: String,
        /// Build to publish.
        #[arg(long)]
        build_id: String,
        /// Version, e.g. 1.2.0.
        #[arg(long, value_parser = parse_version)]
        version: semver::Version,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

impl RenderArgs {
    /// What these flags say of the cluster-wide settings (`None` where no flag was given).
    pub fn settings(&self) -> Settings {
        let issuer = self
            .cluster_issuer
            .clone()
            .map(CertIssuer::Cluster)
            .or_else(|| self.issuer.clone().map(CertIssuer::Namespaced));
        Settings {
            ingress_domain: self.ingress_domain.clone(),
            ingestion_domain: self.ingestion_domain.clone(),
            ingress_class: self.ingress_class.clone(),
            tls: self
                .tls_secret
                .clone()
                .map(Tls::Secret)
                .or(issuer.map(Tls::Issuer)),
            network_policy: self.network_policy,
            messaging_image: self.messaging_image.clone(),
            storage_class: self.storage_class.clone(),
        }
    }

    /// The per-deploy resolve options these flags ask for (namespace, replicas), with the
    /// built-in defaults for the settings.
    pub fn base_options(&self) -> ResolveOptions {
        ResolveOptions {
            namespace: self.namespace.clone(),
            omit_replicas: self.no_replicas,
            ..ResolveOptions::default()
        }
    }

    /// The resolve options without a cluster (`--dry-run`): the flags over the built-in
    /// defaults; `-v` logs each setting and that the cluster settings were not read.
    pub fn offline_options(&self) -> ResolveOptions {
        let (options, origins) = settings::resolve(&self.settings(), None, self.base_options());
        settings::log(&origins, false);
        options
    }

    /// The resolve options of a deploy to `cluster`: the flags over its settings ConfigMap
    /// (one GET) over the built-in defaults; `-v` logs where each setting came from.
    pub async fn cluster_options(&self, cluster: &Cluster) -> Result<ResolveOptions, Failure> {
        let read = settings::read(cluster).await?;
        let (options, origins) =
            settings::resolve(&self.settings(), Some(&read), self.base_options());
        settings::log(&origins, true);
        Ok(options)
    }

    /// The embedded templates, with `--templates DIR` over them.
    pub fn templates(&self) -> Result<Templates, Failure> {
        let overrides = inputs::template_overrides(self.templates.as_deref())?;
        Ok(Templates::with_overrides(overrides)?)
    }
}

impl ClusterArgs {
    /// Connects as these flags say.
    pub async fn connect(&self) -> Result<Cluster, Failure> {
        let mut options = ConnectOptions::default().request_timeout(self.request_timeout.0);
        if let Some(path) = &self.kubeconfig {
            options = options.kubeconfig(path);
        }
        if let Some(context) = &self.context {
            options = options.context(context);
        }
        let cluster = kubectl_astro::connect(&options).await?;
        let observer = StderrObserver {
            steps: stderr_is_terminal(),
        };
        Ok(cluster
            .field_manager(&self.field_manager)
            .observer(Arc::new(observer)))
    }
}

impl DeployArgs {
    /// Rejects flags that do not go together.
    pub fn validate(&self) -> Result<(), Failure> {
        if self.show_secrets && !self.dry_run {
            return Err(Failure::invalid(
                "--show-secrets only applies to --dry-run output",
            ));
        }
        Ok(())
    }
}

/// Prints the engine's progress on stderr: retries, readiness changes while waiting, and —
/// when stderr is a terminal, where someone is watching — one line per deploy step.
struct StderrObserver {
    /// Whether to print the deploy's steps.
    steps: bool,
}

impl Observer for StderrObserver {
    fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Retrying { delay, error } => {
                err_line(format_args!("retrying in {}ms: {error}", delay.as_millis()))
            }
            Event::Readiness {
                kind,
                name,
                readiness,
            } => err_line(format_args!("{kind}/{name}: {readiness}")),
            Event::Warning { message } => err_line(format_args!("warning: {message}")),
            Event::StepDone { step, results } if self.steps => {
                err_line(step_line(*step, results));
            }
            _ => {}
        }
    }
}

/// One line for a finished deploy step: what it was, and how many objects ended how
/// (`Secrets and ConfigMaps: 2 created, 1 unchanged`).
pub fn step_line(step: DeployStep<'_>, results: &[ResourceResult]) -> String {
    let action = |a: ResourceAction| {
        serde_json::to_value(a)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    let what = match step {
        DeployStep::Namespace => {
            if let [ns] = results {
                return format!("Namespace {}: {}", ns.name, action(ns.action));
            }
            "Namespace".into()
        }
        DeployStep::Apply(stages) => {
            let names: Vec<&str> = stages
                .iter()
                .map(|s| match s {
                    Stage::Namespace => "Namespace",
                    Stage::Policy => "NetworkPolicies",
                    Stage::Config => "Secrets and ConfigMaps",
                    Stage::Service => "Services",
                    Stage::Workload => "workloads",
                    Stage::Ingress => "Ingresses",
                })
                .collect();
            names.join(", ")
        }
        DeployStep::Prune => "prune".into(),
        _ => "step".into(),
    };
    let mut counts: Vec<(ResourceAction, usize)> = Vec::new();
    for r in results {
        match counts.iter_mut().find(|(a, _)| *a == r.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.action, 1)),
        }
    }
    let counts: Vec<String> = counts
        .iter()
        .map(|(a, n)| format!("{n} {}", action(*a)))
        .collect();
    format!("{what}: {}", counts.join(", "))
}

/// `--request-timeout`: each request's limit, none for `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

fn parse_request_timeout(s: &str) -> Result<RequestTimeout, String> {
    if s == "0" {
        return Ok(RequestTimeout(None));
    }
    parse_duration(s).map(|d| RequestTimeout(Some(d)))
}

/// A semantic version (`1.2.0`).
fn parse_version(s: &str) -> Result<semver::Version, String> {
    semver::Version::parse(s).map_err(|e| format!("not a semantic version: {e}"))
}

/// A kubectl-style duration: `30s`, `1m`, `500ms`, `2h`, or bare seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let invalid = || format!("'{s}' is not a duration like 30s, 1m or 500ms");
    let n: u64 = num.parse().map_err(|_| invalid())?;
    let seconds = |factor: u64| {
        n.checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(invalid)
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err(invalid()),
    }
}

/// A `leaseDurationSeconds`: a duration of whole seconds, at least one.
pub fn parse_lease_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.as_secs() == 0 || d.subsec_nanos() != 0 {
        return Err(format!(
            "'{s}' is not a whole number of seconds of at least 1s (a Lease counts in seconds)"
        ));
    }
    Ok(d)
}

/// The Lease options of `deploy` and `undeploy`: wait up to `wait`, a lease of `duration`
/// renewed every third of it.
pub fn lock_options(wait: Duration, duration: Duration) -> kubectl_astro::LockOptions {
    kubectl_astro::LockOptions::default()
        .wait(wait)
        .lease(duration, duration / 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_line_counts_objects_by_action() {
        let result = |name: &str, action| ResourceResult {
            kind: "Secret".into(),
            name: name.into(),
            namespace: "ns".into(),
            action,
            message: None,
        };
        let results = [
            result("a", ResourceAction::Created),
            result("b", ResourceAction::Unchanged),
            result("c", ResourceAction::Created),
        ];
        assert_eq!(
            step_line(DeployStep::Apply(&[Stage::Config]), &results),
            "Secrets and ConfigMaps: 2 created, 1 unchanged"
        );
        assert_eq!(
            step_line(DeployStep::Namespace, &results[..1]),
            "Namespace a: created"
        );
    }

    #[test]
    fn lease_durations_are_whole_seconds() {
        assert_eq!(parse_lease_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_lease_duration("2000ms"), Ok(Duration::from_secs(2)));
        for bad in ["0s", "500ms", "1500ms"] {
            let e = parse_lease_duration(bad).expect_err(bad);
            assert!(e.contains("whole number of seconds"), "{e}");
        }
    }

    #[test]
    fn durations_as_kubectl_writes_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "5x", "-1s", "1.5s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_request_timeout("0"), Ok(RequestTimeout(None)));
    }
}
