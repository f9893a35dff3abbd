//! Bad input: every case runs the real binary and checks the exit code (3 invalid input,
//! 5 build not found), that the `{"error", "details"}` JSON on stdout names the offending
//! field, and that nothing panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const INVALID: i32 = 3;
const NOT_FOUND: i32 = 5;

/// What one run of the binary produced.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A fresh directory for one case.
fn case_dir(case: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bad_input")
        .join(case);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("case directory can be created");
    dir
}

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-astro"));
    // Exact stderr is asserted: a developer's RUST_LOG must not add log lines to it.
    cmd.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("kubectl-astro runs");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        run.describe()
    );
    run
}

/// `deploy --dry-run` with raw request and build texts written to files.
fn deploy_raw(case: &str, request: &[u8], build: &[u8], extra: &[&str]) -> Run {
    let dir = case_dir(case);
    std::fs::write(dir.join("request.yaml"), request).expect("request is written");
    std::fs::write(dir.join("build.yaml"), build).expect("build is written");
    let mut args = vec![
        "deploy",
        "--dry-run",
        "-f",
        "request.yaml",
        "--build",
        "build.yaml",
    ];
    args.extend_from_slice(extra);
    run_in(&dir, &args, &[])
}

/// `deploy --dry-run` with a request and a build record given as JSON values.
fn deploy(case: &str, request: &Value, build: &Value, extra: &[&str]) -> Run {
    deploy_raw(
        case,
        request.to_string().as_bytes(),
        build.to_string().as_bytes(),
        extra,
    )
}

/// A valid spec: an image agent (messaging by default) with one cloud model.
fn spec() -> Value {
    json!({
        "spec": "package/v1",
        "name": "bot",
        "agent": { "image": "registry.example.test/acme/bot:1.0.0" },
        "models": { "primary": { "provider": "anthropic" } }
    })
}

/// A valid build record around `spec`.
fn record(spec: Value) -> Value {
    json!({
        "account": "acme",
        "name": "bot",
        "build_id": "build-1",
        "image": "registry.example.test/acme/bot:build-1",
        "registry": "registry.example.test/acme",
        "registered_at": "2026-01-01T00:00:00Z",
        "spec": spec
    })
}

/// A valid request for `record(spec())`.
fn request() -> Value {
    json!({
        "account": "acme",
        "name": "bot",
        "user_credentials": { "ANTHROPIC_API_KEY": "fake-key" }
    })
}

/// Sets `value` at the JSON pointer `path`, creating objects on the way.
fn set(mut doc: Value, path: &str, value: Value) -> Value {
    let mut cur = &mut doc;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (last, parents) = parts.split_last().expect("non-empty pointer");
    for p in parents {
        if !cur.get(*p).is_some_and(Value::is_object) {
            cur[*p] = json!({});
        }
        cur = cur.get_mut(*p).expect("just inserted");
    }
    cur[*last] = value;
    doc
}

fn remove(mut doc: Value, path: &str) -> Value {
    let (parent, key) = path.rsplit_once('/').expect("pointer with a parent");
    if let Some(Value::Object(map)) = doc.pointer_mut(parent) {
        map.remove(key);
    }
    doc
}

/// Checks exit code, the error JSON shape, and that `details` names every `fields` entry.
fn assert_error(run: &Run, code: i32, fields: &[&str]) {
    assert_eq!(run.code, Some(code), "wrong exit code:\n{}", run.describe());
    let body: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", run.describe()));
    let obj = body.as_object().expect("error body is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["details", "error"],
        "error body keys:\n{}",
        run.describe()
    );
    let details = body["details"].as_str().expect("details is a string");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    for f in fields {
        assert!(
            details.contains(f),
            "details does not name '{f}':\n{}",
            run.describe()
        );
    }
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert!(
        errors.len() == 1 && errors[0].starts_with("error: "),
        "stderr is not one human error line (hostile text must not break lines):\n{}",
        run.describe()
    );
}

/// Deploys `spec` (wrapped in a record) with the default request and expects an invalid-input
/// error naming `fields`.
fn bad_spec(case: &str, spec: Value, fields: &[&str]) {
    let run = deploy(case, &request(), &record(spec), &[]);
    assert_error(&run, INVALID, fields);
}

// ---------------------------------------------------------------- request documents

#[test]
fn malformed_json_request() {
    let run = deploy_raw(
        "malformed_json_request",
        br#"{"account": "acme", "name": "#,
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "invalid JSON"]);
}

