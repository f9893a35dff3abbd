//! Opt-in workload controller: it records the status of Deployments, StatefulSets and Jobs as the
//! real controllers would (`pkg/controller/deployment/util/deployment_util.go`), through the
//! status subresource. With the asynchronous lifecycle (the default) the server's background
//! loop rolls each workload to its final status over two steps, a moment after the write
//! ([`step`]); with the synchronous lifecycle the final status is written inside the write
//! itself ([`reconcile`]).

use crate::managed;
use crate::resources::ResourceDef;
use crate::schema;
use crate::store::State;
use crate::util::{Pointer, now_rfc3339};
use serde_json::{Value, json};

/// Behaviour of the emulated controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControllerMode {
    /// No controller: status stays as the apiserver wrote it.
    #[default]
    Off,
    /// Workloads become ready/complete right after each write.
    Ready,
    /// Workloads fail: Deployments exceed their progress deadline, Jobs hit their backoff limit,
    /// StatefulSets report no ready replicas.
    Stalled,
}

fn condition(t: &str, reason: &str, msg: &str, now: &str, with_update: bool) -> Value {
    condition_with_status(t, "True", reason, msg, now, with_update)
}

fn condition_with_status(
    t: &str,
    status: &str,
    reason: &str,
    msg: &str,
    now: &str,
    with_update: bool,
) -> Value {
    let mut c = json!({"type":t,"status":status});
    if with_update {
        c["lastUpdateTime"] = json!(now);
    }
    c["lastTransitionTime"] = json!(now);
    c["reason"] = json!(reason);
    c["message"] = json!(msg);
    c
}

/// Writes the final status the controller would write for the object, if it is a workload
/// (the synchronous lifecycle).
pub fn reconcile(st: &mut State, res: &ResourceDef, ns: &str, name: &str) {
    let Some(obj) = st.get(res, ns, name).cloned() else {
        return;
    };
    if obj.ptr("/metadata/deletionTimestamp").is_some() || st.controller == ControllerMode::Off {
        return;
    }
    let stalled = st.controller == ControllerMode::Stalled;
    if let Some(status) = final_status(res, &obj, name, stalled) {
        write_status(st, res, ns, name, obj, status);
    }
}

/// One step of the asynchronous controller for one object: nothing once its status is final
/// for its generation and template; else, when healthy and not yet rolling this template, a
/// rolling status (nothing ready yet); else the final status. Returns whether it wrote.
pub fn step(st: &mut State, res: &ResourceDef, ns: &str, name: &str) -> bool {
    let Some(obj) = st.get(res, ns, name).cloned() else {
        return false;
    };
    if obj.ptr("/metadata/deletionTimestamp").is_some() || st.controller == ControllerMode::Off {
        return false;
    }
    let stalled = st.controller == ControllerMode::Stalled;
    if settled(res.kind, &obj, name, stalled) {
        return false;
    }
    let status = if !stalled && !rolling(res.kind, &obj, name) {
        rolling_status(res.kind, &obj, name)
    } else {
        final_status(res, &obj, name, stalled)
    };
    match status {
        Some(status) => {
            write_status(st, res, ns, name, obj, status);
            true
        }
        None => false,
    }
}

fn int(v: &Value, path: &str) -> Option<i64> {
    v.ptr(path).and_then(Value::as_i64)
}

fn generation(obj: &Value) -> i64 {
    int(obj, "/metadata/generation").unwrap_or(1)
}

fn replicas(obj: &Value) -> i64 {
    int(obj, "/spec/replicas").unwrap_or(1)
}

fn find_condition<'a>(obj: &'a Value, t: &str) -> Option<&'a Value> {
    obj.ptr("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(t))
}

/// Whether the Progressing condition speaks of the ReplicaSet of the current template.
fn progressing_for(obj: &Value, name: &str, reason: &str) -> bool {
    let rs = format!("\"{name}-{}\"", short_hash(obj));
    find_condition(obj, "Progressing").is_some_and(|c| {
        c.get("reason").and_then(Value::as_str) == Some(reason)
            && c.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.contains(&rs))
    })
}

