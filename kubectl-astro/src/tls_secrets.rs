//! The TLS Secrets that Ingresses name but nobody made: `--tls-secret` names a Secret the
//! deploy does not create, and an Ingress whose Secret is missing is served with the ingress
//! controller's default certificate, without an error anywhere.

use std::collections::BTreeSet;

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::render::Manifest;
use astro_deploy::resolve::Kind;

use crate::cluster::Cluster;
use crate::events::Event;

/// Annotations with which cert-manager creates the Secret itself (its ingress-shim).
const ISSUER_ANNOTATIONS: [&str; 2] = ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"];

/// Checks that each TLS Secret an Ingress of `manifests` names exists in `ns` (none can in a
/// `fresh` namespace); for each missing one, warns through the cluster's observer and notes it
/// on the Ingress's entry of `results`. Secrets that cert-manager issues are not checked.
pub async fn warn_missing(
    cluster: &Cluster,
    manifests: &[Manifest],
    ns: &str,
    fresh: bool,
    results: &mut [ResourceResult],
) {
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    for m in manifests.iter().filter(|m| m.kind == Kind::Ingress) {
        let annotations = &m.object["metadata"]["annotations"];
        if ISSUER_ANNOTATIONS
            .iter()
            .any(|a| annotations.get(a).is_some())
        {
            continue;
        }
        let tls = m.object["spec"]["tls"].as_array().into_iter().flatten();
        for secret in tls.filter_map(|t| t["secretName"].as_str()) {
            wanted.push((m.name.as_str(), secret));
        }
    }
    let secrets: BTreeSet<&str> = wanted.iter().map(|(_, s)| *s).collect();
    let checks = secrets.into_iter().map(|secret| async move {
        let missing = fresh
            || matches!(cluster.get(Kind::Secret, ns, secret).await, Err(e) if e.is_not_found());
        (secret, missing)
    });
    let missing: BTreeSet<&str> = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter_map(|(secret, missing)| missing.then_some(secret))
        .collect();
    for secret in &missing {
        let message = format!(
            "TLS Secret {secret:?} does not exist in namespace {ns:?}: until it does, the \
             ingress controller serves its default certificate (create it there, or use \
             --cluster-issuer/--issuer)"
        );
        cluster
            .observer
            .on_event(&Event::Warning { message: &message });
    }
    for (ingress, secret) in wanted {
        if !missing.contains(secret) {
            continue;
        }
        let entry = results
            .iter_mut()
            .find(|r| r.kind == "Ingress" && r.name == ingress && r.message.is_none());
        if let Some(entry) = entry
            && entry.action != ResourceAction::Failed
        {
            entry.message = Some(format!("TLS Secret {secret:?} does not exist"));
        }
    }
}
