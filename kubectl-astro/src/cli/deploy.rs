//! `kubectl astro deploy`: render, then (without --dry-run) the engine's deploy, and the
//! DeployResponse.

use astro_deploy::render::{render, to_json, to_yaml};
use astro_deploy::resolve::{ResolvedDeployment, resolve};
use kubectl_astro::{DeployOptions, DiffOptions, Interrupt, Plan};

use super::args::{ColorChoice, DeployArgs, Output, lock_options};
use super::exit::{self, Failure, code};
use super::output::{err_line, err_text, out, stderr_is_terminal};
use super::{colour, inputs, print_json, runtime, signals};

/// Runs `deploy`; returns the exit code.
pub fn run(args: &DeployArgs) -> Result<i32, Failure> {
    args.validate()?;
    let req = inputs::request(&args.request)?;
    let templates = args.render.templates()?;
    if args.dry_run {
        let build = inputs::build(&args.request, &req)?;
        let resolved = resolve(&req, &build, &args.render.resolve_options())?;
        warn(&resolved);
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
        let interrupt = on_signal();
        let cluster = args.cluster.connect().await?;
        let build = inputs::build_for_cluster(local, &cluster, &req).await?;
        let plan = Plan::new(&req, &build, &args.render.resolve_options(), &templates)?;
        warn(&plan.resolved);
        if args.diff {
            let options = DiffOptions::default().concurrency(args.concurrency);
            let diffs = kubectl_astro::diff(&cluster, &plan, &options).await?;
            // Coloured as `diff --color auto` colours, by whether stderr is a terminal.
            let paint = colour::wanted(ColorChoice::Auto, stderr_is_terminal());
            for d in diffs.iter().filter(|d| !d.diff.is_empty()) {
                err_text(&colour::painted(&d.diff, paint));
            }
        }
        let options = DeployOptions::default()
            .force_conflicts(args.force_conflicts)
            .prune(args.prune)
            .max_prune(args.max_prune)
            .concurrency(args.concurrency)
            .wait(args.wait.then_some(args.timeout))
            .interrupt(interrupt)
            .lock(lock_options(args.lock_wait, args.lease_duration));
        let deployed = kubectl_astro::deploy(&cluster, &plan, &options).await?;
        print_json(&deployed.response)?;
        Ok(exit::of_deploy(&deployed))
    })
}

/// An [`Interrupt`] triggered by the first SIGINT or SIGTERM: the deploy lets the requests in
/// flight finish, sends nothing new, prunes nothing, records the inventory and prints the
/// partial DeployResponse (exit 130). A second signal abandons the requests in flight and
/// exits 130 at once; the next deploy converges (the inventory already names every object it
/// may have created).
fn on_signal() -> Interrupt {
    let interrupt = Interrupt::new();
    let set = interrupt.clone();
    tokio::spawn(async move {
        if !signals::next().await {
            return;
        }
        set.trigger();
        err_line(
            "interrupted: finishing the requests in flight, sending no more; interrupt again to abandon them",
        );
        if signals::next().await {
            let abandoned = kubectl_astro::Error::Interrupted(
                "abandoned the requests in flight; deploy again to converge".into(),
            );
            let failure = Failure::from(abandoned);
            let _ = print_json(&failure.body);
            std::process::exit(failure.code);
        }
    });
    interrupt
}

/// Prints the spec's warnings on stderr.
fn warn(resolved: &ResolvedDeployment) {
    for w in &resolved.warnings {
        err_line(format_args!("warning: spec: {w}"));
    }
}
