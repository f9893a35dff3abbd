//! Hostile values: every string the user controls that reaches a rendered object (credential
//! values, input defaults, container `environment` values, container images, the Slack
//! adapter config) holds text that would break a naive YAML template. The objects must come
//! out exactly as with benign values — same kinds, same names, same count — and every hostile
//! value must appear unchanged where it belongs, in the objects and after printing them as
//! YAML or JSON (with `--show-secrets` semantics) and reading them back.

use std::collections::BTreeMap;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::BuildRecord;
use astro_deploy::render::{Manifest, Templates, render, to_json, to_yaml};
use astro_deploy::resolve::{ResolveOptions, resolve};
use base64::Engine;
use serde_json::{Value, json};

/// Strings that are syntax somewhere: YAML, JSON, minijinja, shells, terminals.
const HOSTILE: &[&str] = &[
    "double \" and single ' quotes",
    "line one\nline two\n",
    "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: injected\n",
    "{{ 7*7 }}",
    "{% raw %}{{ ns }}{% endraw %}",
    "{# comment #}",
    "key: value",
    "# not a comment",
    "&anchor value",
    "*alias",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system [\"id\"]",
    "ünïcödé ✓ 🚀 \u{202e}rtl",
    "back\\slash \\n \\\\ \\u0000",
    "",
    "  leading and trailing  ",
    "null",
    "true",
    "0x1F",
    "1e3",
    "~",
    "- item",
    "[a, b]",
    "{a: b}",
    "%TAG ! tag:example.com,2000:",
    "@at `tick` | pipe > gt",
    "tab\there\r\nwindows",
    "'}}\"}]}",
    "nul \u{0} byte and \u{1b}[31m ansi \u{7f}",
    "\u{feff}bom and \u{2028} line separator \u{85} nel",
];

/// Image references: no whitespace allowed, everything else is hostile.
const HOSTILE_IMAGES: &[&str] = &[
    "registry.example.test/a:{{7*7}}",
    "registry.example.test/b:\"quoted'",
    "registry.example.test/c:&anchor*alias!!binary#x",
    "registry.example.test/d:ünï{%raw%}\\",
];

fn hostile(i: usize) -> String {
    HOSTILE[i % HOSTILE.len()].to_string()
}

/// The value for slot `i`: hostile text, or a plain word.
fn value(hostile_mode: bool, i: usize) -> String {
    if hostile_mode {
        hostile(i)
    } else {
        format!("benign-{i}")
    }
}

fn image(hostile_mode: bool, i: usize) -> String {
    if hostile_mode {
        HOSTILE_IMAGES[i % HOSTILE_IMAGES.len()].to_string()
    } else {
        format!("registry.example.test/benign-{i}:1.0.0")
    }
}

/// Marks a secret value so the redacted output can be searched for it.
fn secret(hostile_mode: bool, i: usize) -> String {
    format!("s3cr3t-{i}-{}", value(hostile_mode, i))
}

const N: usize = HOSTILE.len();

/// Everything the test put in, to find it again.
struct Inputs {
    request: DeployRequest,
    record: BuildRecord,
    agent_defaults: BTreeMap<String, String>,
    top_defaults: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    ingestion_env: BTreeMap<String, String>,
    knowledge_env: BTreeMap<String, String>,
    model_defaults: BTreeMap<String, String>,
    images: BTreeMap<&'static str, String>,
    slack_config: Value,
}

fn inputs(hostile_mode: bool) -> Inputs {
    let agent_defaults: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("AGENT_INPUT_{i}"), value(hostile_mode, i)))
        .collect();
    let top_defaults: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("TOP_INPUT_{i}"), value(hostile_mode, i + 1)))
        .collect();
    let secrets: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("SECRET_INPUT_{i}"), secret(hostile_mode, i)))
        .collect();
    let ingestion_env: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("INGEST_ENV_{i}"), value(hostile_mode, i + 2)))
        .collect();
    let knowledge_env: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("STORE_ENV_{i}"), value(hostile_mode, i + 3)))
        .collect();
    let model_defaults: BTreeMap<String, String> = (0..N)
        .map(|i| (format!("MODEL_INPUT_{i}"), value(hostile_mode, i + 4)))
        .collect();
    let images: BTreeMap<&'static str, String> = [
        ("agent", image(hostile_mode, 0)),
        ("ingestion", image(hostile_mode, 1)),
        ("knowledge", image(hostile_mode, 2)),
        ("model", image(hostile_mode, 3)),
    ]
    .into();
    let slack_config = json!({
        "actionable_reactions": (0..N).map(|i| value(hostile_mode, i)).collect::<Vec<_>>(),
        "allowed_channel_ids": [value(hostile_mode, 3), value(hostile_mode, 2)],
        "socket_mode": true,
        "custom_passthrough": { "nested": value(hostile_mode, 1) },
    });

    let agent_inputs: Vec<Value> = agent_defaults
        .iter()
        .map(|(k, v)| json!({"name": k, "datatype": "string", "default": v}))
        .chain(
            secrets
                .keys()
                .map(|k| json!({"name": k, "datatype": "string", "secret": true})),
        )
        .collect();
    let top_inputs: serde_json::Map<String, Value> = top_defaults
        .iter()
        .map(|(k, v)| {
            (
                k.to_lowercase(),
                json!({"name": k, "datatype": "string", "default": v}),
            )
        })
        .collect();
    let model_inputs: Vec<Value> = model_defaults
        .iter()
        .map(|(k, v)| json!({"name": k, "datatype": "string", "default": v}))
        .collect();
    let spec = json!({
        "spec": "blueprint/v1",
        "name": "hostile-agent",
        "agent": {
            "image": images["agent"],
            "inputs": agent_inputs,
        },
        "inputs": top_inputs,
        "models": {
            "primary": { "provider": "anthropic" },
            "local": {
                "container": { "image": images["model"], "port": 8000 },
                "inputs": model_inputs,
            },
        },
        "knowledge": {
            "store": {
                "container": {
                    "image": images["knowledge"],
                    "port": 9200,
                    "volume": "/data",
                    "environment": knowledge_env,
                },
            },
        },
        "ingestion": {
            "load": {
                "container": { "image": images["ingestion"], "environment": ingestion_env },
                "trigger": { "type": "startup" },
            },
        },
        "dev": {
            "interfaces": {
                "messaging": { "adapters": ["slack", "web"], "slack": slack_config },
            },
        },
    });
    let record = BuildRecord {
        account: "acme".into(),
        name: "hostile-agent".into(),
        build_id: "build-1".into(),
        image: "registry.example.test/acme/hostile-agent:build-1".into(),
        registry: "registry.example.test/acme".into(),
        registered_at: "2026-01-01T00:00:00Z".into(),
        version: None,
        published_at: None,
        spec,
    };
    let mut user_credentials = secrets.clone();
    user_credentials.insert("ANTHROPIC_API_KEY".into(), secret(hostile_mode, 100));
    user_credentials.insert("SLACK_APP_TOKEN".into(), secret(hostile_mode, 101));
    user_credentials.insert("SLACK_BOT_TOKEN".into(), secret(hostile_mode, 102));
    let request = DeployRequest {
        account: "acme".into(),
        name: "hostile-agent".into(),
        source_account: None,
        user_credentials,
        interfaces: vec!["slack".into(), "web".into()],
        schedules: BTreeMap::new(),
    };
    Inputs {
        request,
        record,
        agent_defaults,
        top_defaults,
        secrets,
        ingestion_env,
        knowledge_env,
        model_defaults,
        images,
        slack_config,
    }
}

