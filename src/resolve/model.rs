//! The resolved deployment: plain data, everything decided, ready for the templates.
//! Field names here are what the templates read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::ServiceEndpoint;
use crate::error::FieldError;
use crate::kind::Kind;

/// Labels or annotations.
pub type Labels = BTreeMap<String, String>;

/// One object to render: its kind, name and the data its template reads as `obj`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedObject {
    /// Kind (decides the template and the stage).
    pub kind: Kind,
    /// metadata.name
    pub name: String,
    /// Labels of the object.
    pub labels: Labels,
    /// Annotations of the object.
    pub annotations: Labels,
    /// Kind-specific data.
    pub spec: ObjectSpec,
}

/// Kind-specific data of a [`PlannedObject`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ObjectSpec {
    /// Namespace, nothing more than metadata.
    Namespace {},
    /// A Secret's entries (plain text; the template encodes them).
    Secret {
        /// key → value
        data: BTreeMap<String, String>,
    },
    /// A ConfigMap's entries.
    ConfigMap {
        /// key → value
        data: BTreeMap<String, String>,
    },
    /// A ClusterIP Service.
    Service(ServiceSpec),
    /// Deployment / StatefulSet / Job / CronJob.
    Workload(Box<WorkloadSpec>),
    /// An Ingress with one host.
    Ingress(IngressSpec),
    /// A NetworkPolicy.
    NetworkPolicy(NetworkPolicySpec),
}

/// A Service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    /// Pod selector.
    pub selector: Labels,
    /// Ports, first is primary.
    pub ports: Vec<Port>,
    /// Route to pods before they are ready (the messaging sidecar, headless Services).
    pub publish_not_ready: bool,
    /// `clusterIP: None`: the governing Service of a StatefulSet, which gives each pod its
    /// DNS name and no virtual IP.
    pub headless: bool,
}

/// A named TCP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    /// Port name (also the container port name).
    pub name: String,
    /// Port number.
    pub port: u16,
}

/// A workload and its pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadSpec {
    /// Replica count, `None` to leave it to an autoscaler.
    pub replicas: Option<u32>,
    /// `Recreate` for agents that must not run twice, else `RollingUpdate`.
    pub strategy: Option<String>,
    /// Pod selector.
    pub selector: Labels,
    /// StatefulSet: the governing Service.
    pub service_name: Option<String>,
    /// StatefulSet: one PVC template named `data`.
    pub volume_claim: Option<VolumeClaim>,
    /// CronJob: the 5-field schedule.
    pub schedule: Option<String>,
    /// CronJob: suspended, so its Jobs start only when someone creates one from it.
    pub suspend: bool,
    /// The pod template.
    pub pod: PodSpec,
}

/// A PVC template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeClaim {
    /// Claim name (`data`).
    pub name: String,
    /// Requested size, e.g. `10Gi`.
    pub size: String,
    /// Storage class, cluster default when absent.
    pub storage_class: Option<String>,
}

/// A pod template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodSpec {
    /// Pod labels.
    pub labels: Labels,
    /// Pod annotations (the env hash).
    pub annotations: Labels,
    /// `Always` for servers, `OnFailure` for jobs.
    pub restart_policy: Option<String>,
    /// Containers, main first.
    pub containers: Vec<Container>,
    /// emptyDir volumes by name.
    pub empty_dirs: Vec<String>,
    /// Tolerations for GPU nodes.
    pub gpu_toleration: Option<String>,
    /// The pod's securityContext and the Pod Security level it meets.
    pub security: PodSecurity,
    /// Seconds every container keeps serving after the pod is told to stop (a `preStop`
    /// sleep): the agent's and webhook ingestion pods; `None` for the others.
    pub drain_seconds: Option<u32>,
}

/// A Pod Security Standards level (docs/security.md), ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityLevel {
    /// No known privilege escalation: what third-party images running as root get.
    Baseline,
    /// Non-root, no privilege escalation, every capability dropped, RuntimeDefault seccomp.
    Restricted,
}

impl SecurityLevel {
    /// The level's name in the `pod-security.kubernetes.io/*` labels.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::Baseline => "baseline",
            SecurityLevel::Restricted => "restricted",
        }
    }
}

/// A pod's securityContext (seccomp is always `RuntimeDefault`) and the level it meets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSecurity {
    /// The strictest Pod Security level the pod and its containers meet.
    pub level: SecurityLevel,
    /// `runAsNonRoot: true`.
    pub run_as_non_root: bool,
    /// `runAsUser`, when the image's user is known.
    pub run_as_user: Option<i64>,
    /// `fsGroup`: the group that owns the pod's volumes.
    pub fs_group: Option<i64>,
}

