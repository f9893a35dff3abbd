//! Undeploy: deleting an agent's namespace — only one kubectl-astro created for that agent.

use std::time::{Duration, Instant};

use astro_deploy::api::UndeployResponse;
use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde_json::Value;

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
    naming::check_account(account).map_err(|m| Error::InvalidInput(format!("account: {m}")))?;
    naming::check_agent_name(name).map_err(|m| Error::InvalidInput(format!("name: {m}")))?;
    let ns = options
        .namespace
        .clone()
        .unwrap_or_else(|| naming::namespace(account, &naming::sanitize_name(name)));
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
    let label = |k: &str| {
        live.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let agent_label = naming::agent_label(account, name);
    if label("app.kubernetes.io/managed-by") != Some(crate::FIELD_MANAGER)
        || label("astro.dev/agent") != Some(agent_label.as_str())
    {
        return Err(Error::Refused {
            refusal: Refusal::Undeploy,
            details: format!(
                "namespace {ns} was not created by kubectl-astro for {agent_label}; not deleting it"
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
    if let Err(e) = cluster.delete(Kind::Namespace, "", &ns, None).await
        && !e.is_not_found()
    {
        held.release(cluster).await;
        return Err(Error::call(&context, e));
    }
    // Nothing is left to guard: a deploy that was waiting makes a new Lease, and finds the
    // namespace being deleted.
    held.delete(cluster).await;
    if let Some(timeout) = options.wait {
        let deadline = Instant::now() + timeout;
        loop {
            match cluster.get(Kind::Namespace, "", &ns).await {
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(Error::call(&context, e)),
                Ok(_) if Instant::now() >= deadline => {
                    return Err(Error::Failed(format!(
                        "namespace {ns} still exists after {}s",
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
