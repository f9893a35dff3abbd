//! Opt-in synchronous workload controller: after a write to a Deployment, StatefulSet or Job it
//! records status as the real controllers would
//! (`pkg/controller/deployment/util/deployment_util.go`), through the status subresource.

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

/// Writes the status a healthy controller would write for the object, if it is a workload.
pub fn reconcile(st: &mut State, res: &ResourceDef, ns: &str, name: &str) {
    let Some(obj) = st.get(res, ns, name).cloned() else {
        return;
    };
    if obj.ptr("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let stalled = st.controller == ControllerMode::Stalled;
    if st.controller == ControllerMode::Off {
        return;
    }
    let now = now_rfc3339();
    let gen_ = obj
        .ptr("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let replicas = obj
        .ptr("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status = match res.kind {
        "Deployment" if stalled => {
            let rs = format!("{name}-{}", short_hash(&obj));
            let mut s = json!({"observedGeneration": gen_});
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
                    &now,
                    true
                ),
                condition_with_status(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{rs}\" has timed out progressing."),
                    &now,
                    true
                ),
            ]);
            s
        }
        "StatefulSet" if stalled => {
            let rev = format!("{name}-{}", short_hash(&obj));
            json!({"observedGeneration": gen_, "replicas": replicas, "currentReplicas": replicas,
                   "updatedReplicas": replicas, "availableReplicas": 0,
                   "currentRevision": rev, "updateRevision": rev, "collisionCount": 0})
        }
        "Job" if stalled => {
            if obj.ptr("/status/conditions").is_some() {
                return;
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
                        &short_hash(&obj)
                    ),
                    &now,
                    true
                ),
            ]);
            s
        }
        "StatefulSet" => {
            let rev = format!("{name}-{}", short_hash(&obj));
            json!({"observedGeneration": gen_, "replicas": replicas, "readyReplicas": replicas,
                   "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
                   "currentRevision": rev, "updateRevision": rev, "collisionCount": 0})
        }
        "Job" => {
            if obj.ptr("/status/completionTime").is_some() {
                return;
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
        _ => return,
    };
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
