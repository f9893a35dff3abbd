//! `kubectl astro status`: one deployment in detail, as text or JSON/YAML.

use kubectl_astro::StatusOptions;
use kubectl_astro::status::{AgentStatus, PodDetail};

use super::args::{AgentArgs, ListOutput};
use super::exit::{Failure, code};
use super::output::out;
use super::table::{self, age, capitalised};
use super::{print_json, runtime};

/// Runs `status`; returns the exit code.
pub fn run(args: &AgentArgs) -> Result<i32, Failure> {
    let options = StatusOptions::default().namespace(args.deployment.namespace.clone());
    let status = runtime()?.block_on(async {
        let cluster = args.deployment.cluster.connect().await?;
        Ok::<_, Failure>(
            kubectl_astro::status(
                &cluster,
                &args.deployment.account,
                &args.deployment.name,
                &options,
            )
            .await?,
        )
    })?;
    match args.output {
        Some(ListOutput::Json) => print_json(&status)?,
        Some(ListOutput::Yaml) => {
            let value = serde_json::to_value(&status).map_err(|e| {
                Failure::from(kubectl_astro::Error::Failed(format!(
                    "cannot print YAML: {e}"
                )))
            })?;
            out(&astro_deploy::render::yaml_document(&value)?)?
        }
        None => out(&text(&status, chrono::Utc::now()))?,
    }
    Ok(code::SUCCESS)
}

/// A serializable enum's JSON name, capitalised (`ready` → `Ready`).
fn word<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(capitalised))
        .unwrap_or_default()
}

/// The deployment as text: its summary, then a table each of workloads, pods and Jobs;
/// ages counted from `now`.
fn text(s: &AgentStatus, now: chrono::DateTime<chrono::Utc>) -> String {
    let d = &s.deployment;
    let endpoints = if d.endpoints.is_empty() {
        table::NONE.to_string()
    } else {
        d.endpoints.join(", ")
    };
    let mut text = format!(
        "Name:        {}\nAccount:     {}\nNamespace:   {}\nBuild:       {}\nStatus:      {} ({}/{} workloads ready)\nCreated:     {} ({} ago)\nEndpoints:   {endpoints}\n",
        d.name,
        d.account,
        d.k8s_namespace,
        d.build_id,
        word(d.status),
        d.ready,
        d.workloads,
        d.created_at,
        age(&d.created_at, now),
    );
    let section = |text: &mut String, empty: &str, headers: &[&str], rows: Vec<Vec<String>>| {
        text.push('\n');
        if rows.is_empty() {
            text.push_str(empty);
            text.push('\n');
        } else {
            text.push_str(&table::render(headers, &rows));
        }
    };
    let workloads = s
        .components
        .iter()
        .map(|c| {
            vec![
                format!("{}/{}", c.kind, c.name),
                c.component.clone(),
                word(c.status),
                format!("{}/{}", c.ready_replicas, c.replicas),
                c.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    section(
        &mut text,
        "No workloads.",
        &["WORKLOAD", "COMPONENT", "STATUS", "READY", "MESSAGE"],
        workloads,
    );
    let pods = s.pods.iter().map(|p| pod_row(p, now)).collect();
    section(
        &mut text,
        "No pods.",
        &[
            "POD",
            "COMPONENT",
            "PHASE",
            "READY",
            "RESTARTS",
            "AGE",
            "LAST FAILURE",
        ],
        pods,
    );
    let jobs = s
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.name.clone(),
                j.component.clone(),
                word(j.status),
                j.completions.clone(),
                age(&j.created_at, now),
                j.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    section(
        &mut text,
        "No jobs.",
        &[
            "JOB",
            "COMPONENT",
            "STATUS",
            "COMPLETIONS",
            "AGE",
            "MESSAGE",
        ],
        jobs,
    );
    text
}

/// A pod's row: ready containers of all, restarts of all, and the last failure of any
/// container (`agent: OOMKilled (exit 137)`), the latest one when several failed.
fn pod_row(p: &PodDetail, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let ready = p.containers.iter().filter(|c| c.ready).count();
    let restarts: i64 = p.containers.iter().map(|c| c.restart_count).sum();
    let failure = p
        .containers
        .iter()
        .filter_map(|c| c.last_failure.as_ref().map(|f| (c, f)))
        .max_by(|(_, a), (_, b)| a.finished_at.cmp(&b.finished_at))
        .map(|(c, f)| format!("{}: {} (exit {})", c.name, f.reason, f.exit_code))
        .unwrap_or_default();
    vec![
        p.name.clone(),
        p.component.clone(),
        p.phase.clone(),
        format!("{ready}/{}", p.containers.len()),
        restarts.to_string(),
        age(&p.created_at, now),
        failure,
    ]
}
