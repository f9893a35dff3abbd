//! Finding an agent's deployment: its namespace, and whether kubectl-astro made it for that
//! agent (the labels `undeploy`, `list`, `status` and `history` all check).

use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Missing};

/// Checks `account` and `name` as names, naming the one that is invalid.
pub fn check(account: &str, name: &str) -> Result<(), Error> {
    naming::check_account(account).map_err(|m| Error::InvalidInput(format!("account: {m}")))?;
    naming::check_agent_name(name).map_err(|m| Error::InvalidInput(format!("name: {m}")))
}

/// The namespace of agent `name` of `account`: `namespace` when given, else the one deploy
/// computes (`astro-{account}-{name}`, cut with a hash suffix when long).
pub fn namespace(account: &str, name: &str, namespace: Option<&str>) -> String {
    namespace
        .map(String::from)
        .unwrap_or_else(|| naming::namespace(account, &naming::sanitize_name(name)))
}

/// Whether the Namespace object `ns` carries the labels kubectl-astro gives the namespace of
/// agent `name` of `account`.
pub fn is_ours(ns: &Value, account: &str, name: &str) -> bool {
    let label = |k: &str| {
        ns.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    label("app.kubernetes.io/managed-by") == Some(crate::FIELD_MANAGER)
        && label(naming::AGENT_LABEL) == Some(naming::agent_label(account, name).as_str())
}

/// The Namespace object of the deployment of agent `name` of `account` in `ns`; not found
/// when it does not exist or kubectl-astro did not make it for this agent.
pub async fn find(cluster: &Cluster, account: &str, name: &str, ns: &str) -> Result<Value, Error> {
    let live = match cluster.get(Kind::Namespace, "", ns).await {
        Ok(r) => r.value(),
        Err(e) if e.is_not_found() => {
            return Err(Error::NotFound {
                missing: Missing::Deployment,
                details: format!(
                    "no deployment of {account}/{name}: namespace {ns} does not exist"
                ),
            });
        }
        Err(e) => return Err(Error::call(format!("Namespace/{ns}"), e)),
    };
    if !is_ours(&live, account, name) {
        return Err(Error::NotFound {
            missing: Missing::Deployment,
            details: format!(
                "no deployment of {account}/{name}: namespace {ns} was not created by kubectl-astro for it"
            ),
        });
    }
    Ok(live)
}
