//! Decides the objects of a deployment (reference §2.5): names, labels, pods, services,
//! ingresses, and the env every container gets.

use std::collections::{BTreeMap, BTreeSet};

use super::env::{Connection, container_prefix, provider_uses, self_hosted_prefixes};
use super::model::*;
use super::{MissingPasswords, PASSWORD_PLACEHOLDER, ResolveOptions};
use crate::api::{DeployRequest, ServiceEndpoint};
use crate::catalog::Build;
use crate::kind::Kind;
use crate::naming::{self, AGENT_LABEL, label_value, resource_name, sanitize_name};
use crate::spec::providers::{Builtin, Health, Section, SelfHosted, builtin};
use crate::spec::validate::parse_duration_seconds;
use crate::spec::{AstroSpec, ContainerConfig, Healthcheck, Input};

/// The field manager and `managed-by` label value.
pub const MANAGED_BY: &str = "kubectl-astro";

const AGENT_PORT: u16 = 8080;
const FRONTEND_PORT: u16 = 80;
const COMPONENT_PORT: u16 = 8080;
const WEBHOOK_PORT: u16 = 3001;
const GRPC_PORT: u16 = 9090;
/// The sidecar's web-chat port: not its default 8080, which the agent container uses in the
/// same pod; named `web` so Services never resolve it by the agent's port name `http`.
const WEB_CHAT_PORT: u16 = 8090;

/// Every input of the spec (top level, agent, components, ingestion).
pub fn all_inputs(spec: &AstroSpec) -> impl Iterator<Item = &Input> {
    spec.inputs
        .values()
        .chain(&spec.agent.inputs)
        .chain(spec.models.values().flat_map(|m| &m.inputs))
        .chain(spec.knowledge.values().flat_map(|k| &k.inputs))
        .chain(spec.integrations.values().flat_map(|i| &i.inputs))
        .chain(spec.ingestion.values().flat_map(|i| &i.inputs))
}

/// A model, knowledge or integration entry of the spec, as the planner needs it.
struct Entry<'a> {
    section: Section,
    name: &'a str,
    provider: Option<&'a str>,
    container: Option<&'a ContainerConfig>,
    inputs: &'a [Input],
    /// Model ids (models only).
    models: Option<Vec<String>>,
    /// ≤ v1.5 `persistent: true` on a knowledge entry.
    persistent: bool,
}

struct Planner<'a> {
    request: &'a DeployRequest,
    build: &'a Build,
    options: &'a ResolveOptions,
    agent: String,
    namespace: String,
    common: Labels,
    objects: Vec<PlannedObject>,
    endpoints: Vec<ServiceEndpoint>,
    /// Agent ConfigMap entries.
    config: BTreeMap<String, String>,
    /// Env of the agent container (and ingestion containers) from store credential Secrets.
    store_env: Vec<EnvVar>,
    /// Store credential Secrets: name → (component, data).
    store_secrets: BTreeMap<String, (String, BTreeMap<String, String>)>,
    store_passwords: Vec<StorePassword>,
    credentials_secret: String,
    messaging_secret: String,
    config_map: String,
}

/// Builds the resolved deployment. The request has been checked already.
pub fn plan(
    request: &DeployRequest,
    build: &Build,
    options: &ResolveOptions,
) -> ResolvedDeployment {
    let record = &build.record;
    let agent = sanitize_name(&record.name);
    let namespace = options
        .namespace
        .clone()
        .unwrap_or_else(|| naming::namespace(&request.account, &agent));
    let build_part = sanitize_name(&record.build_id);
    let mut common = Labels::new();
    common.insert("app.kubernetes.io/name".into(), agent.clone());
    common.insert("app.kubernetes.io/instance".into(), agent.clone());
    common.insert(
        "app.kubernetes.io/version".into(),
        label_value(&record.build_id),
    );
    common.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    common.insert("astro.dev/account".into(), request.account.clone());
    common.insert(
        AGENT_LABEL.into(),
        naming::agent_label(&request.account, &record.name),
    );
    let mut p = Planner {
        request,
        build,
        options,
        credentials_secret: resource_name(&[&agent, &build_part, "credentials"], 253),
        messaging_secret: resource_name(&[&agent, &build_part, "messaging-credentials"], 253),
        config_map: resource_name(&[&agent, &build_part, "config"], 253),
        agent,
        namespace,
        common,
        objects: Vec::new(),
        endpoints: Vec::new(),
        config: BTreeMap::new(),
        store_env: Vec::new(),
        store_secrets: BTreeMap::new(),
        store_passwords: Vec::new(),
    };
    p.plan_all();
    let warnings = crate::spec::validate::validate(&build.spec).warnings;
    let mut objects = std::mem::take(&mut p.objects);
    objects
        .sort_by(|a, b| (a.kind.stage(), a.kind, &a.name).cmp(&(b.kind.stage(), b.kind, &b.name)));
    hash_consumed_env(&mut objects);
    if options.missing_passwords == MissingPasswords::GeneratedByCluster {
        omit_missing_passwords(&mut objects, &p.store_passwords, options);
    }
    let secret_names = objects
        .iter()
        .filter(|o| o.kind == Kind::Secret)
        .map(|o| o.name.clone())
        .collect();
    let mut common_labels = Labels::new();
    for k in ["app.kubernetes.io/managed-by", AGENT_LABEL] {
        if let Some(v) = p.common.get(k) {
            common_labels.insert(k.to_string(), v.clone());
        }
    }
    ResolvedDeployment {
        account: request.account.clone(),
        name: record.name.clone(),
        build_id: record.build_id.clone(),
        namespace: p.namespace,
        common_labels,
        objects,
        service_endpoints: p.endpoints,
        secret_names,
        store_passwords: p.store_passwords,
        warnings,
    }
}

