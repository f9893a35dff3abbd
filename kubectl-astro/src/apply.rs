//! Staged server-side apply of a deployment's objects (after its Namespace): the objects of
//! one stage concurrently, the stages one after another, each object skipped when its
//! inventory proof shows that applying it again would change nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::render::Manifest;
use astro_deploy::resolve::{Kind, Stage};
use futures::StreamExt;

use crate::body::ApplyBody;
use crate::cluster::Cluster;
use crate::error::CallError;
use crate::interrupt::Interrupt;
use crate::inventory::{self, Inventory, InventoryKey, Token};
use crate::passwords::Passwords;
use crate::result::object_result;
use crate::stored::Stored;

/// The apply stages after the Namespace, each a group of the library's [`Stage`]s: the objects
/// of one stage are applied concurrently, the stages one after another. Only what something
/// else needs when it starts gets a stage of its own: NetworkPolicies, so that no pod ever
/// runs unrestricted; then Secrets and ConfigMaps, generated store passwords included, so that
/// no container starts before what it reads exists. Services, workloads and Ingresses share
/// the last stage, as Flux's `ApplyAllStaged` applies them: our pods take no Service
/// environment variables (`enableServiceLinks: false`) and an ingress controller follows its
/// Service whenever that appears, so ordering them would only cost two more round trips.
pub const STAGES: &[&[Stage]] = &[
    &[Stage::Policy],
    &[Stage::Config],
    &[Stage::Service, Stage::Workload, Stage::Ingress],
];

/// What every object's apply in one deploy shares.
pub struct Applier<'a> {
    /// The cluster.
    pub cluster: &'a Cluster,
    /// The previous deploy's inventory.
    pub old: &'a Inventory,
    /// Live objects whose previous token carried a proof, read before the stages.
    pub live: &'a BTreeMap<InventoryKey, Stored>,
    /// Whether this deploy created the namespace (so nothing in it exists yet).
    pub fresh_namespace: bool,
    /// Take over fields other managers own.
    pub force: bool,
    /// Requests in flight within a stage.
    pub concurrency: usize,
    /// Generated store passwords.
    pub passwords: &'a Passwords,
    /// Stop sending when set.
    pub interrupt: &'a Interrupt,
}

