//! Cluster-wide settings: the ConfigMap `astro-system/astro-settings`, whose data holds the
//! cluster's defaults of the render flags (`ingress-domain: agents.example.com`, …), and the
//! one rule that merges the layers: a flag given > the ConfigMap > the built-in default.
//!
//! The three TLS settings (`tls-secret`, `cluster-issuer`, `issuer`) are one group: a layer
//! that says anything about TLS decides all three, so `--tls-secret X` over a ConfigMap with
//! `cluster-issuer` is not a conflict. Every key is checked when read, by the rules the
//! resolver and the API server apply to the flags' values; an unknown key or a bad value is
//! [`Error::InvalidSettings`], naming the ConfigMap, the key and what is wrong.

use std::fmt;

use astro_deploy::input::printable;
use astro_deploy::naming::{is_dns_label, is_dns_subdomain};
use astro_deploy::resolve::{CertIssuer, Kind, ResolveOptions};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::Error;

/// Namespace of the settings ConfigMap (the build catalog's).
pub const NAMESPACE: &str = crate::catalog::NAMESPACE;
/// Name of the settings ConfigMap.
pub const NAME: &str = "astro-settings";

/// The data keys the ConfigMap may hold: the render flags' names without their dashes.
pub const KEYS: [&str; 9] = [
    "ingress-domain",
    "ingestion-domain",
    "ingress-class",
    "tls-secret",
    "cluster-issuer",
    "issuer",
    "network-policy",
    "messaging-image",
    "storage-class",
];

/// Where every Ingress's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// One TLS Secret for every Ingress (`tls-secret`).
    Secret(String),
    /// A cert-manager issuer (`cluster-issuer` or `issuer`).
    Issuer(CertIssuer),
}

/// What one layer (the flags, or the ConfigMap) says of each setting; `None`: nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `ingress-domain`.
    pub ingress_domain: Option<String>,
    /// `ingestion-domain`.
    pub ingestion_domain: Option<String>,
    /// `ingress-class`.
    pub ingress_class: Option<String>,
    /// `tls-secret`, `cluster-issuer` or `issuer`: the TLS group.
    pub tls: Option<Tls>,
    /// `network-policy`.
    pub network_policy: Option<bool>,
    /// `messaging-image`.
    pub messaging_image: Option<String>,
    /// `storage-class`.
    pub storage_class: Option<String>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line (`--KEY`; for the TLS group, the TLS flag given).
    Flag(&'static str),
    /// The ConfigMap `astro-system/astro-settings`.
    Cluster,
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(key) => write!(f, "--{key} flag"),
            Source::Cluster => write!(f, "{NAMESPACE}/{NAME}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One setting as decided: its key, its value (`None`: unset), where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The ConfigMap key (the flag's name without `--`).
    pub key: &'static str,
    /// The value; `None` when unset.
    pub value: Option<String>,
    /// Where it came from.
    pub source: Source,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.as_deref().unwrap_or("(unset)");
        write!(f, "{}: {value} ({})", self.key, self.source)
    }
}

/// The settings of the cluster: the ConfigMap read with one GET, checked. No ConfigMap (or
/// no namespace `astro-system`) is no settings; an unknown key or an invalid value is
/// [`Error::InvalidSettings`]; a failed GET (403 included) is the call's error.
pub async fn read(cluster: &Cluster) -> Result<Settings, Error> {
    match cluster.get(Kind::ConfigMap, NAMESPACE, NAME).await {
        Ok(reply) => parse(&reply.value()),
        Err(e) if e.is_not_found() => Ok(Settings::default()),
        Err(e) => Err(Error::call(
            format!("reading the cluster settings ConfigMap {NAMESPACE}/{NAME}"),
            e,
        )),
    }
}

