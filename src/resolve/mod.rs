//! Resolve: a DeployRequest plus its Build become a [`ResolvedDeployment`] — names,
//! namespace, labels, env vars, required credentials, workloads and endpoints, all decided.

mod env;
mod model;
mod plan;
mod request;

pub use crate::input::printable;
pub use crate::kind::{Kind, Stage};
pub use env::{ProviderUse, provider_credentials, shared_keys};
pub use model::*;
pub use request::{ADAPTERS, MAX_CREDENTIAL_BYTES, check_cron};

use std::collections::BTreeSet;

use crate::api::DeployRequest;
use crate::catalog::Build;
use crate::error::{Error, FieldErrors};

/// Value shown in place of a store password the caller did not supply (dry-run).
pub const PASSWORD_PLACEHOLDER: &str = "generated-at-deploy";

/// What the store credential Secrets hold for a password the caller did not supply in
/// [`ResolveOptions::store_passwords`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingPasswords {
    /// [`PASSWORD_PLACEHOLDER`], so a dry run shows where the password goes.
    #[default]
    Placeholder,
    /// Nothing: the key is left out of the Secret, for a deployer that generates the
    /// password in the cluster once and must not overwrite it on later applies. The env
    /// hashes stay those of the placeholder, so they do not depend on this choice.
    GeneratedByCluster,
}

/// Deploy-time choices that are not part of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// Namespace to deploy into instead of `astro-{account}-{name}`.
    pub namespace: Option<String>,
    /// Domain of agent and web-chat hosts.
    pub ingress_domain: String,
    /// Domain of webhook ingestion hosts.
    pub ingestion_domain: String,
    /// IngressClass for every Ingress.
    pub ingress_class: Option<String>,
    /// TLS Secret for every Ingress.
    pub tls_secret: Option<String>,
    /// Emit NetworkPolicies isolating the namespace.
    pub network_policy: bool,
    /// Image of the messaging sidecar.
    pub messaging_image: String,
    /// Leave `replicas` unset on the agent Deployment (an autoscaler owns it).
    pub omit_replicas: bool,
    /// Storage class for persistent volumes.
    pub storage_class: Option<String>,
    /// Passwords of self-hosted stores (postgres, redis, mysql) by knowledge entry name.
    /// Never generated here; missing ones are shown as [`PASSWORD_PLACEHOLDER`].
    pub store_passwords: std::collections::BTreeMap<String, String>,
    /// What the Secrets hold for passwords missing from `store_passwords`.
    pub missing_passwords: MissingPasswords,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            ingress_domain: "agents.localtest.me".into(),
            ingestion_domain: "ingestion.localtest.me".into(),
            ingress_class: None,
            tls_secret: None,
            network_policy: false,
            messaging_image: "astropods/messaging:latest".into(),
            omit_replicas: false,
            storage_class: None,
            store_passwords: Default::default(),
            missing_passwords: MissingPasswords::Placeholder,
        }
    }
}

/// Validates `request` against `build` and decides every object of the deployment.
pub fn resolve(
    request: &DeployRequest,
    build: &Build,
    options: &ResolveOptions,
) -> Result<ResolvedDeployment, Error> {
    let mut errors = request::check(request, build);
    if let Some(ns) = &options.namespace
        && !crate::naming::is_dns_label(ns)
    {
        errors.push(crate::FieldError::new(
            "namespace",
            format!(
                "'{}' is not a valid namespace name (DNS-1123 label)",
                printable(ns)
            ),
        ));
    }
    for (field, domain) in [
        ("ingress_domain", &options.ingress_domain),
        ("ingestion_domain", &options.ingestion_domain),
    ] {
        if !domain.split('.').all(crate::naming::is_dns_label) {
            errors.push(crate::FieldError::new(
                field,
                format!("'{}' is not a DNS name", printable(domain)),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid {
            what: "request".into(),
            errors: FieldErrors(errors),
        });
    }
    let missing: BTreeSet<String> = required_credentials(request, build)
        .into_iter()
        .filter(|k| !request.user_credentials.contains_key(k))
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingCredentials {
            keys: missing.into_iter().collect(),
        });
    }
    Ok(plan::plan(request, build, options))
}

