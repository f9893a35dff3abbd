//! `kubectl astro diff`: what deploy would change. Exit 0 no changes, 1 changes, >1 error.

use std::io::IsTerminal;

use astro_deploy::render::Templates;

use crate::cli::{DiffArgs, DiffOutput};
use crate::cluster::diff::{Change, diff};
use crate::commands::deploy::{cluster, cluster_build, resolve_for_cluster};
use crate::exit::Failure;
use crate::inputs;

/// Runs `diff`; returns the exit code.
pub fn run(args: &DiffArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let templates = Templates::with_overrides(inputs::template_overrides(
        args.render.templates.as_deref(),
    )?)?;
    let local = inputs::local_build(&args.request, &req)?;
    let runtime = crate::runtime()?;
    let code = runtime.block_on(async {
        let cluster = cluster(&args.cluster).await?;
        let build = match local {
            Some(b) => b,
            None => cluster_build(&cluster, &req).await?,
        };
        let (resolved, manifests) = resolve_for_cluster(&req, &build, &args.render, &templates)?;
        let diffs = diff(&cluster, &resolved, &manifests, args.concurrency).await?;
        let changed: Vec<_> = diffs
            .iter()
            .filter(|d| d.change != Change::Unchanged)
            .collect();
        match args.output {
            DiffOutput::Json => crate::print_json(&changed),
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
        let code = if changed.is_empty() { 0 } else { 1 };
        crate::leave((diffs, manifests, resolved, build, cluster));
        Ok(code)
    });
    crate::leave((runtime, templates, req));
    code
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
