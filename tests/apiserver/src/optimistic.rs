//! Writes computed outside the store lock and committed only if what they read is unchanged,
//! as `GuaranteedUpdate` (`k8s.io/apiserver/pkg/storage/etcd3/store.go`) does. A PATCH or PUT of
//! a named object runs the write pipeline without the lock on a scratch copy of what it can read
//! (the object, its namespace, the Service allocators) and is stored only if those are unchanged,
//! else run again, so a stale `resourceVersion` loses against the object that won. Everything
//! else (deletes, POST, subresources, Namespaces, objects being deleted) runs under the lock.

use crate::api::{self, Ctx, Reply};
use crate::status::ApiResult;
use crate::store::{Key, State};
use crate::util::Pointer;
use serde_json::Value;

/// How many times a write is recomputed after losing a race before it takes the lock for the
/// whole pipeline.
const ATTEMPTS: usize = 4;

/// What a write read from the state, to check at commit time.
struct Snapshot {
    target: Key,
    target_rv: Option<String>,
    namespace: Option<Key>,
    namespace_rv: Option<String>,
    next_ip: u32,
    next_node_port: u32,
}

/// Runs `verb` without holding `state` while the write is computed, if this kind of write
/// allows it; `None` means the caller must run it under the lock.
pub(crate) fn write(
    state: &std::sync::Mutex<State>,
    verb: &str,
    ctx: &Ctx,
) -> Option<ApiResult<Reply>> {
    if !matches!(verb, "apply" | "patch" | "update")
        || ctx.sub.is_some()
        || ctx.name.is_empty()
        || ctx.res.kind == "Namespace"
    {
        return None;
    }
    for _ in 0..ATTEMPTS {
        let (snapshot, mut scratch) = {
            let st = crate::util::lock(state);
            read(&st, ctx)?
        };
        let result = match verb {
            "update" => api::update(&mut scratch, ctx),
            _ => api::patch(&mut scratch, ctx),
        };
        let mut reply = match result {
            // An answer computed from a consistent read needs no commit: an error, a no-op or a
            // dry run is what the server would have said at the moment of the read.
            Err(e) => return Some(Err(e)),
            Ok(r) if scratch.events.is_empty() => return Some(Ok(r)),
            Ok(r) => r,
        };
        // Exactly one change, to the object itself; anything else is not ours to replay.
        if scratch.events.len() != 1 {
            return None;
        }
        let change = scratch.events.pop_front()?;
        let stored = scratch.objects.remove(&snapshot.target)?;
        if change.kind == "DELETED" {
            return None;
        }
        let mut st = crate::util::lock(state);
        if !unchanged(&st, &snapshot) {
            continue;
        }
        st.next_ip = scratch.next_ip;
        st.next_node_port = scratch.next_node_port;
        reply.body = st.replay(
            snapshot.target,
            change,
            stored,
            std::mem::take(&mut reply.body),
        );
        if st.controller != crate::controller::ControllerMode::Off
            && st.lifecycle == crate::Lifecycle::Synchronous
        {
            crate::controller::reconcile(&mut st, ctx.res, ctx.ns, ctx.name);
        }
        return Some(Ok(reply));
    }
    None
}

/// Copies what a write of `ctx`'s object can read into a scratch state; `None` if the object is
/// being deleted (removing its last finalizer removes it, which the serial path handles).
fn read(st: &State, ctx: &Ctx) -> Option<(Snapshot, State)> {
    let target = State::key(ctx.res, ctx.ns, ctx.name);
    let live = st.objects.get(&target);
    if live.is_some_and(|l| l.ptr("/metadata/deletionTimestamp").is_some()) {
        return None;
    }
    let namespace: Option<Key> = ctx
        .res
        .namespaced
        .then(|| ("namespaces", String::new(), ctx.ns.to_string()));
    let mut objects = std::collections::BTreeMap::new();
    if let Some(l) = live {
        objects.insert(target.clone(), l.clone());
    }
    let namespace_obj = namespace.as_ref().and_then(|k| st.objects.get(k));
    if let (Some(k), Some(n)) = (&namespace, namespace_obj) {
        objects.insert(k.clone(), n.clone());
    }
    let snapshot = Snapshot {
        target_rv: live.map(resource_version),
        namespace_rv: namespace_obj.map(resource_version),
        target,
        namespace,
        next_ip: st.next_ip,
        next_node_port: st.next_node_port,
    };
    let scratch = State {
        rv: st.rv,
        objects,
        next_ip: st.next_ip,
        next_node_port: st.next_node_port,
        keep_terminating: st.keep_terminating,
        ..State::default()
    };
    Some((snapshot, scratch))
}

/// Whether the object, its namespace and the allocators are as the write read them.
fn unchanged(st: &State, s: &Snapshot) -> bool {
    st.objects.get(&s.target).map(resource_version) == s.target_rv
        && s.namespace
            .as_ref()
            .and_then(|k| st.objects.get(k))
            .map(resource_version)
            == s.namespace_rv
        && st.next_ip == s.next_ip
        && st.next_node_port == s.next_node_port
}

fn resource_version(obj: &std::sync::Arc<Value>) -> String {
    obj.ptr("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}
