//! Staged server-side apply, prune and the per-object results of a deploy.
//!
//! Round trips: the Namespace apply (which also returns the previous inventory), an inventory
//! write naming the objects this deploy adds (only when it adds some), one concurrent round of
//! GETs of the objects the previous deploy left with a proof (see [`inventory::proof`]), then
//! one apply per object whose proof does not hold, concurrently within a stage; the inventory
//! is written only when something changed, and prune deletes only objects the previous
//! inventory lists, each guarded by its labels. A redeploy with nothing to change sends the
//! Namespace apply and one GET per other object, and stores nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::render::Manifest;
use astro_deploy::resolve::{Kind, ResolvedDeployment, Stage, StorePassword};
use base64::Engine;
use futures::StreamExt;
use serde_json::Value;

use super::body::ApplyBody;
use super::inventory::{self, Inventory};
use super::stored::Stored;
use super::{CallError, Cluster, kind_from_str};
use crate::exit::{Failure, code};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Take over fields another manager owns (409 otherwise).
    pub force_conflicts: bool,
    /// Delete objects of the previous deploy that this render no longer has.
    pub prune: bool,
    /// Refuse to deploy when more than this many objects would be pruned.
    pub max_prune: usize,
    /// Requests in flight within one stage.
    pub concurrency: usize,
    /// Store passwords to generate when their Secret does not hold one yet.
    pub generated: Vec<StorePassword>,
    /// Set by SIGINT/SIGTERM: requests in flight finish, nothing new is sent (objects not yet
    /// applied are failed as interrupted), nothing is pruned, the inventory is still recorded.
    pub interrupted: Arc<AtomicBool>,
}

impl ApplyOptions {
    fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// What a deploy did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every object and its action, in apply order, pruned ones last.
    pub resources: Vec<ResourceResult>,
    /// One line per failed object, naming it.
    pub errors: Vec<String>,
    /// The deploy was interrupted before it finished.
    pub interrupted: bool,
}

impl Outcome {
    /// Adds one object's result; a failure also becomes an `errors` line naming the object.
    fn record(&mut self, res: ResourceResult) {
        if res.action == ResourceAction::Failed {
            self.errors.push(format!(
                "{}/{}: {}",
                res.kind,
                res.name,
                res.message.clone().unwrap_or_default()
            ));
        }
        self.resources.push(res);
    }
}

/// The apply stages after the Namespace, each a group of the library's [`Stage`]s: the objects
/// of one stage are applied concurrently, the stages one after another. Only what something
/// else needs when it starts gets a stage of its own: NetworkPolicies, so that no pod ever
/// runs unrestricted; then Secrets and ConfigMaps, generated store passwords included, so that
/// no container starts before what it reads exists. Services, workloads and Ingresses share
/// the last stage, as Flux's `ApplyAllStaged` applies them: our pods take no Service
/// environment variables (`enableServiceLinks: false`) and an ingress controller follows its
/// Service whenever that appears, so ordering them would only cost two more round trips.
const STAGES: &[&[Stage]] = &[
    &[Stage::Policy],
    &[Stage::Config],
    &[Stage::Service, Stage::Workload, Stage::Ingress],
];