/// Leaves the passwords the caller did not supply out of the store Secrets: the cluster
/// side generates them once. Runs after the env hashes, which stay those of the placeholder.
fn omit_missing_passwords(
    objects: &mut [PlannedObject],
    passwords: &[StorePassword],
    options: &ResolveOptions,
) {
    for sp in passwords
        .iter()
        .filter(|sp| !options.store_passwords.contains_key(&sp.entry))
    {
        for o in objects
            .iter_mut()
            .filter(|o| o.kind == Kind::Secret && o.name == sp.secret)
        {
            if let ObjectSpec::Secret { data } = &mut o.spec {
                data.remove(&sp.key);
            }
        }
    }
}

/// Pods that read a Secret or ConfigMap of this deployment but carry no env hash yet
/// (container-mode components, self-hosted stores) get one over exactly the data they read,
/// so a changed credential rolls them as it rolls the agent.
fn hash_consumed_env(objects: &mut [PlannedObject]) {
    const ENV_HASH: &str = "astro.dev/env-hash";
    let data: BTreeMap<(&'static str, &str), &BTreeMap<String, String>> = objects
        .iter()
        .filter_map(|o| match &o.spec {
            ObjectSpec::Secret { data } => Some((("Secret", o.name.as_str()), data)),
            ObjectSpec::ConfigMap { data } => Some((("ConfigMap", o.name.as_str()), data)),
            _ => None,
        })
        .collect();
    let mut hashes = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let ObjectSpec::Workload(w) = &o.spec else {
            continue;
        };
        if w.pod.annotations.contains_key(ENV_HASH) {
            continue;
        }
        let mut used: BTreeMap<String, &str> = BTreeMap::new();
        for c in &w.pod.containers {
            let whole = c
                .env_from_secrets
                .iter()
                .map(|n| ("Secret", n))
                .chain(c.env_from_config_maps.iter().map(|n| ("ConfigMap", n)));
            for (kind, name) in whole {
                for (k, v) in data
                    .get(&(kind, name.as_str()))
                    .into_iter()
                    .copied()
                    .flatten()
                {
                    used.insert(format!("{kind}/{name}/{k}"), v);
                }
            }
            for r in c.env.iter().filter_map(|e| e.secret.as_ref()) {
                if let Some(v) = data
                    .get(&("Secret", r.name.as_str()))
                    .and_then(|d| d.get(&r.key))
                {
                    used.insert(format!("Secret/{}/{}", r.name, r.key), v);
                }
            }
        }
        if !used.is_empty() {
            let all = serde_json::to_string(&used).unwrap_or_default();
            hashes.push((i, naming::short_hash(&all, 16)));
        }
    }
    for (i, hash) in hashes {
        if let Some(ObjectSpec::Workload(w)) = objects.get_mut(i).map(|o| &mut o.spec) {
            w.pod.annotations.insert(ENV_HASH.into(), hash);
        }
    }
}

