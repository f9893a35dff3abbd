//! `kubectl astro trigger`: the engine's trigger, and `{status, job_name, namespace}`.

use kubectl_astro::TriggerOptions;

use super::args::TriggerArgs;
use super::exit::{Failure, code};
use super::{print_json, runtime};

/// Runs `trigger`; returns the exit code.
pub fn run(args: &TriggerArgs) -> Result<i32, Failure> {
    let options = TriggerOptions::default()
        .namespace(args.namespace.clone())
        .wait(args.wait.then_some(args.timeout));
    runtime()?.block_on(async {
        let cluster = args.cluster.connect().await?;
        let response = kubectl_astro::trigger(
            &cluster,
            &args.account,
            &args.name,
            &args.ingestion,
            &options,
        )
        .await?;
        print_json(&response)?;
        Ok(code::SUCCESS)
    })
}
