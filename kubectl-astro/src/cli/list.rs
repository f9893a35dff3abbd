//! `kubectl astro list`: the deployments kubectl-astro made, as a table or JSON/YAML.

use kubectl_astro::ListOptions;
use kubectl_astro::list::Deployment;

use super::args::{ListArgs, ListOutput};
use super::exit::{Failure, code};
use super::output::{err_line, out};
use super::table::{self, age, capitalised};
use super::{print_json, runtime};

/// Runs `list`; returns the exit code.
pub fn run(args: &ListArgs) -> Result<i32, Failure> {
    let options = ListOptions::default().account(args.account.clone());
    let deployments = runtime()?.block_on(async {
        let cluster = args.cluster.connect().await?;
        Ok::<_, Failure>(kubectl_astro::list(&cluster, &options).await?)
    })?;
    let listing = serde_json::json!({"deployments": deployments, "count": deployments.len()});
    match args.output {
        Some(ListOutput::Json) => print_json(&listing)?,
        Some(ListOutput::Yaml) => out(&astro_deploy::render::yaml_document(&listing)?)?,
        None if deployments.is_empty() => err_line("No deployments found."),
        None => out(&text(&deployments, chrono::Utc::now()))?,
    }
    Ok(code::SUCCESS)
}

/// The table: one row per deployment, its age counted from `now`.
fn text(deployments: &[Deployment], now: chrono::DateTime<chrono::Utc>) -> String {
    let rows: Vec<Vec<String>> = deployments
        .iter()
        .map(|d| {
            let status = serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(capitalised))
                .unwrap_or_default();
            vec![
                d.name.clone(),
                d.account.clone(),
                d.build_id.clone(),
                status,
                format!("{}/{}", d.ready, d.workloads),
                age(&d.created_at, now),
                d.endpoints.join(","),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "ACCOUNT",
        "BUILD",
        "STATUS",
        "READY",
        "AGE",
        "ENDPOINTS",
    ];
    table::render(&headers, &rows)
}
