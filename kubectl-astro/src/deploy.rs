//! Deploy: the deployment's Lease taken, the Namespace (whose reply carries the previous
//! inventory), the staged apply of every other object, prune, the inventory, the Lease
//! released, an optional wait, and the `DeployResponse`.
//!
//! Round trips: the Namespace apply, an inventory write naming the objects this deploy adds
//! (only when it adds some to an existing namespace), one concurrent round of GETs of the
//! objects the previous deploy left with a proof (see [`inventory::proof`]), then one apply
//! per object whose proof does not hold, concurrently within a stage; the inventory is
//! written only when something changed. A redeploy with nothing to change sends the
//! Namespace apply and one GET per other object, and stores nothing. The Lease adds a GET and
//! a PUT (a POST the first time) before, and a PUT after ([`crate::lock`]).

use std::collections::BTreeMap;
use std::time::Duration;

use astro_deploy::api::{DeployResponse, DeployResponseStatus, ResourceAction, ResourceResult};
use astro_deploy::render::Manifest;
use astro_deploy::resolve::Kind;

use crate::apply::{Applier, STAGES, classify, live_of_proven};
use crate::body::ApplyBody;
use crate::cluster::Cluster;
use crate::error::Error;
use crate::events::{DeployStep, Event};
use crate::history;
use crate::interrupt::Interrupt;
use crate::inventory::{self, Inventory, InventoryKey, Token};
use crate::lock::{self, LockOptions};
use crate::passwords::Passwords;
use crate::plan::Plan;
use crate::prune;
use crate::result::{Results, object_result};
use crate::stored::Stored;
use crate::tls_secrets;
use crate::wait;

/// How to deploy. `DeployOptions::default()` is what `kubectl astro deploy` does without
/// flags: no force, prune at most 10 objects, 8 requests in flight, no wait.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeployOptions {
    /// Take over fields another manager owns (a 409 otherwise).
    pub force_conflicts: bool,
    /// Delete objects of the previous deploy that this render no longer has.
    pub prune: bool,
    /// Refuse to deploy when more than this many objects would be pruned.
    pub max_prune: usize,
    /// Requests in flight within one stage (at least 1).
    pub concurrency: usize,
    /// Wait this long for workloads to become ready; `None`: do not wait.
    pub wait: Option<Duration>,
    /// How often a wait reads the workloads.
    pub wait_interval: Duration,
    /// When set, requests in flight finish, nothing new is sent (objects not yet applied are
    /// failed as interrupted), nothing is pruned, the inventory is still recorded.
    pub interrupt: Interrupt,
    /// How the deployment's Lease is taken and kept.
    pub lock: LockOptions,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            force_conflicts: false,
            prune: true,
            max_prune: 10,
            concurrency: 8,
            wait: None,
            wait_interval: Duration::from_millis(500),
            interrupt: Interrupt::new(),
            lock: LockOptions::default(),
        }
    }
}

impl DeployOptions {
    /// The same, taking over conflicting fields or not.
    pub fn force_conflicts(mut self, force: bool) -> Self {
        self.force_conflicts = force;
        self
    }

    /// The same, pruning or not.
    pub fn prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    /// The same, refusing to prune more than `max` objects.
    pub fn max_prune(mut self, max: usize) -> Self {
        self.max_prune = max;
        self
    }

    /// The same, with `n` requests in flight per stage.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// The same, waiting up to `timeout` for workloads (`None`: not waiting).
    pub fn wait(mut self, timeout: Option<Duration>) -> Self {
        self.wait = timeout;
        self
    }

    /// The same, stopping when `interrupt` is triggered.
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// The same, taking the deployment's Lease as `lock` says.
    pub fn lock(mut self, lock: LockOptions) -> Self {
        self.lock = lock;
        self
    }
}

/// What a deploy did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Deployed {
    /// The platform's answer: `success`, or `partial` with every failed object named.
    pub response: DeployResponse,
    /// Whether the deploy was interrupted before it finished.
    pub interrupted: bool,
}