#[test]
fn malformed_yaml_request() {
    let run = deploy_raw(
        "malformed_yaml_request",
        b"account: [acme\nname: bot\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "invalid YAML"]);
}

#[test]
fn request_that_is_not_a_mapping() {
    let run = deploy_raw(
        "request_not_mapping",
        b"- account\n- name\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "mapping"]);
}

#[test]
fn empty_request() {
    let run = deploy_raw(
        "empty_request",
        b"",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "empty"]);
}

#[test]
fn unknown_request_field_with_newline() {
    let req = set(request(), "/acc\nount: x\n---", json!("acme"));
    let run = deploy("unknown_request_field_newline", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["unknown field"]);
}

#[test]
fn unknown_request_field() {
    let req = set(request(), "/acount", json!("acme"));
    let run = deploy("unknown_request_field", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["acount", "unknown field"]);
}

#[test]
fn wrong_type_interfaces() {
    let req = set(request(), "/interfaces", json!("web"));
    let run = deploy("wrong_type_interfaces", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["interfaces"]);
}

#[test]
fn wrong_type_credential_value() {
    let req = set(request(), "/user_credentials/ANTHROPIC_API_KEY", json!(42));
    let run = deploy("wrong_type_credential", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["user_credentials.ANTHROPIC_API_KEY"]);
}

#[test]
fn wrong_type_schedules() {
    let req = set(request(), "/schedules", json!(["0 * * * *"]));
    let run = deploy("wrong_type_schedules", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["schedules"]);
}

#[test]
fn missing_account() {
    let req = remove(request(), "/account");
    let run = deploy("missing_account", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["account", "missing"]);
}

#[test]
fn missing_name() {
    let req = remove(request(), "/name");
    let run = deploy("missing_name", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["name", "missing"]);
}

#[test]
fn no_request_and_no_account_flag() {
    let dir = case_dir("no_request");
    std::fs::write(dir.join("build.yaml"), record(spec()).to_string()).expect("written");
    let run = run_in(
        &dir,
        &[
            "deploy",
            "--dry-run",
            "--name",
            "bot",
            "--build",
            "build.yaml",
        ],
        &[],
    );
    assert_error(&run, INVALID, &["account"]);
}

#[test]
fn schedule_flag_without_cron() {
    let run = deploy(
        "schedule_flag",
        &request(),
        &record(spec()),
        &["--schedule", "sync"],
    );
    assert_error(&run, INVALID, &["--schedule sync", "NAME=CRON"]);
}

#[test]
fn credential_flag_without_value_or_env() {
    let run = deploy(
        "credential_flag",
        &request(),
        &record(spec()),
        &["--credential", "ASTRO_TEST_SURELY_UNSET_VARIABLE"],
    );
    assert_error(
        &run,
        INVALID,
        &["--credential ASTRO_TEST_SURELY_UNSET_VARIABLE"],
    );
}

#[test]
fn bad_namespace_flag() {
    let run = deploy(
        "bad_namespace",
        &request(),
        &record(spec()),
        &["--namespace", "Bad_Namespace"],
    );
    assert_error(&run, INVALID, &["namespace"]);
}

#[test]
fn bad_ingress_domain_flag() {
    let run = deploy(
        "bad_ingress_domain",
        &request(),
        &record(spec()),
        &["--ingress-domain", "evil domain\n---"],
    );
    assert_error(&run, INVALID, &["ingress_domain"]);
}

// ---------------------------------------------------------------- build records

#[test]
fn malformed_build_record() {
    let run = deploy_raw(
        "malformed_build",
        request().to_string().as_bytes(),
        b"account: acme\nname: [bot\n",
        &[],
    );
    assert_error(&run, INVALID, &["build.yaml", "invalid YAML"]);
}

#[test]
fn unknown_build_record_field() {
    let build = set(record(spec()), "/commit", json!("abc"));
    let run = deploy("unknown_build_field", &request(), &build, &[]);
    assert_error(&run, INVALID, &["build.yaml", "commit"]);
}

#[test]
fn build_record_bad_timestamp_and_version() {
    let build = set(record(spec()), "/registered_at", json!("yesterday"));
    let build = set(build, "/version", json!("one"));
    let run = deploy("bad_build_timestamp", &request(), &build, &[]);
    assert_error(&run, INVALID, &["registered_at", "version"]);
}

#[test]
fn build_of_another_agent() {
    let mut s = spec();
    s["name"] = json!("other-bot");
    let build = set(record(s), "/name", json!("other-bot"));
    let run = deploy("build_of_other_agent", &request(), &build, &[]);
    assert_error(&run, INVALID, &["name", "other-bot"]);
}

#[test]
fn spec_name_does_not_match_record() {
    let s = set(spec(), "/name", json!("someone-else"));
    bad_spec("spec_name_mismatch", s, &["spec.name"]);
}

#[test]
fn build_not_found_in_catalog() {
    let dir = case_dir("build_not_found");
    std::fs::create_dir_all(dir.join("catalog")).expect("catalog dir");
    std::fs::write(dir.join("request.yaml"), request().to_string()).expect("written");
    let run = run_in(
        &dir,
        &[
            "deploy",
            "--dry-run",
            "-f",
            "request.yaml",
            "--catalog",
            "catalog",
        ],
        &[],
    );
    assert_error(&run, NOT_FOUND, &["bot", "acme"]);
}

#[test]
fn cross_account_without_published_build() {
    let dir = case_dir("cross_account_unpublished");
    let sub = dir.join("catalog").join("vendor").join("bot");
    std::fs::create_dir_all(&sub).expect("catalog dir");
    let build = set(record(spec()), "/account", json!("vendor"));
    std::fs::write(sub.join("build-1.yaml"), build.to_string()).expect("written");
    let req = set(request(), "/source_account", json!("vendor"));
    std::fs::write(dir.join("request.yaml"), req.to_string()).expect("written");
    let run = run_in(
        &dir,
        &[
            "deploy",
            "--dry-run",
            "-f",
            "request.yaml",
            "--catalog",
            "catalog",
        ],
        &[],
    );
    assert_error(&run, NOT_FOUND, &["published", "vendor"]);
}

// ---------------------------------------------------------------- spec rules (RFC §9)

#[test]
fn rule1_spec_id_empty() {
    bad_spec(
        "spec_id_empty",
        set(spec(), "/spec", json!("")),
        &["spec.spec"],
    );
}

#[test]
fn rule1_spec_id_unsupported() {
    bad_spec(
        "spec_id_unsupported",
        set(spec(), "/spec", json!("astro/v2")),
        &["spec.spec", "astro/v2"],
    );
}

#[test]
fn rule2_name_empty() {
    bad_spec(
        "spec_name_empty",
        set(spec(), "/name", json!("")),
        &["spec.name"],
    );
}

#[test]
fn rule2_org_part_invalid() {
    bad_spec(
        "spec_org_invalid",
        set(spec(), "/name", json!("@Bad Org!/bot")),
        &["spec.name", "org part"],
    );
}

#[test]
fn rule3_agent_image_and_build() {
    let s = set(
        spec(),
        "/agent/build",
        json!({"context": ".", "dockerfile": "Dockerfile"}),
    );
    bad_spec("agent_image_and_build", s, &["spec.agent", "not both"]);
}

#[test]
fn rule3_agent_neither_image_nor_build() {
    bad_spec(
        "agent_neither",
        remove(spec(), "/agent/image"),
        &["spec.agent", "image or build"],
    );
}

#[test]
fn rule10_build_without_context_and_dockerfile() {
    let s = set(remove(spec(), "/agent/image"), "/agent/build", json!({}));
    bad_spec(
        "build_missing_context",
        s,
        &["spec.agent.build.context", "spec.agent.build.dockerfile"],
    );
}

#[test]
fn rule10_container_build_without_dockerfile() {
    let s = set(
        spec(),
        "/models/embedder",
        json!({"container": {"build": {"context": "./embedder"}, "port": 8000}}),
    );
    bad_spec(
        "container_build_no_dockerfile",
        s,
        &["spec.models.embedder.container.build.dockerfile"],
    );
}

#[test]
fn rule4_model_both_provider_and_container() {
    let s = set(
        spec(),
        "/models/primary/container",
        json!({"image": "vllm/vllm-openai:v0.6.0"}),
    );
    bad_spec(
        "model_both",
        s,
        &[
            "spec.models.primary",
            "exactly one of provider or container",
        ],
    );
}

#[test]
fn rule5_knowledge_neither_provider_nor_container() {
    let s = set(spec(), "/knowledge/docs", json!({"inputs": []}));
    bad_spec(
        "knowledge_neither",
        s,
        &[
            "spec.knowledge.docs",
            "exactly one of provider or container",
        ],
    );
}

#[test]
fn rule6_integration_both_provider_and_container() {
    let s = set(
        spec(),
        "/integrations/github",
        json!({"provider": "github", "container": {"image": "mcp/github:1"}}),
    );
    bad_spec(
        "integration_both",
        s,
        &[
            "spec.integrations.github",
            "exactly one of provider or container",
        ],
    );
}

#[test]
fn rule7_custom_provider_without_scope_and_variables() {
    let s = set(
        spec(),
        "/providers/acme-crm",
        json!({"scope": [], "variables": []}),
    );
    bad_spec(
        "custom_provider_empty",
        s,
        &[
            "spec.providers.acme-crm.scope",
            "spec.providers.acme-crm.variables",
        ],
    );
}

#[test]
fn rule7_custom_provider_unknown_scope() {
    let s = set(
        spec(),
        "/providers/acme-crm",
        json!({"scope": ["tools"], "variables": [{"name": "API_KEY", "datatype": "string", "secret": true}]}),
    );
    bad_spec(
        "custom_provider_bad_scope",
        s,
        &["spec.providers.acme-crm.scope[0]", "tools"],
    );
}

#[test]
fn rule7_custom_provider_variable_without_name_or_datatype() {
    let s = set(
        spec(),
        "/providers/acme-crm",
        json!({"scope": ["integrations"], "variables": [{"secret": true}]}),
    );
    bad_spec(
        "custom_provider_bad_variable",
        s,
        &[
            "spec.providers.acme-crm.variables[0].name",
            "spec.providers.acme-crm.variables[0].datatype",
        ],
    );
}

#[test]
fn rule8_custom_provider_out_of_scope() {
    let s = set(
        spec(),
        "/providers/acme-crm",
        json!({"scope": ["knowledge"], "variables": [{"name": "API_KEY", "datatype": "string", "secret": true}]}),
    );
    let s = set(s, "/integrations/crm", json!({"provider": "acme-crm"}));
    bad_spec(
        "custom_provider_scope_violation",
        s,
        &[
            "spec.integrations.crm.provider",
            "not scoped to integrations",
        ],
    );
}

#[test]
fn rule9_ingestion_without_container() {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"trigger": {"type": "startup"}}),
    );
    bad_spec(
        "ingestion_no_container",
        s,
        &["spec.ingestion.sync.container"],
    );
}

