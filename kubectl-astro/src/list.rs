//! List: every deployment kubectl-astro made, found by the labels of its namespace
//! (`app.kubernetes.io/managed-by=kubectl-astro` and `astro.dev/agent`, as undeploy checks
//! them), with the readiness of its workloads and the URLs of its Ingresses.
//!
//! Round trips: one LIST of namespaces, then for each deployment one LIST each of its
//! Deployments, StatefulSets and Ingresses, concurrently.

use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::Error;
use crate::wait::{Readiness, status_of};

/// Which deployments to list. `ListOptions::default()` lists every account's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only this account's deployments; `None`: every account's.
    pub account: Option<String>,
    /// Namespaces read at once (at least 1).
    pub concurrency: usize,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            account: None,
            concurrency: 8,
        }
    }
}

impl ListOptions {
    /// The same, only for `account` (`None`: every account).
    pub fn account(mut self, account: Option<String>) -> Self {
        self.account = account;
        self
    }
}

/// How a deployment is doing, from its namespace and its workloads (kstatus rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every Deployment and StatefulSet is ready.
    Ready,
    /// Some workload is still rolling out.
    Progressing,
    /// Some workload will not get ready without a change.
    Failed,
    /// The namespace is being deleted.
    Terminating,
}

/// One deployment kubectl-astro made.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Deployment {
    /// The agent's name (label `app.kubernetes.io/name`).
    pub name: String,
    /// Its account (label `astro.dev/account`).
    pub account: String,
    /// The build deployed last (annotation `astro.dev/build`).
    pub build_id: String,
    /// Its namespace.
    pub k8s_namespace: String,
    /// How it is doing.
    pub status: Status,
    /// How many of its Deployments and StatefulSets are ready.
    pub ready: usize,
    /// How many Deployments and StatefulSets it has.
    pub workloads: usize,
    /// When its namespace was created (RFC 3339, as the server wrote it).
    pub created_at: String,
    /// The URL of each host of its Ingresses (`https://` when the Ingress has TLS for it).
    pub endpoints: Vec<String>,
}

/// The label selector of the namespaces of deployments, of `account` only when given.
pub fn selector(account: Option<&str>) -> String {
    let mut selector = format!(
        "app.kubernetes.io/managed-by={},{}",
        crate::FIELD_MANAGER,
        naming::AGENT_LABEL
    );
    if let Some(account) = account {
        selector.push_str(&format!(",astro.dev/account={account}"));
    }
    selector
}

