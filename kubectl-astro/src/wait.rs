//! Waiting for workloads: the readiness of Deployments, StatefulSets and Jobs by the kstatus
//! rules (`sigs.k8s.io/cli-utils/pkg/kstatus/status`), reported to the observer whenever it
//! changes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use astro_deploy::api::{ResourceAction, ResourceResult};
use astro_deploy::resolve::Kind;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::events::Event;

/// The kstatus readiness of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Readiness {
    /// Ready.
    Current,
    /// Still rolling out; the reason says how far.
    InProgress(String),
    /// Will not get ready without a change.
    Failed(String),
}

/// Waits until every Deployment, StatefulSet and Job among `resources` is current, failed, or
/// `timeout` passes. Objects that do not get ready are marked failed with the reason; returns
/// the error lines to add.
pub async fn wait(
    cluster: &Cluster,
    resources: &mut [ResourceResult],
    timeout: Duration,
    interval: Duration,
) -> Vec<String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let watched: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.action != ResourceAction::Failed && r.action != ResourceAction::Pruned)
        .filter(|(_, r)| {
            matches!(
                Kind::from_name(&r.kind),
                Some(Kind::Deployment | Kind::StatefulSet | Kind::Job)
            )
        })
        .map(|(i, _)| i)
        .collect();
    let mut last: BTreeMap<usize, Readiness> = BTreeMap::new();
    loop {
        let mut pending = false;
        for &i in &watched {
            if matches!(
                last.get(&i),
                Some(Readiness::Current | Readiness::Failed(_))
            ) {
                continue;
            }
            let r = &resources[i];
            let Some(kind) = Kind::from_name(&r.kind) else {
                continue;
            };
            let status = match cluster.get(kind, &r.namespace, &r.name).await {
                Ok(reply) => status_of(kind, &reply.value()),
                Err(e) => Readiness::InProgress(format!("cannot read status: {e}")),
            };
            let waited_ms = started.elapsed().as_millis() as u64;
            if last.get(&i) != Some(&status) {
                tracing::info!(
                    kind = %r.kind, name = %r.name, waited_ms, status = %status, "wait"
                );
                cluster.observer.on_event(&Event::Readiness {
                    kind: &r.kind,
                    name: &r.name,
                    readiness: &status,
                });
            } else {
                tracing::debug!(
                    kind = %r.kind, name = %r.name, waited_ms, "wait: status unchanged"
                );
            }
            if matches!(status, Readiness::InProgress(_)) {
                pending = true;
            }
            last.insert(i, status);
        }
        if !pending || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(interval).await;
    }
    let mut errors = Vec::new();
    for (i, status) in last {
        let r = &mut resources[i];
        let reason = match status {
            Readiness::Current => continue,
            Readiness::Failed(why) => why,
            Readiness::InProgress(why) => format!("not ready after {}s: {why}", timeout.as_secs()),
        };
        r.action = ResourceAction::Failed;
        r.message = Some(reason.clone());
        errors.push(format!("{}/{}: {reason}", r.kind, r.name));
    }
    errors
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readiness::Current => f.write_str("ready"),
            Readiness::InProgress(w) => write!(f, "in progress: {w}"),
            Readiness::Failed(w) => write!(f, "failed: {w}"),
        }
    }
}

fn int(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn cond_is(c: Option<&Value>, field: &str, value: &str) -> bool {
    c.and_then(|c| c.get(field)).and_then(Value::as_str) == Some(value)
}

/// The kstatus readiness of a Deployment, StatefulSet or Job.
pub fn status_of(kind: Kind, o: &Value) -> Readiness {
    let generation = int(o, "/metadata/generation");
    let observed = int(o, "/status/observedGeneration");
    if kind != Kind::Job && generation > observed {
        return Readiness::InProgress(
            "the controller has not observed the latest generation".into(),
        );
    }
    let spec_replicas = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int(o, "/status/readyReplicas");
    match kind {
        Kind::Deployment => {
            let progressing = condition(o, "Progressing");
            if cond_is(progressing, "reason", "ProgressDeadlineExceeded") {
                let available = int(o, "/status/availableReplicas");
                return Readiness::Failed(format!(
                    "{available}/{spec_replicas} available: ProgressDeadlineExceeded"
                ));
            }
            let updated = int(o, "/status/updatedReplicas");
            let available = int(o, "/status/availableReplicas");
            if updated < spec_replicas || available < spec_replicas || ready < spec_replicas {
                return Readiness::InProgress(format!(
                    "{available}/{spec_replicas} available, {updated} updated"
                ));
            }
            if !cond_is(condition(o, "Available"), "status", "True") {
                return Readiness::InProgress("waiting for the Available condition".into());
            }
            Readiness::Current
        }
        Kind::StatefulSet => {
            if ready < spec_replicas {
                return Readiness::InProgress(format!("{ready}/{spec_replicas} ready"));
            }
            let current = o.pointer("/status/currentRevision").and_then(Value::as_str);
            let update = o.pointer("/status/updateRevision").and_then(Value::as_str);
            if update.is_some() && current != update {
                return Readiness::InProgress("rolling out the new revision".into());
            }
            Readiness::Current
        }
        Kind::Job => {
            if cond_is(condition(o, "Complete"), "status", "True") {
                return Readiness::Current;
            }
            if cond_is(condition(o, "Failed"), "status", "True") {
                let reason = condition(o, "Failed")
                    .and_then(|c| c.get("reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("Failed");
                return Readiness::Failed(format!("job failed: {reason}"));
            }
            let succeeded = int(o, "/status/succeeded");
            let completions = o
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            Readiness::InProgress(format!("{succeeded}/{completions} completions"))
        }
        _ => Readiness::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rules() {
        let ready = json!({"metadata": {"generation": 2}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}});
        assert_eq!(status_of(Kind::Deployment, &ready), Readiness::Current);
        let stale = json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert!(matches!(
            status_of(Kind::Deployment, &stale),
            Readiness::InProgress(_)
        ));
        let stuck = json!({"metadata": {"generation": 1}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}});
        assert_eq!(
            status_of(Kind::Deployment, &stuck),
            Readiness::Failed("0/1 available: ProgressDeadlineExceeded".into())
        );
    }

    #[test]
    fn job_rules() {
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(status_of(Kind::Job, &done), Readiness::Current);
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(
            status_of(Kind::Job, &failed),
            Readiness::Failed("job failed: BackoffLimitExceeded".into())
        );
    }
}
