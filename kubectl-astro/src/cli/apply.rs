//! What `deploy` and `rollback` share once they have a plan: the diff on stderr when asked,
//! the engine's deploy with the apply flags, the DeployResponse on stdout and its exit code;
//! and stopping between stages at a signal.

use astro_deploy::resolve::ResolvedDeployment;
use kubectl_astro::{Cluster, DeployOptions, DiffOptions, Interrupt, Plan};

use super::args::{ApplyArgs, ColorChoice, lock_options};
use super::exit::{self, Failure};
use super::output::{err_line, err_text, stderr_is_terminal};
use super::{colour, print_json, signals};

/// Deploys `plan` as `args` say (stopping when `interrupt` is triggered), prints the
/// DeployResponse and returns the exit code.
pub async fn deploy(
    cluster: &Cluster,
    plan: &Plan,
    args: &ApplyArgs,
    interrupt: Interrupt,
) -> Result<i32, Failure> {
    warn(&plan.resolved);
    if args.diff {
        let options = DiffOptions::default().concurrency(args.concurrency);
        let diffs = kubectl_astro::diff(cluster, plan, &options).await?;
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
    let deployed = kubectl_astro::deploy(cluster, plan, &options).await?;
    print_json(&deployed.response)?;
    Ok(exit::of_deploy(&deployed))
}

/// An [`Interrupt`] triggered by the first SIGINT or SIGTERM: the deploy lets the requests in
/// flight finish, sends nothing new, prunes nothing, records the inventory and prints the
/// partial DeployResponse (exit 130). A second signal abandons the requests in flight and
/// exits 130 at once; the next deploy converges (the inventory already names every object it
/// may have created).
pub fn on_signal() -> Interrupt {
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
pub fn warn(resolved: &ResolvedDeployment) {
    for w in &resolved.warnings {
        err_line(format_args!("warning: spec: {w}"));
    }
}