/// Applies `plan` to the cluster, prunes what the previous deploy left behind and, when
/// asked, waits for the workloads. It holds the deployment's Lease while it writes: another
/// deploy or undeploy of the same namespace, in this process or another, waits for it.
///
/// An `Err` means nothing could be deployed (the cluster is unreachable, the Lease is held
/// by another deploy past the wait, the Namespace could not be applied, prune is over
/// budget); once objects are being applied, each failure is reported in the response
/// instead, and the other objects are still applied.
pub async fn deploy(
    cluster: &Cluster,
    plan: &Plan,
    options: &DeployOptions,
) -> Result<Deployed, Error> {
    let resolved = &plan.resolved;
    let interrupt = &options.interrupt;
    let ns = resolved.namespace.as_str();
    let held = tokio::select! {
        held = lock::acquire(cluster, ns, &options.lock) => held?,
        () = interrupt.triggered() => {
            return Err(Error::Interrupted(format!(
                "interrupted while waiting for the Lease of namespace {ns}; nothing was applied"
            )));
        }
    };
    let written = write(cluster, plan, options).await;
    let lost = held.lost();
    // Released before the wait, which only reads: the next deploy need not wait for it.
    held.release(cluster).await;
    let Written {
        mut out,
        mut interrupted,
        deployed_at,
    } = written?;
    if let Some(why) = lost {
        out.errors.push(format!(
            "{why}: another deploy may have written at the same time; deploy again"
        ));
    }

    if let Some(timeout) = options.wait
        && !interrupted
    {
        tokio::select! {
            errors = wait::wait(cluster, &mut out.resources, timeout, options.wait_interval) => {
                out.errors.extend(errors);
            }
            () = interrupt.triggered() => {
                interrupted = true;
                out.errors.push("--wait: interrupted before the workloads were ready".into());
            }
        }
    }
    if interrupted && out.errors.is_empty() {
        out.errors
            .push("interrupted: the apply finished, prune did not run".into());
    }
    let status = if out.errors.is_empty() {
        DeployResponseStatus::Success
    } else {
        DeployResponseStatus::Partial
    };
    Ok(Deployed {
        response: DeployResponse {
            status,
            name: resolved.name.clone(),
            build_id: resolved.build_id.clone(),
            k8s_namespace: resolved.namespace.clone(),
            deployed_at,
            resources: out.resources,
            service_endpoints: resolved.service_endpoints.clone(),
            errors: out.errors,
        },
        interrupted,
    })
}

/// What the writing part of a deploy did.
struct Written {
    /// Each object's result and the errors so far.
    out: Results,
    /// Whether it was interrupted.
    interrupted: bool,
    /// When it finished writing, UTC RFC 3339 (the history record's time too).
    deployed_at: String,
}