#[test]
fn rule9_ingestion_without_trigger() {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"container": {"image": "sync:1"}}),
    );
    bad_spec("ingestion_no_trigger", s, &["spec.ingestion.sync.trigger"]);
}

#[test]
fn rule9_ingestion_bad_trigger_type() {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"container": {"image": "sync:1"}, "trigger": {"type": "hourly"}}),
    );
    bad_spec(
        "ingestion_bad_trigger",
        s,
        &["spec.ingestion.sync.trigger.type", "hourly"],
    );
}

#[test]
fn rule11_gpu_runtime() {
    let s = set(
        spec(),
        "/models/local",
        json!({"container": {"image": "vllm:1", "gpu": {"runtime": "metal"}}}),
    );
    bad_spec(
        "gpu_runtime",
        s,
        &["spec.models.local.container.gpu.runtime", "metal"],
    );
}

#[test]
fn rule12_models_and_model() {
    let s = set(
        spec(),
        "/models/primary",
        json!({"provider": "anthropic", "models": ["a"], "model": "b"}),
    );
    bad_spec(
        "models_and_model",
        s,
        &["spec.models.primary", "mutually exclusive"],
    );
}

#[test]
fn rule13_select_without_options() {
    let s = set(
        spec(),
        "/agent/inputs",
        json!([{"name": "REGION", "datatype": "string", "display-as": "select", "default": "eu"}]),
    );
    bad_spec(
        "select_without_options",
        s,
        &["spec.agent.inputs[0].options"],
    );
}

