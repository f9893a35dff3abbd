//! The namespace of an agent's deployment: which one, the live object, and whether
//! kubectl-astro made it for that agent — what every command on an existing deployment checks
//! before it touches anything.

use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Missing};

/// An agent's deployment namespace as it is in the cluster.
#[derive(Debug, Clone)]
pub struct AgentNamespace {
    /// Its name.
    pub name: String,
    /// The live Namespace object.
    pub object: Value,
    /// Whether kubectl-astro created it for this agent (its managed-by and agent labels).
    pub ours: bool,
}

impl AgentNamespace {
    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }
}

/// Reads the namespace of agent `name` of `account`: `namespace` when given, else the default
/// one (`astro-{account}-{name}`). Bad names are invalid input; a missing namespace is
/// [`Missing::Deployment`].
pub async fn find(
    cluster: &Cluster,
    account: &str,
    name: &str,
    namespace: Option<&str>,
) -> Result<AgentNamespace, Error> {
    naming::check_account(account).map_err(|m| Error::InvalidInput(format!("account: {m}")))?;
    naming::check_agent_name(name).map_err(|m| Error::InvalidInput(format!("name: {m}")))?;
    let ns = namespace
        .map(String::from)
        .unwrap_or_else(|| naming::namespace(account, &naming::sanitize_name(name)));
    let object = match cluster.get(Kind::Namespace, "", &ns).await {
        Ok(r) => r.value(),
        Err(e) if e.is_not_found() => {
            return Err(Error::NotFound {
                missing: Missing::Deployment,
                details: format!("namespace {ns} does not exist"),
            });
        }
        Err(e) => return Err(Error::call(format!("Namespace/{ns}"), e)),
    };
    let label = |k: &str| {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let agent_label = naming::agent_label(account, name);
    let ours = label("app.kubernetes.io/managed-by") == Some(crate::FIELD_MANAGER)
        && label(naming::AGENT_LABEL) == Some(agent_label.as_str());
    Ok(AgentNamespace {
        name: ns,
        object,
        ours,
    })
}
