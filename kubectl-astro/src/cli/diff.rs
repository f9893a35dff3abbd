//! `kubectl astro diff`: what deploy would change. Exit 0 no changes, 1 changes, >1 error.

use kubectl_astro::{Change, DiffOptions, ObjectDiff, Plan};

use super::args::{DiffArgs, DiffOutput};
use super::exit::Failure;
use super::output::{out, stdout_is_terminal};
use super::{colour, inputs, print_json, runtime};

/// Runs `diff`; returns the exit code.
pub fn run(args: &DiffArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let templates = args.render.templates()?;
    let local = inputs::local_build(&args.request, &req)?;
    let colour = colour::wanted(args.color, stdout_is_terminal());
    let runtime = runtime()?;
    runtime.block_on(async {
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
        let options = DiffOptions::default().concurrency(args.concurrency);
        let diffs = kubectl_astro::diff(&cluster, &plan, &options).await?;
        let changed: Vec<_> = diffs
            .iter()
            .filter(|d| d.change != Change::Unchanged)
            .collect();
        match args.output {
            DiffOutput::Json => print_json(&changed)?,
            DiffOutput::Text => out(&text(&changed, colour))?,
        }
        Ok(if changed.is_empty() { 0 } else { 1 })
    })
}

/// The text output: each changed object's unified diff, then its note and would-be conflicts
/// as `#` lines.
fn text(changed: &[&ObjectDiff], colour: bool) -> String {
    let mut text = String::new();
    for d in changed {
        text.push_str(&colour::painted(&d.diff, colour));
        if let Some(n) = &d.note {
            text.push_str(&format!("# {}/{}: {n}\n", d.kind, d.name));
        }
        for c in &d.conflicts {
            text.push_str(&format!("# would conflict: {}/{}: {c}\n", d.kind, d.name));
        }
    }
    text
}