/// Every deployment kubectl-astro made (of `options.account`, when set), by account, then
/// name, then namespace.
pub async fn list(cluster: &Cluster, options: &ListOptions) -> Result<Vec<Deployment>, Error> {
    if let Some(account) = &options.account {
        naming::check_account(account).map_err(|m| Error::InvalidInput(format!("account: {m}")))?;
    }
    let namespaces = cluster
        .list(Kind::Namespace, "", &selector(options.account.as_deref()))
        .await
        .map_err(|e| Error::call("listing namespaces", e))?;
    let mut deployments: Vec<Deployment> =
        futures::stream::iter(namespaces.into_iter().map(|ns| deployment(cluster, ns)))
            .buffered(options.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
    deployments.sort_by(|a, b| {
        (&a.account, &a.name, &a.k8s_namespace).cmp(&(&b.account, &b.name, &b.k8s_namespace))
    });
    Ok(deployments)
}

/// The deployment of namespace `ns`: its labels, and what its workloads and Ingresses say.
async fn deployment(cluster: &Cluster, ns: Value) -> Result<Deployment, Error> {
    let name = ns
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let objects = Objects::read(cluster, name).await?;
    Ok(summary(&ns, &objects))
}

/// What a deployment's summary is made of: its Deployments, StatefulSets and Ingresses.
pub(crate) struct Objects {
    pub deployments: Vec<Value>,
    pub stateful_sets: Vec<Value>,
    pub ingresses: Vec<Value>,
}

impl Objects {
    /// The Deployments, StatefulSets and Ingresses kubectl-astro made in namespace `ns`, read
    /// concurrently.
    pub(crate) async fn read(cluster: &Cluster, ns: &str) -> Result<Objects, Error> {
        let objects = |kind: Kind| async move {
            let selector = format!("app.kubernetes.io/managed-by={}", crate::FIELD_MANAGER);
            cluster
                .list(kind, ns, &selector)
                .await
                .map_err(|e| Error::call(format!("Namespace/{ns}: listing {kind}s"), e))
        };
        let (deployments, stateful_sets, ingresses) = futures::try_join!(
            objects(Kind::Deployment),
            objects(Kind::StatefulSet),
            objects(Kind::Ingress)
        )?;
        Ok(Objects {
            deployments,
            stateful_sets,
            ingresses,
        })
    }

    /// Each Deployment and StatefulSet with its kind.
    pub(crate) fn workloads(&self) -> impl Iterator<Item = (Kind, &Value)> {
        let deployments = self.deployments.iter().map(|o| (Kind::Deployment, o));
        deployments.chain(self.stateful_sets.iter().map(|o| (Kind::StatefulSet, o)))
    }
}

/// The summary of the deployment in namespace `ns` from its `objects`.
pub(crate) fn summary(ns: &Value, objects: &Objects) -> Deployment {
    let text = |pointer: &str| {
        ns.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let readiness: Vec<Readiness> = objects
        .workloads()
        .map(|(kind, o)| status_of(kind, o))
        .collect();
    let ready = readiness
        .iter()
        .filter(|r| matches!(r, Readiness::Current))
        .count();
    let terminating = ns.pointer("/metadata/deletionTimestamp").is_some()
        || ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
    let status = if terminating {
        Status::Terminating
    } else if readiness.iter().any(|r| matches!(r, Readiness::Failed(_))) {
        Status::Failed
    } else if ready < readiness.len() {
        Status::Progressing
    } else {
        Status::Ready
    };
    Deployment {
        name: text("/metadata/labels/app.kubernetes.io~1name"),
        account: text("/metadata/labels/astro.dev~1account"),
        build_id: text("/metadata/annotations/astro.dev~1build"),
        k8s_namespace: text("/metadata/name"),
        status,
        ready,
        workloads: readiness.len(),
        created_at: text("/metadata/creationTimestamp"),
        endpoints: objects.ingresses.iter().flat_map(urls).collect(),
    }
}

/// The URL of each host of an Ingress's rules, `https://` when one of its TLS blocks names
/// the host.
fn urls(ingress: &Value) -> Vec<String> {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let tls: Vec<String> = ingress
        .pointer("/spec/tls")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .flat_map(|b| strings(b.get("hosts")))
                .collect()
        })
        .unwrap_or_default();
    ingress
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| r.get("host").and_then(Value::as_str))
                .map(|host| {
                    let scheme = if tls.iter().any(|t| t == host) {
                        "https"
                    } else {
                        "http"
                    };
                    format!("{scheme}://{host}")
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_names_our_label_and_the_account() {
        assert_eq!(
            selector(None),
            "app.kubernetes.io/managed-by=kubectl-astro,astro.dev/agent"
        );
        assert_eq!(
            selector(Some("astro-team")),
            "app.kubernetes.io/managed-by=kubectl-astro,astro.dev/agent,astro.dev/account=astro-team"
        );
    }

    #[test]
    fn ingress_hosts_with_tls_are_https() {
        let ingress = serde_json::json!({"spec": {
            "tls": [{"hosts": ["a.example"], "secretName": "t"}],
            "rules": [{"host": "a.example"}, {"host": "b.example"}, {}]}});
        assert_eq!(urls(&ingress), ["https://a.example", "http://b.example"]);
    }
}
