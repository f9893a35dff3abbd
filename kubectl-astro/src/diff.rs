//! What a deploy would change: a server-side dry-run apply of every object compared with
//! the live object, server bookkeeping stripped, Secret values masked, prune candidates shown
//! as removals.

use astro_deploy::render::{Manifest, mask_secret_value};
use astro_deploy::resolve::Kind;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::body::ApplyBody;
use crate::cluster::{Cluster, Reply};
use crate::error::{CallError, Error};
use crate::inventory::{self, Inventory, InventoryKey};
use crate::plan::Plan;

/// How to diff.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DiffOptions {
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions { concurrency: 8 }
    }
}

impl DiffOptions {
    /// The same, with `n` requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
}

/// What would happen to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Change {
    /// The object does not exist yet.
    Create,
    /// The object exists and would change.
    Update,
    /// The object belongs to the previous deploy and would be pruned.
    Delete,
    /// Nothing would change.
    Unchanged,
}

/// The diff of one object.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ObjectDiff {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace (empty for the Namespace).
    pub namespace: String,
    /// What would happen.
    pub change: Change,
    /// Unified diff live → merged (Secret values masked).
    pub diff: String,
    /// Fields another manager owns that this apply would take (each a would-be conflict).
    pub conflicts: Vec<String>,
    /// How the change would be made, when not by a plain apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Diffs every object of `plan` against the cluster.
///
/// One round of concurrent GETs (the Namespace, whose inventory holds the previous deploy's
/// proofs, and every object), then a server-side dry-run apply only of the objects whose
/// proof does not show that re-applying them would change nothing (see
/// [`inventory::proof`]) — so diffing an unchanged deployment writes and dry-runs nothing.
pub async fn diff(
    cluster: &Cluster,
    plan: &Plan,
    options: &DiffOptions,
) -> Result<Vec<ObjectDiff>, Error> {
    let manifests = plan.manifests.as_slice();
    let ns = plan.resolved.namespace.as_str();
    let concurrency = options.concurrency.max(1);
    let namespace = async {
        match cluster.get(Kind::Namespace, "", ns).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::call(format!("Namespace/{ns}"), e)),
        }
    };
    let objects = futures::stream::iter(manifests)
        .map(|m| async move {
            if m.kind == Kind::Namespace {
                return Ok(None); // the Namespace GET above
            }
            match cluster.get(m.kind, &m.namespace, &m.name).await {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(Error::call(
                    InventoryKey::new(m.kind, &m.name).to_string(),
                    e,
                )),
            }
        })
        .buffered(concurrency)
        .collect::<Vec<Result<Option<Reply>, Error>>>();
    let (live_ns, lives) = futures::join!(namespace, objects);
    let live_ns = live_ns?;
    let old = live_ns
        .as_ref()
        .and_then(|r| Inventory::from_namespace(&r.value()))
        .unwrap_or_default();
    let mut inputs = Vec::with_capacity(manifests.len());
    for (m, live) in manifests.iter().zip(lives) {
        let live = if m.kind == Kind::Namespace {
            live_ns.clone()
        } else {
            live?
        };
        let proof = old
            .objects
            .get(&InventoryKey::new(m.kind, &m.name))
            .and_then(|t| t.proof.as_deref());
        inputs.push((m, live, proof));
    }
    let ns_exists = live_ns.is_some();
    let mut out: Vec<ObjectDiff> = Vec::new();
    let results: Vec<Result<ObjectDiff, Error>> = futures::stream::iter(inputs)
        .map(|(m, live, proof)| diff_one(cluster, m, live, proof, ns_exists))
        .buffered(concurrency)
        .collect()
        .await;
    for r in results {
        out.push(r?);
    }
    // Prune candidates from the previous deploy's inventory.
    let wanted: Vec<InventoryKey> = manifests
        .iter()
        .map(|m| InventoryKey::new(m.kind, &m.name))
        .collect();
    for key in old.objects.keys().filter(|k| !wanted.contains(k)) {
        let (kind, name) = (key.kind, key.name.as_str());
        if kind == Kind::Namespace {
            continue;
        }
        match cluster.get(kind, ns, name).await {
            Ok(live) => out.push(ObjectDiff {
                kind: kind.as_str().into(),
                name: name.into(),
                namespace: ns.into(),
                change: Change::Delete,
                diff: unified(kind, name, &printable(kind, &live.value()), ""),
                conflicts: Vec::new(),
                note: Some("would be pruned".into()),
            }),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(Error::call(key.to_string(), e)),
        }
    }
    Ok(out)
}

