//! Decides the objects of a deployment — what the Astropods platform deploys for each part
//! of a spec (docs/astropods-spec.md §4): names, labels, pods, services, ingresses, and the
//! env every container gets. [`plan`] runs the families in order —
//! components, agent, messaging, ingestion, namespace, network — each in its own module,
//! all making their containers with one [`ContainerBuilder`](container::ContainerBuilder).

mod agent;
mod components;
mod container;
mod env_hash;
mod ingestion;
mod inputs;
mod messaging;
mod network;
mod self_hosted;

use std::collections::BTreeMap;

use super::model::*;
use super::{MissingPasswords, ResolveOptions, guards};
use crate::api::{DeployRequest, ServiceEndpoint};
use crate::catalog::Build;
use crate::error::{Error, FieldErrors};
use crate::kind::Kind;
use crate::naming::{self, AGENT_LABEL, label_value, resource_name, sanitize_name};
use crate::spec::{AstroSpec, ContainerConfig};

pub use inputs::all_inputs;

/// The field manager and `managed-by` label value.
pub const MANAGED_BY: &str = "kubectl-astro";

/// The state of one planning: what is decided so far.
struct Planner<'a> {
    request: &'a DeployRequest,
    build: &'a Build,
    options: &'a ResolveOptions,
    /// The agent name, sanitised.
    agent: String,
    namespace: String,
    /// Labels every object carries.
    common: Labels,
    objects: Vec<PlannedObject>,
    endpoints: Vec<ServiceEndpoint>,
    /// Agent ConfigMap entries.
    config: BTreeMap<String, String>,
    /// Env of the agent container (and ingestion containers) from store credential Secrets.
    store_env: Vec<EnvVar>,
    /// Store credential Secrets: name → (component, data).
    store_secrets: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// Store credential Secrets: name → the spec field of the store.
    store_origins: BTreeMap<String, String>,
    /// The spec or request field the objects added now are made for (`spec.ingestion.x`),
    /// named when two of them would be one object.
    origin: String,
    /// (kind, name, origin) of every object added.
    origins: Vec<(Kind, String, String)>,
    store_passwords: Vec<StorePassword>,
    credentials_secret: String,
    messaging_secret: String,
    config_map: String,
}

/// Builds the resolved deployment. The request has been checked already; the one error left
/// is two entries whose objects would have one kind and name.
pub fn plan(
    request: &DeployRequest,
    build: &Build,
    options: &ResolveOptions,
) -> Result<ResolvedDeployment, Error> {
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
        store_origins: BTreeMap::new(),
        store_passwords: Vec::new(),
        origin: String::new(),
        origins: Vec::new(),
    };
    p.plan_all();
    let duplicates = guards::unique_objects(
        p.origins
            .iter()
            .map(|(kind, name, origin)| (*kind, name.as_str(), origin.as_str())),
    );
    if !duplicates.is_empty() {
        return Err(Error::Invalid {
            what: "spec".into(),
            errors: FieldErrors(duplicates),
        });
    }
    let warnings = crate::spec::validate::validate(&build.spec).warnings;
    let mut objects = std::mem::take(&mut p.objects);
    objects
        .sort_by(|a, b| (a.kind.stage(), a.kind, &a.name).cmp(&(b.kind.stage(), b.kind, &b.name)));
    env_hash::hash_consumed_env(&mut objects);
    if options.missing_passwords == MissingPasswords::GeneratedByCluster {
        self_hosted::omit_missing_passwords(&mut objects, &p.store_passwords, options);
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
    Ok(ResolvedDeployment {
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
    })
}

