//! History: a [`DeploymentRecord`] of each deploy that changed something, kept in the
//! agent's namespace, the last [`KEEP`] of them; and the record a rollback redeploys.
//!
//! One ConfigMap per record (`astro.deployment-record.000007`, label
//! `astro.dev/deployment-record=true`, field manager `kubectl-astro-history`): each deploy writes one object with one apply, no
//! read-modify-write of a shared list that two deploys could race on, and no shared object
//! whose size grows toward the 1 MiB limit with ten specs in it. The number in the name
//! orders the records and is the record's `id`. The records live and die with the namespace,
//! as the deployment does: `undeploy` deletes them with it. They carry none of the
//! deployment's common labels, so prune and the inventory's recovery never touch them.

use std::collections::BTreeMap;

use astro_deploy::api::{DeployRequest, DeployResponseStatus};
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::resolve::Kind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent;
use crate::cluster::Cluster;
use crate::error::Error;
use crate::plan::Plan;

/// How many records of an agent are kept.
pub const KEEP: u64 = 10;
/// Label marking a ConfigMap as a deployment record.
pub const RECORD_LABEL: &str = "astro.dev/deployment-record";
/// Start of a record's ConfigMap name; its number follows. The dots keep it apart from every
/// rendered name, which are DNS labels.
pub const NAME_PREFIX: &str = "astro.deployment-record.";
/// Data key holding the record (JSON).
pub const DATA_KEY: &str = "record.json";

/// A deploy request as a record keeps it: everything but the credential values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Account that owns the deployment.
    pub account: String,
    /// Agent name.
    pub name: String,
    /// Source account of a cross-account deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
    /// The names of the credentials the request gave; never their values.
    #[serde(default)]
    pub credential_keys: Vec<String>,
    /// Interface adapters enabled.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Cron schedules by ingestion name.
    #[serde(default)]
    pub schedules: BTreeMap<String, String>,
}

impl RecordedRequest {
    /// `request` without its credential values.
    pub fn of(request: &DeployRequest) -> RecordedRequest {
        RecordedRequest {
            account: request.account.clone(),
            name: request.name.clone(),
            source_account: request.source_account.clone(),
            credential_keys: request.user_credentials.keys().cloned().collect(),
            interfaces: request.interfaces.clone(),
            schedules: request.schedules.clone(),
        }
    }

    /// The request again, with `credentials` as its credentials.
    pub fn with_credentials(&self, credentials: BTreeMap<String, String>) -> DeployRequest {
        DeployRequest {
            account: self.account.clone(),
            name: self.name.clone(),
            source_account: self.source_account.clone(),
            user_credentials: credentials,
            interfaces: self.interfaces.clone(),
            schedules: self.schedules.clone(),
        }
    }
}

/// One deploy, as the history keeps it: the platform's `DeploymentRecord`, with the request
/// (without credential values) and the whole build record (image and spec) — enough to
/// deploy the same build again when the catalog no longer holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentRecord {
    /// The record's number in the agent's history: 1 for the first deploy into its
    /// namespace, one more for each deploy after it.
    pub id: String,
    /// The agent's name.
    pub agent_name: String,
    /// Its account.
    pub account: String,
    /// The build deployed.
    pub build_id: String,
    /// The namespace deployed into.
    pub namespace: String,
    /// The deploy's status: `success` or `partial`.
    pub status: DeployResponseStatus,
    /// When it was deployed (the DeployResponse's `deployed_at`).
    pub deployed_at: String,
    /// The request, without credential values.
    pub request: RecordedRequest,
    /// The build record deployed, spec included.
    pub build: BuildRecord,
}

impl DeploymentRecord {
    /// The recorded build, read and checked again.
    pub fn checked_build(&self) -> Result<Build, Error> {
        Ok(self.build.clone().into_build()?)
    }
}

/// An agent's history.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct History {
    /// The readable records, newest first.
    pub records: Vec<DeploymentRecord>,
    /// One line per ConfigMap labelled as a record that cannot be read as one.
    pub problems: Vec<String>,
}

/// Whose history to read. `HistoryOptions::default()` looks in the namespace deploy
/// computes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HistoryOptions {
    /// The namespace, when the agent was deployed into another than the default one.
    pub namespace: Option<String>,
}