/// Applies `manifests` (rendered from `resolved`) and prunes what the last deploy left behind.
pub async fn deploy(
    cluster: &Cluster,
    resolved: &ResolvedDeployment,
    manifests: &[Manifest],
    opts: &ApplyOptions,
) -> Result<Outcome, Failure> {
    let ns = resolved.namespace.as_str();
    let mut out = Outcome::default();
    let Some(ns_manifest) = manifests.iter().find(|m| m.kind == Kind::Namespace) else {
        return Err(Failure::failed("render produced no Namespace"));
    };

    // Stage 1: the Namespace. Its reply carries the previous inventory.
    let ns_body =
        ApplyBody::new(&ns_manifest.object).map_err(|e| fatal(&e, &format!("Namespace/{ns}")))?;
    let reply = cluster
        .apply_body(
            Kind::Namespace,
            "",
            ns,
            &ns_body,
            opts.force_conflicts,
            false,
        )
        .await
        .map_err(|e| fatal(&e, &format!("Namespace/{ns}")))?;
    let ns_object = reply.value();
    let ns_stored = Stored::from_value(&ns_object, &cluster.field_manager);
    if ns_stored.deleting {
        return Err(Failure::failed(format!(
            "namespace {ns} is being deleted; wait until it is gone, then deploy again"
        )));
    }
    let fresh_namespace = reply.code == 201;
    let recorded_before = Inventory::from_namespace(&ns_object);
    let inventory_missing = recorded_before.is_none();
    let mut old = recorded_before.unwrap_or_default();
    if !fresh_namespace && inventory_missing {
        // The namespace exists but records no inventory: a deploy into it was cut short
        // before recording one (or it was made by someone else). Find what carries this
        // deployment's labels, so that nothing it left is forgotten.
        recover(cluster, resolved, &mut old)
            .await
            .map_err(|e| fatal(&e, &format!("Namespace/{ns}: recovering the inventory")))?;
    }
    tracing::info!(
        ns,
        created = fresh_namespace,
        known = old.objects.len(),
        "namespace applied"
    );
    let mut new = Inventory {
        build_id: resolved.build_id.clone(),
        objects: Default::default(),
    };
    let ns_key = inventory::key(Kind::Namespace, ns);
    let ns_print = inventory::namespace_state(&ns_object, &ns_manifest.object);
    out.resources.push(result(
        Kind::Namespace,
        ns,
        "",
        classify(reply.code, old.objects.get(&ns_key), &ns_print),
        None,
    ));
    let ns_proof = inventory::proof(&ns_stored, &ns_body);
    new.objects
        .insert(ns_key, inventory::token(ns_print, ns_proof));

    // Prune candidates, checked against the budget before anything else is written.
    let wanted: BTreeSet<String> = manifests
        .iter()
        .map(|m| inventory::key(m.kind, &m.name))
        .collect();
    let stale: Vec<(Kind, String)> = old
        .objects
        .keys()
        .filter(|k| !wanted.contains(*k))
        .filter_map(|k| {
            let (kind, name) = k.split_once('/')?;
            Some((kind_from_str(kind)?, name.to_string()))
        })
        .filter(|(kind, _)| *kind != Kind::Namespace)
        .collect();
    tracing::info!(
        ?stale,
        prune = opts.prune,
        max = opts.max_prune,
        "prune candidates"
    );
    if opts.prune && stale.len() > opts.max_prune {
        return Err(Failure::new(
            code::INVALID,
            "prune refused",
            format!(
                "this deploy would delete {} objects ({}), more than --max-prune={}; raise the limit or pass --prune=false",
                stale.len(),
                stale
                    .iter()
                    .map(|(k, n)| format!("{}/{n}", k.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                opts.max_prune
            ),
        ));
    }

    // Record the objects about to be created before creating any: a deploy cut short (a
    // failed inventory write, a killed process) must never leave an object that no inventory
    // lists, since no later deploy would prune it. An empty state means "applied, outcome not
    // known yet"; a later deploy that no longer renders it prunes it (or finds it gone). Only
    // a deploy that adds objects to an existing namespace pays this request: a no-change
    // redeploy stays one request per object, and a namespace this deploy just created holds
    // nothing yet (should the deploy be cut short, the next one finds no inventory and
    // recovers it by labels, above).
    let mut recorded = old.clone();
    for k in wanted.iter().filter(|k| !old.objects.contains_key(*k)) {
        recorded.objects.insert(k.clone(), String::new());
    }
    let record = async {
        if fresh_namespace || recorded == old {
            return Ok(());
        }
        tracing::debug!(
            objects = recorded.objects.len(),
            "recording objects before creating them"
        );
        cluster
            .apply_as(
                &format!("{}-inventory", cluster.field_manager),
                Kind::Namespace,
                "",
                ns,
                &recorded.apply_body(ns),
            )
            .await
            .map(|_| ())
    };
    // Objects the previous deploy left with a proof: one concurrent round of GETs shows which
    // still hold it, and those are not applied at all — re-applying them would change nothing.
    // The GETs write nothing, so they share a round trip with the inventory write above.
    let proven = async {
        if fresh_namespace {
            BTreeMap::new()
        } else {
            live_of_proven(cluster, manifests, &old, opts).await
        }
    };
    let (recorded_ok, live) = futures::join!(record, proven);
    recorded_ok.map_err(|e| fatal(&e, &format!("Namespace/{ns}: recording the inventory")))?;

    // Then every other object, stage by stage, concurrently within a stage.
    for stages in STAGES {
        let batch: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| stages.contains(&m.stage))
            .collect();
        if batch.is_empty() {
            continue;
        }
        tracing::info!(stage = ?stages, objects = batch.len(), "stage start");
        // Unordered, so that one slow object holds one slot, not the whole stage; the results
        // are put back in manifest order.
        let mut results: Vec<(usize, (ResourceResult, Option<String>))> =
            futures::stream::iter(batch.into_iter().enumerate())
                .map(|(i, m)| {
                    let live = live.get(&inventory::key(m.kind, &m.name));
                    let old = &old;
                    let fresh = fresh_namespace;
                    async move { (i, apply_one(cluster, m, old, live, fresh, opts).await) }
                })
                .buffer_unordered(opts.concurrency.max(1))
                .collect()
                .await;
        results.sort_by_key(|(i, _)| *i);
        for (_, (res, print)) in results {
            tracing::debug!(kind = %res.kind, name = %res.name, action = ?res.action, "applied");
            let key = inventory::key(
                kind_from_str(&res.kind).unwrap_or(Kind::ConfigMap),
                &res.name,
            );
            match print {
                Some(p) => {
                    new.objects.insert(key, p);
                }
                None => {
                    if let Some(p) = recorded.objects.get(&key) {
                        new.objects.insert(key, p.clone());
                    }
                }
            }
            out.record(res);
        }
        tracing::info!(stage = ?stages, failed_so_far = out.errors.len(), "stage done");
    }

    // Prune only after a complete apply: a partial or interrupted deploy never deletes
    // anything.
    let complete = out.errors.is_empty() && !opts.is_interrupted();
    for (kind, name) in &stale {
        let key = inventory::key(*kind, name);
        let kept = old.objects.get(&key).cloned().unwrap_or_default();
        if !opts.prune || !complete || opts.is_interrupted() {
            tracing::info!(kind = kind.as_str(), %name, prune = opts.prune, complete, "not pruned");
            new.objects.insert(key, kept);
            continue;
        }
        let res = prune_one(cluster, resolved, *kind, ns, name).await;
        tracing::info!(
            kind = kind.as_str(), %name, action = ?res.action, why = ?res.message, "prune"
        );
        if res.action == ResourceAction::Failed {
            new.objects.insert(key, kept);
        }
        out.record(res);
    }

    out.interrupted = opts.is_interrupted();
    tracing::debug!(
        changed = new != recorded,
        interrupted = out.interrupted,
        "inventory"
    );
    if new != recorded
        && let Err(e) = cluster
            .apply_as(
                &format!("{}-inventory", cluster.field_manager),
                Kind::Namespace,
                "",
                ns,
                &new.apply_body(ns),
            )
            .await
    {
        out.errors.push(format!(
            "Namespace/{ns}: recording the inventory failed: {e}"
        ));
    }
    Ok(out)
}

/// Adds every object carrying `resolved`'s labels in its namespace to `inv` (state unknown).
async fn recover(
    cluster: &Cluster,
    resolved: &ResolvedDeployment,
    inv: &mut Inventory,
) -> Result<(), CallError> {
    let selector = resolved
        .common_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    for kind in [
        Kind::NetworkPolicy,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Service,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Ingress,
    ] {
        for item in cluster.list(kind, &resolved.namespace, &selector).await? {
            if let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) {
                inv.objects.entry(inventory::key(kind, name)).or_default();
            }
        }
    }
    Ok(())
}