impl Planner<'_> {
    fn spec(&self) -> &AstroSpec {
        &self.build.spec
    }

    fn labels(&self, component: &str) -> Labels {
        let mut l = self.common.clone();
        l.insert("app.kubernetes.io/component".into(), label_value(component));
        l
    }

    fn selector(&self, component: &str) -> Labels {
        let mut l = Labels::new();
        for k in [
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            AGENT_LABEL,
        ] {
            if let Some(v) = self.common.get(k) {
                l.insert(k.to_string(), v.clone());
            }
        }
        l.insert("app.kubernetes.io/component".into(), label_value(component));
        l
    }

    fn host(&self, service: &str) -> String {
        format!("{service}.{}.svc.cluster.local", self.namespace)
    }

    fn add(
        &mut self,
        kind: Kind,
        name: String,
        component: &str,
        annotations: Labels,
        spec: ObjectSpec,
    ) {
        self.objects.push(PlannedObject {
            kind,
            name,
            labels: self.labels(component),
            annotations,
            spec,
        });
    }

    fn plan_all(&mut self) {
        let build = self.build;
        let spec = &build.spec;
        let interfaces = spec.agent.effective_interfaces();
        let slack = self.request.interfaces.iter().any(|i| i == "slack");
        let web = self.request.interfaces.iter().any(|i| i == "web");
        let sidecar = interfaces.messaging && (slack || web);

        // Components first: they add connection details to the agent's config.
        let models = spec.models.iter().map(|(name, m)| Entry {
            section: Section::Models,
            name,
            provider: m.provider.as_deref(),
            container: m.container.as_ref(),
            inputs: &m.inputs,
            models: Some(m.model_ids()),
            persistent: false,
        });
        let knowledge = spec.knowledge.iter().map(|(name, k)| Entry {
            section: Section::Knowledge,
            name,
            provider: k.provider.as_deref(),
            container: k.container.as_ref(),
            inputs: &k.inputs,
            models: None,
            persistent: k.persistent.unwrap_or(false),
        });
        let integrations = spec.integrations.iter().map(|(name, i)| Entry {
            section: Section::Integrations,
            name,
            provider: i.provider.as_deref(),
            container: i.container.as_ref(),
            inputs: &i.inputs,
            models: None,
            persistent: false,
        });
        for entry in models.chain(knowledge).chain(integrations) {
            self.component(entry);
        }
        self.self_hosted_connections(spec);

        // Agent Service and platform env.
        let agent_port = if interfaces.frontend {
            FRONTEND_PORT
        } else {
            AGENT_PORT
        };
        let agent_svc = resource_name(&[&self.agent, "agent"], 63);
        let record = &self.build.record;
        self.config
            .insert("ASTRO_AGENT_NAME".into(), record.name.clone());
        self.config
            .insert("ASTRO_AGENT_BUILD".into(), record.build_id.clone());
        self.config
            .insert("ASTRO_AGENT_HOST".into(), self.host(&agent_svc));
        self.config.insert(
            "ASTRO_AGENT_URL".into(),
            format!("http://{}:{agent_port}", self.host(&agent_svc)),
        );
        self.config.insert("PORT".into(), agent_port.to_string());
        if sidecar {
            self.config
                .insert("GRPC_SERVER_ADDR".into(), format!("localhost:{GRPC_PORT}"));
        }
        let agent_host =
            naming::agent_host(&self.agent, &self.namespace, &self.options.ingress_domain);
        if interfaces.frontend {
            self.config.insert(
                "ASTRO_EXTERNAL_AGENT_URL".into(),
                format!("https://{agent_host}"),
            );
        }
        for input in spec.inputs.values().chain(&spec.agent.inputs) {
            if let Some(d) = &input.default
                && !self.request.user_credentials.contains_key(&input.name)
            {
                self.config.insert(input.name.clone(), d.clone());
            }
        }
        self.service(
            agent_svc.clone(),
            "agent",
            vec![port("http", agent_port)],
            false,
        );

        // Secrets and ConfigMap.
        let slack_keys: BTreeSet<&str> = ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"].into();
        let component_only = component_only_inputs(spec);
        let creds: BTreeMap<String, String> = self
            .request
            .user_credentials
            .iter()
            .filter(|(k, _)| !(slack && slack_keys.contains(k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let agent_keys: Vec<String> = creds
            .keys()
            .filter(|k| !component_only.contains(k.as_str()))
            .cloned()
            .collect();
        let messaging_creds: BTreeMap<String, String> = self
            .request
            .user_credentials
            .iter()
            .filter(|(k, _)| slack && slack_keys.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let env_hash = {
            // A tuple serializes as the JSON array the hash has always been taken over.
            let all = (&self.config, &creds, &messaging_creds, &self.store_secrets);
            naming::short_hash(&serde_json::to_string(&all).unwrap_or_default(), 16)
        };
        let mut pod_annotations = Labels::new();
        pod_annotations.insert("astro.dev/env-hash".into(), env_hash);
        if !creds.is_empty() {
            let name = self.credentials_secret.clone();
            self.add(
                Kind::Secret,
                name,
                "agent",
                Labels::new(),
                ObjectSpec::Secret {
                    data: creds.clone(),
                },
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
        for (name, (component, data)) in std::mem::take(&mut self.store_secrets) {
            self.add(
                Kind::Secret,
                name,
                &component,
                Labels::new(),
                ObjectSpec::Secret { data },
            );
        }
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

        // The agent's env, shared with ingestion containers.
        let mut agent_env: Vec<EnvVar> = agent_keys
            .iter()
            .map(|k| secret_env(k, &self.credentials_secret, k))
            .collect();
        agent_env.extend(self.store_env.clone());

        // Agent Deployment (+ messaging sidecar).
        let image = record.image.clone();
        let mut containers = vec![Container {
            name: "app".into(),
            image,
            args: Vec::new(),
            ports: vec![port("http", agent_port)],
            env_from_config_maps: vec![self.config_map.clone()],
            env_from_secrets: Vec::new(),
            env: agent_env.clone(),
            probe: spec.agent.healthcheck.as_ref().map(|h| probe(h, "http")),
            resources: standard_resources(),
            mounts: vec![Mount {
                name: "tmp".into(),
                path: "/tmp".into(),
                sub_path: None,
            }],
            // A frontend serves on port 80; with every capability dropped a non-root
            // process could not bind it.
            add_capabilities: if interfaces.frontend {
                vec!["NET_BIND_SERVICE".into()]
            } else {
                Vec::new()
            },
            hardened: true,
        }];
        if sidecar {
            containers.push(self.messaging_container(slack, web));
            let mut ports = vec![port("grpc", GRPC_PORT)];
            if web {
                ports.push(port("web", WEB_CHAT_PORT));
            }
            let svc = resource_name(&[&self.agent, "messaging"], 63);
            let mut s = self.service_spec("agent", ports);
            s.publish_not_ready = true;
            self.add(
                Kind::Service,
                svc.clone(),
                "messaging",
                Labels::new(),
                ObjectSpec::Service(s),
            );
            self.cluster_endpoint(&svc, GRPC_PORT);
            if web {
                let host = naming::endpoint_host(
                    &self.agent,
                    &self.namespace,
                    "chat",
                    &self.options.ingress_domain,
                );
                self.ingress(
                    resource_name(&[&self.agent, "ingress-messaging"], 253),
                    "messaging",
                    host,
                    svc,
                    "web",
                );
            }
        }
        let agent_pod = PodSpec {
            labels: self.selector("agent"),
            annotations: pod_annotations.clone(),
            restart_policy: None,
            containers,
            empty_dirs: vec!["tmp".into()],
            gpu_toleration: None,
            hardened: true,
        };
        let agent_deploy = resource_name(&[&self.agent, "agent"], 63);
        self.add(
            Kind::Deployment,
            agent_deploy,
            "agent",
            Labels::new(),
            ObjectSpec::Workload(Box::new(WorkloadSpec {
                replicas: if self.options.omit_replicas {
                    None
                } else {
                    Some(1)
                },
                strategy: Some(
                    if spec.agent.distributed {
                        "RollingUpdate"
                    } else {
                        "Recreate"
                    }
                    .into(),
                ),
                selector: self.selector("agent"),
                service_name: None,
                volume_claim: None,
                schedule: None,
                pod: agent_pod,
            })),
        );
        if interfaces.frontend {
            self.ingress(
                resource_name(&[&self.agent, "ingress-agent"], 253),
                "agent",
                agent_host,
                agent_svc,
                "http",
            );
        }

        // Ingestion.
        let mut manual = Vec::new();
        for (name, ing) in &spec.ingestion {
            let (Some(container), Some(trigger)) = (&ing.container, &ing.trigger) else {
                continue;
            };
            if trigger.kind == "manual" {
                manual.push(name.clone());
                continue;
            }
            let component = format!("ingestion-{}", sanitize_name(name));
            let mut env = agent_env.clone();
            env.extend(self.input_env(&ing.inputs, false));
            env.extend(static_env(container));
            let webhook = trigger.kind == "webhook";
            let listen = container.port.unwrap_or(WEBHOOK_PORT);
            let c = Container {
                name: "ingestion".into(),
                image: self.component_image(container, "ingestion", name),
                args: Vec::new(),
                ports: if webhook {
                    vec![port("http", listen)]
                } else {
                    Vec::new()
                },
                env_from_config_maps: vec![self.config_map.clone()],
                env_from_secrets: Vec::new(),
                env,
                probe: container.healthcheck.as_ref().map(|h| probe(h, "http")),
                resources: standard_resources(),
                mounts: Vec::new(),
                add_capabilities: Vec::new(),
                hardened: false,
            };
            let pod = PodSpec {
                labels: self.selector(&component),
                annotations: pod_annotations.clone(),
                restart_policy: if webhook {
                    None
                } else {
                    Some("OnFailure".into())
                },
                containers: vec![c],
                empty_dirs: Vec::new(),
                gpu_toleration: None,
                hardened: false,
            };
            let (kind, max) = match trigger.kind.as_str() {
                "schedule" => (Kind::CronJob, 52),
                "startup" => (Kind::Job, 63),
                _ => (Kind::Deployment, 63),
            };
            let obj_name = resource_name(&[&self.agent, "ingestion", name], max);
            let workload = WorkloadSpec {
                replicas: webhook.then_some(1),
                strategy: None,
                selector: self.selector(&component),
                service_name: None,
                volume_claim: None,
                schedule: self
                    .request
                    .schedules
                    .get(name)
                    .filter(|_| kind == Kind::CronJob)
                    .cloned(),
                pod,
            };
            self.add(
                kind,
                obj_name.clone(),
                &component,
                Labels::new(),
                ObjectSpec::Workload(Box::new(workload)),
            );
            if webhook {
                self.service(
                    obj_name.clone(),
                    &component,
                    vec![port("http", listen)],
                    false,
                );
                let host = naming::endpoint_host(
                    &self.agent,
                    &self.namespace,
                    name,
                    &self.options.ingestion_domain,
                );
                self.ingress(
                    resource_name(&[&self.agent, "ingress", name], 253),
                    &component,
                    host,
                    obj_name,
                    "http",
                );
            }
        }

        // Namespace.
        let mut ns_annotations = Labels::new();
        ns_annotations.insert("astro.dev/build".into(), record.build_id.clone());
        if !manual.is_empty() {
            ns_annotations.insert("astro.dev/manual-ingestions".into(), manual.join(","));
        }
        if let Some(src) = &self.request.source_account {
            ns_annotations.insert("astro.dev/source-account".into(), src.clone());
        }
        let ns = self.namespace.clone();
        self.add(
            Kind::Namespace,
            ns,
            "namespace",
            ns_annotations,
            ObjectSpec::Namespace {},
        );

        if self.options.network_policy {
            self.network_policies();
        }
    }

    /// A component entry: cloud/custom providers deploy nothing; self-hosted and
    /// container-mode entries get a workload and a Service.
    fn component(&mut self, e: Entry<'_>) {
        if let Some(c) = e.container {
            let persistent = e.persistent || c.volume.is_some() || c.persistent.unwrap_or(false);
            self.container_component(e.section, e.name, c, e.inputs, persistent);
        } else if let Some(Builtin::SelfHosted(sh)) = e.provider.and_then(|p| builtin(e.section, p))
        {
            self.self_hosted_component(e.section, e.name, &sh, e.inputs, e.models);
        }
    }

    fn component_names(&self, section: Section, name: &str) -> (String, String) {
        let component = format!("{}-{}", section.singular(), sanitize_name(name));
        (
            component,
            resource_name(&[&self.agent, section.singular(), name], 52),
        )
    }

    fn container_component(
        &mut self,
        section: Section,
        name: &str,
        c: &ContainerConfig,
        inputs: &[Input],
        persistent: bool,
    ) {
        let (component, obj_name) = self.component_names(section, name);
        let listen = c.port.unwrap_or(COMPONENT_PORT);
        let mut env = self.input_env(inputs, true);
        env.extend(static_env(c));
        let gpu = c.gpu.as_ref();
        let mount_path = c.volume.clone().unwrap_or_else(|| "/data".into());
        let container = Container {
            name: "app".into(),
            image: self.component_image(c, section.singular(), name),
            args: Vec::new(),
            ports: vec![port("http", listen)],
            env_from_config_maps: Vec::new(),
            env_from_secrets: Vec::new(),
            env,
            probe: c.healthcheck.as_ref().map(|h| probe(h, "http")),
            resources: match gpu {
                Some(g) => gpu_resources(g.runtime.as_deref()),
                None => standard_resources(),
            },
            mounts: if persistent {
                vec![Mount {
                    name: "data".into(),
                    path: mount_path,
                    sub_path: None,
                }]
            } else {
                Vec::new()
            },
            add_capabilities: Vec::new(),
            hardened: false,
        };
        let size = if section == Section::Models {
            "50Gi"
        } else {
            "10Gi"
        };
        let mut pod_annotations = Labels::new();
        if let Some(vram) = gpu.and_then(|g| g.vram.clone()) {
            pod_annotations.insert("astro.dev/gpu-vram".into(), vram);
        }
        self.workload(
            &component,
            obj_name.clone(),
            container,
            persistent.then_some(size),
            gpu.map(|g| gpu_resource_name(g.runtime.as_deref())),
            pod_annotations,
        );
        self.service(
            obj_name.clone(),
            &component,
            vec![port("http", listen)],
            false,
        );
        let prefix = container_prefix(section, name);
        let conn = Connection {
            prefixes: vec![prefix],
            host: self.host(&obj_name),
            port: listen,
            scheme: (section != Section::Knowledge).then_some("http"),
            models: None,
        };
        conn.write(&mut self.config);
    }

    fn self_hosted_component(
        &mut self,
        section: Section,
        name: &str,
        sh: &SelfHosted,
        inputs: &[Input],
        models: Option<Vec<String>>,
    ) {
        let (component, obj_name) = self.component_names(section, name);
        let mut env: Vec<EnvVar> = sh
            .env
            .iter()
            .map(|(k, v)| EnvVar {
                name: (*k).into(),
                value: Some((*v).into()),
                secret: None,
            })
            .collect();
        env.extend(self.input_env(inputs, true));
        if let Some(ids) = &models {
            env.push(EnvVar {
                name: format!("{}_MODEL", sh.env_prefix),
                value: Some(ids.join(",")),
                secret: None,
            });
        }
        let mut env_from_secrets = Vec::new();
        let mut args = Vec::new();
        if sh.generated_credentials {
            let secret = resource_name(&[&self.agent, section.singular(), name, "creds"], 253);
            let password = self
                .options
                .store_passwords
                .get(name)
                .cloned()
                .unwrap_or_else(|| PASSWORD_PLACEHOLDER.to_string());
            let db = self
                .build
                .record
                .name
                .replace(['-', '.'], "_")
                .to_lowercase();
            let mut data = BTreeMap::new();
            match sh.env_prefix {
                "POSTGRES" => {
                    data.insert("POSTGRES_USER".to_string(), "astro".to_string());
                    data.insert("POSTGRES_PASSWORD".to_string(), password);
                    data.insert("POSTGRES_DB".to_string(), db);
                }
                "MYSQL" => {
                    data.insert("MYSQL_USER".to_string(), "astro".to_string());
                    data.insert("MYSQL_PASSWORD".to_string(), password);
                    data.insert("MYSQL_DATABASE".to_string(), db);
                }
                _ => {
                    data.insert("REDIS_PASSWORD".to_string(), password);
                    args = vec![
                        "redis-server".into(),
                        "--requirepass".into(),
                        "$(REDIS_PASSWORD)".into(),
                        "--appendonly".into(),
                        "yes".into(),
                    ];
                }
            }
            if let Some(key) = data.keys().find(|k| k.ends_with("PASSWORD")) {
                self.store_passwords.push(StorePassword {
                    entry: name.to_string(),
                    secret: secret.clone(),
                    key: key.clone(),
                });
            }
            env_from_secrets.push(secret.clone());
            self.store_secrets.insert(secret, (component.clone(), data));
        }
        let mut ports = vec![port(sh.port_name, sh.port)];
        ports.extend(sh.extra_ports.iter().map(|(n, p)| port(n, *p)));
        let container = Container {
            name: sanitize_name(self.provider_of(section, name)),
            image: sh.image.into(),
            args,
            ports: ports.clone(),
            env_from_config_maps: Vec::new(),
            env_from_secrets,
            env,
            probe: Some(builtin_probe(sh)),
            resources: if sh.gpu {
                gpu_resources(None)
            } else {
                standard_resources()
            },
            mounts: vec![Mount {
                name: "data".into(),
                path: sh.mount_path.into(),
                sub_path: None,
            }],
            add_capabilities: Vec::new(),
            hardened: false,
        };
        let size = if section == Section::Models {
            "50Gi"
        } else {
            "10Gi"
        };
        self.workload(
            &component,
            obj_name.clone(),
            container,
            Some(size),
            sh.gpu.then(|| gpu_resource_name(None)),
            Labels::new(),
        );
        self.service(obj_name, &component, ports, false);
    }

    fn provider_of(&self, section: Section, name: &str) -> &str {
        let spec = self.spec();
        let p = match section {
            Section::Models => spec.models.get(name).and_then(|m| m.provider.as_deref()),
            Section::Knowledge => spec.knowledge.get(name).and_then(|k| k.provider.as_deref()),
            Section::Integrations => spec
                .integrations
                .get(name)
                .and_then(|i| i.provider.as_deref()),
        };
        p.unwrap_or("app")
    }

    /// §8.2: HOST/PORT/URL (and store credentials) of self-hosted providers, with the
    /// duplicate-entry naming.
    fn self_hosted_connections(&mut self, spec: &AstroSpec) {
        for (provider, uses) in provider_uses(spec) {
            let Some(section) = uses.first().map(|u| u.section) else {
                continue;
            };
            let Some(Builtin::SelfHosted(sh)) = builtin(section, provider) else {
                continue;
            };
            let entries: Vec<&str> = uses.iter().map(|u| u.entry).collect();
            for (entry, prefixes) in self_hosted_prefixes(&sh, &entries) {
                let (_, obj_name) = self.component_names(section, &entry);
                let models = (section == Section::Models).then(|| {
                    spec.models
                        .get(&entry)
                        .map(|m| m.model_ids())
                        .unwrap_or_default()
                });
                let conn = Connection {
                    prefixes: prefixes.clone(),
                    host: self.host(&obj_name),
                    port: sh.client_port,
                    scheme: sh.url_scheme,
                    models,
                };
                conn.write(&mut self.config);
                if sh.generated_credentials {
                    let secret =
                        resource_name(&[&self.agent, section.singular(), &entry, "creds"], 253);
                    let keys: Vec<String> = self
                        .store_secrets
                        .get(&secret)
                        .map(|(_, d)| d.keys().cloned().collect())
                        .unwrap_or_default();
                    for key in keys {
                        let suffix = key
                            .strip_prefix(sh.env_prefix)
                            .unwrap_or(&key)
                            .trim_start_matches('_')
                            .to_string();
                        for prefix in &prefixes {
                            self.store_env.push(secret_env(
                                &format!("{prefix}_{suffix}"),
                                &secret,
                                &key,
                            ));
                        }
                    }
                }
            }
        }
    }

    fn workload(
        &mut self,
        component: &str,
        name: String,
        container: Container,
        volume_size: Option<&str>,
        gpu: Option<String>,
        annotations: Labels,
    ) {
        let persistent = volume_size.is_some();
        let pod = PodSpec {
            labels: self.selector(component),
            annotations,
            restart_policy: None,
            containers: vec![container],
            empty_dirs: Vec::new(),
            gpu_toleration: gpu,
            hardened: false,
        };
        let spec = WorkloadSpec {
            replicas: Some(1),
            strategy: None,
            selector: self.selector(component),
            service_name: persistent.then(|| name.clone()),
            volume_claim: volume_size.map(|s| VolumeClaim {
                name: "data".into(),
                size: s.into(),
                storage_class: self.options.storage_class.clone(),
            }),
            schedule: None,
            pod,
        };
        let kind = if persistent {
            Kind::StatefulSet
        } else {
            Kind::Deployment
        };
        self.add(
            kind,
            name,
            component,
            Labels::new(),
            ObjectSpec::Workload(Box::new(spec)),
        );
    }

    fn service_spec(&self, component: &str, ports: Vec<Port>) -> ServiceSpec {
        ServiceSpec {
            selector: self.selector(component),
            ports,
            publish_not_ready: false,
        }
    }

    fn service(
        &mut self,
        name: String,
        component: &str,
        ports: Vec<Port>,
        publish_not_ready: bool,
    ) {
        let first = ports.first().map(|p| p.port).unwrap_or(0);
        let mut s = self.service_spec(component, ports);
        s.publish_not_ready = publish_not_ready;
        self.add(
            Kind::Service,
            name.clone(),
            component,
            Labels::new(),
            ObjectSpec::Service(s),
        );
        self.cluster_endpoint(&name, first);
    }

    fn cluster_endpoint(&mut self, service: &str, port: u16) {
        self.endpoints.push(ServiceEndpoint {
            name: service.to_string(),
            url: format!("http://{}:{port}", self.host(service)),
            kind: "ClusterIP".into(),
        });
    }

    fn ingress(
        &mut self,
        name: String,
        component: &str,
        host: String,
        service: String,
        port_name: &str,
    ) {
        self.endpoints.push(ServiceEndpoint {
            name: name.clone(),
            url: format!("https://{host}"),
            kind: "Ingress".into(),
        });
        let spec = IngressSpec {
            host,
            service,
            port: port_name.into(),
            class: self.options.ingress_class.clone(),
            tls_secret: self.options.tls_secret.clone(),
        };
        self.add(
            Kind::Ingress,
            name,
            component,
            Labels::new(),
            ObjectSpec::Ingress(spec),
        );
    }

    fn messaging_container(&self, slack: bool, web: bool) -> Container {
        let mut env = vec![
            literal("GRPC_ENABLED", "true"),
            literal("GRPC_LISTEN_ADDR", &format!(":{GRPC_PORT}")),
            literal("STORAGE_TYPE", "memory"),
            literal("DEPLOYMENT_MODE", "all"),
        ];
        let mut ports = vec![port("grpc", GRPC_PORT)];
        if slack {
            env.push(literal("SLACK_ENABLED", "true"));
            env.push(secret_env(
                "SLACK_APP_TOKEN",
                &self.messaging_secret,
                "SLACK_APP_TOKEN",
            ));
            env.push(secret_env(
                "SLACK_BOT_TOKEN",
                &self.messaging_secret,
                "SLACK_BOT_TOKEN",
            ));
            if let Some(cfg) = self.spec().slack_config() {
                env.push(literal(
                    "SLACK_CONFIG",
                    &serde_json::Value::Object(cfg.clone()).to_string(),
                ));
            }
        }
        if web {
            env.push(literal("WEB_ENABLED", "true"));
            env.push(literal("WEB_LISTEN_ADDR", &format!(":{WEB_CHAT_PORT}")));
            ports.push(port("web", WEB_CHAT_PORT));
        }
        let mut requests = Labels::new();
        requests.insert("cpu".into(), "100m".into());
        requests.insert("memory".into(), "128Mi".into());
        let mut limits = Labels::new();
        limits.insert("cpu".into(), "500m".into());
        limits.insert("memory".into(), "512Mi".into());
        Container {
            name: "messaging".into(),
            image: self.options.messaging_image.clone(),
            args: Vec::new(),
            ports,
            env_from_config_maps: Vec::new(),
            env_from_secrets: Vec::new(),
            env,
            probe: None,
            resources: Resources { requests, limits },
            mounts: Vec::new(),
            add_capabilities: Vec::new(),
            hardened: true,
        }
    }

    /// Env vars for `inputs` (plus top-level inputs when `with_top_level`): credential values
    /// by Secret reference, defaults as literals, absent optional inputs left out.
    fn input_env(&self, inputs: &[Input], with_top_level: bool) -> Vec<EnvVar> {
        let spec = self.spec();
        let top: Vec<&Input> = if with_top_level {
            spec.inputs.values().collect()
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for input in top.into_iter().chain(inputs) {
            if !seen.insert(input.name.clone()) {
                continue;
            }
            if self.request.user_credentials.contains_key(&input.name) {
                out.push(secret_env(
                    &input.name,
                    &self.credentials_secret,
                    &input.name,
                ));
            } else if let Some(d) = &input.default {
                out.push(literal(&input.name, d));
            }
        }
        out
    }

    /// Image of a component: its `image`, or for `build` the image the build pushed:
    /// `{registry}/{agent}-{type}-{entry}:{build_id}`.
    fn component_image(&self, c: &ContainerConfig, kind: &str, entry: &str) -> String {
        match &c.image {
            Some(i) => i.clone(),
            None => {
                let record = &self.build.record;
                let registry = record.registry.trim_end_matches('/');
                let repo = resource_name(&[&self.agent, kind, entry], 128);
                if registry.is_empty() {
                    format!("{repo}:{}", record.build_id)
                } else {
                    format!("{registry}/{repo}:{}", record.build_id)
                }
            }
        }
    }

    fn network_policies(&mut self) {
        let policies = [
            ("default-deny-ingress", Labels::new(), "none"),
            ("allow-same-namespace", Labels::new(), "namespace"),
        ];
        for (name, selector, from) in policies {
            self.add(
                Kind::NetworkPolicy,
                name.into(),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: selector,
                    from: from.into(),
                    ports: Vec::new(),
                }),
            );
        }
        // Pods behind an Ingress must be reachable from the ingress controller's namespace
        // (unknown here, so any namespace) — on the Ingress's backend port only, so the
        // sidecar's gRPC port stays private to the namespace.
        let exposed: Vec<(String, Labels, String)> = self
            .objects
            .iter()
            .filter_map(|o| match &o.spec {
                ObjectSpec::Ingress(i) => self.objects.iter().find_map(|s| match &s.spec {
                    ObjectSpec::Service(svc) if s.name == i.service => {
                        Some((s.name.clone(), svc.selector.clone(), i.port.clone()))
                    }
                    _ => None,
                }),
                _ => None,
            })
            .collect();
        for (service, selector, port) in exposed {
            self.add(
                Kind::NetworkPolicy,
                resource_name(&["allow-ingress", &service], 253),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: selector,
                    from: "any".into(),
                    ports: vec![port],
                }),
            );
        }
    }
}

fn port(name: &str, port: u16) -> Port {
    Port {
        name: name.into(),
        port,
    }
}

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        secret: None,
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        secret: Some(SecretRef {
            name: secret.into(),
            key: key.into(),
        }),
    }
}

