//! In-memory object storage with one cluster-wide resourceVersion counter, as etcd's revision
//! is (`k8s.io/apiserver/pkg/storage/etcd3/store.go`).

use crate::resources::ResourceDef;
use crate::util::Pointer;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// How many watch events are kept for replay.
pub const EVENT_HISTORY: usize = 4096;

/// One change, as a watch sees it (apiserver `handlers/watch.go`).
#[derive(Debug, Clone)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Resource plural.
    pub plural: &'static str,
    /// Namespace ("" for cluster-scoped).
    pub ns: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object after the change (before deletion for `DELETED`), shared with the store.
    pub object: Arc<Value>,
}

/// Sets `metadata.resourceVersion` (if there is a metadata map).
fn set_resource_version(obj: &mut Value, rv: u64) {
    if let Some(Value::Object(md)) = obj.get_mut("metadata") {
        md.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

/// Storage key: (plural, namespace, name); cluster-scoped objects use an empty namespace.
pub type Key = (&'static str, String, String);

/// The whole cluster state, guarded by one mutex in the server.
#[derive(Debug, Default)]
pub struct State {
    /// Last issued resourceVersion.
    pub rv: u64,
    /// Objects in storage order (plural, namespace, name), as etcd lists them. A stored object
    /// is never changed in place: a write stores a new one, so readers, watch events and
    /// answers share it instead of copying it.
    pub objects: BTreeMap<Key, Arc<Value>>,
    /// What the synchronous workload controller does
    /// (`pkg/controller/deployment/util/deployment_util.go`).
    pub controller: crate::controller::ControllerMode,
    /// Next ClusterIP host number (10.96.0.0/12).
    pub next_ip: u32,
    /// Next NodePort to hand out.
    pub next_node_port: u32,
    /// Keep namespaces in Terminating until `/finalize` instead of finishing synchronously.
    pub keep_terminating: bool,
    /// Recent changes for watches.
    pub events: VecDeque<Event>,
    /// Whether namespace deletion and workload status happen in the background or inside the
    /// request.
    pub lifecycle: crate::Lifecycle,
}

impl State {
    /// Builds a key.
    pub fn key(res: &ResourceDef, ns: &str, name: &str) -> Key {
        let ns = if res.namespaced { ns } else { "" };
        (res.plural, ns.to_string(), name.to_string())
    }

    /// Reads an object.
    pub fn get(&self, res: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&Self::key(res, ns, name)).map(|o| &**o)
    }

    /// Reads an object as the stored copy itself (no deep copy).
    pub fn get_shared(&self, res: &ResourceDef, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects.get(&Self::key(res, ns, name)).cloned()
    }

    /// Issues the next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores an object under a fresh resourceVersion and returns the stored object, which the
    /// store and the watch event share.
    pub fn put(&mut self, res: &ResourceDef, ns: &str, name: &str, mut obj: Value) -> Arc<Value> {
        let rv = self.next_rv();
        set_resource_version(&mut obj, rv);
        let obj = Arc::new(obj);
        let existed = self
            .objects
            .insert(Self::key(res, ns, name), obj.clone())
            .is_some();
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        self.record(rv, res, ns, kind, obj.clone());
        obj
    }

    /// Stores a change computed on a scratch copy of this state (`optimistic`): the scratch
    /// state's stored object and event, and the reply built from it, get a fresh
    /// resourceVersion of this state; returns the reply. When the three are one shared
    /// object, as a write's are, it is changed in place and nothing is copied.
    pub(crate) fn replay(
        &mut self,
        key: Key,
        change: Event,
        mut stored: Arc<Value>,
        reply: Arc<Value>,
    ) -> Arc<Value> {
        let rv = self.next_rv();
        let Event {
            plural, ns, object, ..
        } = change;
        // Let go of the references to `stored` first, so that it is changed without a copy.
        let object = (!Arc::ptr_eq(&object, &stored)).then_some(object);
        let reply = (!Arc::ptr_eq(&reply, &stored)).then_some(reply);
        set_resource_version(Arc::make_mut(&mut stored), rv);
        let with_rv = |o: Option<Arc<Value>>| match o {
            Some(mut o) => {
                set_resource_version(Arc::make_mut(&mut o), rv);
                o
            }
            None => stored.clone(),
        };
        let (object, reply) = (with_rv(object), with_rv(reply));
        let existed = self.objects.insert(key, stored).is_some();
        if self.events.len() >= EVENT_HISTORY {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            rv,
            plural,
            ns,
            kind: if existed { "MODIFIED" } else { "ADDED" },
            object,
        });
        reply
    }

    fn record(
        &mut self,
        rv: u64,
        res: &ResourceDef,
        ns: &str,
        kind: &'static str,
        object: Arc<Value>,
    ) {
        if self.events.len() >= EVENT_HISTORY {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            rv,
            plural: res.plural,
            ns: if res.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            kind,
            object,
        });
    }

    /// Removes an object (a delete is a revision too).
    pub fn remove(&mut self, res: &ResourceDef, ns: &str, name: &str) -> Option<Arc<Value>> {
        let out = self.objects.remove(&Self::key(res, ns, name));
        if let Some(o) = &out {
            let rv = self.next_rv();
            let mut o = Value::clone(o);
            set_resource_version(&mut o, rv);
            self.record(rv, res, ns, "DELETED", Arc::new(o));
        }
        out
    }

    /// Allocates a ClusterIP from 10.96.0.0/12 (never 10.96.0.1, which `kubernetes` owns).
    pub fn alloc_cluster_ip(&mut self) -> String {
        if self.next_ip < 10 {
            self.next_ip = 10;
        }
        let n = self.next_ip;
        self.next_ip += 1;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    /// Allocates a NodePort from 30000-32767.
    pub fn alloc_node_port(&mut self) -> u32 {
        if self.next_node_port < 30000 || self.next_node_port > 32767 {
            self.next_node_port = 30000;
        }
        let p = self.next_node_port;
        self.next_node_port += 1;
        p
    }

    /// Whether a namespace exists and whether it is terminating.
    pub fn namespace_state(&self, ns: &str) -> Option<bool> {
        self.objects
            .get(&("namespaces", String::new(), ns.to_string()))
            .map(|n| n.ptr("/metadata/deletionTimestamp").is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource_version_of(o: &Value) -> &str {
        o.ptr("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A write computed on a scratch state is stored with this state's next
    /// resourceVersion; the stored object, its watch event and the answer are one copy, and a
    /// copy that someone else still holds (a reader of the old state) is not changed.
    /// Upstream: apiserver `registry/generic/registry/store.go`.
    #[test]
    fn replay_shares_one_copy_and_leaves_readers_alone() {
        let Some(res) = crate::resources::by_kind("ConfigMap") else {
            panic!("ConfigMap is served");
        };
        let mut st = State {
            rv: 41,
            ..State::default()
        };
        let mut scratch = State::default();
        let stored = scratch.put(res, "ns", "c", json!({"metadata": {"name": "c"}}));
        let held = stored.clone(); // e.g. an answer still being written from the scratch state
        let (Some(change), Some(stored)) = (
            scratch.events.pop_front(),
            scratch.objects.remove(&State::key(res, "ns", "c")),
        ) else {
            panic!("the scratch put stored an object and an event");
        };
        let reply = st.replay(State::key(res, "ns", "c"), change, stored, held.clone());
        assert_eq!(resource_version_of(&reply), "42");
        assert_eq!(
            resource_version_of(&held),
            "1",
            "a copy held elsewhere keeps its resourceVersion"
        );
        let Some(in_store) = st.get_shared(res, "ns", "c") else {
            panic!("stored");
        };
        let Some(event) = st.events.back() else {
            panic!("an event");
        };
        assert!(Arc::ptr_eq(&in_store, &reply) && Arc::ptr_eq(&event.object, &reply));
        assert_eq!(
            (event.rv, event.kind, event.ns.as_str()),
            (42, "ADDED", "ns")
        );

        // The usual case: nobody else holds it, so it is changed in place.
        let answer = scratch.put(res, "ns", "d", json!({"metadata": {"name": "d"}}));
        let addr = Arc::as_ptr(&answer);
        let (Some(change), Some(stored)) = (
            scratch.events.pop_front(),
            scratch.objects.remove(&State::key(res, "ns", "d")),
        ) else {
            panic!("the scratch put stored an object and an event");
        };
        let reply = st.replay(State::key(res, "ns", "d"), change, stored, answer);
        assert_eq!(Arc::as_ptr(&reply), addr, "no copy");
        assert_eq!(resource_version_of(&reply), "43");
    }
}
