//! The one way a container is made — [`ContainerBuilder`] — and the env vars, ports, probes
//! and resources that every family of objects gives its containers.

use crate::resolve::model::{
    Container, EnvVar, Labels, Mount, PodSecurity, Port, Probe, Resources, SecretRef, SecurityLevel,
};
use crate::spec::providers::{Health, ImageUser, SelfHosted};
use crate::spec::validate::parse_duration_seconds;
use crate::spec::{ContainerConfig, Healthcheck};

/// Builds a [`Container`]: a name and an image, then what it needs. Without further calls it
/// has no ports, env, probe or mounts, the standard resources, and is not hardened.
pub(super) struct ContainerBuilder(Container);

impl ContainerBuilder {
    /// A container `name` running `image`.
    pub(super) fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        let image: String = image.into();
        ContainerBuilder(Container {
            name: name.into(),
            image_pull_policy: pull_policy(&image).into(),
            image,
            args: Vec::new(),
            ports: Vec::new(),
            env_from_config_maps: Vec::new(),
            env_from_secrets: Vec::new(),
            env: Vec::new(),
            probe: None,
            resources: standard_resources(),
            mounts: Vec::new(),
            add_capabilities: Vec::new(),
            hardened: false,
            read_only_root: false,
            run_as_user: None,
        })
    }

    /// Command arguments.
    pub(super) fn args(mut self, args: Vec<String>) -> Self {
        self.0.args = args;
        self
    }

    /// Named ports, the first one primary.
    pub(super) fn ports(mut self, ports: Vec<Port>) -> Self {
        self.0.ports = ports;
        self
    }

    /// Single env vars.
    pub(super) fn env(mut self, env: Vec<EnvVar>) -> Self {
        self.0.env = env;
        self
    }

    /// Imports every entry of the ConfigMap `name` as env.
    pub(super) fn env_from_config_map(mut self, name: &str) -> Self {
        self.0.env_from_config_maps.push(name.to_string());
        self
    }

    /// Imports every entry of these Secrets as env.
    pub(super) fn env_from_secrets(mut self, names: Vec<String>) -> Self {
        self.0.env_from_secrets = names;
        self
    }

    /// Liveness and readiness probe.
    pub(super) fn probe(mut self, probe: Option<Probe>) -> Self {
        self.0.probe = probe;
        self
    }

    /// Requests and limits, instead of [`standard_resources`].
    pub(super) fn resources(mut self, resources: Resources) -> Self {
        self.0.resources = resources;
        self
    }

    /// Mounts the volume `name` at `path`.
    pub(super) fn mount(mut self, name: &str, path: &str) -> Self {
        self.0.mounts.push(Mount {
            name: name.into(),
            path: path.into(),
            sub_path: None,
        });
        self
    }

    /// Pod Security "restricted" for the container: no privilege escalation and every
    /// capability dropped, `NET_BIND_SERVICE` added back only when it listens on a port below
    /// 1024 (call after [`ports`](Self::ports)). The pod must run as non-root too.
    pub(super) fn restricted(mut self) -> Self {
        self.0.hardened = true;
        self.0.add_capabilities = if self.0.ports.iter().any(|p| p.port < 1024) {
            vec!["NET_BIND_SERVICE".into()]
        } else {
            Vec::new()
        };
        self
    }

    /// A read-only root filesystem, with the emptyDir volume `tmp_volume` at `/tmp` for the
    /// scratch files most programs write.
    pub(super) fn read_only_root(mut self, tmp_volume: &str) -> Self {
        self.0.read_only_root = true;
        self.mount(tmp_volume, "/tmp")
    }

    /// Runs the container as `uid`: for images whose `USER` is a name, which the kubelet
    /// cannot check against `runAsNonRoot`.
    pub(super) fn run_as_user(mut self, uid: i64) -> Self {
        self.0.run_as_user = Some(uid);
        self
    }

    /// The container.
    pub(super) fn build(self) -> Container {
        self.0
    }
}

