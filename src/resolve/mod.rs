//! Resolve: a DeployRequest plus its Build become a [`ResolvedDeployment`] — names,
//! namespace, labels, env vars, required credentials, workloads and endpoints, all decided.

mod env;
mod model;
mod objects;
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
    Ok(objects::plan(request, build, options))
}

/// Every credential key the deploy needs: cloud providers, secret variables of custom
/// providers, non-optional inputs without a default, the gateway keys, and the Slack tokens
/// when `slack` is enabled.
pub fn required_credentials(request: &DeployRequest, build: &Build) -> BTreeSet<String> {
    let spec = &build.spec;
    let mut keys = provider_credentials(spec);
    for input in objects::all_inputs(spec) {
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
}
