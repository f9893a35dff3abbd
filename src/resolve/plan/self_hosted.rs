//! Self-hosted providers (Astropods spec §8.2): the store or model server's StatefulSet and
//! Service, the credentials generated for stores, and the connection env the agent reads.

use std::collections::BTreeMap;

use super::Planner;
use super::components::volume_size;
use super::container::{
    ContainerBuilder, builtin_probe, gpu_resource_name, gpu_resources, literal, port, provider_pod,
    secret_env, standard_resources,
};
use crate::kind::Kind;
use crate::naming::{resource_name, sanitize_name};
use crate::resolve::env::{Connection, provider_uses, self_hosted_prefixes};
use crate::resolve::model::*;
use crate::resolve::{PASSWORD_PLACEHOLDER, ResolveOptions};
use crate::spec::providers::{Builtin, Section, SelfHosted, builtin};
use crate::spec::{AstroSpec, Input};

impl Planner<'_> {
    /// The workload and Service of a self-hosted provider's entry.
    pub(super) fn self_hosted_component(
        &mut self,
        section: Section,
        name: &str,
        sh: &SelfHosted,
        inputs: &[Input],
        models: Option<Vec<String>>,
    ) {
        let (component, obj_name) = self.component_names(section, name);
        let mut env: Vec<EnvVar> = sh.env.iter().map(|(k, v)| literal(k, v)).collect();
        env.extend(self.input_env(inputs, true));
        if let Some(ids) = &models {
            env.push(literal(&format!("{}_MODEL", sh.env_prefix), &ids.join(",")));
        }
        let mut env_from_secrets = Vec::new();
        let mut args = Vec::new();
        if sh.generated_credentials {
            let secret = resource_name(&[&self.agent, section.singular(), name, "creds"], 253);
            args = self.store_credentials(sh, name, &secret, &component);
            env_from_secrets.push(secret);
        }
        let mut ports = vec![port(sh.port_name, sh.port)];
        ports.extend(sh.extra_ports.iter().map(|(n, p)| port(n, *p)));
        let container =
            ContainerBuilder::new(sanitize_name(self.provider_of(section, name)), sh.image)
                .args(args)
                .ports(ports.clone())
                .env_from_secrets(env_from_secrets)
                .env(env)
                .probe(Some(builtin_probe(sh)))
                .resources(if sh.gpu {
                    gpu_resources(None)
                } else {
                    standard_resources()
                })
                .mount("data", sh.mount_path);
        // Pod Security "restricted" where the image runs as a known non-root user (the
        // provider registry says which and why), else "baseline" with the image's own user.
        let security = provider_pod(sh);
        let container = if security.run_as_non_root {
            container.restricted()
        } else {
            container
        }
        .build();
        self.workload(
            &component,
            obj_name.clone(),
            container,
            Some(volume_size(section)),
            sh.gpu.then(|| gpu_resource_name(None)),
            Labels::new(),
            security,
        );
        self.service(obj_name, &component, ports);
    }

    /// The credentials of store entry `name` in the Secret `secret`: a user, the password
    /// given in the options (else the placeholder) and a database named after the agent.
    /// Returns the store's command arguments (redis reads its password from them).
    fn store_credentials(
        &mut self,
        sh: &SelfHosted,
        name: &str,
        secret: &str,
        component: &str,
    ) -> Vec<String> {
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
        let mut args = Vec::new();
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
                args = [
                    "redis-server",
                    "--requirepass",
                    "$(REDIS_PASSWORD)",
                    "--appendonly",
                    "yes",
                ]
                .map(String::from)
                .to_vec();
            }
        }
        if let Some(key) = data.keys().find(|k| k.ends_with("PASSWORD")) {
            self.store_passwords.push(StorePassword {
                entry: name.to_string(),
                secret: secret.to_string(),
                key: key.clone(),
            });
        }
        self.store_secrets
            .insert(secret.to_string(), (component.to_string(), data));
        self.store_origins
            .insert(secret.to_string(), self.origin.clone());
        args
    }

    /// The store credential Secrets decided so far, as objects.
    pub(super) fn store_secret_objects(&mut self) {
        let origin = self.origin.clone();
        for (name, (component, data)) in std::mem::take(&mut self.store_secrets) {
            if let Some(origin) = self.store_origins.get(&name) {
                self.origin = origin.clone();
            }
            self.add(
                Kind::Secret,
                name,
                &component,
                Labels::new(),
                ObjectSpec::Secret { data },
            );
        }
        self.origin = origin;
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

    /// HOST/PORT/URL (and store credentials) of self-hosted providers, with the
    /// duplicate-entry naming of Astropods spec §8.2.
    pub(super) fn self_hosted_connections(&mut self, spec: &AstroSpec) {
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
                    self.store_env_of(&sh, section, &entry, &prefixes);
                }
            }
        }
    }

    /// The agent's env from the credentials Secret of store `entry`, once per prefix.
    fn store_env_of(
        &mut self,
        sh: &SelfHosted,
        section: Section,
        entry: &str,
        prefixes: &[String],
    ) {
        let secret = resource_name(&[&self.agent, section.singular(), entry, "creds"], 253);
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
            for prefix in prefixes {
                self.store_env
                    .push(secret_env(&format!("{prefix}_{suffix}"), &secret, &key));
            }
        }
    }
}

/// Leaves the passwords the caller did not supply out of the store Secrets: the cluster
/// side generates them once. Runs after the env hashes, which stay those of the placeholder.
pub(super) fn omit_missing_passwords(
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
