//! Trigger: runs an ingestion of a deployment now — a Job made from the ingestion's CronJob,
//! as `kubectl create job --from=cronjob/NAME` makes it (`pkg/cmd/create/create_job.go`):
//! the job template's spec, labels and annotations, `cronjob.kubernetes.io/instantiate:
//! manual`, and the CronJob as controlling owner, so the Job goes when the CronJob goes.

use std::time::{Duration, Instant};

use astro_deploy::api::TriggerResponse;
use astro_deploy::naming::{self, sanitize_name};
use astro_deploy::resolve::Kind;
use serde_json::{Value, json};

use crate::agent;
use crate::cluster::Cluster;
use crate::error::{Error, Missing};
use crate::events::Event;
use crate::wait::{Readiness, status_of};

/// Which deployment, and whether to follow the Job.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TriggerOptions {
    /// The deployment's namespace, when it was deployed into another than the default one.
    pub namespace: Option<String>,
    /// Wait this long for the Job to complete; `None`: do not wait.
    pub wait: Option<Duration>,
    /// How often a wait looks.
    pub wait_interval: Duration,
}

impl Default for TriggerOptions {
    fn default() -> Self {
        TriggerOptions {
            namespace: None,
            wait: None,
            wait_interval: Duration::from_millis(500),
        }
    }
}

impl TriggerOptions {
    /// The same, for a deployment in namespace `ns`.
    pub fn namespace(mut self, ns: Option<String>) -> Self {
        self.namespace = ns;
        self
    }

    /// The same, waiting up to `timeout` for the Job to complete.
    pub fn wait(mut self, timeout: Option<Duration>) -> Self {
        self.wait = timeout;
        self
    }
}

/// Starts ingestion `ingestion` of agent `name` of `account` now: a Job from its CronJob (a
/// `manual` ingestion's suspended one, or a scheduled one ahead of time). With a wait, returns
/// once the Job completed; a Job that failed or did not finish in time is an error naming it.
pub async fn trigger(
    cluster: &Cluster,
    account: &str,
    name: &str,
    ingestion: &str,
    options: &TriggerOptions,
) -> Result<TriggerResponse, Error> {
    agent::check(account, name)?;
    let ns = agent::namespace(account, name, options.namespace.as_deref());
    agent::find(cluster, account, name, &ns).await?;
    run(
        cluster,
        &ns,
        &naming::agent_label(account, name),
        name,
        ingestion,
        options,
    )
    .await
}