/// The settings a ConfigMap object holds, every key checked; all problems at once.
pub fn parse(config_map: &Value) -> Result<Settings, Error> {
    let mut settings = Settings::default();
    let mut problems = Vec::new();
    let mut tls_keys = Vec::new();
    if let Some(binary) = config_map.get("binaryData").and_then(Value::as_object) {
        for key in binary.keys() {
            problems.push(format!(
                "binaryData key '{}': settings are text: put them in data",
                printable(key)
            ));
        }
    }
    let data = config_map.get("data").and_then(Value::as_object);
    for (key, value) in data.into_iter().flatten() {
        let Some(value) = value.as_str() else {
            problems.push(format!("key '{}': not a string", printable(key)));
            continue;
        };
        let checked = match key.as_str() {
            "ingress-domain" => dns_name(value).map(|v| settings.ingress_domain = Some(v)),
            "ingestion-domain" => dns_name(value).map(|v| settings.ingestion_domain = Some(v)),
            "ingress-class" => object_name(value).map(|v| settings.ingress_class = Some(v)),
            "storage-class" => object_name(value).map(|v| settings.storage_class = Some(v)),
            "messaging-image" => image(value).map(|v| settings.messaging_image = Some(v)),
            "network-policy" => boolean(value).map(|v| settings.network_policy = Some(v)),
            "tls-secret" | "cluster-issuer" | "issuer" => object_name(value).map(|v| {
                tls_keys.push(key.as_str());
                settings.tls = Some(match key.as_str() {
                    "tls-secret" => Tls::Secret(v),
                    "cluster-issuer" => Tls::Issuer(CertIssuer::Cluster(v)),
                    _ => Tls::Issuer(CertIssuer::Namespaced(v)),
                });
            }),
            _ => Err(format!(
                "unknown key (known: {}; the namespace, templates and replicas are per deploy)",
                KEYS.join(", ")
            )),
        };
        if let Err(problem) = checked {
            problems.push(format!("key '{}': {problem}", printable(key)));
        }
    }
    if tls_keys.len() > 1 {
        tls_keys.sort_unstable();
        problems.push(format!(
            "keys {}: at most one of tls-secret, cluster-issuer and issuer (as with the flags)",
            tls_keys.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(Error::InvalidSettings(format!(
            "ConfigMap {NAMESPACE}/{NAME}: {}",
            problems.join("; ")
        )))
    }
}

/// `value` when it is a DNS name: dot-separated DNS-1123 labels (the resolver's rule for
/// `--ingress-domain`).
fn dns_name(value: &str) -> Result<String, String> {
    if value.split('.').all(is_dns_label) {
        Ok(value.to_string())
    } else {
        Err(format!("'{}' is not a DNS name", printable(value)))
    }
}

/// `value` when it is an object name (DNS-1123 subdomain), as the API server requires of an
/// IngressClass, a StorageClass, a Secret and an issuer.
fn object_name(value: &str) -> Result<String, String> {
    if is_dns_subdomain(value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "'{}' is not a valid object name (DNS-1123 subdomain)",
            printable(value)
        ))
    }
}

/// `value` when it can be an image reference: not empty, no whitespace.
fn image(value: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        Err(format!(
            "'{}' is not an image reference (empty, or whitespace in it)",
            printable(value)
        ))
    } else {
        Ok(value.to_string())
    }
}

/// `true` or `false`, as `--network-policy=BOOL` takes them.
fn boolean(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("'{}' is not true or false", printable(value))),
    }
}

