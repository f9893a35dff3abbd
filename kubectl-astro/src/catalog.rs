//! The in-cluster build catalog: one ConfigMap per build record in namespace `astro-system`,
//! labelled so a label selector finds an account's or an agent's builds in one LIST. A build
//! registered with a README keeps it beside the record, under its own key.

use std::collections::BTreeMap;

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
    /// The READMEs of the records that have one, by [`config_map_name`].
    pub readmes: BTreeMap<String, String>,
}

impl Listing {
    /// The README registered with `record`, if any.
    pub fn readme(&self, record: &BuildRecord) -> Option<&str> {
        self.readmes
            .get(&config_map_name(record))
            .map(String::as_str)
    }
}

/// What [`register`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registered {
    /// The build was new: its record is stored now.
    Created,
    /// The same build (registry, spec and README) was registered before: nothing changed.
    Unchanged,
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

/// Registers `build` with its `readme`, as the platform's `register` does. Builds are
/// immutable: the same build id registered again with the same registry, spec and README is
/// [`Registered::Unchanged`] (a retry); with anything else it is a conflict naming the build.
/// Check and write are two requests: callers serialize registrations of one agent.
pub async fn register(
    cluster: &Cluster,
    build: &Build,
    readme: Option<&str>,
) -> Result<Registered, Error> {
    let r = &build.record;
    let listing = list(cluster, Some(&r.account), Some(&r.name)).await?;
    if let Some(old) = listing.records.iter().find(|o| o.build_id == r.build_id) {
        let same =
            old.registry == r.registry && old.spec == r.spec && listing.readme(old) == readme;
        return if same {
            Ok(Registered::Unchanged)
        } else {
            Err(Error::Conflict(format!(
                "build {} of {}/{} is already registered (at {}) with another registry, spec or \
                 readme; a build never changes: register it under a new build_id",
                r.build_id, r.account, r.name, old.registered_at
            )))
        };
    }
    write(cluster, build, readme).await?;
    Ok(Registered::Created)
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Published {
    /// The build's record, with its version.
    pub record: BuildRecord,
    /// Whether it was published now (`false`: it already had that version).
    pub changed: bool,
}

/// Gives build `build_id` of `account`/`name` the semantic version `version`, which makes it
/// deployable from other accounts; returns the record. A published version never
/// changes: publishing a build again under its own version changes nothing, while a build
/// published under another version, or a version another build of the agent has, is a
/// conflict. Check and write are two requests: callers serialize publishes of one agent.
pub async fn publish(
    cluster: &Cluster,
    account: &str,
    name: &str,
    build_id: &str,
    version: &semver::Version,
) -> Result<Published, Error> {
    let listing = list(cluster, Some(account), Some(name)).await?;
    let Some(found) = listing.records.iter().find(|r| r.build_id == build_id) else {
        return Err(Error::Render(astro_deploy::Error::BuildNotFound(format!(
            "no build {build_id} of {account}/{name} in the cluster catalog"
        ))));
    };
    let wanted = version.to_string();
    match found.version.as_deref() {
        Some(v) if v == wanted => {
            return Ok(Published {
                record: found.clone(),
                changed: false,
            });
        }
        Some(v) => {
            return Err(Error::Conflict(format!(
                "build {build_id} of {account}/{name} is already published as {v}; a published \
                 version never changes: publish a new build"
            )));
        }
        None => {}
    }
    if let Some(other) = listing
        .records
        .iter()
        .find(|r| r.version.as_deref() == Some(wanted.as_str()))
    {
        return Err(Error::Conflict(format!(
            "version {wanted} of {account}/{name} is already build {}; publish {build_id} under \
             a new version",
            other.build_id
        )));
    }
    let readme = listing.readme(found).map(str::to_string);
    let mut record = found.clone();
    record.version = Some(wanted);
    record.published_at = Some(now());
    let build = record.into_build()?;
    write(cluster, &build, readme.as_deref()).await?;
    Ok(Published {
        record: build.record,
        changed: true,
    })
}

/// The time now, as the catalog records it (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Namespace holding the catalog.
pub const NAMESPACE: &str = "astro-system";
/// Label marking a ConfigMap as a build record.
pub const RECORD_LABEL: &str = "astro.dev/build-record";
/// Data key holding the record (JSON).
pub const DATA_KEY: &str = "record.json";
/// Data key holding the README registered with the build, when there is one.
pub const README_KEY: &str = "README.md";

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
    write(cluster, build, None).await
}

/// Stores (or updates) the record of `build` and its README; returns its ConfigMap's name.
async fn write(cluster: &Cluster, build: &Build, readme: Option<&str>) -> Result<String, Error> {
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
    let mut cm = json!({
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
    if let Some(readme) = readme {
        cm["data"][README_KEY] = Value::String(readme.to_string());
    }
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
    let mut readmes = BTreeMap::new();
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
            Some(Ok(r)) => {
                let readme = item
                    .pointer(&format!("/data/{README_KEY}"))
                    .and_then(Value::as_str);
                if let Some(readme) = readme {
                    readmes.insert(config_map_name(&r), readme.to_string());
                }
                records.push(r);
            }
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
    Ok(Listing {
        records,
        problems,
        readmes,
    })
}
