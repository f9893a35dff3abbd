//! Resolve + render of one example N times, for instruction-count profiles:
//!
//! ```text
//! cargo build --release -p astro-bench --bin astro-render-profile
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*resolve_render*' \
//!     target/release/astro-render-profile typical 20
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//! ```
//!
//! Cases: `smallest`, `typical`, `largest`. Template compilation and input parsing happen
//! once, outside the collected function, as in a process that renders many agents.

use std::hint::black_box;

use anyhow::{Context, Result, bail};
use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::input::parse_document;
use astro_deploy::render::{Templates, render};
use astro_deploy::resolve::{ResolveOptions, resolve};

const CASES: &[(&str, &str, &str)] = &[
    (
        "smallest",
        include_str!("../../examples/deploy-request.json"),
        include_str!("../../examples/catalog/astro-team/weather-agent/build-20240612-1530.yaml"),
    ),
    (
        "typical",
        include_str!("../../examples/support-agent-request.yaml"),
        include_str!("../../examples/catalog/astro-team/support-agent/build-20260301-1200.yaml"),
    ),
    (
        "largest",
        include_str!("../../examples/engineering-assistant-request.yaml"),
        include_str!(
            "../../examples/catalog/astro-team/engineering-assistant/build-20260410-0800.yaml"
        ),
    ),
];

/// The measured unit: one resolve + render.
#[inline(never)]
fn resolve_render(
    request: &DeployRequest,
    build: &Build,
    options: &ResolveOptions,
    templates: &Templates,
) -> Result<usize> {
    let resolved = resolve(request, build, options)?;
    Ok(render(&resolved, templates)?.len())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "typical".into());
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let Some((_, request, record)) = CASES.iter().find(|c| c.0 == case) else {
        bail!("unknown case {case}: smallest, typical or largest");
    };
    let request: DeployRequest = parse_document("request", request)?;
    let build = BuildRecord::parse(record)?.into_build()?;
    let templates = Templates::embedded()?;
    let options = ResolveOptions::default();
    let mut objects = 0;
    for _ in 0..n {
        objects = resolve_render(black_box(&request), black_box(&build), &options, &templates)
            .context("resolve+render")?;
    }
    println!("{case}: {objects} objects × {n}");
    Ok(())
}