/// The resolve options of a deploy: `base` (the per-deploy options: namespace, replicas,
/// passwords) with each setting taken from `flags`, else from `cluster`, else the built-in
/// default; and where each came from, in [`KEYS`] order. `cluster` is `None` when the
/// cluster was not read (a dry run).
pub fn resolve(
    flags: &Settings,
    cluster: Option<&Settings>,
    base: ResolveOptions,
) -> (ResolveOptions, Vec<Origin>) {
    let none = Settings::default();
    let cluster = cluster.unwrap_or(&none);
    let defaults = ResolveOptions::default();
    let (ingress_domain, ingress_domain_from) = layered(
        "ingress-domain",
        &flags.ingress_domain,
        &cluster.ingress_domain,
    );
    let (ingestion_domain, ingestion_domain_from) = layered(
        "ingestion-domain",
        &flags.ingestion_domain,
        &cluster.ingestion_domain,
    );
    let (ingress_class, ingress_class_from) = layered(
        "ingress-class",
        &flags.ingress_class,
        &cluster.ingress_class,
    );
    let tls_flag = flags.tls.as_ref().map_or("tls-secret", tls_key);
    let (tls, tls_from) = layered(tls_flag, &flags.tls, &cluster.tls);
    let (network_policy, network_policy_from) = layered(
        "network-policy",
        &flags.network_policy,
        &cluster.network_policy,
    );
    let (messaging_image, messaging_image_from) = layered(
        "messaging-image",
        &flags.messaging_image,
        &cluster.messaging_image,
    );
    let (storage_class, storage_class_from) = layered(
        "storage-class",
        &flags.storage_class,
        &cluster.storage_class,
    );

    let ingress_domain = ingress_domain.unwrap_or(defaults.ingress_domain);
    let ingestion_domain = ingestion_domain.unwrap_or(defaults.ingestion_domain);
    let network_policy = network_policy.unwrap_or(defaults.network_policy);
    let messaging_image = messaging_image.unwrap_or(defaults.messaging_image);
    let (tls_secret, cert_issuer) = match tls {
        Some(Tls::Secret(s)) => (Some(s), None),
        Some(Tls::Issuer(i)) => (None, Some(i)),
        None => (defaults.tls_secret, defaults.cert_issuer),
    };
    let issuer_named = |cluster_wide: bool| match &cert_issuer {
        Some(CertIssuer::Cluster(n)) if cluster_wide => Some(n.clone()),
        Some(CertIssuer::Namespaced(n)) if !cluster_wide => Some(n.clone()),
        _ => None,
    };
    let origin = |key, value: Option<&String>, source| Origin {
        key,
        value: value.cloned(),
        source,
    };
    let origins = vec![
        origin("ingress-domain", Some(&ingress_domain), ingress_domain_from),
        origin(
            "ingestion-domain",
            Some(&ingestion_domain),
            ingestion_domain_from,
        ),
        origin("ingress-class", ingress_class.as_ref(), ingress_class_from),
        origin("tls-secret", tls_secret.as_ref(), tls_from),
        origin("cluster-issuer", issuer_named(true).as_ref(), tls_from),
        origin("issuer", issuer_named(false).as_ref(), tls_from),
        origin(
            "network-policy",
            Some(&network_policy.to_string()),
            network_policy_from,
        ),
        origin(
            "messaging-image",
            Some(&messaging_image),
            messaging_image_from,
        ),
        origin("storage-class", storage_class.as_ref(), storage_class_from),
    ];
    let options = ResolveOptions {
        ingress_domain,
        ingestion_domain,
        ingress_class,
        tls_secret,
        cert_issuer,
        network_policy,
        messaging_image,
        storage_class,
        ..base
    };
    (options, origins)
}

/// The flag's value when given, else the cluster's, else `None` (the built-in default); and
/// where it came from (`flag`: the flag's name).
fn layered<T: Clone>(
    flag: &'static str,
    given: &Option<T>,
    cluster: &Option<T>,
) -> (Option<T>, Source) {
    match (given, cluster) {
        (Some(v), _) => (Some(v.clone()), Source::Flag(flag)),
        (None, Some(v)) => (Some(v.clone()), Source::Cluster),
        (None, None) => (None, Source::Default),
    }
}

/// The flag of a TLS setting.
fn tls_key(tls: &Tls) -> &'static str {
    match tls {
        Tls::Secret(_) => "tls-secret",
        Tls::Issuer(CertIssuer::Cluster(_)) => "cluster-issuer",
        Tls::Issuer(CertIssuer::Namespaced(_)) => "issuer",
    }
}