/// The pull policy Kubernetes gives a container without one (`SetDefaults_Container`,
/// pkg/apis/core/v1/defaults.go): `Always` when the image's tag is `latest` — which
/// `ParseImageName` (pkg/util/parsers) also assumes when there is neither a tag nor a
/// digest — else `IfNotPresent`. Written out so the manifest says what will happen.
pub(super) fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A ':' before the last '/' is a registry port, not a tag.
    let last = name.rsplit('/').next().unwrap_or(name);
    match (last.rsplit_once(':').map(|(_, tag)| tag), digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// The securityContext of a pod whose images the build makes or the platform ships:
/// Pod Security "restricted" (`runAsNonRoot`; seccomp is always `RuntimeDefault`).
/// How long the pods that serve traffic of their own (the agent's, webhook ingestion) keep
/// serving once told to stop. Kubernetes removes a terminating pod from its Services'
/// endpoints while the kubelet stops it, and kube-proxy and ingress controllers learn of it a
/// moment later ("Termination of Pods", `concepts/workloads/pods/pod-lifecycle`); a few
/// seconds covers that. Set whatever the pod's Ingresses: a `lifecycle` that came and went
/// with them would leave an empty `preStop` behind on removal, which the API server rejects.
pub(super) const DRAIN_SECONDS: u32 = 5;

pub(super) fn restricted_pod() -> PodSecurity {
    PodSecurity {
        level: SecurityLevel::Restricted,
        run_as_non_root: true,
        run_as_user: None,
        fs_group: None,
    }
}

/// The securityContext of a pod running a third-party image whose user is root or unknown:
/// Pod Security "baseline", the image's own user.
pub(super) fn baseline_pod() -> PodSecurity {
    PodSecurity {
        level: SecurityLevel::Baseline,
        run_as_non_root: false,
        run_as_user: None,
        fs_group: None,
    }
}

/// The securityContext of a self-hosted provider's pod, from the user its image runs as.
pub(super) fn provider_pod(sh: &SelfHosted) -> PodSecurity {
    match sh.user {
        ImageUser::NonRoot { user, fs_group, .. } => PodSecurity {
            run_as_user: Some(user),
            fs_group: Some(fs_group),
            ..restricted_pod()
        },
        ImageUser::Root { .. } => baseline_pod(),
    }
}

/// The emptyDir volumes of a pod: those its containers mount at `/tmp` (see
/// [`ContainerBuilder::read_only_root`]); everything else they mount is a claim.
pub(super) fn tmp_volumes(containers: &[Container]) -> Vec<String> {
    containers
        .iter()
        .flat_map(|c| &c.mounts)
        .filter(|m| m.path == "/tmp")
        .map(|m| m.name.clone())
        .collect()
}

/// A named TCP port.
pub(super) fn port(name: &str, port: u16) -> Port {
    Port {
        name: name.into(),
        port,
    }
}

/// An env var with a literal value.
pub(super) fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        secret: None,
    }
}

/// An env var read from `key` of the Secret `secret`.
pub(super) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        secret: Some(SecretRef {
            name: secret.into(),
            key: key.into(),
        }),
    }
}

/// The `environment` of a spec container, as literal env vars.
pub(super) fn static_env(c: &ContainerConfig) -> Vec<EnvVar> {
    c.environment.iter().map(|(k, v)| literal(k, v)).collect()
}