/// The diff of one object, given the answer to its GET (`None`: not found) and the proof the
/// last deploy recorded.
async fn diff_one(
    cluster: &Cluster,
    m: &Manifest,
    live: Option<Reply>,
    proof: Option<&str>,
    ns_exists: bool,
) -> Result<ObjectDiff, Error> {
    let what = InventoryKey::new(m.kind, &m.name).to_string();
    // Serialized once: for the proof and, unless that holds, for the dry-runs.
    let body = ApplyBody::new(&m.object);
    let proven = match (&live, proof, &body) {
        (Some(l), Some(p), Ok(body)) => {
            inventory::proof(&l.stored(&cluster.field_manager), body).as_deref() == Some(p)
        }
        _ => false,
    };
    if proven {
        tracing::debug!(object = %what, "unchanged: proven by the inventory, no dry-run");
        return Ok(ObjectDiff {
            kind: m.kind.as_str().into(),
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            change: Change::Unchanged,
            diff: String::new(),
            conflicts: Vec::new(),
            note: None,
        });
    }
    // Read whole only now: an object whose proof holds needs none of it.
    let live = live.map(|r| r.value());
    // Without a namespace nothing can be dry-run inside it: the object would be created as is.
    let mut note = None;
    let mut conflicts = Vec::new();
    let merged = if ns_exists || m.kind == Kind::Namespace {
        // Without force first: usually that is the whole answer. A 409 names the fields
        // another manager owns (each a would-be conflict); only then the forced dry-run, for
        // what `deploy --force-conflicts` would make of the object.
        let mut attempt = dry_run(cluster, m, &body, false).await;
        if let Err(CallError::Status(s)) = &attempt
            && s.code == 409
        {
            conflicts = s
                .causes
                .iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect();
            if conflicts.is_empty() {
                conflicts.push(s.message.clone());
            }
            attempt = dry_run(cluster, m, &body, true).await;
        }
        match attempt {
            Ok(reply) => reply.value(),
            // deploy replaces a Job whose immutable template changed: show it as that.
            Err(e) if m.kind == Kind::Job && e.is_immutable_field() && live.is_some() => {
                note = Some(
                    "would be replaced: the Job's template changed and is immutable".to_string(),
                );
                m.object.clone()
            }
            Err(e) => return Err(Error::call(what, e)),
        }
    } else {
        m.object.clone()
    };
    let after = printable(m.kind, &merged);
    let (change, before) = match &live {
        None => (Change::Create, String::new()),
        Some(l) => {
            let before = printable(m.kind, l);
            if before == after {
                (Change::Unchanged, before)
            } else {
                (Change::Update, before)
            }
        }
    };
    let diff = if change == Change::Unchanged {
        String::new()
    } else {
        unified(m.kind, &m.name, &before, &after)
    };
    Ok(ObjectDiff {
        kind: m.kind.as_str().into(),
        name: m.name.clone(),
        namespace: m.namespace.clone(),
        change,
        diff,
        conflicts,
        note,
    })
}

/// A server-side dry-run apply of `m`'s serialized body.
async fn dry_run(
    cluster: &Cluster,
    m: &Manifest,
    body: &Result<ApplyBody, CallError>,
    force: bool,
) -> Result<Reply, CallError> {
    let body = body.as_ref().map_err(Clone::clone)?;
    cluster
        .apply_body(m.kind, &m.namespace, &m.name, body, force, true)
        .await
}

/// YAML of an object without server bookkeeping, Secret values masked.
pub fn printable(kind: Kind, object: &Value) -> String {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
        ] {
            meta.remove(k);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove(inventory::ANNOTATION);
            if kind == Kind::Secret
                && let Some(v) = ann.get_mut("kubectl.kubernetes.io/last-applied-configuration")
            {
                *v = Value::String(mask_secret_value(v.as_str().unwrap_or("")));
            }
            if ann.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if kind == Kind::Secret {
        astro_deploy::render::redact_secret(&mut o);
    }
    astro_deploy::render::yaml_document(&o).unwrap_or_default()
}

/// A unified diff with `live`/`merged` headers.
fn unified(kind: Kind, name: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("live/{}/{name}", kind.as_str()),
            &format!("merged/{}/{name}", kind.as_str()),
        )
        .to_string()
}
