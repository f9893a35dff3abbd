//! Status: one deployment in detail — the summary `list` shows, each workload's readiness by
//! the kstatus rules `--wait` uses, its pods with their containers' states, restarts and the
//! reason of the last failure, and its Jobs with their completions.
//!
//! Round trips: a GET of the Namespace, then one LIST each of Deployments, StatefulSets,
//! Ingresses, Jobs and Pods, concurrently.
//!
//! A container's state is the one key of its `ContainerStatus.state` (`waiting`, `running` or
//! `terminated`); `lastState.terminated` is how its previous run ended, which is where a crash
//! loop's cause is (`k8s.io/api/core/v1/types.go`: `ContainerStatus`, `ContainerState`,
//! `ContainerStateTerminated`). The environment of containers is never read: its values can be
//! credentials.

use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde::Serialize;
use serde_json::Value;

use crate::agent;
use crate::cluster::Cluster;
use crate::error::Error;
use crate::list::{Deployment, Objects, summary};
use crate::wait::{Readiness, status_of};

/// Which deployment to show. `StatusOptions::default()` looks in the namespace deploy
/// computes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StatusOptions {
    /// Its namespace, when it was deployed into another than the default one.
    pub namespace: Option<String>,
}

impl StatusOptions {
    /// The same, for a deployment in namespace `ns`.
    pub fn namespace(mut self, ns: Option<String>) -> Self {
        self.namespace = ns;
        self
    }
}

/// One deployment in detail: `list`'s summary and what it is made of.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AgentStatus {
    /// What `list` shows of it.
    #[serde(flatten)]
    pub deployment: Deployment,
    /// Each Deployment and StatefulSet, by kind and name.
    pub components: Vec<Component>,
    /// Each pod of the agent, by name.
    pub pods: Vec<PodDetail>,
    /// Each Job of the agent (startup ingestions, runs of CronJobs), by name.
    pub jobs: Vec<JobDetail>,
}

/// The readiness of one workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    /// Ready by the kstatus rules.
    Ready,
    /// Still rolling out.
    Progressing,
    /// Will not get ready without a change.
    Failed,
}

/// One Deployment or StatefulSet.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Component {
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// What part of the agent it runs (label `app.kubernetes.io/component`).
    pub component: String,
    /// Its readiness.
    pub status: ComponentStatus,
    /// Why it is not ready (`0/1 available, 1 updated`), absent when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Replicas wanted.
    pub replicas: i64,
    /// Replicas ready.
    pub ready_replicas: i64,
}

/// One pod.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PodDetail {
    /// Its name.
    pub name: String,
    /// What part of the agent it runs (label `app.kubernetes.io/component`).
    pub component: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// Its IP, once it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Its containers (init containers first), by the order of its status.
    pub containers: Vec<ContainerDetail>,
}

/// One container of a pod.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ContainerDetail {
    /// Its name.
    pub name: String,
    /// `Running`, `Waiting`, `Terminated` or `Unknown`.
    pub state: String,
    /// Whether it passes its readiness probe.
    pub ready: bool,
    /// How often it was restarted.
    pub restart_count: i64,
    /// The reason of its current state (`CrashLoopBackOff`, `Completed`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The message of its current state, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How it ended last time it failed: its last termination with a non-zero exit code, or
    /// the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Termination>,
}

/// A container's termination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Termination {
    /// Why (`OOMKilled`, `Error`).
    pub reason: String,
    /// Its exit code.
    pub exit_code: i64,
    /// When it ended (RFC 3339), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Its message (the container's termination message), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a Job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum JobStatus {
    /// No pod of it runs yet.
    Pending,
    /// Some pod of it runs.
    Running,
    /// Complete.
    Succeeded,
    /// Failed (its backoff limit or deadline reached).
    Failed,
}

/// One Job.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct JobDetail {
    /// Its name.
    pub name: String,
    /// What part of the agent it runs (label `app.kubernetes.io/component`).
    pub component: String,
    /// How it is doing, by the kstatus rules of a Job.
    pub status: JobStatus,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Succeeded pods / completions wanted (`1/1`).
    pub completions: String,
    /// When it started (RFC 3339), once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// The deployment of agent `name` of `account` in detail; not found when kubectl-astro made
/// no deployment of it.
pub async fn status(
    cluster: &Cluster,
    account: &str,
    name: &str,
    options: &StatusOptions,
) -> Result<AgentStatus, Error> {
    agent::check(account, name)?;
    let ns = agent::namespace(account, name, options.namespace.as_deref());
    let live = agent::find(cluster, account, name, &ns).await?;
    let selector = format!(
        "{}={}",
        naming::AGENT_LABEL,
        naming::agent_label(account, name)
    );
    let ns = ns.as_str();
    let pods = async {
        cluster
            .list_at(format!("/api/v1/namespaces/{ns}/pods"), &selector)
            .await
            .map_err(|e| Error::call(format!("Namespace/{ns}: listing Pods"), e))
    };
    let jobs = async {
        cluster
            .list(Kind::Job, ns, &selector)
            .await
            .map_err(|e| Error::call(format!("Namespace/{ns}: listing Jobs"), e))
    };
    let (objects, pods, jobs) = futures::try_join!(Objects::read(cluster, ns), pods, jobs)?;
    let mut components: Vec<Component> = objects
        .workloads()
        .map(|(kind, o)| component(kind, o))
        .collect();
    components.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    let mut pods: Vec<PodDetail> = pods.iter().map(pod).collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    let mut jobs: Vec<JobDetail> = jobs.iter().map(job).collect();
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AgentStatus {
        deployment: summary(&live, &objects),
        components,
        pods,
        jobs,
    })
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(String::from)
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn component_label(o: &Value) -> String {
    text(o, "/metadata/labels/app.kubernetes.io~1component").unwrap_or_default()
}