#[test]
fn select_default_not_an_option() {
    let s = set(
        spec(),
        "/agent/inputs",
        json!([{"name": "REGION", "datatype": "string", "display-as": "select", "options": ["us"], "default": "eu"}]),
    );
    bad_spec("select_bad_default", s, &["spec.agent.inputs[0].default"]);
}

#[test]
fn rule14_input_without_name() {
    let s = set(spec(), "/agent/inputs", json!([{"datatype": "string"}]));
    bad_spec("input_no_name", s, &["spec.agent.inputs[0].name"]);
}

#[test]
fn rule14_input_bad_datatype() {
    let s = set(
        spec(),
        "/knowledge/db",
        json!({"container": {"image": "postgres:16"}, "inputs": [{"name": "PGUSER", "datatype": "text"}]}),
    );
    bad_spec(
        "input_bad_datatype",
        s,
        &["spec.knowledge.db.inputs[0].datatype", "text"],
    );
}

#[test]
fn input_name_not_an_env_name() {
    let s = set(
        spec(),
        "/inputs/region",
        json!({"name": "MY-REGION", "datatype": "string", "optional": true}),
    );
    bad_spec("input_bad_env_name", s, &["spec.inputs.region.name"]);
}

#[test]
fn secret_input_with_default() {
    let s = set(
        spec(),
        "/agent/inputs",
        json!([{"name": "DB_PASSWORD", "datatype": "string", "secret": true, "default": "hunter2"}]),
    );
    bad_spec("secret_with_default", s, &["spec.agent.inputs[0].default"]);
}

