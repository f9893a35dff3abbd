//! Resolve + render time of the shipped examples (issue 2: time to render the largest
//! example; issue 6: ≤ 1 ms for a typical agent) and of 1,000 agents in one process.
//! Run: `cargo bench -p astro-deploy --bench render`; CI runs each case once in test mode
//! (`cargo bench -p astro-deploy --bench render -- --test`) so it cannot rot.
//! Results and the instruction-count profile: docs/performance.md.

use std::hint::black_box;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::input::parse_document;
use astro_deploy::render::{Manifest, Templates, render};
use astro_deploy::resolve::{ResolveOptions, ResolvedDeployment, resolve};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SMALLEST: (&str, &str, &str) = (
    "weather-agent (smallest, 10 objects)",
    include_str!("../examples/deploy-request.json"),
    include_str!("../examples/catalog/astro-team/weather-agent/build-20240612-1530.yaml"),
);
const TYPICAL: (&str, &str, &str) = (
    "support-agent (typical, 17 objects)",
    include_str!("../examples/support-agent-request.yaml"),
    include_str!("../examples/catalog/astro-team/support-agent/build-20260301-1200.yaml"),
);
const LARGEST: (&str, &str, &str) = (
    "engineering-assistant (largest, 20 objects)",
    include_str!("../examples/engineering-assistant-request.yaml"),
    include_str!("../examples/catalog/astro-team/engineering-assistant/build-20260410-0800.yaml"),
);

fn inputs((name, request, record): (&str, &str, &str)) -> (DeployRequest, Build) {
    let request: DeployRequest = match parse_document("request", request) {
        Ok(r) => r,
        Err(e) => panic!("{name}: {e}"),
    };
    let build = match BuildRecord::parse(record).and_then(BuildRecord::into_build) {
        Ok(b) => b,
        Err(e) => panic!("{name}: {e}"),
    };
    (request, build)
}

fn templates() -> Templates {
    match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("embedded templates do not compile: {e}"),
    }
}

/// Resolves and renders one agent; returns what the plugin keeps (it never frees them: it
/// leaves them to process exit, `kubectl-astro/src/main.rs` `leave`).
fn resolve_render(
    request: &DeployRequest,
    build: &Build,
    options: &ResolveOptions,
    templates: &Templates,
) -> (ResolvedDeployment, Vec<Manifest>) {
    let resolved = match resolve(request, build, options) {
        Ok(r) => r,
        Err(e) => panic!("{}: {e}", request.name),
    };
    match render(&resolved, templates) {
        Ok(m) => (resolved, m),
        Err(e) => panic!("{}: {e}", request.name),
    }
}

fn examples(c: &mut Criterion) {
    let templates = templates();
    let options = ResolveOptions::default();
    for case in [SMALLEST, TYPICAL, LARGEST] {
        let (request, build) = inputs(case);
        // The result is dropped outside the timing, as the plugin never drops it.
        c.bench_function(&format!("resolve+render {}", case.0), |b| {
            b.iter_with_large_drop(|| {
                resolve_render(black_box(&request), black_box(&build), &options, &templates)
            })
        });
    }
    // The same with freeing the result timed too: what a process that renders many agents
    // pays per agent.
    let (request, build) = inputs(TYPICAL);
    c.bench_function(&format!("resolve+render+drop {}", TYPICAL.0), |b| {
        b.iter(|| resolve_render(black_box(&request), black_box(&build), &options, &templates))
    });
    c.bench_function("compile embedded templates", |b| {
        b.iter(|| black_box(Templates::embedded().is_ok()))
    });
}

/// 1,000 typical agents, each under its own account (so namespace, labels and hosts differ),
/// rendered one after another with one template set, as a CI job deploying many agents would.
fn thousand_agents(c: &mut Criterion) {
    const AGENTS: usize = 1000;
    let templates = templates();
    let options = ResolveOptions::default();
    let (request, build) = inputs(TYPICAL);
    let agents: Vec<(DeployRequest, Build)> = (0..AGENTS)
        .map(|i| {
            let mut request = request.clone();
            let mut build = build.clone();
            request.account = format!("team-{i:04}");
            build.record.account = request.account.clone();
            (request, build)
        })
        .collect();
    let mut group = c.benchmark_group("many agents");
    group.sample_size(10);
    group.throughput(Throughput::Elements(AGENTS as u64));
    group.bench_function("resolve+render 1000 typical agents", |b| {
        b.iter(|| {
            agents
                .iter()
                .map(|(r, b)| {
                    resolve_render(black_box(r), black_box(b), &options, &templates)
                        .1
                        .len()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, examples, thousand_agents);
criterion_main!(benches);