impl Applier<'_> {
    /// Applies the objects of one stage; returns each object's key and result with its new
    /// inventory token (none when it failed), in manifest order.
    pub async fn apply_stage(
        &self,
        batch: Vec<&Manifest>,
    ) -> Vec<(InventoryKey, ResourceResult, Option<Token>)> {
        // Unordered, so that one slow object holds one slot, not the whole stage; the results
        // are put back in manifest order. The futures are made before the stream (not by a
        // `map` closure inside it), so the deploy's future is provably `Send` and a
        // multi-threaded server can run it.
        let applies: Vec<_> = batch
            .into_iter()
            .enumerate()
            .map(|(i, m)| async move {
                (
                    i,
                    InventoryKey::new(m.kind, &m.name),
                    self.apply_one(m).await,
                )
            })
            .collect();
        let mut results: Vec<(usize, InventoryKey, (ResourceResult, Option<Token>))> =
            futures::stream::iter(applies)
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        results.sort_by_key(|(i, _, _)| *i);
        results
            .into_iter()
            .map(|(_, key, (res, token))| (key, res, token))
            .collect()
    }

    /// Applies one object (unless its proof holds); returns its result and, on success, its
    /// inventory token.
    async fn apply_one(&self, m: &Manifest) -> (ResourceResult, Option<Token>) {
        let failed = |message: String| {
            let res = object_result(
                m.kind,
                &m.name,
                &m.namespace,
                ResourceAction::Failed,
                Some(message),
            );
            (res, None)
        };
        if self.interrupt.is_triggered() {
            return failed("not applied: interrupted".to_string());
        }
        let key = InventoryKey::new(m.kind, &m.name);
        // Serialized once: for the proof and, unless that holds, for the apply.
        let body = match ApplyBody::new(&m.object) {
            Ok(body) => body,
            Err(e) => return failed(e.describe()),
        };
        if let Some(live) = self.live.get(&key)
            && let Some(recorded) = self.old.objects.get(&key).and_then(|t| t.proof.as_deref())
            && let Some(proof) = inventory::proof(live, &body)
            && proof == recorded
        {
            return self.proven_unchanged(m, &body, live, proof).await;
        }
        let mut note = None;
        let mut attempt = self.apply_with_passwords(m, &body).await;
        // A Job's pod template is immutable: replace the Job when its template changed.
        if let Err(e) = &attempt
            && m.kind == Kind::Job
            && e.is_immutable_field()
        {
            note = Some("replaced: the Job template changed and is immutable".to_string());
            attempt = match replace(self.cluster, m).await {
                Ok(()) => self.send(m, &body).await,
                Err(why) => return failed(why),
            };
        }
        if let Ok((code, stored)) = &attempt
            && m.kind == Kind::Secret
        {
            match self.passwords.write_missing(self.cluster, m, stored).await {
                Ok(Some(updated)) => {
                    attempt = Ok((*code, updated.stored(&self.cluster.field_manager)))
                }
                Ok(None) => {}
                Err(e) => attempt = Err(e),
            }
        }
        match attempt {
            Ok((code, stored)) => {
                let state = inventory::state(m.kind, &stored, &m.object);
                let mut action = classify(code, self.old.objects.get(&key), &state);
                if note.is_some() {
                    action = ResourceAction::Configured;
                }
                let proof = inventory::proof(&stored, &body);
                (
                    object_result(m.kind, &m.name, &m.namespace, action, note),
                    Some(inventory::token(state, proof)),
                )
            }
            Err(e) => failed(e.describe()),
        }
    }

    /// Our apply of `m`. A Secret with generated passwords in a namespace this deploy created
    /// holds none yet: they are written alongside the apply, not one round trip later.
    async fn apply_with_passwords(
        &self,
        m: &Manifest,
        body: &ApplyBody,
    ) -> Result<(u16, Stored), CallError> {
        if !(self.fresh_namespace && self.passwords.holds(m)) {
            return self.send(m, body).await;
        }
        let manager = self.cluster.field_manager.as_str();
        let nothing = Stored::default();
        let (applied, generated) = futures::join!(
            self.cluster
                .apply_body(m.kind, &m.namespace, &m.name, body, self.force, false),
            self.passwords.write_missing(self.cluster, m, &nothing)
        );
        let applied = applied?;
        let applied = (applied.code, applied.stored(manager));
        Ok(match generated? {
            Some(generated) => later_write(
                applied,
                (generated.code, generated.stored(manager)),
                m,
                self.passwords,
            ),
            None => applied,
        })
    }

    /// One apply of `m`'s body.
    async fn send(&self, m: &Manifest, body: &ApplyBody) -> Result<(u16, Stored), CallError> {
        self.cluster
            .apply_body(m.kind, &m.namespace, &m.name, body, self.force, false)
            .await
            .map(|r| (r.code, r.stored(&self.cluster.field_manager)))
    }

    /// The result of an object whose proof (`live_proof`, from `live`) holds: nothing is
    /// applied, only a store password the Secret lacks is still written.
    async fn proven_unchanged(
        &self,
        m: &Manifest,
        body: &ApplyBody,
        live: &Stored,
        live_proof: String,
    ) -> (ResourceResult, Option<Token>) {
        let mut action = ResourceAction::Unchanged;
        let mut stored = None;
        if m.kind == Kind::Secret {
            match self.passwords.write_missing(self.cluster, m, live).await {
                Ok(Some(updated)) => {
                    action = ResourceAction::Configured;
                    stored = Some(updated.stored(&self.cluster.field_manager));
                }
                Ok(None) => {}
                Err(e) => {
                    let failed = ResourceAction::Failed;
                    let res =
                        object_result(m.kind, &m.name, &m.namespace, failed, Some(e.describe()));
                    return (res, None);
                }
            }
        }
        let (state, proof) = match &stored {
            Some(stored) => (
                inventory::state(m.kind, stored, &m.object),
                inventory::proof(stored, body),
            ),
            None => (inventory::state(m.kind, live, &m.object), Some(live_proof)),
        };
        (
            object_result(m.kind, &m.name, &m.namespace, action, None),
            Some(inventory::token(state, proof)),
        )
    }
}