/// A workload's readiness, as `wait` judges it.
fn component(kind: Kind, o: &Value) -> Component {
    let (status, message) = match status_of(kind, o) {
        Readiness::Current => (ComponentStatus::Ready, None),
        Readiness::InProgress(why) => (ComponentStatus::Progressing, Some(why)),
        Readiness::Failed(why) => (ComponentStatus::Failed, Some(why)),
    };
    Component {
        kind: kind.to_string(),
        name: text(o, "/metadata/name").unwrap_or_default(),
        component: component_label(o),
        status,
        message,
        replicas: o
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1),
        ready_replicas: int(o, "/status/readyReplicas"),
    }
}

/// A pod and its containers, init containers first.
fn pod(o: &Value) -> PodDetail {
    let statuses = |field: &str| {
        o.pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let containers = statuses("initContainerStatuses")
        .iter()
        .chain(statuses("containerStatuses").iter())
        .map(container)
        .collect();
    PodDetail {
        name: text(o, "/metadata/name").unwrap_or_default(),
        component: component_label(o),
        phase: text(o, "/status/phase").unwrap_or_else(|| "Unknown".into()),
        pod_ip: text(o, "/status/podIP"),
        created_at: text(o, "/metadata/creationTimestamp").unwrap_or_default(),
        containers,
    }
}

/// One `ContainerStatus`: its state, and the last termination that was a failure.
fn container(c: &Value) -> ContainerDetail {
    let state = c.get("state").and_then(Value::as_object);
    let (name, detail) = state
        .and_then(|s| s.iter().next())
        .map(|(k, v)| (k.as_str(), v))
        .unwrap_or(("", &Value::Null));
    let state_name = match name {
        "running" => "Running",
        "waiting" => "Waiting",
        "terminated" => "Terminated",
        _ => "Unknown",
    };
    let termination = |t: &Value| {
        let exit_code = int(t, "/exitCode");
        (exit_code != 0).then(|| Termination {
            reason: text(t, "/reason").unwrap_or_else(|| "Error".into()),
            exit_code,
            finished_at: text(t, "/finishedAt"),
            message: text(t, "/message"),
        })
    };
    let current = (name == "terminated")
        .then(|| termination(detail))
        .flatten();
    let last = c.pointer("/lastState/terminated").and_then(termination);
    ContainerDetail {
        name: text(c, "/name").unwrap_or_default(),
        state: state_name.into(),
        ready: c.get("ready").and_then(Value::as_bool).unwrap_or(false),
        restart_count: int(c, "/restartCount"),
        reason: text(detail, "/reason"),
        message: text(detail, "/message"),
        last_failure: current.or(last),
    }
}

/// A Job: its kstatus readiness as the platform's Job status, and its completions.
fn job(o: &Value) -> JobDetail {
    let (status, message) = match status_of(Kind::Job, o) {
        Readiness::Current => (JobStatus::Succeeded, None),
        Readiness::Failed(why) => (JobStatus::Failed, Some(why)),
        _ if int(o, "/status/active") > 0 => (JobStatus::Running, None),
        _ => (JobStatus::Pending, None),
    };
    let completions = o
        .pointer("/spec/completions")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    JobDetail {
        name: text(o, "/metadata/name").unwrap_or_default(),
        component: component_label(o),
        status,
        message,
        completions: format!("{}/{completions}", int(o, "/status/succeeded")),
        start_time: text(o, "/status/startTime"),
        created_at: text(o, "/metadata/creationTimestamp").unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_crash_looping_container_names_its_last_failure() {
        let c = json!({"name": "agent", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "finishedAt": "2026-12-06T12:00:00Z"}}});
        let d = container(&c);
        assert_eq!(d.state, "Waiting");
        assert_eq!(d.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(d.restart_count, 4);
        assert_eq!(
            d.last_failure,
            Some(Termination {
                reason: "OOMKilled".into(),
                exit_code: 137,
                finished_at: Some("2026-12-06T12:00:00Z".into()),
                message: None,
            })
        );
    }

    #[test]
    fn a_clean_exit_is_no_failure() {
        let c = json!({"name": "init", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
        let d = container(&c);
        assert_eq!((d.state.as_str(), d.last_failure), ("Terminated", None));
        let c = json!({"name": "x", "state": {"terminated": {"exitCode": 1}}});
        assert_eq!(
            container(&c).last_failure.map(|t| t.reason),
            Some("Error".into())
        );
    }

    #[test]
    fn jobs_by_kstatus_and_activity() {
        let done = json!({"spec": {"completions": 1}, "status": {"succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}]}});
        let d = job(&done);
        assert_eq!(
            (d.status, d.completions.as_str()),
            (JobStatus::Succeeded, "1/1")
        );
        let running = json!({"status": {"active": 1}});
        assert_eq!(job(&running).status, JobStatus::Running);
        assert_eq!(job(&json!({})).status, JobStatus::Pending);
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded"}]}});
        let d = job(&failed);
        assert_eq!(d.status, JobStatus::Failed);
        assert_eq!(
            d.message.as_deref(),
            Some("job failed: BackoffLimitExceeded")
        );
    }
}
