//! `kubectl astro diff`: what deploy would change. Exit 0 no changes, 1 changes, >1 error.

use std::io::IsTerminal;

use kubectl_astro::{Change, DiffOptions, Plan};

use super::args::{DiffArgs, DiffOutput};
use super::exit::Failure;
use super::{inputs, print_json, runtime};

/// Runs `diff`; returns the exit code.
pub fn run(args: &DiffArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let templates = args.render.templates()?;
    let local = inputs::local_build(&args.request, &req)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let cluster = args.cluster.connect().await?;
        let build = inputs::build_for_cluster(local, &cluster, &req).await?;
        let plan = Plan::new(&req, &build, &args.render.resolve_options(), &templates)?;
        let options = DiffOptions::default().concurrency(args.concurrency);
        let diffs = kubectl_astro::diff(&cluster, &plan, &options).await?;
        let changed: Vec<_> = diffs
            .iter()
            .filter(|d| d.change != Change::Unchanged)
            .collect();
        match args.output {
            DiffOutput::Json => print_json(&changed),
            DiffOutput::Text => {
                let colour = std::io::stdout().is_terminal();
                for d in &changed {
                    for line in d.diff.lines() {
                        println!("{}", paint(line, colour));
                    }
                    if let Some(n) = &d.note {
                        println!("# {}/{}: {n}", d.kind, d.name);
                    }
                    for c in &d.conflicts {
                        println!("# would conflict: {}/{}: {c}", d.kind, d.name);
                    }
                }
            }
        }
        Ok(if changed.is_empty() { 0 } else { 1 })
    })
}

fn paint(line: &str, colour: bool) -> String {
    if !colour {
        return line.to_string();
    }
    let code = if line.starts_with("+++") || line.starts_with("---") {
        "1"
    } else if line.starts_with('+') {
        "32"
    } else if line.starts_with('-') {
        "31"
    } else if line.starts_with("@@") {
        "36"
    } else {
        return line.to_string();
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}