#[test]
fn unsupported_provider() {
    let s = set(spec(), "/knowledge/docs", json!({"provider": "weaviate"}));
    bad_spec(
        "unsupported_provider",
        s,
        &[
            "spec.knowledge.docs.provider",
            "unsupported provider 'weaviate'",
        ],
    );
}

#[test]
fn builtin_provider_in_wrong_section() {
    let s = set(spec(), "/models/vectors", json!({"provider": "qdrant"}));
    bad_spec(
        "builtin_wrong_section",
        s,
        &["spec.models.vectors.provider", "qdrant"],
    );
}

#[test]
fn unknown_spec_key() {
    let s = set(spec(), "/knowlege", json!({"docs": {"provider": "qdrant"}}));
    bad_spec("unknown_spec_key", s, &["knowlege", "unknown field"]);
}

#[test]
fn wrong_type_in_spec() {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"container": {"image": "sync:1", "port": "eighty"}, "trigger": {"type": "webhook"}}),
    );
    bad_spec("spec_wrong_type", s, &["ingestion.sync.container.port"]);
}

#[test]
fn struct_given_as_positional_list() {
    // serde would read `agent: [image]` positionally into the struct; a spec is by name.
    let s = set(
        spec(),
        "/agent",
        json!(["registry.example.test/acme/bot:1.0.0"]),
    );
    bad_spec("positional_agent", s, &["spec.agent", "sequence"]);
    let s = set(spec(), "/models/primary", json!(["anthropic"]));
    bad_spec("positional_model", s, &["spec.models.primary", "sequence"]);
}

#[test]
fn container_volume_not_absolute() {
    let s = set(
        spec(),
        "/knowledge/db",
        json!({"container": {"image": "postgres:16", "volume": "data"}}),
    );
    bad_spec(
        "volume_relative",
        s,
        &["spec.knowledge.db.container.volume"],
    );
}

#[test]
fn container_environment_key_not_env_name() {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"container": {"image": "sync:1", "environment": {"BAD KEY": "x"}}, "trigger": {"type": "startup"}}),
    );
    bad_spec(
        "environment_bad_key",
        s,
        &["spec.ingestion.sync.container.environment.BAD KEY"],
    );
}

#[test]
fn healthcheck_bad_interval() {
    let s = set(
        spec(),
        "/agent/healthcheck",
        json!({"path": "/health", "interval": "often"}),
    );
    bad_spec(
        "healthcheck_interval",
        s,
        &["spec.agent.healthcheck.interval", "often"],
    );
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let s = json!({
        "spec": "",
        "name": "bot",
        "agent": {},
        "knowledge": { "docs": {} },
        "ingestion": { "sync": {} }
    });
    bad_spec(
        "all_rules_at_once",
        s,
        &[
            "spec.spec",
            "spec.agent",
            "spec.knowledge.docs",
            "spec.ingestion.sync.container",
            "spec.ingestion.sync.trigger",
        ],
    );
}

// ---------------------------------------------------------------- names

fn with_agent_name(case: &str, name: &str) -> Run {
    let s = set(spec(), "/name", json!(name));
    let build = set(record(s), "/name", json!(name));
    let req = set(request(), "/name", json!(name));
    deploy(case, &req, &build, &[])
}

#[test]
fn reserved_agent_name() {
    assert_error(
        &with_agent_name("reserved_name", "astro"),
        INVALID,
        &["name", "reserved"],
    );
}

#[test]
fn uppercase_agent_name() {
    assert_error(
        &with_agent_name("uppercase_name", "MyBot"),
        INVALID,
        &["name"],
    );
}

#[test]
fn too_long_agent_name() {
    assert_error(
        &with_agent_name("long_name", &"a".repeat(64)),
        INVALID,
        &["name"],
    );
}

#[test]
fn agent_name_with_dot_and_slash() {
    assert_error(
        &with_agent_name("dotted_name", "../etc/passwd"),
        INVALID,
        &["name"],
    );
}

#[test]
fn bad_account() {
    let req = set(request(), "/account", json!("Acme_Inc"));
    let run = deploy("bad_account", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["account"]);
}

