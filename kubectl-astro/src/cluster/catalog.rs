//! The in-cluster build catalog: one ConfigMap per build record in namespace `astro-system`,
//! labelled so a label selector finds an account's or an agent's builds in one LIST.

use astro_deploy::catalog::BuildRecord;
use astro_deploy::naming::resource_name;
use astro_deploy::resolve::Kind;
use serde_json::{Value, json};

use super::{CallError, Cluster};

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

/// Stores (or updates) a record.
pub async fn push(cluster: &Cluster, record: &BuildRecord) -> Result<String, CallError> {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE,
        "labels": {"app.kubernetes.io/managed-by": "kubectl-astro"}}});
    cluster
        .apply(Kind::Namespace, "", NAMESPACE, &ns, false, false)
        .await?;
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
        .await?;
    Ok(name)
}

/// Every record matching the selector; unreadable ConfigMaps are reported, not skipped silently.
pub async fn list(
    cluster: &Cluster,
    account: Option<&str>,
    name: Option<&str>,
) -> Result<(Vec<BuildRecord>, Vec<String>), CallError> {
    let items = match cluster
        .list(Kind::ConfigMap, NAMESPACE, &selector(account, name))
        .await
    {
        Ok(items) => items,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
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
    Ok((records, problems))
}