/// Every credential key the deploy needs: cloud providers, secret variables of custom
/// providers, non-optional inputs without a default, the gateway keys, and the Slack tokens
/// when `slack` is enabled.
pub fn required_credentials(request: &DeployRequest, build: &Build) -> BTreeSet<String> {
    let spec = &build.spec;
    let mut keys = provider_credentials(spec);
    for input in plan::all_inputs(spec) {
        if !input.optional && input.default.is_none() {
            keys.insert(input.name.clone());
        }
    }
    if request.interfaces.iter().any(|i| i == "slack") {
        keys.insert("SLACK_APP_TOKEN".into());
        keys.insert("SLACK_BOT_TOKEN".into());
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::BuildRecord;

    /// Resolves golden case `case` (its request and build record) with `options`.
    fn golden(case: &str, options: &ResolveOptions) -> (DeployRequest, ResolvedDeployment) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(case);
        let read = |file: &str| match std::fs::read_to_string(dir.join(file)) {
            Ok(text) => text,
            Err(e) => panic!("{case}/{file}: {e}"),
        };
        let request: DeployRequest =
            match crate::input::parse_document("request", &read("request.yaml")) {
                Ok(r) => r,
                Err(e) => panic!("{case}: {e}"),
            };
        let build = match BuildRecord::parse(&read("build.yaml")).and_then(BuildRecord::into_build)
        {
            Ok(b) => b,
            Err(e) => panic!("{case}: {e}"),
        };
        match resolve(&request, &build, options) {
            Ok(resolved) => (request, resolved),
            Err(e) => panic!("{case}: {e}"),
        }
    }

    /// The agent label of long names (cut with a hash suffix) is the one on the namespace,
    /// so undeploy can recompute it from the names a user types.
    #[test]
    fn agent_label_of_long_names_is_the_namespace_label() {
        let (request, resolved) = golden("12-long-names-hash-suffix", &ResolveOptions::default());
        let label = crate::naming::agent_label(&request.account, &request.name);
        assert!(label.len() <= 63, "{label}");
        let namespace = resolved.objects.iter().find(|o| o.kind == Kind::Namespace);
        let on_namespace = namespace.and_then(|o| o.labels.get(crate::naming::AGENT_LABEL));
        assert_eq!(on_namespace, Some(&label));
        assert_eq!(
            resolved.common_labels.get(crate::naming::AGENT_LABEL),
            Some(&label)
        );
    }

    /// Passwords generated by the cluster are left out of the store Secrets; everything
    /// else, the env hashes included, is as with the placeholder.
    #[test]
    fn passwords_generated_by_the_cluster_are_left_out() {
        let case = "06-knowledge-mysql-duplicate-qdrant";
        let (_, shown) = golden(case, &ResolveOptions::default());
        let options = ResolveOptions {
            missing_passwords: MissingPasswords::GeneratedByCluster,
            ..ResolveOptions::default()
        };
        let (_, omitted) = golden(case, &options);
        assert!(!shown.store_passwords.is_empty());
        assert_eq!(shown.store_passwords, omitted.store_passwords);
        let secret_data = |r: &ResolvedDeployment, name: &str| {
            r.objects.iter().find_map(|o| match &o.spec {
                ObjectSpec::Secret { data } if o.name == name => Some(data.clone()),
                _ => None,
            })
        };
        let mut expected = shown.clone();
        for sp in &shown.store_passwords {
            let data = secret_data(&shown, &sp.secret);
            assert_eq!(
                data.as_ref()
                    .and_then(|d| d.get(&sp.key))
                    .map(String::as_str),
                Some(PASSWORD_PLACEHOLDER)
            );
            for o in &mut expected.objects {
                if let ObjectSpec::Secret { data } = &mut o.spec
                    && o.name == sp.secret
                {
                    data.remove(&sp.key);
                }
            }
        }
        assert_eq!(omitted, expected);
    }
}
