//! Command-line interface: subcommands, flags and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes (deploy, validate):
  0  success            2  partial: some objects failed (see errors)
  1  failure            3  invalid request, build record, spec or template
  4  unauthorized or forbidden by the cluster
  5  build not found
Errors print {\"error\", \"details\"} JSON on stdout and one line on stderr.";

const DEPLOY_EXAMPLES: &str = "\
Examples:
  # Review what would be deployed, no cluster needed
  kubectl astro deploy --dry-run -f examples/deploy-request.json --catalog examples/catalog

  # Same, from flags, with the web chat adapter and a credential read from the environment
  kubectl astro deploy --dry-run --account astro-team --name weather-agent \\
      --interface web --credential ANTHROPIC_API_KEY --catalog examples/catalog

  # One build record directly, output as a JSON List
  kubectl astro deploy --dry-run -f request.json --build build.yaml -o json";

/// Deploy Astropods agents to Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "kubectl-astro", bin_name = "kubectl astro", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    /// Build catalog directory: <account>/<agent>/<build_id>.yaml.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Multi-document YAML.
    Yaml,
    /// A JSON `List`.
    Json,
}

/// `deploy` flags.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Print the manifests instead of applying them.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of --dry-run.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    pub output: Output,
    /// Show Secret values in --dry-run output instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
    /// Directory of templates overriding the embedded ones, file by file.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Namespace to deploy into (default astro-{account}-{name}).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Domain of agent and web-chat ingress hosts.
    #[arg(long, default_value = "agents.localtest.me")]
    pub ingress_domain: String,
    /// Domain of webhook ingestion hosts.
    #[arg(long, default_value = "ingestion.localtest.me")]
    pub ingestion_domain: String,
    /// IngressClass of every Ingress (controller default when unset).
    #[arg(long)]
    pub ingress_class: Option<String>,
    /// TLS Secret of every Ingress (no TLS block when unset).
    #[arg(long)]
    pub tls_secret: Option<String>,
    /// Also render NetworkPolicies isolating the namespace.
    #[arg(long)]
    pub network_policy: bool,
    /// Image of the messaging sidecar.
    #[arg(long, default_value = "astropods/messaging:latest")]
    pub messaging_image: String,
    /// StorageClass of persistent volumes (cluster default when unset).
    #[arg(long)]
    pub storage_class: Option<String>,
    /// Leave the agent's replica count to an autoscaler (do not send `replicas`).
    #[arg(long)]
    pub no_replicas: bool,
}
