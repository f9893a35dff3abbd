//! `kubectl astro history`: an agent's deployment records, as a table or JSON/YAML.

use kubectl_astro::HistoryOptions;
use kubectl_astro::history::DeploymentRecord;

use super::args::{AgentArgs, ListOutput};
use super::exit::{Failure, code};
use super::output::{err_line, out};
use super::table::{self, age, capitalised};
use super::{print_json, runtime};

/// Runs `history`; returns the exit code.
pub fn run(args: &AgentArgs) -> Result<i32, Failure> {
    let options = HistoryOptions::default().namespace(args.deployment.namespace.clone());
    let history = runtime()?.block_on(async {
        let cluster = args.deployment.cluster.connect().await?;
        Ok::<_, Failure>(
            kubectl_astro::history(
                &cluster,
                &args.deployment.account,
                &args.deployment.name,
                &options,
            )
            .await?,
        )
    })?;
    for p in &history.problems {
        err_line(format_args!("warning: deployment history: {p}"));
    }
    let records = &history.records;
    let listing = serde_json::json!({"deployments": records, "count": records.len()});
    match args.output {
        Some(ListOutput::Json) => print_json(&listing)?,
        Some(ListOutput::Yaml) => out(&astro_deploy::render::yaml_document(&listing)?)?,
        None if records.is_empty() => err_line("No deployment records found."),
        None => out(&text(records, chrono::Utc::now()))?,
    }
    Ok(code::SUCCESS)
}

/// The table: one row per record, newest first, ages counted from `now`.
fn text(records: &[DeploymentRecord], now: chrono::DateTime<chrono::Utc>) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(capitalised))
                .unwrap_or_default();
            vec![
                r.id.clone(),
                r.build_id.clone(),
                status,
                r.deployed_at.clone(),
                age(&r.deployed_at, now),
                r.request.interfaces.join(","),
            ]
        })
        .collect();
    table::render(
        &["ID", "BUILD", "STATUS", "DEPLOYED", "AGE", "INTERFACES"],
        &rows,
    )
}