#[test]
fn request_for_another_account() {
    let req = set(request(), "/account", json!("someone-else"));
    let run = deploy("other_account", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["account", "belongs to account 'acme'"]);
}

// ---------------------------------------------------------------- schedules

fn schedule_spec() -> Value {
    let s = set(
        spec(),
        "/ingestion/sync",
        json!({"container": {"image": "sync:1"}, "trigger": {"type": "schedule"}}),
    );
    set(
        s,
        "/ingestion/boot",
        json!({"container": {"image": "boot:1"}, "trigger": {"type": "startup"}}),
    )
}

fn with_schedules(case: &str, schedules: Value) -> Run {
    let req = set(request(), "/schedules", schedules);
    deploy(case, &req, &record(schedule_spec()), &[])
}

#[test]
fn cron_with_six_fields() {
    let run = with_schedules("cron_six_fields", json!({"sync": "0 0 * * * *"}));
    assert_error(&run, INVALID, &["schedules.sync", "5"]);
}

#[test]
fn cron_macro() {
    let run = with_schedules("cron_macro", json!({"sync": "@daily"}));
    assert_error(&run, INVALID, &["schedules.sync", "@daily"]);
}

#[test]
fn cron_out_of_range() {
    let run = with_schedules("cron_out_of_range", json!({"sync": "61 * * * *"}));
    assert_error(&run, INVALID, &["schedules.sync"]);
}

#[test]
fn cron_hostile_value() {
    let run = with_schedules(
        "cron_hostile",
        json!({"sync": "0 * * * *\n---\nkind: Secret"}),
    );
    assert_error(&run, INVALID, &["schedules.sync"]);
}

#[test]
fn schedule_for_unknown_ingestion() {
    let run = with_schedules(
        "schedule_unknown",
        json!({"sync": "0 * * * *", "nope": "0 * * * *"}),
    );
    assert_error(&run, INVALID, &["schedules.nope", "names no ingestion"]);
}

#[test]
fn schedule_for_startup_ingestion() {
    let run = with_schedules(
        "schedule_startup",
        json!({"sync": "0 * * * *", "boot": "0 * * * *"}),
    );
    assert_error(&run, INVALID, &["schedules.boot", "not schedule"]);
}

#[test]
fn missing_schedule() {
    let run = deploy(
        "missing_schedule",
        &request(),
        &record(schedule_spec()),
        &[],
    );
    assert_error(&run, INVALID, &["schedules.sync", "needs a cron"]);
}

// ---------------------------------------------------------------- interfaces

#[test]
fn unknown_interface() {
    let req = set(request(), "/interfaces", json!(["discord"]));
    let run = deploy("unknown_interface", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["interfaces[0]", "discord"]);
}

#[test]
fn duplicate_interface() {
    let req = set(request(), "/interfaces", json!(["web", "web"]));
    let run = deploy("duplicate_interface", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["interfaces[1]"]);
}

#[test]
fn interface_for_agent_without_messaging() {
    let s = set(spec(), "/agent/interfaces", json!({"frontend": true}));
    let req = set(request(), "/interfaces", json!(["web"]));
    let run = deploy("interface_no_messaging", &req, &record(s), &[]);
    assert_error(&run, INVALID, &["interfaces", "does not support messaging"]);
}

#[test]
fn hostile_interface_name() {
    let req = set(
        request(),
        "/interfaces",
        json!(["web\n---\napiVersion: v1\nkind: Secret"]),
    );
    let run = deploy("hostile_interface", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["interfaces[0]", "unknown interface"]);
}

// ---------------------------------------------------------------- credentials

#[test]
fn missing_credentials_are_all_listed() {
    let s = set(
        spec(),
        "/integrations/github",
        json!({"provider": "github"}),
    );
    let s = set(
        s,
        "/agent/inputs",
        json!([{"name": "DB_TOKEN", "datatype": "string", "secret": true}]),
    );
    let req = set(
        remove(request(), "/user_credentials"),
        "/interfaces",
        json!(["slack"]),
    );
    let run = deploy("missing_credentials", &req, &record(s), &[]);
    assert_error(
        &run,
        INVALID,
        &[
            "user_credentials.ANTHROPIC_API_KEY",
            "user_credentials.DB_TOKEN",
            "user_credentials.GITHUB_TOKEN",
            "user_credentials.SLACK_APP_TOKEN",
            "user_credentials.SLACK_BOT_TOKEN",
        ],
    );
    let body: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(body["error"], "missing credentials");
}