impl HistoryOptions {
    /// The same, for a deployment in namespace `ns`.
    pub fn namespace(mut self, ns: Option<String>) -> Self {
        self.namespace = ns;
        self
    }
}

/// The label selector of record ConfigMaps.
pub fn selector() -> String {
    format!(
        "{RECORD_LABEL}=true,app.kubernetes.io/managed-by={}",
        crate::FIELD_MANAGER
    )
}

/// The number of the record ConfigMap `name`, if it is one.
fn number(name: &str) -> Option<u64> {
    name.strip_prefix(NAME_PREFIX)?.parse().ok()
}

/// `(number, ConfigMap)` of each record in `ns`, newest first.
async fn numbered(cluster: &Cluster, ns: &str) -> Result<Vec<(u64, Value)>, Error> {
    let items = cluster
        .list(Kind::ConfigMap, ns, &selector())
        .await
        .map_err(|e| Error::call(format!("Namespace/{ns}: reading the deployment history"), e))?;
    let mut numbered: Vec<(u64, Value)> = items
        .into_iter()
        .filter_map(|cm| {
            let n = number(cm.pointer("/metadata/name").and_then(Value::as_str)?)?;
            Some((n, cm))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    Ok(numbered)
}

/// Records the deploy of `plan` (`status`, at `deployed_at`) as the next record of its
/// namespace, and deletes the records older than the last [`KEEP`]. A namespace the deploy
/// just created (`fresh`) holds no records: nothing is read.
pub(crate) async fn record(
    cluster: &Cluster,
    plan: &Plan,
    status: DeployResponseStatus,
    deployed_at: &str,
    fresh: bool,
) -> Result<(), Error> {
    let resolved = &plan.resolved;
    let ns = resolved.namespace.as_str();
    let existing = if fresh {
        Vec::new()
    } else {
        numbered(cluster, ns).await?
    };
    let next = existing.first().map_or(1, |(n, _)| n + 1);
    let record = DeploymentRecord {
        id: next.to_string(),
        agent_name: resolved.name.clone(),
        account: resolved.account.clone(),
        build_id: resolved.build_id.clone(),
        namespace: ns.to_string(),
        status,
        deployed_at: deployed_at.to_string(),
        request: plan.request.clone(),
        build: plan.build.clone(),
    };
    let text = serde_json::to_string(&record)
        .map_err(|e| Error::Failed(format!("cannot serialize the deployment record: {e}")))?;
    let name = format!("{NAME_PREFIX}{next:06}");
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                RECORD_LABEL: "true",
                "app.kubernetes.io/managed-by": crate::FIELD_MANAGER,
            },
        },
        "data": {DATA_KEY: text},
    });
    cluster
        .apply_as(&cluster.history_manager(), Kind::ConfigMap, ns, &name, &cm)
        .await
        .map_err(|e| Error::call(format!("ConfigMap/{name}: recording the deploy"), e))?;
    for (n, _) in existing.iter().filter(|(n, _)| n + KEEP <= next) {
        let old = format!("{NAME_PREFIX}{n:06}");
        tracing::debug!(record = %old, "deleting a record past the last {KEEP}");
        match cluster.delete(Kind::ConfigMap, ns, &old, None).await {
            Err(e) if !e.is_not_found() => {
                return Err(Error::call(
                    format!("ConfigMap/{old}: deleting an old deployment record"),
                    e,
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The history of agent `name` of `account`, newest first; not found when kubectl-astro made
/// no deployment of it.
pub async fn history(
    cluster: &Cluster,
    account: &str,
    name: &str,
    options: &HistoryOptions,
) -> Result<History, Error> {
    agent::check(account, name)?;
    let ns = agent::namespace(account, name, options.namespace.as_deref());
    agent::find(cluster, account, name, &ns).await?;
    let mut history = History::default();
    for (_, cm) in numbered(cluster, &ns).await? {
        let cm_name = cm
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let text = cm
            .pointer(&format!("/data/{}", DATA_KEY.replace('/', "~1")))
            .and_then(Value::as_str);
        match text.map(serde_json::from_str::<DeploymentRecord>) {
            Some(Ok(r)) => history.records.push(r),
            Some(Err(e)) => history
                .problems
                .push(format!("ConfigMap {ns}/{cm_name}: {DATA_KEY}: {e}")),
            None => history
                .problems
                .push(format!("ConfigMap {ns}/{cm_name}: no {DATA_KEY}")),
        }
    }
    Ok(history)
}

/// The record a rollback of `account`/`name` redeploys: the newest record of build `to`, or
/// without `to` the newest record of another build than the newest record's (the build
/// deployed now).
pub fn rollback_target<'a>(
    history: &'a History,
    account: &str,
    name: &str,
    to: Option<&str>,
) -> Result<&'a DeploymentRecord, Error> {
    let not_found = |details: String| Error::Render(astro_deploy::Error::BuildNotFound(details));
    let records = &history.records;
    match to {
        Some(build) => records.iter().find(|r| r.build_id == build).ok_or_else(|| {
            let mut known: Vec<&str> = Vec::new();
            for r in records {
                if !known.contains(&r.build_id.as_str()) {
                    known.push(&r.build_id);
                }
            }
            not_found(format!(
                "build {build} of {account}/{name} is not in its deployment history (builds: {}); deploy it with deploy --build-id {build}",
                if known.is_empty() { "none".into() } else { known.join(", ") }
            ))
        }),
        None => {
            let current = records.first().map(|r| r.build_id.as_str());
            records
                .iter()
                .find(|r| Some(r.build_id.as_str()) != current)
                .ok_or_else(|| {
                    not_found(format!(
                        "no earlier build of {account}/{name} in its deployment history (deployed now: {})",
                        current.unwrap_or("none")
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, build: &str) -> DeploymentRecord {
        DeploymentRecord {
            id: id.to_string(),
            agent_name: "a".into(),
            account: "acc".into(),
            build_id: build.into(),
            namespace: "ns".into(),
            status: DeployResponseStatus::Success,
            deployed_at: "2026-12-06T12:00:00Z".into(),
            request: RecordedRequest::default(),
            build: BuildRecord {
                account: "acc".into(),
                name: "a".into(),
                build_id: build.into(),
                image: "i".into(),
                registry: "r".into(),
                registered_at: "2026-12-06T12:00:00Z".into(),
                version: None,
                published_at: None,
                spec: Value::Null,
            },
        }
    }

    #[test]
    fn rollback_goes_to_the_newest_other_build_or_the_named_one() {
        let history = History {
            records: vec![
                record(4, "b3"),
                record(3, "b3"),
                record(2, "b2"),
                record(1, "b1"),
            ],
            problems: vec![],
        };
        let target = |to| rollback_target(&history, "acc", "a", to).map(|r| r.id.clone());
        assert_eq!(target(None).ok(), Some("2".into()));
        assert_eq!(target(Some("b1")).ok(), Some("1".into()));
        assert_eq!(target(Some("b3")).ok(), Some("4".into()));
        let missing = target(Some("b9")).err().map(|e| e.to_api().details);
        assert_eq!(
            missing.as_deref(),
            Some(
                "build b9 of acc/a is not in its deployment history (builds: b3, b2, b1); deploy it with deploy --build-id b9"
            )
        );
        let only_one = History {
            records: vec![record(1, "b1")],
            problems: vec![],
        };
        let e = rollback_target(&only_one, "acc", "a", None).err();
        assert_eq!(
            e.map(|e| (e.kind(), e.to_api().details)),
            Some((
                crate::ErrorKind::NotFound,
                "no earlier build of acc/a in its deployment history (deployed now: b1)".into()
            ))
        );
    }

    #[test]
    fn a_recorded_request_keeps_credential_names_only() {
        let request = DeployRequest {
            account: "acc".into(),
            name: "a".into(),
            user_credentials: [("API_KEY".to_string(), "s3cret".to_string())].into(),
            interfaces: vec!["web".into()],
            ..DeployRequest::default()
        };
        let recorded = RecordedRequest::of(&request);
        let text = serde_json::to_string(&recorded).unwrap_or_default();
        assert!(!text.contains("s3cret"), "{text}");
        assert_eq!(recorded.credential_keys, ["API_KEY"]);
        let again = recorded.with_credentials(request.user_credentials.clone());
        assert_eq!(again, request);
    }

    #[test]
    fn record_names_carry_their_number() {
        assert_eq!(number("astro.deployment-record.000012"), Some(12));
        assert_eq!(number("weather-agent-config"), None);
    }
}