/// The live objects, by inventory key, of the manifests whose previous token carries a proof.
/// A GET that fails leaves its object out: it is then applied, which reports any real problem.
pub async fn live_of_proven(
    cluster: &Cluster,
    manifests: &[Manifest],
    old: &Inventory,
    concurrency: usize,
    interrupt: &Interrupt,
) -> BTreeMap<InventoryKey, Stored> {
    // The futures are made before the stream, as in `apply_stage`, so the future is `Send`.
    let gets: Vec<_> = manifests
        .iter()
        .filter(|m| {
            m.kind != Kind::Namespace
                && old
                    .objects
                    .get(&InventoryKey::new(m.kind, &m.name))
                    .is_some_and(|t| t.proof.is_some())
        })
        .map(|m| async move {
            if interrupt.is_triggered() {
                return None;
            }
            let reply = cluster.get(m.kind, &m.namespace, &m.name).await.ok()?;
            let live = reply.stored(&cluster.field_manager);
            Some((InventoryKey::new(m.kind, &m.name), live))
        })
        .collect();
    let found: Vec<Option<(InventoryKey, Stored)>> = futures::stream::iter(gets)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    found.into_iter().flatten().collect()
}

/// Of the two concurrent writes of a new store Secret — our apply and its generated passwords
/// — the reply of the one stored last, which holds both: the apply's reply holds the passwords
/// only if it came second. `created` if either created it.
fn later_write(
    (applied_code, applied): (u16, Stored),
    (generated_code, generated): (u16, Stored),
    m: &Manifest,
    passwords: &Passwords,
) -> (u16, Stored) {
    let code = if applied_code == 201 || generated_code == 201 {
        201
    } else {
        applied_code
    };
    let stored = if passwords.all_in(m, &applied) {
        applied
    } else {
        generated
    };
    (code, stored)
}

/// Deletes `m`'s live object and waits (bounded) until it is gone; the failure as one line.
async fn replace(cluster: &Cluster, m: &Manifest) -> Result<(), String> {
    match cluster.delete(m.kind, &m.namespace, &m.name, None).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.describe()),
    }
    for _ in 0..120 {
        match cluster.get(m.kind, &m.namespace, &m.name).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.describe()),
            Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    Err("the old Job was still present 30s after its deletion".into())
}

/// created (201), unchanged (the recorded token holds the same state) or configured.
pub fn classify(code: u16, recorded: Option<&Token>, state: &str) -> ResourceAction {
    if code == 201 {
        ResourceAction::Created
    } else if recorded.is_some_and(|r| r.state == state) {
        ResourceAction::Unchanged
    } else {
        ResourceAction::Configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let p = Token::parse("abc");
        assert_eq!(classify(201, None, "abc"), ResourceAction::Created);
        assert_eq!(classify(200, Some(&p), "abc"), ResourceAction::Unchanged);
        assert_eq!(classify(200, Some(&p), "def"), ResourceAction::Configured);
        assert_eq!(classify(200, None, "abc"), ResourceAction::Configured);
        // Tokens carry a proof after the state; only the state decides.
        let t = Token::parse("abc c:0123 m:4567");
        assert_eq!(classify(200, Some(&t), "abc"), ResourceAction::Unchanged);
        assert_eq!(classify(200, Some(&t), "def"), ResourceAction::Configured);
    }
}