/// A container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// `IfNotPresent` or `Always`, as Kubernetes would default it for `image`.
    pub image_pull_policy: String,
    /// Command arguments, if any.
    pub args: Vec<String>,
    /// Named ports.
    pub ports: Vec<Port>,
    /// ConfigMaps imported whole.
    pub env_from_config_maps: Vec<String>,
    /// Secrets imported whole.
    pub env_from_secrets: Vec<String>,
    /// Single env vars.
    pub env: Vec<EnvVar>,
    /// Liveness + readiness probe.
    pub probe: Option<Probe>,
    /// CPU/memory (and GPU) requests and limits.
    pub resources: Resources,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// Capabilities added back when hardened (all others are dropped).
    pub add_capabilities: Vec<String>,
    /// No privilege escalation and every capability dropped but `add_capabilities`.
    pub hardened: bool,
    /// Read-only root filesystem (with an emptyDir at `/tmp`).
    pub read_only_root: bool,
    /// Container `runAsUser`, when its image names its user but not by number.
    pub run_as_user: Option<i64>,
}

/// One env var: a literal value or a Secret key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value.
    pub value: Option<String>,
    /// `(secret name, key)` to read the value from.
    pub secret: Option<SecretRef>,
}

/// A reference to one key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// Key in the Secret.
    pub key: String,
}

/// A probe, exec or HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// Exec command.
    pub exec: Option<Vec<String>>,
    /// HTTP GET path on `port`.
    pub http_path: Option<String>,
    /// Port name for HTTP probes.
    pub port: String,
    /// Seconds between probes.
    pub period: i32,
    /// Seconds before a probe times out.
    pub timeout: i32,
    /// Failures before the container is unhealthy.
    pub failure_threshold: i32,
}

/// Requests and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resources {
    /// Requests.
    pub requests: Labels,
    /// Limits.
    pub limits: Labels,
}

/// A volume mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// Volume (or claim template) name.
    pub name: String,
    /// Mount path.
    pub path: String,
    /// Sub-path inside the volume.
    pub sub_path: Option<String>,
}

/// An Ingress for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressSpec {
    /// Host name.
    pub host: String,
    /// Backend Service.
    pub service: String,
    /// Backend port name.
    pub port: String,
    /// IngressClass, controller default when absent.
    pub class: Option<String>,
    /// TLS Secret, no TLS block when absent.
    pub tls_secret: Option<String>,
}

/// The cert-manager issuer that gives each Ingress its own certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CertIssuer {
    /// A `ClusterIssuer` (annotation `cert-manager.io/cluster-issuer`).
    Cluster(String),
    /// An `Issuer` in the deploy's namespace (annotation `cert-manager.io/issuer`).
    Namespaced(String),
}

impl CertIssuer {
    /// The Ingress annotation that asks cert-manager for a certificate from this issuer.
    pub fn annotation(&self) -> (&'static str, &str) {
        match self {
            CertIssuer::Cluster(name) => ("cert-manager.io/cluster-issuer", name),
            CertIssuer::Namespaced(name) => ("cert-manager.io/issuer", name),
        }
    }
}

/// A NetworkPolicy: pods selected, and where ingress traffic may come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPolicySpec {
    /// Pods it applies to (empty: all).
    pub pod_selector: Labels,
    /// `none` (deny all), `namespace` (same namespace), `any` (every namespace).
    pub from: String,
    /// Container ports the traffic may reach (empty: all).
    pub ports: Vec<PolicyPort>,
}

/// A port of a NetworkPolicy rule: a container port's name or its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PolicyPort {
    /// A named container port.
    Name(String),
    /// A port number.
    Number(u16),
}

/// The location of a self-hosted store's password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorePassword {
    /// Knowledge entry name (the key of `ResolveOptions::store_passwords`).
    pub entry: String,
    /// Secret holding it.
    pub secret: String,
    /// Key inside the Secret.
    pub key: String,
}

/// Everything resolve decided: the input of rendering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedDeployment {
    /// Account that owns the deployment.
    pub account: String,
    /// Agent name.
    pub name: String,
    /// Build deployed.
    pub build_id: String,
    /// Target namespace.
    pub namespace: String,
    /// Labels every object of this deployment carries (prune selects on them).
    pub common_labels: Labels,
    /// Objects in apply order.
    pub objects: Vec<PlannedObject>,
    /// How services will be reached.
    pub service_endpoints: Vec<ServiceEndpoint>,
    /// Names of Secrets whose values must not be shown.
    pub secret_names: Vec<String>,
    /// Where each self-hosted store's password lives, so a deployer can read it back
    /// instead of generating a new one.
    pub store_passwords: Vec<StorePassword>,
    /// Deprecations noticed in the spec.
    pub warnings: Vec<FieldError>,
}
