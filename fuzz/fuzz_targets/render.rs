//! Any bytes as a DeployRequest for the shipped engineering-assistant build: resolve + render
//! never panic; a resolved deployment always renders; the redacted output holds no credential
//! value; every object is in the deployment's namespace.
#![no_main]

use std::sync::OnceLock;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::input::parse_document;
use astro_deploy::render::{Templates, render, to_yaml};
use astro_deploy::resolve::{Kind, ResolveOptions, resolve};
use libfuzzer_sys::fuzz_target;

const RECORD: &str =
    include_str!("../../examples/catalog/astro-team/engineering-assistant/build-20260410-0800.yaml");

fn fixtures() -> &'static (Build, Templates) {
    static F: OnceLock<(Build, Templates)> = OnceLock::new();
    F.get_or_init(|| {
        let build = BuildRecord::parse(RECORD)
            .and_then(BuildRecord::into_build)
            .expect("shipped record");
        (build, Templates::embedded().expect("embedded templates"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = parse_document::<DeployRequest>("request", text) else {
        return;
    };
    let (build, templates) = fixtures();
    let Ok(resolved) = resolve(&req, build, &ResolveOptions::default()) else {
        return;
    };
    let manifests = render(&resolved, templates).expect("a resolved deployment renders");
    for m in &manifests {
        if m.kind != Kind::Namespace {
            assert_eq!(m.namespace, resolved.namespace);
        }
    }
    let yaml = to_yaml(&manifests, false).expect("yaml");
    for v in req.user_credentials.values().filter(|v| v.len() >= 12) {
        assert!(!yaml.contains(v.as_str()), "credential printed");
    }
});