impl Planner<'_> {
    /// Every family in order. Components come first: they add connection details to the
    /// agent's config; the agent's env and env hash are shared with ingestion.
    fn plan_all(&mut self) {
        let interfaces = self.spec().agent.effective_interfaces();
        let slack = self.request.interfaces.iter().any(|i| i == "slack");
        let web = self.request.interfaces.iter().any(|i| i == "web");
        let sidecar =
            (interfaces.messaging && (slack || web)).then_some(messaging::Sidecar { slack, web });

        self.components();
        self.origin = "spec.agent".into();
        let service = self.agent_service(interfaces.frontend, sidecar.is_some());
        let pod = self.agent_config(slack);
        self.origin = "spec.agent".into();
        self.agent_deployment(&service, &pod, sidecar);
        if let Some(sidecar) = sidecar {
            self.origin = "interfaces".into();
            self.messaging_service(sidecar);
        }
        if interfaces.frontend {
            self.origin = "spec.agent.interfaces.frontend".into();
            self.agent_ingress(service);
        }
        let manual = self.ingestion(&pod);
        self.origin = "namespace".into();
        self.namespace_object(&manual);
        if self.options.network_policy {
            self.origin = "network_policy".into();
            self.network_policies();
        }
    }

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

    /// The in-cluster DNS name of `service`.
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
        self.origins.push((kind, name.clone(), self.origin.clone()));
        self.objects.push(PlannedObject {
            kind,
            name,
            labels: self.labels(component),
            annotations,
            spec,
        });
    }

    /// A one-container Deployment, or a StatefulSet with a `data` claim of `volume_size`.
    #[allow(clippy::too_many_arguments)]
    fn workload(
        &mut self,
        component: &str,
        name: String,
        container: Container,
        volume_size: Option<&str>,
        gpu: Option<String>,
        annotations: Labels,
        security: PodSecurity,
    ) {
        let persistent = volume_size.is_some();
        // A StatefulSet's governing Service is headless (`{name}-hl`, the name Bitnami's
        // charts give it), publishing pods before they are ready so their DNS names resolve
        // while they start; clients keep the ClusterIP Service named like the workload.
        let governing = persistent.then(|| resource_name(&[&name, "hl"], 63));
        if let Some(hl) = &governing {
            let mut spec = self.service_spec(component, container.ports.clone());
            spec.headless = true;
            spec.publish_not_ready = true;
            self.add(
                Kind::Service,
                hl.clone(),
                component,
                Labels::new(),
                ObjectSpec::Service(spec),
            );
        }
        let pod = PodSpec {
            labels: self.selector(component),
            annotations,
            restart_policy: None,
            empty_dirs: container::tmp_volumes(std::slice::from_ref(&container)),
            containers: vec![container],
            gpu_toleration: gpu,
            security,
            drain_seconds: None,
        };
        let spec = WorkloadSpec {
            replicas: Some(1),
            strategy: None,
            selector: self.selector(component),
            service_name: governing,
            volume_claim: volume_size.map(|s| VolumeClaim {
                name: "data".into(),
                size: s.into(),
                storage_class: self.options.storage_class.clone(),
            }),
            schedule: None,
            suspend: false,
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
            headless: false,
        }
    }

    /// A ClusterIP Service for `component`'s pods, and its endpoint.
    fn service(&mut self, name: String, component: &str, ports: Vec<Port>) {
        let first = ports.first().map(|p| p.port).unwrap_or(0);
        let s = self.service_spec(component, ports);
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

    /// Image of a component or ingestion container: its `image`, or for `build` the image
    /// the build pushed: `{registry}/{agent}-{type}-{entry}:{build_id}`.
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

    /// The Namespace, annotated with the build, the manual ingestions and the source account.
    fn namespace_object(&mut self, manual_ingestions: &[String]) {
        let mut annotations = Labels::new();
        annotations.insert("astro.dev/build".into(), self.build.record.build_id.clone());
        if !manual_ingestions.is_empty() {
            annotations.insert(
                "astro.dev/manual-ingestions".into(),
                manual_ingestions.join(","),
            );
        }
        if let Some(src) = &self.request.source_account {
            annotations.insert("astro.dev/source-account".into(), src.clone());
        }
        let ns = self.namespace.clone();
        // Pod Security admission: enforce the strictest level every pod of the deployment
        // meets, warn and audit at "restricted" so what keeps a pod from it stays visible.
        let enforce = self
            .objects
            .iter()
            .filter_map(|o| match &o.spec {
                ObjectSpec::Workload(w) => Some(w.pod.security.level),
                _ => None,
            })
            .min()
            .unwrap_or(SecurityLevel::Restricted);
        self.add(
            Kind::Namespace,
            ns,
            "namespace",
            annotations,
            ObjectSpec::Namespace {},
        );
        if let Some(namespace) = self.objects.last_mut() {
            for (mode, level) in [
                ("enforce", enforce),
                ("warn", SecurityLevel::Restricted),
                ("audit", SecurityLevel::Restricted),
            ] {
                namespace.labels.insert(
                    format!("pod-security.kubernetes.io/{mode}"),
                    level.as_str().into(),
                );
            }
        }
    }
}
