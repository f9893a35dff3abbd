//! `kubectl astro build push|list|publish`: the in-cluster build catalog.

use astro_deploy::catalog::BuildRecord;
use kubectl_astro::catalog;

use super::args::{BuildCommand, ListOutput};
use super::exit::{Failure, code};
use super::output::{err_line, out};
use super::{inputs, print_json, runtime, table};

/// Runs a `build` subcommand; returns the exit code.
pub fn run(cmd: &BuildCommand) -> Result<i32, Failure> {
    runtime()?.block_on(async {
        match cmd {
            BuildCommand::Push { file, cluster } => {
                let build = inputs::record_file(file)?.into_build()?;
                let cluster = cluster.connect().await?;
                let name = catalog::push(&cluster, &build).await?;
                let r = &build.record;
                print_json(&serde_json::json!({
                    "status": "registered", "account": r.account, "name": r.name,
                    "build_id": r.build_id, "config_map": format!("{}/{name}", catalog::NAMESPACE),
                }))?;
            }
            BuildCommand::List {
                account,
                name,
                output,
                cluster,
            } => {
                let cluster = cluster.connect().await?;
                let listing = catalog::list(&cluster, account.as_deref(), name.as_deref()).await?;
                for p in &listing.problems {
                    err_line(format_args!("warning: {p}"));
                }
                list(&listing.records, *output)?;
            }
            BuildCommand::Publish {
                account,
                name,
                build_id,
                version,
                cluster,
            } => {
                let cluster = cluster.connect().await?;
                catalog::publish(&cluster, account, name, build_id, version).await?;
                print_json(
                    &serde_json::json!({"status": "published", "account": account,
                    "name": name, "build_id": build_id, "version": version.to_string()}),
                )?;
            }
        }
        Ok(code::SUCCESS)
    })
}

/// Prints `build list`: a table, or with `-o json|yaml` one object per record.
fn list(records: &[BuildRecord], output: Option<ListOutput>) -> Result<(), Failure> {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            serde_json::json!({"account": r.account, "name": r.name,
                "build_id": r.build_id, "registered_at": r.registered_at,
                "version": r.version, "image": r.image})
        })
        .collect();
    match output {
        Some(ListOutput::Json) => print_json(&rows),
        Some(ListOutput::Yaml) => out(&astro_deploy::render::yaml_document(
            &serde_json::Value::Array(rows),
        )?),
        None if records.is_empty() => {
            err_line("No builds found in the cluster catalog.");
            Ok(())
        }
        None => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        r.account.clone(),
                        r.name.clone(),
                        r.build_id.clone(),
                        r.version.clone().unwrap_or_default(),
                        r.registered_at.clone(),
                        r.image.clone(),
                    ]
                })
                .collect();
            let headers = ["ACCOUNT", "NAME", "BUILD", "VERSION", "REGISTERED", "IMAGE"];
            out(&table::render(&headers, &rows))
        }
    }
}
