//! `kubectl astro build push|list|publish`: the in-cluster build catalog.

use kubectl_astro::catalog;

use super::args::BuildCommand;
use super::exit::{Failure, code};
use super::output::err_line;
use super::{inputs, print_json, runtime};

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
                cluster,
            } => {
                let cluster = cluster.connect().await?;
                let listing = catalog::list(&cluster, account.as_deref(), name.as_deref()).await?;
                for p in &listing.problems {
                    err_line(format_args!("warning: {p}"));
                }
                let rows: Vec<_> = listing
                    .records
                    .iter()
                    .map(|r| {
                        serde_json::json!({"account": r.account, "name": r.name,
                            "build_id": r.build_id, "registered_at": r.registered_at,
                            "version": r.version, "image": r.image})
                    })
                    .collect();
                print_json(&rows)?;
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