/// The live objects, by inventory key, of the manifests whose previous token carries a proof.
/// A GET that fails leaves its object out: it is then applied, which reports any real problem.
async fn live_of_proven(
    cluster: &Cluster,
    manifests: &[Manifest],
    old: &Inventory,
    opts: &ApplyOptions,
) -> BTreeMap<String, Stored> {
    let proven = manifests.iter().filter(|m| {
        m.kind != Kind::Namespace
            && old
                .objects
                .get(&inventory::key(m.kind, &m.name))
                .and_then(|t| inventory::proof_of(t))
                .is_some()
    });
    futures::stream::iter(proven)
        .map(|m| async move {
            if opts.is_interrupted() {
                return None;
            }
            let reply = cluster.get(m.kind, &m.namespace, &m.name).await.ok()?;
            let live = reply.stored(&cluster.field_manager);
            Some((inventory::key(m.kind, &m.name), live))
        })
        .buffer_unordered(opts.concurrency.max(1))
        .filter_map(|found| async move { found })
        .collect()
        .await
}

/// Applies one object (unless `live` proves re-applying it would change nothing); returns its
/// result and, on success, its inventory token.
async fn apply_one(
    cluster: &Cluster,
    m: &Manifest,
    old: &Inventory,
    live: Option<&Stored>,
    fresh_namespace: bool,
    opts: &ApplyOptions,
) -> (ResourceResult, Option<String>) {
    if opts.is_interrupted() {
        let msg = "not applied: interrupted".to_string();
        return (
            result(
                m.kind,
                &m.name,
                &m.namespace,
                ResourceAction::Failed,
                Some(msg),
            ),
            None,
        );
    }
    let force = opts.force_conflicts;
    let key = inventory::key(m.kind, &m.name);
    // Serialized once: for the proof and, unless that holds, for the apply.
    let body = match ApplyBody::new(&m.object) {
        Ok(body) => body,
        Err(e) => {
            let failed = ResourceAction::Failed;
            return (
                result(m.kind, &m.name, &m.namespace, failed, Some(describe(&e))),
                None,
            );
        }
    };
    if let Some(live) = live
        && let Some(recorded) = old.objects.get(&key).and_then(|t| inventory::proof_of(t))
        && let Some(proof) = inventory::proof(live, &body)
        && proof == recorded
    {
        return proven_unchanged(cluster, m, &body, live, proof, opts).await;
    }
    let manager = cluster.field_manager.as_str();
    let nothing = Stored::default();
    let mut attempt = if fresh_namespace && needs_password(m, &opts.generated) {
        // A namespace this deploy created holds no Secret yet, so every store password of this
        // one is missing: write them alongside the Secret's own apply, not one round trip later.
        let (applied, generated) = futures::join!(
            cluster.apply_body(m.kind, &m.namespace, &m.name, &body, force, false),
            generate_missing(cluster, m, &nothing, &opts.generated)
        );
        match (applied, generated) {
            (Ok(applied), Ok(Some(generated))) => Ok(later_write(
                (applied.code, applied.stored(manager)),
                (generated.code, generated.stored(manager)),
                m,
                opts,
            )),
            (Ok(applied), Ok(None)) => Ok((applied.code, applied.stored(manager))),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    } else {
        cluster
            .apply_body(m.kind, &m.namespace, &m.name, &body, force, false)
            .await
            .map(|r| (r.code, r.stored(manager)))
    };
    let mut note = None;
    // A Job's pod template is immutable: replace the Job when its template changed.
    if let Err(e) = &attempt
        && m.kind == Kind::Job
        && e.code == 422
        && e.message.contains("immutable")
    {
        note = Some("replaced: the Job template changed and is immutable".to_string());
        attempt = match replace(cluster, m).await {
            Ok(()) => cluster
                .apply_body(m.kind, &m.namespace, &m.name, &body, force, false)
                .await
                .map(|r| (r.code, r.stored(manager))),
            Err(e) => Err(e),
        };
    }
    if let Ok((code, stored)) = &attempt
        && m.kind == Kind::Secret
    {
        match generate_missing(cluster, m, stored, &opts.generated).await {
            Ok(Some(updated)) => attempt = Ok((*code, updated.stored(manager))),
            Ok(None) => {}
            Err(e) => attempt = Err(e),
        }
    }
    match attempt {
        Ok((code, stored)) => {
            let print = inventory::state(m.kind, &stored, &m.object);
            let mut action = classify(code, old.objects.get(&key), &print);
            if note.is_some() {
                action = ResourceAction::Configured;
            }
            let proof = inventory::proof(&stored, &body);
            (
                result(m.kind, &m.name, &m.namespace, action, note),
                Some(inventory::token(print, proof)),
            )
        }
        Err(e) => (
            result(
                m.kind,
                &m.name,
                &m.namespace,
                ResourceAction::Failed,
                Some(describe(&e)),
            ),
            None,
        ),
    }
}

/// The result of an object whose proof (`live_proof`, from `live`) holds: nothing is
/// applied, only a store password the Secret lacks is still generated.
async fn proven_unchanged(
    cluster: &Cluster,
    m: &Manifest,
    body: &ApplyBody,
    live: &Stored,
    live_proof: String,
    opts: &ApplyOptions,
) -> (ResourceResult, Option<String>) {
    let mut action = ResourceAction::Unchanged;
    let mut stored = None;
    if m.kind == Kind::Secret {
        match generate_missing(cluster, m, live, &opts.generated).await {
            Ok(Some(updated)) => {
                action = ResourceAction::Configured;
                stored = Some(updated.stored(&cluster.field_manager));
            }
            Ok(None) => {}
            Err(e) => {
                let failed = ResourceAction::Failed;
                return (
                    result(m.kind, &m.name, &m.namespace, failed, Some(describe(&e))),
                    None,
                );
            }
        }
    }
    let (print, proof) = match &stored {
        Some(stored) => (
            inventory::state(m.kind, stored, &m.object),
            inventory::proof(stored, body),
        ),
        None => (inventory::state(m.kind, live, &m.object), Some(live_proof)),
    };
    (
        result(m.kind, &m.name, &m.namespace, action, None),
        Some(inventory::token(print, proof)),
    )
}

/// Whether `m` is a Secret that holds generated store passwords.
fn needs_password(m: &Manifest, generated: &[StorePassword]) -> bool {
    m.kind == Kind::Secret && generated.iter().any(|sp| sp.secret == m.name)
}

/// Of the two concurrent writes of a new store Secret — our apply and its generated passwords
/// — the reply of the one stored last, which holds both: the apply's reply holds the passwords
/// only if it came second. `created` if either created it.
fn later_write(
    (applied_code, applied): (u16, Stored),
    (generated_code, generated): (u16, Stored),
    m: &Manifest,
    opts: &ApplyOptions,
) -> (u16, Stored) {
    let code = if applied_code == 201 || generated_code == 201 {
        201
    } else {
        applied_code
    };
    let has_passwords = opts
        .generated
        .iter()
        .filter(|sp| sp.secret == m.name)
        .all(|sp| applied.has_data(&sp.key));
    let stored = if has_passwords { applied } else { generated };
    (code, stored)
}

/// Writes a freshly generated password into a store Secret that does not hold one yet, under
/// the field manager `<manager>-generated`; our own applies never send it, so it is never
/// rotated. Returns the stored Secret after the write, or `None` when nothing was missing.
async fn generate_missing(
    cluster: &Cluster,
    m: &Manifest,
    stored: &Stored,
    generated: &[StorePassword],
) -> Result<Option<super::Reply>, CallError> {
    let mut data = serde_json::Map::new();
    for sp in generated.iter().filter(|sp| sp.secret == m.name) {
        if !stored.has_data(&sp.key) {
            let password = generate_password().map_err(|message| CallError {
                code: 0,
                reason: "Random".into(),
                message,
                causes: Vec::new(),
                retry_after: None,
            })?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(password);
            data.insert(sp.key.clone(), Value::String(b64));
        }
    }
    if data.is_empty() {
        return Ok(None);
    }
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": m.name, "namespace": m.namespace},
        "data": data,
    });
    let manager = format!("{}-generated", cluster.field_manager);
    cluster
        .apply_as(&manager, Kind::Secret, &m.namespace, &m.name, &body)
        .await
        .map(Some)
}

