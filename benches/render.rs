//! Resolve + render time of the shipped examples (issue 2: time to render the largest
//! example; issue 6: ≤ 1 ms for a typical agent). Run: `cargo bench -p astro-deploy`;
//! CI runs it once per case in test mode (`cargo bench -- --test`) so it cannot rot.

use std::hint::black_box;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::BuildRecord;
use astro_deploy::input::parse_document;
use astro_deploy::render::{Templates, render};
use astro_deploy::resolve::{ResolveOptions, resolve};
use criterion::{Criterion, criterion_group, criterion_main};

const CASES: &[(&str, &str, &str)] = &[
    (
        "weather-agent (smallest, 10 objects)",
        include_str!("../examples/deploy-request.json"),
        include_str!("../examples/catalog/astro-team/weather-agent/build-20240612-1530.yaml"),
    ),
    (
        "engineering-assistant (largest, 20 objects)",
        include_str!("../examples/engineering-assistant-request.yaml"),
        include_str!(
            "../examples/catalog/astro-team/engineering-assistant/build-20260410-0800.yaml"
        ),
    ),
];

fn bench(c: &mut Criterion) {
    let templates = match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("embedded templates do not compile: {e}"),
    };
    let options = ResolveOptions::default();
    for (name, request, record) in CASES {
        let request: DeployRequest = match parse_document("request", request) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        let build = match BuildRecord::parse(record).and_then(BuildRecord::into_build) {
            Ok(b) => b,
            Err(e) => panic!("{name}: {e}"),
        };
        c.bench_function(&format!("resolve+render {name}"), |b| {
            b.iter(|| {
                let resolved = resolve(black_box(&request), black_box(&build), &options);
                let manifests = resolved.and_then(|r| render(&r, &templates));
                black_box(manifests.map(|m| m.len()).unwrap_or(0))
            })
        });
    }
    c.bench_function("compile embedded templates", |b| {
        b.iter(|| black_box(Templates::embedded().is_ok()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