fn requests_and_limits(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Resources {
    let map = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Resources {
        requests: map(requests),
        limits: map(limits),
    }
}

/// Resources of agents, ingestion and components without a GPU.
pub(super) fn standard_resources() -> Resources {
    requests_and_limits(
        &[("cpu", "100m"), ("memory", "256Mi")],
        &[("cpu", "1"), ("memory", "1Gi")],
    )
}

/// Resources of the messaging sidecar.
pub(super) fn sidecar_resources() -> Resources {
    requests_and_limits(
        &[("cpu", "100m"), ("memory", "128Mi")],
        &[("cpu", "500m"), ("memory", "512Mi")],
    )
}

/// The extended resource of a GPU runtime: `amd.com/gpu` for ROCm, else `nvidia.com/gpu`.
pub(super) fn gpu_resource_name(runtime: Option<&str>) -> String {
    match runtime {
        Some("rocm") => "amd.com/gpu".into(),
        _ => "nvidia.com/gpu".into(),
    }
}

/// Resources of a container with one GPU of `runtime`.
pub(super) fn gpu_resources(runtime: Option<&str>) -> Resources {
    let gpu = gpu_resource_name(runtime);
    requests_and_limits(
        &[("cpu", "2"), ("memory", "8Gi"), (gpu.as_str(), "1")],
        &[("cpu", "4"), ("memory", "16Gi"), (gpu.as_str(), "1")],
    )
}

/// A probe from a spec healthcheck (Astropods spec §3.2): exec `test` (Docker's
/// `CMD`/`CMD-SHELL` forms understood) or HTTP `path`; interval/timeout/retries map to
/// period/timeout/failures.
pub(super) fn probe(h: &Healthcheck, port_name: &str) -> Probe {
    let exec = if h.test.is_empty() {
        None
    } else {
        Some(match h.test.first().map(String::as_str) {
            Some("CMD") => h.test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["sh".into(), "-c".into(), h.test[1..].join(" ")],
            _ => h.test.clone(),
        })
    };
    Probe {
        http_path: if exec.is_none() {
            Some(h.path.clone().unwrap_or_else(|| "/".into()))
        } else {
            None
        },
        exec,
        port: port_name.into(),
        period: h
            .interval
            .as_deref()
            .and_then(parse_duration_seconds)
            .unwrap_or(10),
        timeout: h
            .timeout
            .as_deref()
            .and_then(parse_duration_seconds)
            .unwrap_or(5),
        failure_threshold: h
            .retries
            .map(|r| i32::try_from(r.max(1)).unwrap_or(i32::MAX))
            .unwrap_or(3),
    }
}

/// The probe of a built-in self-hosted provider.
pub(super) fn builtin_probe(sh: &SelfHosted) -> Probe {
    let (exec, http_path) = match sh.health {
        Health::Http(p) => (None, Some(p.to_string())),
        Health::Exec(cmd) => (Some(cmd.iter().map(|s| s.to_string()).collect()), None),
    };
    Probe {
        exec,
        http_path,
        port: sh.port_name.into(),
        period: 10,
        timeout: 5,
        failure_threshold: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::{ContainerBuilder, port, pull_policy};

    /// Pod Security "restricted" allows adding back `NET_BIND_SERVICE` only; we add it only
    /// where a port below 1024 needs it.
    #[test]
    fn net_bind_service_only_for_a_port_below_1024() {
        let restricted = |p: u16| {
            ContainerBuilder::new("app", "bot:1")
                .ports(vec![port("http", p)])
                .restricted()
                .build()
        };
        let low = restricted(80);
        assert!(low.hardened);
        assert_eq!(low.add_capabilities, ["NET_BIND_SERVICE"]);
        let high = restricted(1024);
        assert!(high.hardened && high.add_capabilities.is_empty());
    }

    /// The cases of `SetDefaults_Container` and `ParseImageName`.
    #[test]
    fn pull_policy_follows_kubernetes_defaulting() {
        for (image, policy) in [
            ("redis:7-alpine", "IfNotPresent"),
            ("qdrant/qdrant:latest", "Always"),
            ("qdrant/qdrant", "Always"),
            ("localhost:5000/bot", "Always"),
            ("localhost:5000/bot:1.0", "IfNotPresent"),
            ("bot@sha256:0123", "IfNotPresent"),
            ("bot:latest@sha256:0123", "Always"),
            ("registry.example.test/acme/bot:build-1", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy(image), policy, "{image}");
        }
    }
}