/// 32 hex characters from the OS random source.
fn generate_password() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("no OS randomness for a store password: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Deletes `m`'s live object and waits (bounded) until it is gone.
async fn replace(cluster: &Cluster, m: &Manifest) -> Result<(), CallError> {
    match cluster.delete(m.kind, &m.namespace, &m.name, None).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    }
    for _ in 0..120 {
        match cluster.get(m.kind, &m.namespace, &m.name).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
            Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    Err(CallError {
        code: 0,
        reason: "Timeout".into(),
        message: "the old Job was still present 30s after its deletion".into(),
        causes: Vec::new(),
        retry_after: None,
    })
}

/// Deletes one stale object — only if it still carries this deployment's labels.
async fn prune_one(
    cluster: &Cluster,
    resolved: &ResolvedDeployment,
    kind: Kind,
    ns: &str,
    name: &str,
) -> ResourceResult {
    let live = match cluster.get(kind, ns, name).await {
        Ok(r) => r.value(),
        Err(e) if e.is_not_found() => {
            return result(
                kind,
                name,
                ns,
                ResourceAction::Pruned,
                Some("already gone".into()),
            );
        }
        Err(e) => {
            return result(
                kind,
                name,
                ns,
                ResourceAction::Failed,
                Some(format!("not pruned: {}", describe(&e))),
            );
        }
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
        return result(
            kind,
            name,
            ns,
            ResourceAction::Failed,
            Some("not pruned: it no longer carries this deployment's labels".into()),
        );
    }
    let rv = super::resource_version(&live).map(str::to_string);
    match cluster.delete(kind, ns, name, rv.as_deref()).await {
        Ok(_) => result(kind, name, ns, ResourceAction::Pruned, None),
        Err(e) if e.is_not_found() => result(
            kind,
            name,
            ns,
            ResourceAction::Pruned,
            Some("already gone".into()),
        ),
        Err(e) => result(
            kind,
            name,
            ns,
            ResourceAction::Failed,
            Some(format!("not pruned: {}", describe(&e))),
        ),
    }
}

/// created (201), unchanged (the recorded token holds the same state) or configured.
fn classify(code: u16, recorded: Option<&String>, print: &str) -> ResourceAction {
    if code == 201 {
        ResourceAction::Created
    } else if recorded.is_some_and(|r| inventory::state_of(r) == print) {
        ResourceAction::Unchanged
    } else {
        ResourceAction::Configured
    }
}

fn result(
    kind: Kind,
    name: &str,
    ns: &str,
    action: ResourceAction,
    message: Option<String>,
) -> ResourceResult {
    ResourceResult {
        kind: kind.as_str().to_string(),
        name: name.to_string(),
        namespace: ns.to_string(),
        action,
        message,
    }
}

/// A failed call as one line: conflicts name the other manager and the fields.
pub fn describe(e: &CallError) -> String {
    match e.code {
        409 if !e.causes.is_empty() => {
            let fields: Vec<String> = e.causes.iter().map(|(f, m)| format!("{f} ({m})")).collect();
            format!(
                "conflict: {}; fields: {}; rerun with --force-conflicts to take them over",
                e.message,
                fields.join(", ")
            )
        }
        403 => format!("forbidden: {}", e.message),
        _ => e.to_string(),
    }
}

/// A failure of the first request, which decides whether the cluster can be used at all.
fn fatal(e: &CallError, what: &str) -> Failure {
    match e.code {
        401 => Failure::new(
            code::DENIED,
            "unauthorized",
            format!(
                "{what}: the cluster rejected our credentials: {}",
                e.message
            ),
        ),
        403 => Failure::new(code::DENIED, "forbidden", format!("{what}: {}", e.message)),
        0 => Failure::new(
            code::FAILURE,
            "cluster unreachable",
            format!("{what}: {}", e.message),
        ),
        _ => Failure::failed(format!("{what}: {}", describe(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let p = "abc".to_string();
        assert_eq!(classify(201, None, "abc"), ResourceAction::Created);
        assert_eq!(classify(200, Some(&p), "abc"), ResourceAction::Unchanged);
        assert_eq!(classify(200, Some(&p), "def"), ResourceAction::Configured);
        assert_eq!(classify(200, None, "abc"), ResourceAction::Configured);
        // Tokens carry a proof after the state; only the state decides.
        let t = "abc c:0123 m:4567".to_string();
        assert_eq!(classify(200, Some(&t), "abc"), ResourceAction::Unchanged);
        assert_eq!(classify(200, Some(&t), "def"), ResourceAction::Configured);
    }
}
