//! The agent's family: its platform env, credential Secrets and ConfigMap, Service,
//! Deployment (with the messaging sidecar when there is one) and frontend Ingress.

use std::collections::BTreeMap;

use super::container::{
    ContainerBuilder, DRAIN_SECONDS, literal, port, probe, restricted_pod, secret_env, tmp_volumes,
};
use super::messaging::{GRPC_PORT, Sidecar};
use super::{Planner, env_hash, inputs};
use crate::kind::Kind;
use crate::naming::{self, resource_name};
use crate::resolve::model::*;

/// The agent's port without a frontend.
const AGENT_PORT: u16 = 8080;
/// The agent's port with a frontend.
const FRONTEND_PORT: u16 = 80;
/// Credentials that go to the messaging sidecar only, when Slack is enabled.
const SLACK_KEYS: [&str; 2] = ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"];

/// The agent's Service and how it is reached.
pub(super) struct AgentService {
    name: String,
    port: u16,
    /// External host name (used when there is a frontend).
    host: String,
}

/// What the agent's pod reads, and what of it ingestion pods share.
pub(super) struct AgentPod {
    /// The agent container's env vars from the credentials and store Secrets.
    pub(super) env: Vec<EnvVar>,
    /// Every ingestion container's env vars from the same Secrets: credentials that are no
    /// input or a top-level input, and the stores' (never `agent.inputs`).
    pub(super) ingestion_env: Vec<EnvVar>,
    /// Pod annotations: the env hash.
    pub(super) annotations: Labels,
}