fn static_env(c: &ContainerConfig) -> Vec<EnvVar> {
    c.environment.iter().map(|(k, v)| literal(k, v)).collect()
}

/// Names of inputs declared only by components or ingestion (never shown to the agent).
fn component_only_inputs(spec: &AstroSpec) -> BTreeSet<&str> {
    let agent: BTreeSet<&str> = spec
        .inputs
        .values()
        .chain(&spec.agent.inputs)
        .map(|i| i.name.as_str())
        .collect();
    all_inputs(spec)
        .map(|i| i.name.as_str())
        .filter(|n| !agent.contains(n))
        .collect()
}

fn standard_resources() -> Resources {
    let mut requests = Labels::new();
    requests.insert("cpu".into(), "100m".into());
    requests.insert("memory".into(), "256Mi".into());
    let mut limits = Labels::new();
    limits.insert("cpu".into(), "1".into());
    limits.insert("memory".into(), "1Gi".into());
    Resources { requests, limits }
}

fn gpu_resource_name(runtime: Option<&str>) -> String {
    match runtime {
        Some("rocm") => "amd.com/gpu".into(),
        _ => "nvidia.com/gpu".into(),
    }
}

fn gpu_resources(runtime: Option<&str>) -> Resources {
    let gpu = gpu_resource_name(runtime);
    let mut requests = Labels::new();
    requests.insert("cpu".into(), "2".into());
    requests.insert("memory".into(), "8Gi".into());
    requests.insert(gpu.clone(), "1".into());
    let mut limits = Labels::new();
    limits.insert("cpu".into(), "4".into());
    limits.insert("memory".into(), "16Gi".into());
    limits.insert(gpu, "1".into());
    Resources { requests, limits }
}

/// A probe from a spec healthcheck (§3.2): exec `test` (Docker's `CMD`/`CMD-SHELL` forms
/// understood) or HTTP `path`; interval/timeout/retries map to period/timeout/failures.
fn probe(h: &Healthcheck, port_name: &str) -> Probe {
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

fn builtin_probe(sh: &SelfHosted) -> Probe {
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