/// The same for the deployment of `account` in namespace `namespace`, as the platform's API
/// names it (`POST /deployments/{namespace}/ingestion/{ingestion}/trigger?account=`): the
/// namespace must be one kubectl-astro made for an agent of that account.
pub async fn trigger_in(
    cluster: &Cluster,
    account: &str,
    namespace: &str,
    ingestion: &str,
    options: &TriggerOptions,
) -> Result<TriggerResponse, Error> {
    naming::check_account(account).map_err(|m| Error::InvalidInput(format!("account: {m}")))?;
    if !naming::is_dns_label(namespace) {
        return Err(Error::InvalidInput(format!(
            "namespace: {namespace:?} is not a namespace name (DNS-1123 label)"
        )));
    }
    let missing = |why: String| Error::NotFound {
        missing: Missing::Deployment,
        details: format!("no deployment of account {account} in namespace {namespace}: {why}"),
    };
    let live = match cluster.get(Kind::Namespace, "", namespace).await {
        Ok(r) => r.value(),
        Err(e) if e.is_not_found() => return Err(missing("it does not exist".into())),
        Err(e) => return Err(Error::call(format!("Namespace/{namespace}"), e)),
    };
    let label = |k: &str| {
        live.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let agent_label = label(naming::AGENT_LABEL);
    let (Some(agent_label), Some(crate::FIELD_MANAGER), Some(a)) = (
        agent_label,
        label("app.kubernetes.io/managed-by"),
        label("astro.dev/account"),
    ) else {
        return Err(missing("kubectl-astro did not create it".into()));
    };
    if a != account {
        return Err(missing(format!("it belongs to account {a}")));
    }
    let name = label("app.kubernetes.io/name").unwrap_or(agent_label);
    run(cluster, namespace, agent_label, name, ingestion, options).await
}

/// Triggers `ingestion` of the agent labelled `agent_label` (`name` in messages) in `ns`.
async fn run(
    cluster: &Cluster,
    ns: &str,
    agent_label: &str,
    name: &str,
    ingestion: &str,
    options: &TriggerOptions,
) -> Result<TriggerResponse, Error> {
    let cron_job = ingestion_cron_job(cluster, agent_label, name, ns, ingestion).await?;
    let job = job_from(&cron_job)?;
    let job_name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    cluster
        .apply(Kind::Job, ns, &job_name, &job, false, false)
        .await
        .map_err(|e| Error::call(format!("Job/{job_name}"), e))?;
    if let Some(timeout) = options.wait {
        follow(cluster, ns, &job_name, timeout, options.wait_interval).await?;
    }
    Ok(TriggerResponse {
        status: "triggered".into(),
        job_name,
        namespace: ns.to_string(),
    })
}

/// The CronJob of `ingestion` in the agent's namespace, found by its labels (the agent's, and
/// the component `ingestion-{name}`), so the naming rules stay in one place.
async fn ingestion_cron_job(
    cluster: &Cluster,
    agent_label: &str,
    name: &str,
    ns: &str,
    ingestion: &str,
) -> Result<Value, Error> {
    let selector = format!("{}={agent_label}", naming::AGENT_LABEL);
    let cron_jobs = cluster
        .list(Kind::CronJob, ns, &selector)
        .await
        .map_err(|e| Error::call(format!("CronJobs in {ns}"), e))?;
    let component = |c: &Value| {
        c.pointer("/metadata/labels/app.kubernetes.io~1component")
            .and_then(Value::as_str)
            .and_then(|c| c.strip_prefix("ingestion-"))
            .map(String::from)
    };
    let wanted = sanitize_name(ingestion);
    if let Some(found) = cron_jobs
        .iter()
        .find(|c| component(c) == Some(wanted.clone()))
    {
        return Ok(found.clone());
    }
    let known: Vec<String> = cron_jobs.iter().filter_map(component).collect();
    Err(Error::NotFound {
        missing: Missing::Ingestion,
        details: format!(
            "agent {name} has no ingestion {ingestion:?} that can be triggered (manual or \
             scheduled ingestions: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    })
}

/// The Job `kubectl create job --from=cronjob/…` would make of `cron_job`, named after it
/// with a random suffix (at most 63 characters: CronJob names are kept to 52).
fn job_from(cron_job: &Value) -> Result<Value, Error> {
    let cron_name = cron_job["metadata"]["name"].as_str().unwrap_or_default();
    let uid = cron_job["metadata"]["uid"].as_str().unwrap_or_default();
    let template = &cron_job["spec"]["jobTemplate"];
    let mut suffix = [0u8; 5];
    getrandom::fill(&mut suffix)
        .map_err(|e| Error::Failed(format!("no randomness for the Job's name: {e}")))?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let job_name = format!("{cron_name}-{suffix}");
    let mut annotations = template["metadata"]["annotations"].clone();
    if !annotations.is_object() {
        annotations = json!({});
    }
    annotations["cronjob.kubernetes.io/instantiate"] = json!("manual");
    // The CronJob's own labels (the agent's), then the job template's.
    let mut labels = cron_job["metadata"]["labels"].clone();
    if let (Some(l), Some(extra)) = (
        labels.as_object_mut(),
        template["metadata"]["labels"].as_object(),
    ) {
        l.extend(extra.clone());
    }
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": cron_name,
                "uid": uid,
                "controller": true,
            }],
        },
        "spec": template["spec"],
    }))
}

/// Follows Job `job` until it completes (Ok), fails or `timeout` passes (an error naming it),
/// telling the observer each change of its readiness.
async fn follow(
    cluster: &Cluster,
    ns: &str,
    job: &str,
    timeout: Duration,
    interval: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let mut last: Option<Readiness> = None;
    loop {
        let live = cluster
            .get(Kind::Job, ns, job)
            .await
            .map_err(|e| Error::call(format!("Job/{job}"), e))?
            .value();
        let now = status_of(Kind::Job, &live);
        if last.as_ref() != Some(&now) {
            cluster.observer.on_event(&Event::Readiness {
                kind: "Job",
                name: job,
                readiness: &now,
            });
        }
        match &now {
            Readiness::Current => return Ok(()),
            Readiness::Failed(why) => return Err(Error::Failed(format!("Job/{job}: {why}"))),
            Readiness::InProgress(why) if Instant::now() >= deadline => {
                return Err(Error::Failed(format!(
                    "Job/{job} did not complete within {}s: {why}",
                    timeout.as_secs()
                )));
            }
            _ => {}
        }
        last = Some(now);
        tokio::time::sleep(interval).await;
    }
}
