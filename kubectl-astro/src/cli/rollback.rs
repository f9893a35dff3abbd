//! `kubectl astro rollback`: the previous (or a named) build of the deployment history,
//! deployed again with the recorded request and deploy's apply, and the DeployResponse.
//!
//! A record holds no credential values, so neither can a rollback: they are given again, by
//! `-f FILE` (the request's `user_credentials`) or `--credential`, as to deploy. The
//! credentials already in the cluster's Secrets are not read back: kubectl-astro never reads
//! a credential value out of the cluster, and the build rolled back to may need others.

use std::collections::BTreeMap;

use kubectl_astro::{HistoryOptions, Plan, history};

use super::args::RollbackArgs;
use super::exit::Failure;
use super::output::err_line;
use super::{apply, inputs, runtime};

/// Runs `rollback`; returns the exit code.
pub fn run(args: &RollbackArgs) -> Result<i32, Failure> {
    let (account, name, credentials) = agent_and_credentials(args)?;
    let templates = args.render.templates()?;
    runtime()?.block_on(async {
        let interrupt = apply::on_signal();
        let cluster = args.cluster.connect().await?;
        let options = HistoryOptions::default().namespace(args.render.namespace.clone());
        let history = kubectl_astro::history(&cluster, &account, &name, &options).await?;
        for p in &history.problems {
            err_line(format_args!("warning: deployment history: {p}"));
        }
        let target = history::rollback_target(&history, &account, &name, args.to.as_deref())?;
        err_line(format_args!(
            "rolling back {account}/{name} to build {} (record {}, deployed at {})",
            target.build_id, target.id, target.deployed_at
        ));
        for key in &target.request.credential_keys {
            if !credentials.contains_key(key) {
                err_line(format_args!(
                    "warning: credential {key} was given to the recorded deploy, not to this rollback"
                ));
            }
        }
        let request = target.request.with_credentials(credentials);
        let build = target.checked_build()?;
        let options = args.render.cluster_options(&cluster).await?;
        let plan = Plan::new(&request, &build, &options, &templates)?;
        apply::deploy(&cluster, &plan, &args.apply, interrupt).await
    })
}

/// The account, the agent and the credentials, from the flags and `-f FILE` (flags win);
/// a file naming another agent than the flags is an error.
fn agent_and_credentials(
    args: &RollbackArgs,
) -> Result<(String, String, BTreeMap<String, String>), Failure> {
    let file = args
        .filename
        .as_deref()
        .map(inputs::request_file)
        .transpose()?;
    let pick = |flag: &Option<String>, field: &str, from_file: Option<&str>| match (flag, from_file)
    {
        (Some(f), Some(v)) if f != v => Err(Failure::invalid(format!(
            "request: {field}: the file names '{v}', --{field} '{f}'"
        ))),
        (Some(f), _) => Ok(f.clone()),
        (None, Some(v)) => Ok(v.to_string()),
        (None, None) => Err(Failure::invalid(format!(
            "request: {field}: required field is missing (give --{field} or -f FILE)"
        ))),
    };
    let account = pick(
        &args.account,
        "account",
        file.as_ref().map(|r| r.account.as_str()),
    )?;
    let name = pick(&args.name, "name", file.as_ref().map(|r| r.name.as_str()))?;
    inputs::check_agent(&account, &name)?;
    let mut credentials = file.map(|r| r.user_credentials).unwrap_or_default();
    credentials.extend(inputs::credentials(&args.credentials)?);
    Ok((account, name, credentials))
}
