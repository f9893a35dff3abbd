//! `kubectl astro undeploy`: the engine's undeploy, and the UndeployResponse.

use kubectl_astro::UndeployOptions;

use super::args::{UndeployArgs, lock_options};
use super::exit::{Failure, code};
use super::{print_json, runtime};

/// Runs `undeploy`; returns the exit code.
pub fn run(args: &UndeployArgs) -> Result<i32, Failure> {
    let options = UndeployOptions::default()
        .namespace(args.deployment.namespace.clone())
        .wait(args.wait.then_some(args.timeout))
        .lock(lock_options(args.lock_wait, args.lease_duration));
    runtime()?.block_on(async {
        let cluster = args.deployment.cluster.connect().await?;
        let response = kubectl_astro::undeploy(
            &cluster,
            &args.deployment.account,
            &args.deployment.name,
            &options,
        )
        .await?;
        print_json(&response)?;
        Ok(code::SUCCESS)
    })
}