/// Everything a deploy writes, under the Lease: the Namespace, the stages, prune, the
/// inventory.
async fn write(cluster: &Cluster, plan: &Plan, options: &DeployOptions) -> Result<Written, Error> {
    let resolved = &plan.resolved;
    let manifests = plan.manifests.as_slice();
    let ns = resolved.namespace.as_str();
    let interrupt = &options.interrupt;
    let passwords = Passwords::draw(&resolved.store_passwords)?;
    let mut out = Results::default();

    let start = start(cluster, plan, options).await?;
    let mut new = Inventory {
        build_id: resolved.build_id.clone(),
        objects: BTreeMap::new(),
    };
    let ns_key = InventoryKey::new(Kind::Namespace, ns);
    let ns_action = classify(
        start.code,
        start.old.objects.get(&ns_key),
        &start.state.state,
    );
    out.resources
        .push(object_result(Kind::Namespace, ns, "", ns_action, None));
    step_done(cluster, DeployStep::Namespace, &out.resources);
    new.objects.insert(ns_key, start.state);
    let old = start.old;

    // Prune candidates, checked against the budget before anything else is written.
    let stale = prune::candidates(&old, manifests);
    tracing::info!(
        ?stale,
        prune = options.prune,
        max = options.max_prune,
        "prune candidates"
    );
    if options.prune {
        prune::check_budget(&stale, options.max_prune)?;
    }

    // Record the objects about to be created before creating any, and read the live objects
    // whose proof may spare their apply, in one round trip.
    let recorded = with_pending(&old, manifests);
    let record = async {
        if start.fresh || recorded == old {
            return Ok(());
        }
        tracing::debug!(
            objects = recorded.objects.len(),
            "recording objects before creating them"
        );
        write_inventory(cluster, ns, &recorded).await
    };
    let proven = async {
        if start.fresh {
            BTreeMap::new()
        } else {
            live_of_proven(cluster, manifests, &old, options.concurrency, interrupt).await
        }
    };
    let (recorded_ok, live) = futures::join!(record, proven);
    recorded_ok.map_err(|e| Error::call(format!("Namespace/{ns}: recording the inventory"), e))?;

    // Every other object, stage by stage.
    let applier = Applier {
        cluster,
        old: &old,
        live: &live,
        fresh_namespace: start.fresh,
        force: options.force_conflicts,
        concurrency: options.concurrency,
        passwords: &passwords,
        interrupt,
    };
    for stages in STAGES {
        let batch: Vec<&Manifest> = manifests
            .iter()
            .filter(|m| stages.contains(&m.stage))
            .collect();
        if batch.is_empty() {
            continue;
        }
        tracing::info!(stage = ?stages, objects = batch.len(), "stage start");
        let first = out.resources.len();
        for (key, res, token) in applier.apply_stage(batch).await {
            tracing::debug!(object = %key, action = ?res.action, "applied");
            // A failed object keeps what was recorded of it: listed, so a later deploy prunes it.
            if let Some(token) = token.or_else(|| recorded.objects.get(&key).cloned()) {
                new.objects.insert(key, token);
            }
            out.record(res);
        }
        tracing::info!(stage = ?stages, failed_so_far = out.errors.len(), "stage done");
        step_done(cluster, DeployStep::Apply(stages), &out.resources[first..]);
    }

    tls_secrets::warn_missing(cluster, manifests, ns, start.fresh, &mut out.resources).await;

    // Prune only after a complete apply: a partial or interrupted deploy never deletes
    // anything.
    let complete = out.errors.is_empty() && !interrupt.is_triggered();
    let first = out.resources.len();
    for key in &stale {
        let kept = old.objects.get(key).cloned().unwrap_or_default();
        if !options.prune || !complete || interrupt.is_triggered() {
            tracing::info!(object = %key, prune = options.prune, complete, "not pruned");
            new.objects.insert(key.clone(), kept);
            continue;
        }
        let res = prune::prune_one(cluster, resolved, key).await;
        tracing::info!(object = %key, action = ?res.action, why = ?res.message, "prune");
        if res.action == ResourceAction::Failed {
            new.objects.insert(key.clone(), kept);
        }
        out.record(res);
    }
    if out.resources.len() > first {
        step_done(cluster, DeployStep::Prune, &out.resources[first..]);
    }

    let interrupted = interrupt.is_triggered();
    tracing::debug!(changed = new != recorded, interrupted, "inventory");
    if new != recorded
        && let Err(e) = write_inventory(cluster, ns, &new).await
    {
        out.errors.push(format!(
            "Namespace/{ns}: recording the inventory failed: {e}"
        ));
    }
    // The history records each deploy that changed something (an identical redeploy writes
    // nothing), not an interrupted one (nothing more is sent once interrupted), under the
    // Lease so that two deploys never take one record number. Its status is the apply's.
    let deployed_at = now();
    let changed = out
        .resources
        .iter()
        .any(|r| r.action != ResourceAction::Unchanged);
    if changed && !interrupted {
        let status = if out.errors.is_empty() {
            DeployResponseStatus::Success
        } else {
            DeployResponseStatus::Partial
        };
        if let Err(e) = history::record(cluster, plan, status, &deployed_at, start.fresh).await {
            out.errors.push(e.to_string());
        }
    }
    Ok(Written {
        out,
        interrupted,
        deployed_at,
    })
}

