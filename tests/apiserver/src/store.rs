//! In-memory object storage with one cluster-wide resourceVersion counter (B54).

use crate::resources::ResourceDef;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// How many watch events are kept for replay.
pub const EVENT_HISTORY: usize = 4096;

/// One change, as a watch sees it (B95).
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
    /// The object after the change (before deletion for `DELETED`).
    pub object: Value,
}

/// Storage key: (plural, namespace, name); cluster-scoped objects use an empty namespace.
pub type Key = (&'static str, String, String);

/// The whole cluster state, guarded by one mutex in the server.
#[derive(Debug, Default)]
pub struct State {
    /// Last issued resourceVersion.
    pub rv: u64,
    /// Objects in storage order (plural, namespace, name), as etcd lists them.
    pub objects: BTreeMap<Key, Value>,
    /// What the synchronous workload controller does (B94).
    pub controller: crate::controller::ControllerMode,
    /// Next ClusterIP host number (10.96.0.0/12).
    pub next_ip: u32,
    /// Next NodePort to hand out.
    pub next_node_port: u32,
    /// Keep namespaces in Terminating until `/finalize` instead of finishing synchronously.
    pub keep_terminating: bool,
    /// Recent changes for watches.
    pub events: VecDeque<Event>,
}

impl State {
    /// Builds a key.
    pub fn key(res: &ResourceDef, ns: &str, name: &str) -> Key {
        let ns = if res.namespaced { ns } else { "" };
        (res.plural, ns.to_string(), name.to_string())
    }

    /// Reads an object.
    pub fn get(&self, res: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&Self::key(res, ns, name))
    }

    /// Issues the next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores an object under a fresh resourceVersion and returns the stored copy.
    pub fn put(&mut self, res: &ResourceDef, ns: &str, name: &str, mut obj: Value) -> Value {
        let rv = self.next_rv();
        if let Some(Value::Object(md)) = obj.get_mut("metadata") {
            md.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
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
    /// resourceVersion of this state; nothing is copied again.
    pub(crate) fn replay(
        &mut self,
        key: Key,
        mut change: Event,
        stored: &mut Value,
        reply: &mut Value,
    ) {
        let rv = self.next_rv();
        for obj in [&mut change.object, &mut *stored, &mut *reply] {
            if let Some(Value::Object(md)) = obj.get_mut("metadata") {
                md.insert("resourceVersion".into(), Value::String(rv.to_string()));
            }
        }
        let existed = self.objects.insert(key, std::mem::take(stored)).is_some();
        change.rv = rv;
        change.kind = if existed { "MODIFIED" } else { "ADDED" };
        if self.events.len() >= EVENT_HISTORY {
            self.events.pop_front();
        }
        self.events.push_back(change);
    }

    fn record(&mut self, rv: u64, res: &ResourceDef, ns: &str, kind: &'static str, object: Value) {
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
    pub fn remove(&mut self, res: &ResourceDef, ns: &str, name: &str) -> Option<Value> {
        let out = self.objects.remove(&Self::key(res, ns, name));
        if let Some(o) = &out {
            let rv = self.next_rv();
            let mut o = o.clone();
            if let Some(Value::Object(md)) = o.get_mut("metadata") {
                md.insert("resourceVersion".into(), Value::String(rv.to_string()));
            }
            self.record(rv, res, ns, "DELETED", o);
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
            .map(|n| n.pointer("/metadata/deletionTimestamp").is_some())
    }
}