/// Whether the status is final for this generation and template.
fn settled(kind: &str, obj: &Value, name: &str, stalled: bool) -> bool {
    let observed = int(obj, "/status/observedGeneration") == Some(generation(obj));
    let rev = format!("{name}-{}", short_hash(obj));
    match kind {
        "Deployment" if stalled => {
            observed && progressing_for(obj, name, "ProgressDeadlineExceeded")
        }
        "Deployment" => observed && progressing_for(obj, name, "NewReplicaSetAvailable"),
        "StatefulSet" => {
            let ready = int(obj, "/status/readyReplicas").unwrap_or(0);
            let available = int(obj, "/status/availableReplicas").unwrap_or(0);
            let current = int(obj, "/status/currentReplicas").unwrap_or(0);
            observed
                && obj.ptr("/status/updateRevision").and_then(Value::as_str) == Some(rev.as_str())
                && if stalled {
                    available == 0 && current == replicas(obj)
                } else {
                    ready == replicas(obj)
                }
        }
        "Job" if stalled => obj.ptr("/status/conditions").is_some(),
        "Job" => obj.ptr("/status/completionTime").is_some(),
        _ => true,
    }
}

/// Whether the object already shows the rolling status of its current template.
fn rolling(kind: &str, obj: &Value, name: &str) -> bool {
    let observed = int(obj, "/status/observedGeneration") == Some(generation(obj));
    let rev = format!("{name}-{}", short_hash(obj));
    match kind {
        "Deployment" => observed && progressing_for(obj, name, "ReplicaSetUpdated"),
        "StatefulSet" => {
            observed
                && obj.ptr("/status/updateRevision").and_then(Value::as_str) == Some(rev.as_str())
        }
        "Job" => obj.ptr("/status/active").is_some(),
        _ => true,
    }
}

/// The status of a rollout under way: the new template's pods exist, none is ready yet
/// (`pkg/controller/deployment/sync.go` `syncRolloutStatus`, `ReplicaSetUpdated`;
/// `pkg/controller/statefulset/stateful_set_control.go`; `pkg/controller/job/job_controller.go`).
fn rolling_status(kind: &str, obj: &Value, name: &str) -> Option<Value> {
    let now = now_rfc3339();
    let (gen_, replicas) = (generation(obj), replicas(obj));
    let rev = format!("{name}-{}", short_hash(obj));
    Some(match kind {
        "Deployment" => unavailable_deployment(
            gen_,
            replicas,
            &now,
            condition(
                "Progressing",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{rev}\" is progressing."),
                &now,
                true,
            ),
        ),
        "StatefulSet" => {
            let current = obj
                .ptr("/status/currentRevision")
                .cloned()
                .unwrap_or_else(|| json!(rev));
            json!({"observedGeneration": gen_, "replicas": replicas, "readyReplicas": 0,
                   "currentReplicas": 0, "updatedReplicas": replicas, "availableReplicas": 0,
                   "currentRevision": current, "updateRevision": rev, "collisionCount": 0})
        }
        "Job" => json!({"startTime": now, "active": 1, "ready": 0, "terminating": 0,
                        "uncountedTerminatedPods": {}}),
        _ => return None,
    })
}

/// A Deployment whose new pods are not available yet, with `progressing` as its
/// Progressing condition (rolling out, or past its deadline).
fn unavailable_deployment(generation: i64, replicas: i64, now: &str, progressing: Value) -> Value {
    let mut s = json!({"observedGeneration": generation});
    if replicas > 0 {
        s["replicas"] = json!(replicas);
        s["updatedReplicas"] = json!(replicas);
        s["unavailableReplicas"] = json!(replicas);
    }
    s["conditions"] = json!([
        condition_with_status(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
            true
        ),
        progressing,
    ]);
    s
}

