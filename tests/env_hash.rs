//! Every pod that reads a Secret or ConfigMap of the deployment carries an
//! `astro.dev/env-hash` annotation over what it reads, so changing a credential rolls exactly
//! the pods that use it.

use std::collections::BTreeMap;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::BuildRecord;
use astro_deploy::render::{Manifest, Templates, render};
use astro_deploy::resolve::{ResolveOptions, resolve};
use serde_json::{Value, json};

fn render_with(hf_token: &str, redis_password: &str) -> Vec<Manifest> {
    let record = BuildRecord {
        account: "ml".into(),
        name: "hash-agent".into(),
        build_id: "build-1".into(),
        image: "registry.example.test/ml/hash-agent:build-1".into(),
        registry: "registry.example.test/ml".into(),
        registered_at: "2026-01-01T00:00:00Z".into(),
        version: None,
        published_at: None,
        spec: json!({
            "spec": "blueprint/v1",
            "name": "hash-agent",
            "agent": { "image": "registry.example.test/ml/hash-agent:1" },
            "models": {
                "primary": { "provider": "anthropic" },
                "vllm": {
                    "container": { "image": "vllm/vllm-openai:v0.6.0", "port": 8000 },
                    "inputs": [{ "name": "HF_TOKEN", "datatype": "string", "secret": true }],
                },
            },
            "knowledge": {
                "cache": { "provider": "redis" },
                "plain": { "container": { "image": "registry.example.test/plain:1" } },
            },
        }),
    };
    let build = record.into_build().expect("valid build");
    let request = DeployRequest {
        account: "ml".into(),
        name: "hash-agent".into(),
        user_credentials: BTreeMap::from([
            (
                "ANTHROPIC_API_KEY".to_string(),
                "fake-anthropic".to_string(),
            ),
            ("HF_TOKEN".to_string(), hf_token.to_string()),
        ]),
        ..Default::default()
    };
    let options = ResolveOptions {
        store_passwords: BTreeMap::from([("cache".to_string(), redis_password.to_string())]),
        ..Default::default()
    };
    let resolved = resolve(&request, &build, &options).expect("resolves");
    render(&resolved, &Templates::embedded().expect("templates")).expect("renders")
}

fn pod_hashes(manifests: &[Manifest]) -> BTreeMap<String, Option<String>> {
    manifests
        .iter()
        .filter(|m| matches!(m.kind.as_str(), "Deployment" | "StatefulSet"))
        .map(|m| {
            let hash = m
                .object
                .pointer("/spec/template/metadata/annotations/astro.dev~1env-hash")
                .and_then(Value::as_str)
                .map(String::from);
            (m.name.clone(), hash)
        })
        .collect()
}

#[test]
fn pods_reading_secrets_carry_an_env_hash() {
    let hashes = pod_hashes(&render_with("fake-hf-1", "fake-redis-1"));
    assert!(hashes["hash-agent-agent"].is_some());
    assert!(hashes["hash-agent-model-vllm"].is_some(), "{hashes:?}");
    assert!(hashes["hash-agent-knowledge-cache"].is_some(), "{hashes:?}");
    // A pod that reads nothing from the deployment's Secrets/ConfigMaps has no hash.
    assert_eq!(hashes["hash-agent-knowledge-plain"], None);
}

#[test]
fn a_changed_credential_rolls_the_pods_that_read_it() {
    let before = pod_hashes(&render_with("fake-hf-1", "fake-redis-1"));
    let hf = pod_hashes(&render_with("fake-hf-2", "fake-redis-1"));
    assert_ne!(before["hash-agent-model-vllm"], hf["hash-agent-model-vllm"]);
    assert_eq!(
        before["hash-agent-knowledge-cache"],
        hf["hash-agent-knowledge-cache"]
    );
    let redis = pod_hashes(&render_with("fake-hf-1", "fake-redis-2"));
    assert_ne!(
        before["hash-agent-knowledge-cache"],
        redis["hash-agent-knowledge-cache"]
    );
    assert_eq!(
        before["hash-agent-model-vllm"],
        redis["hash-agent-model-vllm"]
    );
    // Same input, same bytes.
    assert_eq!(
        before,
        pod_hashes(&render_with("fake-hf-1", "fake-redis-1"))
    );
}
