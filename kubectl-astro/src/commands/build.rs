//! `kubectl astro build push|list|publish`: the in-cluster build catalog.

use crate::cli::BuildCommand;
use crate::cluster::catalog;
use crate::commands::deploy::{catalog_failure, cluster};
use crate::exit::{Failure, code};
use crate::inputs;

/// Runs a `build` subcommand; returns the exit code.
pub fn run(cmd: &BuildCommand) -> Result<i32, Failure> {
    crate::runtime()?.block_on(async {
        match cmd {
            BuildCommand::Push { file, cluster: c } => {
                let record = inputs::record_file(file)?;
                record.clone().into_build()?;
                let cluster = cluster(c).await?;
                let name = catalog::push(&cluster, &record).await.map_err(|e| catalog_failure(&e))?;
                crate::print_json(&serde_json::json!({
                    "status": "registered", "account": record.account, "name": record.name,
                    "build_id": record.build_id, "config_map": format!("{}/{name}", catalog::NAMESPACE),
                }));
                Ok(code::SUCCESS)
            }
            BuildCommand::List { account, name, cluster: c } => {
                let cluster = cluster(c).await?;
                let (records, problems) = catalog::list(&cluster, account.as_deref(), name.as_deref())
                    .await
                    .map_err(|e| catalog_failure(&e))?;
                for p in problems {
                    eprintln!("warning: {p}");
                }
                let rows: Vec<_> = records
                    .iter()
                    .map(|r| serde_json::json!({"account": r.account, "name": r.name, "build_id": r.build_id,
                        "registered_at": r.registered_at, "version": r.version, "image": r.image}))
                    .collect();
                crate::print_json(&rows);
                Ok(code::SUCCESS)
            }
            BuildCommand::Publish { account, name, build_id, version, cluster: c } => {
                semver::Version::parse(version)
                    .map_err(|e| Failure::invalid(format!("--version {version}: not a semantic version: {e}")))?;
                let cluster = cluster(c).await?;
                let (records, _) = catalog::list(&cluster, Some(account), Some(name))
                    .await
                    .map_err(|e| catalog_failure(&e))?;
                let mut record = records
                    .into_iter()
                    .find(|r| &r.build_id == build_id)
                    .ok_or_else(|| Failure::new(code::NOT_FOUND, "build not found", format!("no build {build_id} of {account}/{name} in the cluster catalog")))?;
                record.version = Some(version.clone());
                catalog::push(&cluster, &record).await.map_err(|e| catalog_failure(&e))?;
                crate::print_json(&serde_json::json!({"status": "published", "account": account, "name": name,
                    "build_id": build_id, "version": version}));
                Ok(code::SUCCESS)
            }
        }
    })
}
