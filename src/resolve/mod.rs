//! Resolve: a DeployRequest plus its Build become a [`ResolvedDeployment`] — names,
//! namespace, labels, env vars, required credentials, workloads and endpoints, all decided.

mod env;
mod guards;
mod model;
mod plan;
mod request;

pub use crate::input::printable;
pub use crate::kind::{Kind, Stage};
pub use env::{ProviderUse, provider_credentials, shared_keys};
pub use guards::PLATFORM_MANAGED_ENV;
pub use model::*;
pub use request::{ADAPTERS, MAX_CREDENTIAL_BYTES, check_cron};

use std::collections::BTreeSet;

use crate::api::DeployRequest;
use crate::catalog::Build;
use crate::error::{Error, FieldErrors};

/// The messaging sidecar's image unless `--messaging-image` says otherwise: the digest the
/// Astropods platform pins its production sidecar to (`MESSAGING_IMAGE` of the platform's
/// `config/astro-server/prod.env`, astropods/astro-cli). The image is published only as
/// `:latest` and `:<commit>` (astropods/messaging `.github/workflows/release.yml`), so an
/// immutable digest is the one pin that names exactly one image; `:latest` would change
/// under a running deployment on any pod restart.
pub const DEFAULT_MESSAGING_IMAGE: &str =
    "astropods/messaging@sha256:c55fb77b7d9cf1b27d41de1581abc0710fa25caed4daa96780eaf3593839c9a3";

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
    /// TLS Secret for every Ingress; it must exist in the deploy's namespace.
    pub tls_secret: Option<String>,
    /// cert-manager issuer giving each Ingress its own certificate Secret (excludes
    /// `tls_secret`).
    pub cert_issuer: Option<CertIssuer>,
    /// Emit NetworkPolicies isolating the namespace (default: on).
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
            cert_issuer: None,
            network_policy: true,
            messaging_image: DEFAULT_MESSAGING_IMAGE.into(),
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
    errors.extend(guards::platform_managed_names(request, &build.spec));
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
    errors.extend(check_tls(options));
    if !errors.is_empty() {
        // Only the spec's own guards found something: the build's spec is at fault.
        let spec_only = errors.iter().all(|e| e.field.starts_with("spec."));
        return Err(Error::Invalid {
            what: if spec_only { "spec" } else { "request" }.into(),
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
    plan::plan(request, build, options)
}

/// The TLS options: object names, and at most one source of certificates.
fn check_tls(options: &ResolveOptions) -> Vec<crate::FieldError> {
    let mut errors = Vec::new();
    let issuer = options.cert_issuer.as_ref().map(|i| match i {
        CertIssuer::Cluster(name) => ("cluster_issuer", name),
        CertIssuer::Namespaced(name) => ("issuer", name),
    });
    let names = [("tls_secret", options.tls_secret.as_ref())]
        .into_iter()
        .chain(issuer.map(|(field, name)| (field, Some(name))));
    for (field, name) in names {
        if let Some(name) = name
            && !crate::naming::is_dns_subdomain(name)
        {
            errors.push(crate::FieldError::new(
                field,
                format!(
                    "'{}' is not a valid object name (DNS-1123 subdomain)",
                    printable(name)
                ),
            ));
        }
    }
    if let (Some(_), Some((field, _))) = (&options.tls_secret, issuer) {
        errors.push(crate::FieldError::new(
            field,
            "cannot be combined with tls_secret: each Ingress gets its own certificate from the issuer",
        ));
    }
    errors
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

    /// The field errors `resolve` answers for golden case 01 with `options`.
    fn option_errors(options: &ResolveOptions) -> Vec<(String, String)> {
        let (request, _) = golden("01-hello-astro-web", &ResolveOptions::default());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/01-hello-astro-web/build.yaml");
        let text = std::fs::read_to_string(dir).unwrap_or_default();
        let Ok(build) = BuildRecord::parse(&text).and_then(BuildRecord::into_build) else {
            panic!("case 01 build")
        };
        match resolve(&request, &build, options) {
            Err(Error::Invalid { errors, .. }) => {
                errors.0.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected invalid options, got {other:?}"),
        }
    }

    /// One source of certificates at a time, and object names that Kubernetes accepts.
    #[test]
    fn tls_options_are_checked() {
        let both = ResolveOptions {
            tls_secret: Some("wildcard-tls".into()),
            cert_issuer: Some(CertIssuer::Cluster("letsencrypt".into())),
            ..ResolveOptions::default()
        };
        let errors = option_errors(&both);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "cluster_issuer");
        assert!(errors[0].1.contains("cannot be combined with tls_secret"));

        let bad = ResolveOptions {
            tls_secret: Some("Wildcard_TLS".into()),
            ..ResolveOptions::default()
        };
        assert_eq!(option_errors(&bad)[0].0, "tls_secret");
        let bad = ResolveOptions {
            cert_issuer: Some(CertIssuer::Namespaced("my issuer".into())),
            ..ResolveOptions::default()
        };
        let errors = option_errors(&bad);
        assert_eq!(errors[0].0, "issuer");
        assert!(
            errors[0]
                .1
                .contains("'my issuer' is not a valid object name")
        );
    }

    /// With an issuer, every Ingress names its own certificate Secret and the annotation
    /// of its kind of issuer; the NetworkPolicies admit the HTTP-01 solver.
    #[test]
    fn an_issuer_gives_each_ingress_its_own_secret() {
        for (issuer, key) in [
            (
                CertIssuer::Cluster("le".into()),
                "cert-manager.io/cluster-issuer",
            ),
            (
                CertIssuer::Namespaced("le".into()),
                "cert-manager.io/issuer",
            ),
        ] {
            let options = ResolveOptions {
                cert_issuer: Some(issuer),
                ..ResolveOptions::default()
            };
            let (_, resolved) = golden("16-engineering-assistant", &options);
            let mut secrets = Vec::new();
            for o in &resolved.objects {
                if let ObjectSpec::Ingress(i) = &o.spec {
                    assert_eq!(o.annotations.get(key).map(String::as_str), Some("le"));
                    assert_eq!(i.tls_secret, Some(format!("{}-tls", o.name)));
                    secrets.push(i.tls_secret.clone());
                }
            }
            assert_eq!(secrets.len(), 2, "case 16 has two Ingresses");
            let solver = resolved
                .objects
                .iter()
                .find(|o| o.name == "allow-acme-http01-solver");
            let Some(ObjectSpec::NetworkPolicy(policy)) = solver.map(|o| &o.spec) else {
                panic!("no solver NetworkPolicy")
            };
            assert_eq!(policy.ports, vec![PolicyPort::Number(8089)]);
        }
        // Without NetworkPolicies, no solver policy either.
        let options = ResolveOptions {
            cert_issuer: Some(CertIssuer::Cluster("le".into())),
            network_policy: false,
            ..ResolveOptions::default()
        };
        let (_, resolved) = golden("16-engineering-assistant", &options);
        assert!(
            !resolved
                .objects
                .iter()
                .any(|o| o.kind == Kind::NetworkPolicy)
        );
    }

    /// The env names a container of the workload `name` sees: its own `env` and, through
    /// `envFrom`, the keys of the ConfigMaps it imports.
    fn env_names(resolved: &ResolvedDeployment, name: &str) -> Vec<String> {
        let pod = resolved.objects.iter().find_map(|o| match &o.spec {
            ObjectSpec::Workload(w) if o.name == name => Some(w.pod.clone()),
            _ => None,
        });
        let Some(pod) = pod else {
            panic!("no workload {name}")
        };
        let mut names = Vec::new();
        for c in pod.containers.iter().take(1) {
            names.extend(c.env.iter().map(|e| e.name.clone()));
            for cm in &c.env_from_config_maps {
                for o in &resolved.objects {
                    if let ObjectSpec::ConfigMap { data } = &o.spec
                        && &o.name == cm
                    {
                        names.extend(data.keys().cloned());
                    }
                }
            }
        }
        names.sort();
        names
    }

    /// Astropods spec §8.4: top-level inputs reach every container, `agent.inputs` the agent
    /// only, an ingestion's inputs its own container; other credentials the agent and
    /// ingestion, never a component.
    #[test]
    fn each_container_gets_exactly_the_inputs_meant_for_it() {
        let spec = serde_json::json!({
            "spec": "package/v1",
            "name": "bot",
            "agent": {"image": "bot:1", "inputs": [
                {"name": "AGENT_TONE", "datatype": "string", "default": "calm"},
                {"name": "AGENT_TOKEN", "datatype": "string", "secret": true},
            ]},
            "models": {"primary": {"provider": "anthropic"}},
            "knowledge": {"db": {"container": {"image": "db:1"}, "inputs": [
                {"name": "DB_MODE", "datatype": "string", "default": "fast"},
            ]}},
            "inputs": {"region": {"name": "REGION", "datatype": "string", "default": "eu"}},
            "ingestion": {"log": {
                "container": {"image": "log:1"},
                "trigger": {"type": "startup"},
                "inputs": [{"name": "LOG_KEY", "datatype": "string", "secret": true}],
            }},
        });
        let record = serde_json::json!({
            "account": "acme", "name": "bot", "build_id": "b1", "image": "r/bot:b1",
            "registry": "r", "registered_at": "2026-01-01T00:00:00Z", "spec": spec,
        });
        let build = BuildRecord::parse(&record.to_string()).and_then(BuildRecord::into_build);
        let Ok(build) = build else {
            panic!("{build:?}")
        };
        let request = DeployRequest {
            account: "acme".into(),
            name: "bot".into(),
            user_credentials: [
                ("ANTHROPIC_API_KEY", "k"),
                ("AGENT_TOKEN", "t"),
                ("LOG_KEY", "l"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        let resolved = resolve(&request, &build, &ResolveOptions::default());
        let Ok(resolved) = resolved else {
            panic!("{resolved:?}")
        };
        let agent = env_names(&resolved, "bot-agent");
        for name in ["AGENT_TONE", "AGENT_TOKEN", "ANTHROPIC_API_KEY", "REGION"] {
            assert!(
                agent.contains(&name.to_string()),
                "agent lacks {name}: {agent:?}"
            );
        }
        for name in ["LOG_KEY", "DB_MODE"] {
            assert!(
                !agent.contains(&name.to_string()),
                "agent has {name}: {agent:?}"
            );
        }
        let log = env_names(&resolved, "bot-ingestion-log");
        for name in ["ANTHROPIC_API_KEY", "REGION", "LOG_KEY"] {
            assert!(
                log.contains(&name.to_string()),
                "ingestion lacks {name}: {log:?}"
            );
        }
        for name in ["AGENT_TONE", "AGENT_TOKEN", "DB_MODE"] {
            assert!(
                !log.contains(&name.to_string()),
                "ingestion has {name}: {log:?}"
            );
        }
        let db = env_names(&resolved, "bot-knowledge-db");
        assert_eq!(db, ["DB_MODE", "REGION"]);
    }

    /// Every golden case: a pod said to meet "restricted" has what the Pod Security
    /// Standards ask of it (non-root, every container without privilege escalation and with
    /// at most `NET_BIND_SERVICE` added); the Namespace enforces the least level of its pods
    /// and warns and audits at restricted.
    #[test]
    fn pod_security_levels_hold_and_the_namespace_enforces_the_least() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            panic!("no golden cases")
        };
        let mut cases: Vec<String> = dirs
            .flatten()
            .filter(|d| d.path().join("build.yaml").is_file())
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        assert!(cases.len() > 10);
        let (mut restricted, mut baseline) = (0, 0);
        for case in cases {
            let (_, resolved) = golden(&case, &ResolveOptions::default());
            let mut least = SecurityLevel::Restricted;
            for o in &resolved.objects {
                let ObjectSpec::Workload(w) = &o.spec else {
                    continue;
                };
                let security = &w.pod.security;
                least = least.min(security.level);
                if security.level == SecurityLevel::Restricted {
                    restricted += 1;
                    assert!(security.run_as_non_root, "{case}: {}", o.name);
                    assert_ne!(security.run_as_user, Some(0), "{case}: {}", o.name);
                    for c in &w.pod.containers {
                        assert!(c.hardened, "{case}: {}/{}", o.name, c.name);
                        assert!(
                            c.add_capabilities.iter().all(|a| a == "NET_BIND_SERVICE"),
                            "{case}: {}/{}",
                            o.name,
                            c.name
                        );
                        assert_ne!(c.run_as_user, Some(0), "{case}: {}/{}", o.name, c.name);
                    }
                } else {
                    baseline += 1;
                }
            }
            let Some(ns) = resolved.objects.iter().find(|o| o.kind == Kind::Namespace) else {
                panic!("{case}: no Namespace")
            };
            let label = |mode: &str| {
                ns.labels
                    .get(&format!("pod-security.kubernetes.io/{mode}"))
                    .cloned()
            };
            assert_eq!(label("enforce").as_deref(), Some(least.as_str()), "{case}");
            assert_eq!(label("warn").as_deref(), Some("restricted"), "{case}");
            assert_eq!(label("audit").as_deref(), Some("restricted"), "{case}");
        }
        assert!(restricted > 0 && baseline > 0, "{restricted} {baseline}");
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