#[test]
fn missing_custom_provider_secret_variable() {
    let s = set(
        spec(),
        "/providers/my-jira",
        json!({"scope": ["integrations"], "variables": [{"name": "API_KEY", "datatype": "string", "secret": true}]}),
    );
    let s = set(s, "/integrations/jira", json!({"provider": "my-jira"}));
    let run = deploy("missing_custom_credential", &request(), &record(s), &[]);
    assert_error(&run, INVALID, &["MY_JIRA_API_KEY"]);
}

#[test]
fn credential_key_not_an_env_name() {
    let req = set(request(), "/user_credentials/MY-KEY", json!("x"));
    let run = deploy("credential_bad_key", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["user_credentials.MY-KEY"]);
}

#[test]
fn credential_key_with_newline() {
    let req = set(request(), "/user_credentials/A\nkind: Secret", json!("x"));
    let run = deploy("credential_newline_key", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["user_credentials.A\\nkind: Secret"]);
}

#[test]
fn credential_value_of_one_mebibyte() {
    // The value fits the document limit but not the per-credential limit.
    let req = set(
        request(),
        "/user_credentials/ANTHROPIC_API_KEY",
        json!("k".repeat(1000 * 1024)),
    );
    let run = deploy("credential_1mib", &req, &record(spec()), &[]);
    assert_error(
        &run,
        INVALID,
        &["user_credentials.ANTHROPIC_API_KEY", "limit"],
    );
    assert!(run.stdout.len() < 4096, "the value is echoed back");
}

#[test]
fn request_file_of_two_mebibytes() {
    let req = set(
        request(),
        "/user_credentials/ANTHROPIC_API_KEY",
        json!("k".repeat(2 * 1024 * 1024)),
    );
    let run = deploy("request_2mib", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["request.yaml", "limit"]);
}

// ---------------------------------------------------------------- hostile documents

#[test]
fn hostile_name_with_quotes_and_document_marker() {
    let req = set(request(), "/name", json!("bot\"\n---\nkind: Secret"));
    let run = deploy("hostile_name", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["name"]);
    assert!(!run.stdout.contains("\n---\n"), "raw newline echoed");
}

#[test]
fn hostile_account_with_template_syntax() {
    let req = set(request(), "/account", json!("{{ 7*7 }}{% raw %}"));
    let run = deploy("hostile_account", &req, &record(spec()), &[]);
    assert_error(&run, INVALID, &["account"]);
    assert!(!run.stdout.contains("49"), "template was evaluated");
}

#[test]
fn yaml_python_tag_in_request() {
    let run = deploy_raw(
        "yaml_python_tag",
        b"account: !!python/object/apply:os.system [\"id\"]\nname: bot\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["account"]);
}

#[test]
fn yaml_binary_tag_in_spec() {
    let build = "account: acme\nname: bot\nbuild_id: build-1\nimage: img:1\nregistry: reg\n\
                 registered_at: \"2026-01-01T00:00:00Z\"\nspec:\n  spec: package/v1\n  name: bot\n  \
                 agent:\n    image: !!binary aGVsbG8=\n    distributed: !!python/name:os.system\n";
    let run = deploy_raw(
        "yaml_binary_tag",
        request().to_string().as_bytes(),
        build.as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["spec.agent.distributed"]);
}

#[test]
fn nul_byte_in_request() {
    let run = deploy_raw(
        "nul_byte",
        b"account: acme\nname: bot\0\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "NUL"]);
}

#[test]
fn invalid_utf8_request() {
    let run = deploy_raw(
        "invalid_utf8",
        b"account: acme\nname: b\xffot\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request.yaml", "UTF-8"]);
}

#[test]
fn yaml_alias_bomb() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='j' {
        bomb.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    bomb.push_str("account: acme\nname: bot\n");
    let run = deploy_raw(
        "alias_bomb",
        bomb.as_bytes(),
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "budget"]);
}

#[test]
fn deeply_nested_yaml() {
    let depth = 10_000;
    let doc = format!(
        "account: {}{}\nname: bot\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let run = deploy_raw(
        "deep_yaml",
        doc.as_bytes(),
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request"]);
}

#[test]
fn deeply_nested_json_in_spec() {
    let depth = 5_000;
    let build = format!(
        r#"{{"account":"acme","name":"bot","build_id":"b","image":"i","registry":"r","registered_at":"2026-01-01T00:00:00Z","spec":{}1{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let run = deploy_raw(
        "deep_json",
        request().to_string().as_bytes(),
        build.as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["build"]);
}

#[test]
fn several_yaml_documents() {
    let run = deploy_raw(
        "several_documents",
        b"account: acme\nname: bot\n---\napiVersion: v1\nkind: Secret\n",
        record(spec()).to_string().as_bytes(),
        &[],
    );
    assert_error(&run, INVALID, &["request", "Documents"]);
}

// ---------------------------------------------------------------- validate

fn validate(case: &str, request: &Value, build: &Value) -> (Run, Value) {
    let dir = case_dir(case);
    std::fs::write(dir.join("request.yaml"), request.to_string()).expect("written");
    std::fs::write(dir.join("build.yaml"), build.to_string()).expect("written");
    let run = run_in(
        &dir,
        &["validate", "-f", "request.yaml", "--build", "build.yaml"],
        &[],
    );
    let body: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("validate output is not JSON ({e}):\n{}", run.describe()));
    (run, body)
}

