//! Env hashes: a pod template annotation over the data a pod reads from the deployment's
//! Secrets and ConfigMaps, so a changed credential or setting rolls exactly those pods.

use std::collections::BTreeMap;

use crate::naming;
use crate::resolve::model::{ObjectSpec, PlannedObject};

/// The pod annotation that holds the hash.
pub(super) const ENV_HASH: &str = "astro.dev/env-hash";

/// The agent pod's hash: over its ConfigMap, the credentials, the messaging credentials and
/// the store Secrets (as one JSON array, the form the hash has always been taken over).
pub(super) fn agent_env_hash(
    config: &BTreeMap<String, String>,
    creds: &BTreeMap<String, String>,
    messaging_creds: &BTreeMap<String, String>,
    store_secrets: &BTreeMap<String, (String, BTreeMap<String, String>)>,
) -> String {
    let all = (config, creds, messaging_creds, store_secrets);
    naming::short_hash(&serde_json::to_string(&all).unwrap_or_default(), 16)
}

/// Pods that read a Secret or ConfigMap of this deployment but carry no env hash yet
/// (container-mode components, self-hosted stores) get one over exactly the data they read,
/// so a changed credential rolls them as it rolls the agent.
pub(super) fn hash_consumed_env(objects: &mut [PlannedObject]) {
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
