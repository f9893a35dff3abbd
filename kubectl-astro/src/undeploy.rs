//! Undeploy: deleting an agent's namespace — only one kubectl-astro created for that agent.

use std::time::{Duration, Instant};

use astro_deploy::api::UndeployResponse;
use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde_json::Value;

use crate::agent;
use crate::cluster::Cluster;
use crate::deploy::now;
use crate::error::{Error, Missing, Refusal};
use crate::lock::{self, LockOptions};

/// Which deployment to delete and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UndeployOptions {
    /// Its namespace, when it was deployed into another than the default one.
    pub namespace: Option<String>,
    /// Wait this long until the namespace is gone; `None`: do not wait.
    pub wait: Option<Duration>,
    /// How often a wait looks.
    pub wait_interval: Duration,
    /// How the deployment's Lease is taken (a deploy in progress finishes first).
    pub lock: LockOptions,
}

impl Default for UndeployOptions {
    fn default() -> Self {
        UndeployOptions {
            namespace: None,
            wait: None,
            wait_interval: Duration::from_millis(500),
            lock: LockOptions::default(),
        }
    }
}

impl UndeployOptions {
    /// The same, for a deployment in namespace `ns`.
    pub fn namespace(mut self, ns: Option<String>) -> Self {
        self.namespace = ns;
        self
    }

    /// The same, waiting up to `timeout` until the namespace is gone.
    pub fn wait(mut self, timeout: Option<Duration>) -> Self {
        self.wait = timeout;
        self
    }

    /// The same, taking the deployment's Lease as `lock` says.
    pub fn lock(mut self, lock: LockOptions) -> Self {
        self.lock = lock;
        self
    }
}

/// Deletes the deployment of agent `name` of `account`: its namespace, after checking that
/// kubectl-astro made it for this agent, holding the deployment's Lease (a deploy in progress
/// finishes first), which goes with it.
pub async fn undeploy(
    cluster: &Cluster,
    account: &str,
    name: &str,
    options: &UndeployOptions,
) -> Result<UndeployResponse, Error> {
    agent::check(account, name)?;
    let ns = agent::namespace(account, name, options.namespace.as_deref());
    let context = format!("Namespace/{ns}");
    let live = match cluster.get(Kind::Namespace, "", &ns).await {
        Ok(r) => r.value(),
        Err(e) if e.is_not_found() => {
            return Err(Error::NotFound {
                missing: Missing::Deployment,
                details: format!("namespace {ns} does not exist"),
            });
        }
        Err(e) => return Err(Error::call(&context, e)),
    };
    if !agent::is_ours(&live, account, name) {
        return Err(Error::Refused {
            refusal: Refusal::Undeploy,
            details: format!(
                "namespace {ns} was not created by kubectl-astro for {}; not deleting it",
                naming::agent_label(account, name)
            ),
        });
    }
    let build_id = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("astro.dev/build"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let held = lock::acquire(cluster, &ns, &options.lock).await?;
    // A namespace already Terminating is not deleted again: the API server would answer 409
    // ("The system is ensuring all content is removed from this namespace",
    // `pkg/registry/core/namespace/storage/storage.go` `Delete`); it is waited for like any.
    let terminating = live.pointer("/metadata/deletionTimestamp").is_some();
    if !terminating
        && let Err(e) = cluster.delete(Kind::Namespace, "", &ns, None).await
        && !e.is_not_found()
    {
        held.release(cluster).await;
        return Err(Error::call(&context, e));
    }
    // Nothing is left to guard: a deploy that was waiting makes a new Lease, and finds the
    // namespace being deleted. (If the Lease cannot be deleted, the namespace still is.)
    held.delete(cluster).await?;
    if let Some(timeout) = options.wait {
        let deadline = Instant::now() + timeout;
        loop {
            match cluster.get(Kind::Namespace, "", &ns).await {
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(Error::call(&context, e)),
                Ok(_) if Instant::now() >= deadline => {
                    return Err(Error::Failed(format!(
                        "namespace {ns} is still terminating after {}s (objects with finalizers in it keep it)",
                        timeout.as_secs()
                    )));
                }
                Ok(_) => tokio::time::sleep(options.wait_interval).await,
            }
        }
    }
    Ok(UndeployResponse {
        status: "success".into(),
        name: name.to_string(),
        build_id,
        k8s_namespace: ns,
        undeployed_at: now(),
    })
}
