//! Prune: deleting the objects of the previous deploy that this render no longer has — only
//! those the previous inventory lists, and only while they still carry this deployment's
//! labels.

use std::collections::BTreeSet;

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::render::Manifest;
use astro_deploy::resolve::{Kind, ResolvedDeployment};
use serde_json::Value;

use crate::cluster::{Cluster, resource_version};
use crate::error::{Error, Refusal};
use crate::inventory::{Inventory, InventoryKey};
use crate::result::object_result;

/// The objects `old` lists that `manifests` no longer render (never the Namespace), in
/// inventory order.
pub fn candidates(old: &Inventory, manifests: &[Manifest]) -> Vec<InventoryKey> {
    let wanted: BTreeSet<InventoryKey> = manifests
        .iter()
        .map(|m| InventoryKey::new(m.kind, &m.name))
        .collect();
    old.objects
        .keys()
        .filter(|k| k.kind != Kind::Namespace && !wanted.contains(*k))
        .cloned()
        .collect()
}

/// Refuses a deploy that would prune more than `max` objects, before anything is written.
pub fn check_budget(stale: &[InventoryKey], max: usize) -> Result<(), Error> {
    if stale.len() <= max {
        return Ok(());
    }
    let names: Vec<String> = stale.iter().map(ToString::to_string).collect();
    Err(Error::Refused {
        refusal: Refusal::Prune,
        details: format!(
            "this deploy would delete {} objects ({}), more than --max-prune={max}; raise the limit or pass --prune=false",
            stale.len(),
            names.join(", "),
        ),
    })
}

/// How often prune reads an object again when it changed between the read and the delete.
const PRUNE_ATTEMPTS: usize = 3;

/// Deletes one stale object — only if it still carries this deployment's labels, and only
/// the version read (a resourceVersion precondition). When the object changed in between (a
/// controller updating a Job's status answers the precondition with 409), it is read and
/// checked again, a few times.
pub async fn prune_one(
    cluster: &Cluster,
    resolved: &ResolvedDeployment,
    key: &InventoryKey,
) -> ResourceResult {
    let (kind, name, ns) = (key.kind, key.name.as_str(), resolved.namespace.as_str());
    let done = |message: Option<&str>| {
        object_result(
            kind,
            name,
            ns,
            ResourceAction::Pruned,
            message.map(str::to_string),
        )
    };
    let failed =
        |message: String| object_result(kind, name, ns, ResourceAction::Failed, Some(message));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let live = match cluster.get(kind, ns, name).await {
            Ok(r) => r.value(),
            Err(e) if e.is_not_found() => return done(Some("already gone")),
            Err(e) => return failed(format!("not pruned: {}", e.describe())),
        };
        let labels = live
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(Value::Null);
        let ours = resolved
            .common_labels
            .iter()
            .all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v.as_str()));
        if !ours {
            return failed("not pruned: it no longer carries this deployment's labels".into());
        }
        let rv = resource_version(&live).map(str::to_string);
        match cluster.delete(kind, ns, name, rv.as_deref()).await {
            Ok(_) => return done(None),
            Err(e) if e.is_not_found() => return done(Some("already gone")),
            Err(e) if e.code() == 409 && attempt < PRUNE_ATTEMPTS => continue,
            Err(e) => return failed(format!("not pruned: {}", e.describe())),
        }
    }
}
