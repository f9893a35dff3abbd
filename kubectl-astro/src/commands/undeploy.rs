//! `kubectl astro undeploy`: deletes the deployment's namespace — only one kubectl-astro
//! created for this agent.

use std::time::{Duration, Instant};

use astro_deploy::api::UndeployResponse;
use astro_deploy::naming;
use astro_deploy::resolve::Kind;
use serde_json::Value;

use crate::cli::UndeployArgs;
use crate::cluster::connect::parse_timeout;
use crate::commands::deploy::{catalog_failure, cluster, now};
use crate::exit::{Failure, code};

/// Runs `undeploy`; returns the exit code.
pub fn run(args: &UndeployArgs) -> Result<i32, Failure> {
    naming::check_account(&args.account).map_err(|m| Failure::invalid(format!("account: {m}")))?;
    naming::check_agent_name(&args.name).map_err(|m| Failure::invalid(format!("name: {m}")))?;
    let ns = args
        .namespace
        .clone()
        .unwrap_or_else(|| naming::namespace(&args.account, &naming::sanitize_name(&args.name)));
    let timeout = parse_timeout(&args.timeout)
        .map_err(|e| Failure::invalid(format!("--timeout: {e}")))?
        .unwrap_or(Duration::from_secs(300));
    crate::runtime()?.block_on(async {
        let cluster = cluster(&args.cluster).await?;
        let live = match cluster.get(Kind::Namespace, "", &ns).await {
            Ok(r) => r.value(),
            Err(e) if e.is_not_found() => {
                return Err(Failure::new(
                    code::NOT_FOUND,
                    "deployment not found",
                    format!("namespace {ns} does not exist"),
                ));
            }
            Err(e) => return Err(catalog_failure(&e)),
        };
        let label = |k: &str| live.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
        let agent_label = format!("{}.{}", args.account, naming::sanitize_name(&args.name));
        if label("app.kubernetes.io/managed-by") != Some("kubectl-astro") || label("astro.dev/agent") != Some(agent_label.as_str()) {
            return Err(Failure::new(
                code::INVALID,
                "refused",
                format!("namespace {ns} was not created by kubectl-astro for {agent_label}; not deleting it"),
            ));
        }
        let build_id = live
            .pointer("/metadata/annotations")
            .and_then(|a| a.get("astro.dev/build"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Err(e) = cluster.delete(Kind::Namespace, "", &ns, None).await
            && !e.is_not_found() {
                return Err(catalog_failure(&e));
            }
        if args.wait {
            let deadline = Instant::now() + timeout;
            loop {
                match cluster.get(Kind::Namespace, "", &ns).await {
                    Err(e) if e.is_not_found() => break,
                    Err(e) => return Err(catalog_failure(&e)),
                    Ok(_) if Instant::now() >= deadline => {
                        return Err(Failure::failed(format!("namespace {ns} still exists after {}s", timeout.as_secs())));
                    }
                    Ok(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
        crate::print_json(&UndeployResponse {
            status: "success".into(),
            name: args.name.clone(),
            build_id,
            k8s_namespace: ns,
            undeployed_at: now(),
        });
        Ok(code::SUCCESS)
    })
}