#[test]
fn validate_lists_every_problem() {
    let s = set(spec(), "/knowledge/docs", json!({"provider": "weaviate"}));
    let s = set(s, "/spec", json!("astro/v9"));
    let (run, body) = validate("validate_bad", &request(), &record(s));
    assert_eq!(run.code, Some(INVALID), "{}", run.describe());
    assert_eq!(body["valid"], json!(false), "{body}");
    let errors = body["validation_errors"]
        .as_array()
        .expect("validation_errors is a list");
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with("spec.spec:"))),
        "{body}"
    );
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.starts_with("spec.knowledge.docs.provider:"))),
        "{body}"
    );
    assert!(body.get("build_id").is_none(), "{body}");
}

#[test]
fn validate_names_each_missing_credential() {
    let req = set(request(), "/interfaces", json!(["slack"]));
    let (run, body) = validate("validate_missing_credentials", &req, &record(spec()));
    assert_eq!(run.code, Some(INVALID), "{}", run.describe());
    assert_eq!(body["valid"], json!(false));
    assert_eq!(
        body["validation_errors"],
        json!([
            "user_credentials.SLACK_APP_TOKEN: required credential is missing",
            "user_credentials.SLACK_BOT_TOKEN: required credential is missing"
        ])
    );
}

#[test]
fn validate_accepts_the_example() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples");
    let run = run_in(
        &examples,
        &[
            "validate",
            "-f",
            "deploy-request.json",
            "--catalog",
            "catalog",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let body: Value = serde_json::from_str(&run.stdout).expect("validate prints JSON");
    assert_eq!(
        body,
        json!({"valid": true, "build_id": "build-20240612-1530", "name": "weather-agent"})
    );
}

#[test]
fn validate_build_not_found_is_an_error_not_a_verdict() {
    let dir = case_dir("validate_not_found");
    std::fs::create_dir_all(dir.join("catalog")).expect("catalog dir");
    std::fs::write(dir.join("request.yaml"), request().to_string()).expect("written");
    let run = run_in(
        &dir,
        &["validate", "-f", "request.yaml", "--catalog", "catalog"],
        &[],
    );
    assert_error(&run, NOT_FOUND, &["bot"]);
}

// ---------------------------------------------------------------- template overrides

fn with_template(case: &str, file: &str, source: &str) -> Run {
    let dir = case_dir(case);
    std::fs::create_dir_all(dir.join("templates")).expect("templates dir");
    std::fs::write(dir.join("templates").join(file), source).expect("template written");
    std::fs::write(dir.join("request.yaml"), request().to_string()).expect("written");
    std::fs::write(dir.join("build.yaml"), record(spec()).to_string()).expect("written");
    run_in(
        &dir,
        &[
            "deploy",
            "--dry-run",
            "-f",
            "request.yaml",
            "--build",
            "build.yaml",
            "--templates",
            "templates",
        ],
        &[],
    )
}

#[test]
fn template_field_unknown_to_the_kubernetes_type() {
    let source = "{% from \"_common.yaml\" import metadata %}\napiVersion: v1\nkind: ConfigMap\n\
                  metadata:\n  {{ metadata(obj, ns) | indent(2) }}\ndata: {{ obj.spec.data }}\n\
                  dataa: {}\n";
    let run = with_template("template_unknown_field", "configmap.yaml", source);
    assert_error(&run, INVALID, &["ConfigMap/", "dataa", "configmap.yaml:7"]);
}

#[test]
fn template_with_undefined_variable() {
    let source = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ obj.nmae }}\n";
    let run = with_template("template_undefined", "configmap.yaml", source);
    assert_error(&run, INVALID, &["configmap.yaml"]);
}

#[test]
fn template_override_of_unknown_file() {
    let run = with_template("template_unknown_file", "secrets.yaml", "kind: Secret\n");
    assert_error(&run, INVALID, &["secrets.yaml", "no such template"]);
}