/// Logs (`-v`: info) one line per setting with its value and source, and, when the cluster
/// was not read, that it was not. None of the settings is a credential.
pub fn log(origins: &[Origin], cluster_read: bool) {
    if !cluster_read {
        tracing::info!(
            "cluster settings {NAMESPACE}/{NAME} not read (a dry run reads no cluster): flags and built-in defaults only"
        );
    }
    for o in origins {
        tracing::info!("setting {o}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": data})
    }

    #[test]
    fn every_key_is_read() {
        let s = parse(&cm(json!({
            "ingress-domain": "agents.example.com",
            "ingestion-domain": "hooks.example.com",
            "ingress-class": "nginx",
            "cluster-issuer": "letsencrypt",
            "network-policy": "false",
            "messaging-image": "registry.example.com/messaging:1.2",
            "storage-class": "fast-ssd",
        })))
        .expect("valid");
        assert_eq!(
            s,
            Settings {
                ingress_domain: Some("agents.example.com".into()),
                ingestion_domain: Some("hooks.example.com".into()),
                ingress_class: Some("nginx".into()),
                tls: Some(Tls::Issuer(CertIssuer::Cluster("letsencrypt".into()))),
                network_policy: Some(false),
                messaging_image: Some("registry.example.com/messaging:1.2".into()),
                storage_class: Some("fast-ssd".into()),
            }
        );
        assert_eq!(parse(&cm(Value::Null)).ok(), Some(Settings::default()));
    }

    #[test]
    fn bad_keys_and_values_are_named_all_at_once() {
        let e = parse(&cm(json!({
            "ingress-domain": "Agents Example",
            "network-policy": "yes",
            "namespace": "x",
            "messaging-image": "",
            "storage-class": "Fast_SSD",
            "tls-secret": "wildcard",
            "issuer": "local",
        })))
        .expect_err("invalid");
        assert_eq!(
            (e.kind(), e.title()),
            (
                crate::ErrorKind::InvalidSettings,
                "invalid cluster settings"
            )
        );
        let text = e.to_string();
        for part in [
            "ConfigMap astro-system/astro-settings: ",
            "key 'ingress-domain': 'Agents Example' is not a DNS name",
            "key 'network-policy': 'yes' is not true or false",
            "key 'namespace': unknown key",
            "key 'messaging-image': '' is not an image reference",
            "key 'storage-class': 'Fast_SSD' is not a valid object name",
            "keys issuer, tls-secret: at most one of",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let e = parse(&json!({"binaryData": {"ingress-class": "bmdpbng="}})).expect_err("binary");
        assert!(
            e.to_string().contains("binaryData key 'ingress-class'"),
            "{e}"
        );
    }

    #[test]
    fn a_flag_beats_the_cluster_which_beats_the_default() {
        let flags = Settings {
            ingress_class: Some("traefik".into()),
            ..Settings::default()
        };
        let cluster = Settings {
            ingress_domain: Some("agents.example.com".into()),
            ingress_class: Some("nginx".into()),
            network_policy: Some(false),
            ..Settings::default()
        };
        let (o, origins) = resolve(&flags, Some(&cluster), ResolveOptions::default());
        assert_eq!(o.ingress_domain, "agents.example.com");
        assert_eq!(o.ingress_class.as_deref(), Some("traefik"));
        assert!(!o.network_policy);
        assert_eq!(o.ingestion_domain, "ingestion.localtest.me");
        let lines: Vec<String> = origins.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), KEYS.len());
        for line in [
            "ingress-domain: agents.example.com (astro-system/astro-settings)",
            "ingestion-domain: ingestion.localtest.me (default)",
            "ingress-class: traefik (--ingress-class flag)",
            "tls-secret: (unset) (default)",
            "network-policy: false (astro-system/astro-settings)",
            "storage-class: (unset) (default)",
        ] {
            assert!(lines.contains(&line.to_string()), "{line}: {lines:#?}");
        }
        // Not read: flags and defaults only.
        let (o, _) = resolve(&flags, None, ResolveOptions::default());
        assert_eq!(o.ingress_domain, "agents.localtest.me");
        assert!(o.network_policy);
    }

    #[test]
    fn any_tls_flag_decides_the_whole_tls_group() {
        let flags = Settings {
            tls: Some(Tls::Secret("wildcard".into())),
            ..Settings::default()
        };
        let cluster = Settings {
            tls: Some(Tls::Issuer(CertIssuer::Cluster("letsencrypt".into()))),
            ..Settings::default()
        };
        let (o, origins) = resolve(&flags, Some(&cluster), ResolveOptions::default());
        assert_eq!(
            (o.tls_secret.as_deref(), o.cert_issuer),
            (Some("wildcard"), None)
        );
        let tls: Vec<String> = origins
            .iter()
            .filter(|o| ["tls-secret", "cluster-issuer", "issuer"].contains(&o.key))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            tls,
            [
                "tls-secret: wildcard (--tls-secret flag)",
                "cluster-issuer: (unset) (--tls-secret flag)",
                "issuer: (unset) (--tls-secret flag)",
            ]
        );
        let (o, _) = resolve(
            &Settings::default(),
            Some(&cluster),
            ResolveOptions::default(),
        );
        assert_eq!(
            (o.tls_secret, o.cert_issuer),
            (None, Some(CertIssuer::Cluster("letsencrypt".into())))
        );
    }

    #[test]
    fn the_per_deploy_options_are_kept() {
        let base = ResolveOptions {
            namespace: Some("team-ns".into()),
            omit_replicas: true,
            ..ResolveOptions::default()
        };
        let (o, _) = resolve(&Settings::default(), None, base);
        assert_eq!(o.namespace.as_deref(), Some("team-ns"));
        assert!(o.omit_replicas);
    }
}