/// The final status: healthy (ready, complete) or, `stalled`, failed.
fn final_status(res: &ResourceDef, obj: &Value, name: &str, stalled: bool) -> Option<Value> {
    let now = now_rfc3339();
    let (gen_, replicas) = (generation(obj), replicas(obj));
    let status = match res.kind {
        "Deployment" if stalled => {
            let rs = format!("{name}-{}", short_hash(obj));
            unavailable_deployment(
                gen_,
                replicas,
                &now,
                condition_with_status(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{rs}\" has timed out progressing."),
                    &now,
                    true,
                ),
            )
        }
        "StatefulSet" if stalled => {
            let rev = format!("{name}-{}", short_hash(obj));
            json!({"observedGeneration": gen_, "replicas": replicas, "currentReplicas": replicas,
                   "updatedReplicas": replicas, "availableReplicas": 0,
                   "currentRevision": rev, "updateRevision": rev, "collisionCount": 0})
        }
        "Job" if stalled => {
            if obj.ptr("/status/conditions").is_some() {
                return None;
            }
            let backoff = obj
                .ptr("/spec/backoffLimit")
                .and_then(Value::as_i64)
                .unwrap_or(6);
            json!({"startTime": now, "failed": backoff + 1, "ready": 0, "terminating": 0,
                   "uncountedTerminatedPods": {},
                   "conditions": [
                     condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &now, false),
                     condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", &now, false)]})
        }
        "Deployment" => {
            let mut s = json!({"observedGeneration": gen_});
            if replicas > 0 {
                for k in [
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                ] {
                    s[k] = json!(replicas);
                }
            }
            s["conditions"] = json!([
                condition(
                    "Available",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    &now,
                    true
                ),
                condition(
                    "Progressing",
                    "NewReplicaSetAvailable",
                    &format!(
                        "ReplicaSet \"{name}-{}\" has successfully progressed.",
                        &short_hash(obj)
                    ),
                    &now,
                    true
                ),
            ]);
            s
        }
        "StatefulSet" => {
            let rev = format!("{name}-{}", short_hash(obj));
            json!({"observedGeneration": gen_, "replicas": replicas, "readyReplicas": replicas,
                   "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
                   "currentRevision": rev, "updateRevision": rev, "collisionCount": 0})
        }
        "Job" => {
            if obj.ptr("/status/completionTime").is_some() {
                return None;
            }
            let completions = obj
                .ptr("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            json!({"startTime": now, "completionTime": now, "succeeded": completions, "ready": 0,
                   "terminating": 0, "uncountedTerminatedPods": {},
                   "conditions": [
                     condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", &now, false),
                     condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", &now, false)]})
        }
        _ => return None,
    };
    Some(status)
}

/// Records `status` on `obj` through the status subresource as `kube-controller-manager`, with
/// the Deployment revision annotation the controller keeps.
fn write_status(
    st: &mut State,
    res: &ResourceDef,
    ns: &str,
    name: &str,
    obj: Value,
    status: Value,
) {
    let now = now_rfc3339();
    let ty = schema::root(res.kind);
    let entries = managed::decode(&obj).ok().flatten().unwrap_or_default();
    let mut new = obj.clone();
    if res.kind == "Deployment" {
        let rev = new
            .ptr("/metadata/annotations/deployment.kubernetes.io~1revision")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok());
        let hash = short_hash(&obj);
        let template_changed = obj
            .ptr("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type") == Some(&json!("Progressing"))
                        && !c
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .contains(&hash)
                })
            });
        let next = match rev {
            None => 1,
            Some(r) if template_changed => r + 1,
            Some(r) => r,
        };
        crate::util::ensure_obj(&mut new, &["metadata", "annotations"]).insert(
            "deployment.kubernetes.io/revision".into(),
            json!(next.to_string()),
        );
    }
    let entries = managed::update(
        &obj,
        &new,
        ty,
        entries,
        "kube-controller-manager",
        &res.api_version(),
        "",
        &now,
    );
    let before_status = new.clone();
    if let Value::Object(m) = &mut new {
        m.insert("status".into(), status);
    }
    let entries = managed::update(
        &before_status,
        &new,
        ty,
        entries,
        "kube-controller-manager",
        &res.api_version(),
        "status",
        &now,
    );
    crate::util::ensure_obj(&mut new, &["metadata"])
        .insert("managedFields".into(), managed::encode(&entries));
    if new != obj {
        st.next_rv();
        st.put(res, ns, name, new);
    }
}

fn short_hash(obj: &Value) -> String {
    let t = obj
        .ptr("/spec/template")
        .map(Value::to_string)
        .unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| ALPHA[((h >> (i * 6)) % ALPHA.len() as u64) as usize] as char)
        .collect()
}
