//! The components family: model, knowledge and integration entries. Cloud and custom
//! providers deploy nothing; container-mode entries get a workload and a Service here, and
//! self-hosted providers in `self_hosted`.

use super::Planner;
use super::container::{
    ContainerBuilder, baseline_pod, gpu_resource_name, gpu_resources, port, probe, restricted_pod,
    standard_resources, static_env,
};
use crate::naming::{resource_name, sanitize_name};
use crate::resolve::env::{Connection, container_prefix};
use crate::resolve::model::Labels;
use crate::spec::providers::{Builtin, Section, builtin};
use crate::spec::{ContainerConfig, Input};

/// The `fsGroup` of a persistent component built from source, whose user is unknown: the
/// group that owns its volume, so a non-root process can write it.
const BUILT_FS_GROUP: i64 = 1000;

/// The port of a container-mode component without its own `port`.
const COMPONENT_PORT: u16 = 8080;

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

/// The size of a component's `data` volume.
pub(super) fn volume_size(section: Section) -> &'static str {
    if section == Section::Models {
        "50Gi"
    } else {
        "10Gi"
    }
}

impl Planner<'_> {
    /// Every component entry, then the connection env of self-hosted providers.
    pub(super) fn components(&mut self) {
        let build = self.build;
        let spec = &build.spec;
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
    }

    /// One entry: container mode, a self-hosted provider, or nothing to deploy.
    fn component(&mut self, e: Entry<'_>) {
        self.origin = format!("spec.{}.{}", e.section.key(), e.name);
        if let Some(c) = e.container {
            let persistent = e.persistent || c.volume.is_some() || c.persistent.unwrap_or(false);
            self.container_component(e.section, e.name, c, e.inputs, persistent);
        } else if let Some(Builtin::SelfHosted(sh)) = e.provider.and_then(|p| builtin(e.section, p))
        {
            self.self_hosted_component(e.section, e.name, &sh, e.inputs, e.models);
        }
    }

    /// The component label and the object name of entry `name` of `section`.
    pub(super) fn component_names(&self, section: Section, name: &str) -> (String, String) {
        let component = format!("{}-{}", section.singular(), sanitize_name(name));
        (
            component,
            resource_name(&[&self.agent, section.singular(), name], 52),
        )
    }

    /// A container-mode entry (Astropods spec §8.3): its workload, Service and the
    /// connection env the agent reads.
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
        let mut container =
            ContainerBuilder::new("app", self.component_image(c, section.singular(), name))
                .ports(vec![port("http", listen)])
                .env(env)
                .probe(c.healthcheck.as_ref().map(|h| probe(h, "http")))
                .resources(match gpu {
                    Some(g) => gpu_resources(g.runtime.as_deref()),
                    None => standard_resources(),
                });
        if persistent {
            container = container.mount("data", c.volume.as_deref().unwrap_or("/data"));
        }
        // An image the build made is the agent author's own: Pod Security "restricted". A
        // named third-party image (vllm, …) runs as whatever user it says, often root:
        // "baseline".
        let built = c.image.is_none();
        let mut security = baseline_pod();
        if built {
            container = container.restricted().read_only_root("tmp");
            security = restricted_pod();
            if persistent {
                // Any group works: the kubelet makes the volume group-writable for it and
                // gives it to every process of the pod, whatever user the image runs as.
                security.fs_group = Some(BUILT_FS_GROUP);
            }
        }
        let mut pod_annotations = Labels::new();
        if let Some(vram) = gpu.and_then(|g| g.vram.clone()) {
            pod_annotations.insert("astro.dev/gpu-vram".into(), vram);
        }
        self.workload(
            &component,
            obj_name.clone(),
            container.build(),
            persistent.then_some(volume_size(section)),
            gpu.map(|g| gpu_resource_name(g.runtime.as_deref())),
            pod_annotations,
            security,
        );
        self.service(obj_name.clone(), &component, vec![port("http", listen)]);
        let conn = Connection {
            prefixes: vec![container_prefix(section, name)],
            host: self.host(&obj_name),
            port: listen,
            scheme: (section != Section::Knowledge).then_some("http"),
            models: None,
        };
        conn.write(&mut self.config);
    }
}
