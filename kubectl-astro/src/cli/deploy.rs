//! `kubectl astro deploy`: render, then (without --dry-run) the engine's deploy, and the
//! DeployResponse.

use astro_deploy::render::{render, to_json, to_yaml};
use astro_deploy::resolve::resolve;
use kubectl_astro::Plan;

use super::args::{DeployArgs, Output};
use super::exit::{Failure, code};
use super::output::out;
use super::{apply, inputs, runtime};

/// Runs `deploy`; returns the exit code.
pub fn run(args: &DeployArgs) -> Result<i32, Failure> {
    args.validate()?;
    let req = inputs::request(&args.request)?;
    let templates = args.render.templates()?;
    if args.dry_run {
        let build = inputs::build(&args.request, &req)?;
        let resolved = resolve(&req, &build, &args.render.offline_options())?;
        apply::warn(&resolved);
        let manifests = render(&resolved, &templates)?;
        let text = match args.output {
            Output::Yaml => to_yaml(&manifests, args.show_secrets)?,
            Output::Json => to_json(&manifests, args.show_secrets) + "\n",
        };
        out(&text)?;
        return Ok(code::SUCCESS);
    }
    let local = inputs::local_build(&args.request, &req)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let interrupt = apply::on_signal();
        let cluster = args.cluster.connect().await?;
        let build_id = args.request.build_id.as_deref();
        // Both reads at once; a bad settings ConfigMap is reported first, whatever the
        // catalog answered.
        let (build, options) = tokio::join!(
            inputs::build_for_cluster(local, &cluster, &req, build_id),
            args.render.cluster_options(&cluster),
        );
        let (options, build) = (options?, build?);
        let plan = Plan::new(&req, &build, &options, &templates)?;
        apply::deploy(&cluster, &plan, &args.apply, interrupt).await
    })
}
