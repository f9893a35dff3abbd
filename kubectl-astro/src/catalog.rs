//! The in-cluster build catalog: one ConfigMap per build record in namespace `astro-system`,
//! labelled so a label selector finds an account's or an agent's builds in one LIST.

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::naming::resource_name;
use astro_deploy::resolve::Kind;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::error::Error;

/// What the catalog holds for a query.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Listing {
    /// The readable records, by account, agent, registration time and build id.
    pub records: Vec<BuildRecord>,
    /// One line per ConfigMap that is labelled as a record but cannot be read as one.
    pub problems: Vec<String>,
}

/// The build `request` deploys, chosen from the cluster catalog as the platform chooses:
/// the latest build of the agent, or with `source_account` the highest published version of
/// that account's agent. Also returns the catalog's problems.
pub async fn latest(
    cluster: &Cluster,
    request: &DeployRequest,
) -> Result<(Build, Vec<String>), Error> {
    named(cluster, request, None).await
}

/// Build `build_id` of the agent `request` deploys (published, with `source_account`), or
/// with `None` the latest as [`latest`] picks it; not found names the build and the agent.
/// Also returns the catalog's problems.
pub async fn named(
    cluster: &Cluster,
    request: &DeployRequest,
    build_id: Option<&str>,
) -> Result<(Build, Vec<String>), Error> {
    let owner = request
        .source_account
        .as_deref()
        .unwrap_or(&request.account);
    let listing = list(cluster, Some(owner), Some(&request.name)).await?;
    let record = astro_deploy::catalog::select_named(
        &listing.records,
        &request.account,
        &request.name,
        request.source_account.as_deref(),
        build_id,
    )?;
    Ok((record.clone().into_build()?, listing.problems))
}

/// Gives build `build_id` of `account`/`name` the semantic version `version`, which makes it
/// deployable from other accounts; returns the updated record.
pub async fn publish(
    cluster: &Cluster,
    account: &str,
    name: &str,
    build_id: &str,
    version: &semver::Version,
) -> Result<BuildRecord, Error> {
    let listing = list(cluster, Some(account), Some(name)).await?;
    let mut record = listing
        .records
        .into_iter()
        .find(|r| r.build_id == build_id)
        .ok_or_else(|| {
            Error::Render(astro_deploy::Error::BuildNotFound(format!(
                "no build {build_id} of {account}/{name} in the cluster catalog"
            )))
        })?;
    record.version = Some(version.to_string());
    let build = record.into_build()?;
    push(cluster, &build).await?;
    Ok(build.record)
}

/// Namespace holding the catalog.
pub const NAMESPACE: &str = "astro-system";
/// Label marking a ConfigMap as a build record.
pub const RECORD_LABEL: &str = "astro.dev/build-record";
/// Data key holding the record (JSON).
pub const DATA_KEY: &str = "record.json";

/// The label selector for records of `account` / `name` (either may be absent).
pub fn selector(account: Option<&str>, name: Option<&str>) -> String {
    let mut s = format!("{RECORD_LABEL}=true");
    if let Some(a) = account {
        s.push_str(&format!(",astro.dev/account={a}"));
    }
    if let Some(n) = name {
        s.push_str(&format!(",astro.dev/agent-name={n}"));
    }
    s
}

/// ConfigMap name of a record.
pub fn config_map_name(r: &BuildRecord) -> String {
    resource_name(&["build", &r.account, &r.name, &r.build_id], 253)
}

/// Stores (or updates) the record of `build` (checked when it became a [`Build`]); returns
/// its ConfigMap's name.
pub async fn push(cluster: &Cluster, build: &Build) -> Result<String, Error> {
    let record = &build.record;
    let failed = |e| Error::call("writing the build catalog", e);
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE,
        "labels": {"app.kubernetes.io/managed-by": "kubectl-astro"}}});
    cluster
        .apply(Kind::Namespace, "", NAMESPACE, &ns, false, false)
        .await
        .map_err(failed)?;
    let name = config_map_name(record);
    let text = serde_json::to_string(record).unwrap_or_default();
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                RECORD_LABEL: "true",
                "astro.dev/account": record.account,
                "astro.dev/agent-name": record.name,
                "app.kubernetes.io/managed-by": "kubectl-astro",
            },
        },
        "data": {DATA_KEY: text},
    });
    cluster
        .apply(Kind::ConfigMap, NAMESPACE, &name, &cm, true, false)
        .await
        .map_err(failed)?;
    Ok(name)
}

/// Every record of `account` and agent `name` (either may be absent); unreadable ConfigMaps
/// are reported, not skipped silently.
pub async fn list(
    cluster: &Cluster,
    account: Option<&str>,
    name: Option<&str>,
) -> Result<Listing, Error> {
    let items = match cluster
        .list(Kind::ConfigMap, NAMESPACE, &selector(account, name))
        .await
    {
        Ok(items) => items,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(Error::call("reading the build catalog", e)),
    };
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for item in items {
        let cm_name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let text = item
            .pointer(&format!("/data/{}", DATA_KEY.replace('/', "~1")))
            .and_then(Value::as_str);
        match text.map(BuildRecord::parse) {
            Some(Ok(r)) => records.push(r),
            Some(Err(e)) => problems.push(format!("ConfigMap {NAMESPACE}/{cm_name}: {e}")),
            None => problems.push(format!("ConfigMap {NAMESPACE}/{cm_name}: no {DATA_KEY}")),
        }
    }
    records.sort_by(|a, b| {
        (&a.account, &a.name, &a.registered_at, &a.build_id).cmp(&(
            &b.account,
            &b.name,
            &b.registered_at,
            &b.build_id,
        ))
    });
    Ok(Listing { records, problems })
}