impl Planner<'_> {
    /// The agent's platform env, its input defaults (Astropods spec §8.4) and its Service.
    pub(super) fn agent_service(&mut self, frontend: bool, sidecar: bool) -> AgentService {
        let port_number = if frontend { FRONTEND_PORT } else { AGENT_PORT };
        let name = resource_name(&[&self.agent, "agent"], 63);
        let record = &self.build.record;
        let host = self.host(&name);
        self.config
            .insert("ASTRO_AGENT_NAME".into(), record.name.clone());
        self.config
            .insert("ASTRO_AGENT_BUILD".into(), record.build_id.clone());
        self.config.insert("ASTRO_AGENT_HOST".into(), host.clone());
        self.config.insert(
            "ASTRO_AGENT_URL".into(),
            format!("http://{host}:{port_number}"),
        );
        self.config.insert("PORT".into(), port_number.to_string());
        if sidecar {
            self.config
                .insert("GRPC_SERVER_ADDR".into(), format!("localhost:{GRPC_PORT}"));
        }
        let external =
            naming::agent_host(&self.agent, &self.namespace, &self.options.ingress_domain);
        if frontend {
            self.config.insert(
                "ASTRO_EXTERNAL_AGENT_URL".into(),
                format!("https://{external}"),
            );
        }
        // Only top-level input defaults go to the ConfigMap, which ingestion pods read too;
        // `agent.inputs` are the agent container's alone (Astropods spec §8.4).
        let spec = &self.build.spec;
        for input in spec.inputs.values() {
            if let Some(d) = &input.default
                && !self.request.user_credentials.contains_key(&input.name)
            {
                self.config.insert(input.name.clone(), d.clone());
            }
        }
        self.service(name.clone(), "agent", vec![port("http", port_number)]);
        AgentService {
            name,
            port: port_number,
            host: external,
        }
    }

    /// The credential Secrets (agent, messaging, stores) and the agent ConfigMap; returns
    /// the env and env hash of pods that read them.
    pub(super) fn agent_config(&mut self, slack: bool) -> AgentPod {
        let is_slack_key = |k: &str| slack && SLACK_KEYS.contains(&k);
        let creds: BTreeMap<String, String> = self
            .request
            .user_credentials
            .iter()
            .filter(|(k, _)| !is_slack_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let targets: Vec<(&String, inputs::Targets)> = creds
            .keys()
            .map(|k| (k, inputs::credential_targets(self.spec(), k)))
            .collect();
        let secret_env_of = |keep: fn(&inputs::Targets) -> bool| -> Vec<EnvVar> {
            targets
                .iter()
                .filter(|(_, t)| keep(t))
                .map(|(k, _)| secret_env(k, &self.credentials_secret, k))
                .chain(self.store_env.iter().cloned())
                .collect()
        };
        let env = secret_env_of(|t| t.agent);
        let ingestion_env = secret_env_of(|t| t.ingestion);
        let messaging_creds: BTreeMap<String, String> = self
            .request
            .user_credentials
            .iter()
            .filter(|(k, _)| is_slack_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let hash =
            env_hash::agent_env_hash(&self.config, &creds, &messaging_creds, &self.store_secrets);
        let mut annotations = Labels::new();
        annotations.insert(env_hash::ENV_HASH.into(), hash);
        if !creds.is_empty() {
            let name = self.credentials_secret.clone();
            self.add(
                Kind::Secret,
                name,
                "agent",
                Labels::new(),
                ObjectSpec::Secret { data: creds },
            );
        }
        if !messaging_creds.is_empty() {
            let name = self.messaging_secret.clone();
            self.add(
                Kind::Secret,
                name,
                "messaging",
                Labels::new(),
                ObjectSpec::Secret {
                    data: messaging_creds,
                },
            );
        }
        self.store_secret_objects();
        let cm = self.config_map.clone();
        self.add(
            Kind::ConfigMap,
            cm,
            "agent",
            Labels::new(),
            ObjectSpec::ConfigMap {
                data: self.config.clone(),
            },
        );
        AgentPod {
            env,
            ingestion_env,
            annotations,
        }
    }

    /// The agent Deployment: the agent container, and the messaging sidecar if any.
    pub(super) fn agent_deployment(
        &mut self,
        service: &AgentService,
        pod: &AgentPod,
        sidecar: Option<Sidecar>,
    ) {
        let spec = self.spec();
        // `agent.inputs` defaults (Astropods spec §8.4: the agent container only); an env
        // entry wins over the ConfigMap's top-level default of the same name.
        let mut env = pod.env.clone();
        for input in &spec.agent.inputs {
            if let Some(d) = &input.default
                && !self.request.user_credentials.contains_key(&input.name)
            {
                env.push(literal(&input.name, d));
            }
        }
        let app = ContainerBuilder::new("app", self.build.record.image.clone())
            .ports(vec![port("http", service.port)])
            .env_from_config_map(&self.config_map)
            .env(env)
            .probe(spec.agent.healthcheck.as_ref().map(|h| probe(h, "http")))
            .restricted()
            .read_only_root("tmp")
            .build();
        let mut containers = vec![app];
        if let Some(sidecar) = sidecar {
            containers.push(self.messaging_container(sidecar));
        }
        let strategy = if spec.agent.distributed {
            "RollingUpdate"
        } else {
            "Recreate"
        };
        let workload = WorkloadSpec {
            replicas: if self.options.omit_replicas {
                None
            } else {
                Some(1)
            },
            strategy: Some(strategy.into()),
            selector: self.selector("agent"),
            service_name: None,
            volume_claim: None,
            schedule: None,
            suspend: false,
            pod: PodSpec {
                labels: self.selector("agent"),
                annotations: pod.annotations.clone(),
                restart_policy: None,
                empty_dirs: tmp_volumes(&containers),
                containers,
                gpu_toleration: None,
                security: restricted_pod(),
                drain_seconds: Some(DRAIN_SECONDS),
            },
        };
        let name = resource_name(&[&self.agent, "agent"], 63);
        self.add(
            Kind::Deployment,
            name,
            "agent",
            Labels::new(),
            ObjectSpec::Workload(Box::new(workload)),
        );
    }

    /// The Ingress of an agent with a frontend.
    pub(super) fn agent_ingress(&mut self, service: AgentService) {
        self.ingress(
            resource_name(&[&self.agent, "ingress-agent"], 253),
            "agent",
            service.host,
            service.name,
            "http",
        );
    }
}