/// Tells the cluster's observer that `step` is done, with its objects' `results`.
fn step_done(cluster: &Cluster, step: DeployStep<'_>, results: &[ResourceResult]) {
    cluster
        .observer
        .on_event(&Event::StepDone { step, results });
}

/// The start of a deploy: the Namespace applied, and what it told.
struct Start {
    /// HTTP status of the Namespace apply (201: created).
    code: u16,
    /// Whether this deploy created the namespace.
    fresh: bool,
    /// The previous deploy's inventory (recovered by labels when the namespace had none).
    old: Inventory,
    /// The Namespace's own inventory token.
    state: Token,
}

/// Applies the Namespace; its reply carries the previous inventory.
async fn start(cluster: &Cluster, plan: &Plan, options: &DeployOptions) -> Result<Start, Error> {
    let ns = plan.resolved.namespace.as_str();
    let context = format!("Namespace/{ns}");
    let Some(manifest) = plan.manifests.iter().find(|m| m.kind == Kind::Namespace) else {
        return Err(Error::Failed("render produced no Namespace".into()));
    };
    let body = ApplyBody::new(&manifest.object).map_err(|e| Error::call(&context, e))?;
    let reply = cluster
        .apply_body(
            Kind::Namespace,
            "",
            ns,
            &body,
            options.force_conflicts,
            false,
        )
        .await
        .map_err(|e| Error::call(&context, e))?;
    let object = reply.value();
    let stored = Stored::from_value(&object, &cluster.field_manager);
    if stored.deleting {
        return Err(Error::Failed(format!(
            "namespace {ns} is being deleted; wait until it is gone, then deploy again"
        )));
    }
    let fresh = reply.code == 201;
    let recorded = Inventory::from_namespace(&object);
    let missing = recorded.is_none();
    let mut old = recorded.unwrap_or_default();
    if !fresh && missing {
        // The namespace exists but records no inventory: a deploy into it was cut short
        // before recording one (or it was made by someone else). Find what carries this
        // deployment's labels, so that nothing it left is forgotten.
        inventory::recover(cluster, &plan.resolved, &mut old)
            .await
            .map_err(|e| Error::call(format!("{context}: recovering the inventory"), e))?;
    }
    tracing::info!(
        ns,
        created = fresh,
        known = old.objects.len(),
        "namespace applied"
    );
    let state = inventory::namespace_state(&object, &manifest.object);
    let proof = inventory::proof(&stored, &body);
    Ok(Start {
        code: reply.code,
        fresh,
        old,
        state: inventory::token(state, proof),
    })
}

/// `old` plus every object of `manifests` it does not list yet, as pending. A deploy cut
/// short (a failed inventory write, a killed process) must never leave an object that no
/// inventory lists, since no later deploy would prune it; a later deploy that no longer
/// renders a pending object prunes it (or finds it gone). Only a deploy that adds objects to
/// an existing namespace writes this: a namespace this deploy just created holds nothing yet
/// (should the deploy be cut short, the next one finds no inventory and recovers it by
/// labels).
fn with_pending(old: &Inventory, manifests: &[Manifest]) -> Inventory {
    let mut recorded = old.clone();
    for m in manifests {
        recorded
            .objects
            .entry(InventoryKey::new(m.kind, &m.name))
            .or_insert_with(Token::pending);
    }
    recorded
}

/// Writes `inventory` on namespace `ns` under the inventory field manager.
async fn write_inventory(
    cluster: &Cluster,
    ns: &str,
    inventory: &Inventory,
) -> Result<(), crate::error::CallError> {
    cluster
        .apply_as(
            &cluster.inventory_manager(),
            Kind::Namespace,
            "",
            ns,
            &inventory.apply_body(ns),
        )
        .await
        .map(|_| ())
}

/// Now, UTC RFC 3339 with second precision.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