fn render_all(inputs: &Inputs) -> Vec<Manifest> {
    let build = inputs
        .record
        .clone()
        .into_build()
        .expect("the build record is valid");
    let resolved =
        resolve(&inputs.request, &build, &ResolveOptions::default()).expect("request resolves");
    let templates = Templates::embedded().expect("embedded templates load");
    render(&resolved, &templates).expect("manifests render")
}

fn find<'a>(manifests: &'a [Manifest], kind: &str, name: &str) -> &'a Value {
    &manifests
        .iter()
        .find(|m| m.kind.as_str() == kind && m.name == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
        .object
}

/// The env entries of the container named `container` in a pod template at `pointer`.
fn env_of(object: &Value, pointer: &str, container: &str) -> BTreeMap<String, Value> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .expect("containers")
        .iter()
        .find(|c| c["name"] == container)
        .unwrap_or_else(|| panic!("no container {container}"))
        .get("env")
        .and_then(Value::as_array)
        .map(|env| {
            env.iter()
                .map(|e| {
                    let name = e["name"].as_str().expect("env name").to_string();
                    let v = e.get("value").cloned().unwrap_or(Value::Null);
                    (name, v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decoded_secret_data(secret: &Value) -> BTreeMap<String, String> {
    secret["data"]
        .as_object()
        .expect("Secret has data")
        .iter()
        .map(|(k, v)| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().expect("base64 string"))
                .expect("valid base64");
            (
                k.clone(),
                String::from_utf8(raw).expect("secret values are UTF-8"),
            )
        })
        .collect()
}

fn shape(manifests: &[Manifest]) -> Vec<(String, String, String)> {
    manifests
        .iter()
        .map(|m| {
            (
                m.kind.as_str().to_string(),
                m.name.clone(),
                m.api_version().to_string(),
            )
        })
        .collect()
}

#[test]
fn hostile_values_render_the_same_objects_as_benign_ones() {
    let benign = render_all(&inputs(false));
    let hostile = render_all(&inputs(true));
    assert_eq!(shape(&benign), shape(&hostile));
    // Each object has the same top-level keys either way: no key was added or lost.
    for (b, h) in benign.iter().zip(&hostile) {
        let keys = |v: &Value| -> Vec<String> {
            v.as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            keys(&b.object),
            keys(&h.object),
            "{}/{}",
            b.kind.as_str(),
            b.name
        );
    }
}

#[test]
fn hostile_values_arrive_unchanged() {
    let inputs = inputs(true);
    let manifests = render_all(&inputs);

    // ConfigMap: top-level input defaults; agent input defaults are the agent container's
    // own env (Astropods spec §8.4), checked below.
    let cm = find(&manifests, "ConfigMap", "hostile-agent-build-1-config");
    for (k, v) in &inputs.top_defaults {
        assert_eq!(cm["data"][k], json!(v), "ConfigMap data {k}");
    }

    // Credentials Secret: every secret input and the cloud key, base64 of the exact bytes.
    let creds = decoded_secret_data(find(
        &manifests,
        "Secret",
        "hostile-agent-build-1-credentials",
    ));
    for (k, v) in &inputs.secrets {
        assert_eq!(creds.get(k), Some(v), "Secret data {k}");
    }
    assert_eq!(
        creds.get("ANTHROPIC_API_KEY"),
        inputs.request.user_credentials.get("ANTHROPIC_API_KEY")
    );
    let messaging = decoded_secret_data(find(
        &manifests,
        "Secret",
        "hostile-agent-build-1-messaging-credentials",
    ));
    for k in ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"] {
        assert_eq!(messaging.get(k), inputs.request.user_credentials.get(k));
    }

    // Agent pod: secret inputs by reference, the Slack config as the exact JSON given.
    let agent = find(&manifests, "Deployment", "hostile-agent-agent");
    let containers = "/spec/template/spec/containers";
    let sidecar = env_of(agent, containers, "messaging");
    let slack_config: Value = serde_json::from_str(
        sidecar["SLACK_CONFIG"]
            .as_str()
            .expect("SLACK_CONFIG is a string"),
    )
    .expect("SLACK_CONFIG is JSON");
    assert_eq!(slack_config, inputs.slack_config);
    let agent_pod = &agent["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(agent_pod["name"], "app");
    let app = env_of(agent, containers, "app");
    for (k, v) in &inputs.agent_defaults {
        assert_eq!(app.get(k), Some(&json!(v)), "agent env {k}");
        assert_eq!(
            cm["data"][k],
            Value::Null,
            "agent input {k} in the ConfigMap"
        );
    }
    for k in inputs.secrets.keys() {
        let entry = agent_pod["env"]
            .as_array()
            .expect("agent env")
            .iter()
            .find(|e| e["name"] == json!(k))
            .unwrap_or_else(|| panic!("agent env {k}"));
        assert_eq!(
            entry["valueFrom"]["secretKeyRef"]["key"],
            json!(k),
            "{k} is a reference, not a value"
        );
    }

    // Ingestion Job: container environment values, exactly; the image as given.
    let job = find(&manifests, "Job", "hostile-agent-ingestion-load");
    let env = env_of(job, containers, "ingestion");
    for (k, v) in &inputs.ingestion_env {
        assert_eq!(env.get(k), Some(&json!(v)), "Job env {k}");
    }
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(inputs.images["ingestion"])
    );

    // Container knowledge (StatefulSet): environment values and image.
    let store = find(&manifests, "StatefulSet", "hostile-agent-knowledge-store");
    let env = env_of(store, containers, "app");
    for (k, v) in &inputs.knowledge_env {
        assert_eq!(env.get(k), Some(&json!(v)), "StatefulSet env {k}");
    }
    assert_eq!(
        store["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(inputs.images["knowledge"])
    );

    // Container model (Deployment): input defaults and image.
    let model = find(&manifests, "Deployment", "hostile-agent-model-local");
    let env = env_of(model, containers, "app");
    for (k, v) in &inputs.model_defaults {
        assert_eq!(env.get(k), Some(&json!(v)), "model env {k}");
    }
    assert_eq!(
        model["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(inputs.images["model"])
    );
}

#[test]
fn printed_yaml_and_json_read_back_to_the_same_objects() {
    let manifests = render_all(&inputs(true));
    let objects: Vec<Value> = manifests.iter().map(|m| m.object.clone()).collect();

    let yaml = to_yaml(&manifests, true).expect("YAML prints");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("printed YAML parses");
    assert_eq!(docs.len(), objects.len(), "no document was added or lost");
    for (printed, object) in docs.iter().zip(&objects) {
        assert_eq!(printed, object);
    }

    let list: Value = serde_json::from_str(&to_json(&manifests, true)).expect("JSON parses");
    assert_eq!(list["items"], Value::Array(objects));
}

#[test]
fn redacted_output_shows_no_secret_value() {
    let inputs = inputs(true);
    let manifests = render_all(&inputs);
    let yaml = to_yaml(&manifests, false).expect("YAML prints");
    let json = to_json(&manifests, false);
    assert!(!yaml.contains("s3cr3t"), "a secret value leaked into YAML");
    assert!(!json.contains("s3cr3t"), "a secret value leaked into JSON");
    let encoded = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for v in inputs.request.user_credentials.values() {
        assert!(!yaml.contains(&encoded(v)), "a base64 secret leaked");
    }
}
