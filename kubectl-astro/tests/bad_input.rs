//! Bad input: every case runs the real binary and checks the exit code (3 invalid input,
//! 5 build not found), that the `{"error", "details"}` JSON on stdout names the offending
//! field, and that nothing panics.
//!
//! The cases are rows of one table (`cases`), each its own test named by the row
//! (libtest-mimic, `harness = false`); the few tests that check more than an error are
//! ordinary functions listed in `main`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use libtest_mimic::{Arguments, Trial};
use serde_json::{Value, json};

const INVALID: i32 = 3;
const NOT_FOUND: i32 = 5;

/// `deploy --dry-run` reading the request from a file and the build from a catalog.
const DEPLOY_FROM_CATALOG: &[&str] = &[
    "deploy",
    "--dry-run",
    "-f",
    "request.yaml",
    "--catalog",
    "catalog",
];

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

fn run_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    // Exact stderr is asserted: a developer's RUST_LOG must not add log lines to it.
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("kubectl-astro runs");
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

// ---------------------------------------------------------------- the table's parts

/// What a case writes into its fresh directory and the arguments it runs the binary with.
struct Input {
    args: Vec<String>,
    dirs: Vec<&'static str>,
    files: Vec<(String, Vec<u8>)>,
}

impl Input {
    /// The binary run with `args` in an empty directory.
    fn args(args: &[&str]) -> Input {
        Input {
            args: args.iter().map(|a| a.to_string()).collect(),
            dirs: Vec::new(),
            files: Vec::new(),
        }
    }

    /// `deploy --dry-run` of raw request and build texts.
    fn dry_run(request: impl Into<Vec<u8>>, build: impl Into<Vec<u8>>) -> Input {
        Input::args(&support::DRY_RUN)
            .file("request.yaml", request)
            .file("build.yaml", build)
    }

    /// The dry run of `request` with the valid build record.
    fn request(request: Value) -> Input {
        Input::dry_run(request.to_string(), record(spec()).to_string())
    }

    /// The dry run of a raw request text with the valid build record.
    fn raw_request(request: impl Into<Vec<u8>>) -> Input {
        Input::dry_run(request, record(spec()).to_string())
    }

    /// The dry run of the valid request with `build`.
    fn build(build: Value) -> Input {
        Input::dry_run(request().to_string(), build.to_string())
    }

    /// The dry run of the valid request with a raw build record text.
    fn raw_build(build: impl Into<Vec<u8>>) -> Input {
        Input::dry_run(request().to_string(), build)
    }

    /// The dry run of the valid request with `spec` in the build record.
    fn spec(spec: Value) -> Input {
        Input::build(record(spec))
    }

    /// The dry run of an agent called `name` in the request, the record and its spec.
    fn agent_named(name: &str) -> Input {
        let s = set(spec(), "/name", json!(name));
        let build = set(record(s), "/name", json!(name));
        let req = set(request(), "/name", json!(name));
        Input::dry_run(req.to_string(), build.to_string())
    }

    /// The dry run of a request with `schedules` for a spec with a `schedule` ingestion
    /// (`sync`) and a `startup` one (`boot`).
    fn schedules(schedules: Value) -> Input {
        let req = set(request(), "/schedules", schedules);
        Input::dry_run(req.to_string(), record(schedule_spec()).to_string())
    }

    /// The valid dry run with `source` overriding the template `file`.
    fn template(file: &str, source: &str) -> Input {
        Input::build(record(spec()))
            .flags(&["--templates", "templates"])
            .file(format!("templates/{file}"), source)
    }

    fn flags(mut self, flags: &[&str]) -> Input {
        self.args.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// An empty directory, relative to the case's.
    fn dir(mut self, path: &'static str) -> Input {
        self.dirs.push(path);
        self
    }

    /// A file, relative to the case's directory; its parent directories are created.
    fn file(mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Input {
        self.files.push((path.into(), contents.into()));
        self
    }

    /// Writes the input into a fresh directory named `case` and runs the binary there.
    fn run(&self, case: &str) -> Run {
        let dir = case_dir(case);
        for d in &self.dirs {
            std::fs::create_dir_all(dir.join(d)).expect("case subdirectory can be created");
        }
        for (path, contents) in &self.files {
            let path = dir.join(path);
            let parent = path.parent().expect("a file in the case directory");
            std::fs::create_dir_all(parent).expect("parent directory can be created");
            std::fs::write(&path, contents).expect("case file is written");
        }
        run_in(&dir, &self.args)
    }
}

/// A check a row makes beyond `assert_error`.
enum Also {
    /// The body's `error` is exactly this.
    ErrorIs(&'static str),
    /// Stdout does not contain the text; the second string says what that would mean.
    StdoutLacks(&'static str, &'static str),
    /// Stdout is shorter than this many bytes (a huge input is not echoed back).
    StdoutShorterThan(usize),
}

/// One row: the input, the exit code, what `details` must name and any further checks.
struct Case {
    name: &'static str,
    input: Input,
    code: i32,
    fields: &'static [&'static str],
    also: Vec<Also>,
}

impl Case {
    fn also(mut self, also: Also) -> Case {
        self.also.push(also);
        self
    }

    fn check(&self) {
        let run = self.input.run(self.name);
        assert_error(&run, self.code, self.fields);
        for also in &self.also {
            match also {
                Also::ErrorIs(error) => {
                    let body: Value = serde_json::from_str(&run.stdout).expect("JSON");
                    assert_eq!(body["error"], *error, "{}", run.describe());
                }
                Also::StdoutLacks(text, meaning) => {
                    assert!(!run.stdout.contains(text), "{meaning}:\n{}", run.describe());
                }
                Also::StdoutShorterThan(limit) => {
                    assert!(run.stdout.len() < *limit, "the value is echoed back");
                }
            }
        }
    }
}

/// A row expecting exit 3 (invalid input) with `details` naming each of `fields`.
fn invalid(name: &'static str, input: Input, fields: &'static [&'static str]) -> Case {
    Case {
        name,
        input,
        code: INVALID,
        fields,
        also: Vec::new(),
    }
}

/// A row expecting exit 5 (build not found) with `details` naming each of `fields`.
fn not_found(name: &'static str, input: Input, fields: &'static [&'static str]) -> Case {
    Case {
        code: NOT_FOUND,
        ..invalid(name, input, fields)
    }
}

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

/// A YAML billion-laughs document: ten levels of nine aliases each.
fn alias_bomb() -> String {
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
    bomb
}

// ---------------------------------------------------------------- the table

/// Every row of the table, each its own test named by the row.
fn cases() -> Vec<Case> {
    let custom_provider = |scope: &[&str]| json!({"scope": scope, "variables": [{"name": "API_KEY", "datatype": "string", "secret": true}]});
    vec![
        // ------------------------------------------------------------ request documents
        invalid(
            "malformed_json_request",
            Input::raw_request(r#"{"account": "acme", "name": "#),
            &["request", "invalid JSON"],
        ),
        invalid(
            "malformed_yaml_request",
            Input::raw_request("account: [acme\nname: bot\n"),
            &["request", "invalid YAML"],
        ),
        invalid(
            "request_that_is_not_a_mapping",
            Input::raw_request("- account\n- name\n"),
            &["request", "mapping"],
        ),
        invalid(
            "empty_request",
            Input::raw_request(""),
            &["request", "empty"],
        ),
        invalid(
            "unknown_request_field_with_newline",
            Input::request(set(request(), "/acc\nount: x\n---", json!("acme"))),
            &["unknown field"],
        ),
        invalid(
            "unknown_request_field",
            Input::request(set(request(), "/acount", json!("acme"))),
            &["acount", "unknown field"],
        ),
        invalid(
            "wrong_type_interfaces",
            Input::request(set(request(), "/interfaces", json!("web"))),
            &["interfaces"],
        ),
        invalid(
            "wrong_type_credential_value",
            Input::request(set(
                request(),
                "/user_credentials/ANTHROPIC_API_KEY",
                json!(42),
            )),
            &["user_credentials.ANTHROPIC_API_KEY"],
        ),
        invalid(
            "wrong_type_schedules",
            Input::request(set(request(), "/schedules", json!(["0 * * * *"]))),
            &["schedules"],
        ),
        invalid(
            "missing_account",
            Input::request(remove(request(), "/account")),
            &["account", "missing"],
        ),
        invalid(
            "missing_name",
            Input::request(remove(request(), "/name")),
            &["name", "missing"],
        ),
        invalid(
            "no_request_and_no_account_flag",
            Input::args(&[
                "deploy",
                "--dry-run",
                "--name",
                "bot",
                "--build",
                "build.yaml",
            ])
            .file("build.yaml", record(spec()).to_string()),
            &["account"],
        ),
        invalid(
            "schedule_flag_without_cron",
            Input::build(record(spec())).flags(&["--schedule", "sync"]),
            &["--schedule sync", "NAME=CRON"],
        ),
        invalid(
            "credential_flag_without_value_or_env",
            Input::build(record(spec()))
                .flags(&["--credential", "ASTRO_TEST_SURELY_UNSET_VARIABLE"]),
            &["--credential ASTRO_TEST_SURELY_UNSET_VARIABLE"],
        ),
        invalid(
            "bad_namespace_flag",
            Input::build(record(spec())).flags(&["--namespace", "Bad_Namespace"]),
            &["namespace"],
        ),
        invalid(
            "bad_ingress_domain_flag",
            Input::build(record(spec())).flags(&["--ingress-domain", "evil domain\n---"]),
            &["ingress_domain"],
        ),
        // ------------------------------------------------------------ build records
        invalid(
            "malformed_build_record",
            Input::raw_build("account: acme\nname: [bot\n"),
            &["build.yaml", "invalid YAML"],
        ),
        invalid(
            "unknown_build_record_field",
            Input::build(set(record(spec()), "/commit", json!("abc"))),
            &["build.yaml", "commit"],
        ),
        invalid(
            "build_record_bad_timestamp_and_version",
            Input::build(set(
                set(record(spec()), "/registered_at", json!("yesterday")),
                "/version",
                json!("one"),
            )),
            &["registered_at", "version"],
        ),
        invalid(
            "build_of_another_agent",
            Input::build(set(
                record(set(spec(), "/name", json!("other-bot"))),
                "/name",
                json!("other-bot"),
            )),
            &["name", "other-bot"],
        ),
        invalid(
            "spec_name_does_not_match_record",
            Input::spec(set(spec(), "/name", json!("someone-else"))),
            &["spec.name"],
        ),
        not_found(
            "build_not_found_in_catalog",
            Input::args(DEPLOY_FROM_CATALOG)
                .dir("catalog")
                .file("request.yaml", request().to_string()),
            &["bot", "acme"],
        ),
        not_found(
            "cross_account_without_published_build",
            Input::args(DEPLOY_FROM_CATALOG)
                .file(
                    "catalog/vendor/bot/build-1.yaml",
                    set(record(spec()), "/account", json!("vendor")).to_string(),
                )
                .file(
                    "request.yaml",
                    set(request(), "/source_account", json!("vendor")).to_string(),
                ),
            &["published", "vendor"],
        ),
        // ------------------------------------------------------------ spec rules
        // The rule numbers are those of the validation rules every implementation MUST
        // enforce, §9 of the Astropods spec (RFC-1, "Astropods Spec", docs.astropods.com;
        // source: astropods/astro-cli docs-public/fern/docs/pages/astropods-package-spec.mdx).
        invalid(
            "rule1_spec_id_empty",
            Input::spec(set(spec(), "/spec", json!(""))),
            &["spec.spec"],
        ),
        invalid(
            "rule1_spec_id_unsupported",
            Input::spec(set(spec(), "/spec", json!("astro/v2"))),
            &["spec.spec", "astro/v2"],
        ),
        invalid(
            "rule2_name_empty",
            Input::spec(set(spec(), "/name", json!(""))),
            &["spec.name"],
        ),
        invalid(
            "rule2_org_part_invalid",
            Input::spec(set(spec(), "/name", json!("@Bad Org!/bot"))),
            &["spec.name", "org part"],
        ),
        invalid(
            "rule3_agent_image_and_build",
            Input::spec(set(
                spec(),
                "/agent/build",
                json!({"context": ".", "dockerfile": "Dockerfile"}),
            )),
            &["spec.agent", "not both"],
        ),
        invalid(
            "rule3_agent_neither_image_nor_build",
            Input::spec(remove(spec(), "/agent/image")),
            &["spec.agent", "image or build"],
        ),
        invalid(
            "rule10_build_without_context_and_dockerfile",
            Input::spec(set(
                remove(spec(), "/agent/image"),
                "/agent/build",
                json!({}),
            )),
            &["spec.agent.build.context", "spec.agent.build.dockerfile"],
        ),
        invalid(
            "rule10_container_build_without_dockerfile",
            Input::spec(set(
                spec(),
                "/models/embedder",
                json!({"container": {"build": {"context": "./embedder"}, "port": 8000}}),
            )),
            &["spec.models.embedder.container.build.dockerfile"],
        ),
        invalid(
            "rule4_model_both_provider_and_container",
            Input::spec(set(
                spec(),
                "/models/primary/container",
                json!({"image": "vllm/vllm-openai:v0.6.0"}),
            )),
            &[
                "spec.models.primary",
                "exactly one of provider or container",
            ],
        ),
        invalid(
            "rule5_knowledge_neither_provider_nor_container",
            Input::spec(set(spec(), "/knowledge/docs", json!({"inputs": []}))),
            &[
                "spec.knowledge.docs",
                "exactly one of provider or container",
            ],
        ),
        invalid(
            "rule6_integration_both_provider_and_container",
            Input::spec(set(
                spec(),
                "/integrations/github",
                json!({"provider": "github", "container": {"image": "mcp/github:1"}}),
            )),
            &[
                "spec.integrations.github",
                "exactly one of provider or container",
            ],
        ),
        invalid(
            "rule7_custom_provider_without_scope_and_variables",
            Input::spec(set(
                spec(),
                "/providers/acme-crm",
                json!({"scope": [], "variables": []}),
            )),
            &[
                "spec.providers.acme-crm.scope",
                "spec.providers.acme-crm.variables",
            ],
        ),
        invalid(
            "rule7_custom_provider_unknown_scope",
            Input::spec(set(
                spec(),
                "/providers/acme-crm",
                custom_provider(&["tools"]),
            )),
            &["spec.providers.acme-crm.scope[0]", "tools"],
        ),
        invalid(
            "rule7_custom_provider_variable_without_name_or_datatype",
            Input::spec(set(
                spec(),
                "/providers/acme-crm",
                json!({"scope": ["integrations"], "variables": [{"secret": true}]}),
            )),
            &[
                "spec.providers.acme-crm.variables[0].name",
                "spec.providers.acme-crm.variables[0].datatype",
            ],
        ),
        invalid(
            "rule8_custom_provider_out_of_scope",
            Input::spec(set(
                set(
                    spec(),
                    "/providers/acme-crm",
                    custom_provider(&["knowledge"]),
                ),
                "/integrations/crm",
                json!({"provider": "acme-crm"}),
            )),
            &[
                "spec.integrations.crm.provider",
                "not scoped to integrations",
            ],
        ),
        invalid(
            "rule9_ingestion_without_container",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"trigger": {"type": "startup"}}),
            )),
            &["spec.ingestion.sync.container"],
        ),
        invalid(
            "rule9_ingestion_without_trigger",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"container": {"image": "sync:1"}}),
            )),
            &["spec.ingestion.sync.trigger"],
        ),
        invalid(
            "rule9_ingestion_bad_trigger_type",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"container": {"image": "sync:1"}, "trigger": {"type": "hourly"}}),
            )),
            &["spec.ingestion.sync.trigger.type", "hourly"],
        ),
        invalid(
            "rule11_gpu_runtime",
            Input::spec(set(
                spec(),
                "/models/local",
                json!({"container": {"image": "vllm:1", "gpu": {"runtime": "metal"}}}),
            )),
            &["spec.models.local.container.gpu.runtime", "metal"],
        ),
        invalid(
            "rule12_models_and_model",
            Input::spec(set(
                spec(),
                "/models/primary",
                json!({"provider": "anthropic", "models": ["a"], "model": "b"}),
            )),
            &["spec.models.primary", "mutually exclusive"],
        ),
        invalid(
            "rule13_select_without_options",
            Input::spec(set(
                spec(),
                "/agent/inputs",
                json!([{"name": "REGION", "datatype": "string", "display-as": "select", "default": "eu"}]),
            )),
            &["spec.agent.inputs[0].options"],
        ),
        invalid(
            "select_default_not_an_option",
            Input::spec(set(
                spec(),
                "/agent/inputs",
                json!([{"name": "REGION", "datatype": "string", "display-as": "select", "options": ["us"], "default": "eu"}]),
            )),
            &["spec.agent.inputs[0].default"],
        ),
        invalid(
            "rule14_input_without_name",
            Input::spec(set(
                spec(),
                "/agent/inputs",
                json!([{"datatype": "string"}]),
            )),
            &["spec.agent.inputs[0].name"],
        ),
        invalid(
            "rule14_input_bad_datatype",
            Input::spec(set(
                spec(),
                "/knowledge/db",
                json!({"container": {"image": "postgres:16"}, "inputs": [{"name": "PGUSER", "datatype": "text"}]}),
            )),
            &["spec.knowledge.db.inputs[0].datatype", "text"],
        ),
        invalid(
            "input_name_not_an_env_name",
            Input::spec(set(
                spec(),
                "/inputs/region",
                json!({"name": "MY-REGION", "datatype": "string", "optional": true}),
            )),
            &["spec.inputs.region.name"],
        ),
        invalid(
            "secret_input_with_default",
            Input::spec(set(
                spec(),
                "/agent/inputs",
                json!([{"name": "DB_PASSWORD", "datatype": "string", "secret": true, "default": "hunter2"}]),
            )),
            &["spec.agent.inputs[0].default"],
        ),
        // ------------------------------------------------------------ platform-managed env
        invalid(
            "input_default_replaces_the_messaging_address",
            Input::spec(set(
                spec(),
                "/agent/inputs",
                json!([{"name": "GRPC_SERVER_ADDR", "datatype": "string", "default": "evil.example.test:9090"}]),
            )),
            &[
                "spec.agent.inputs[0].name",
                "GRPC_SERVER_ADDR",
                "platform-managed",
            ],
        ),
        invalid(
            "credential_replaces_the_messaging_address",
            Input::request(set(
                request(),
                "/user_credentials/GRPC_SERVER_ADDR",
                json!("evil.example.test:9090"),
            )),
            &["user_credentials.GRPC_SERVER_ADDR", "platform-managed"],
        ),
        invalid(
            "ingestion_environment_sets_the_collector",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"container": {"image": "sync:1", "environment": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://evil"}}, "trigger": {"type": "manual"}}),
            )),
            &[
                "spec.ingestion.sync.container.environment.OTEL_EXPORTER_OTLP_ENDPOINT",
                "platform-managed",
            ],
        ),
        // ------------------------------------------------------------ one object, two entries
        invalid(
            "ingestion_names_that_sanitise_alike",
            Input::spec(set(
                set(
                    spec(),
                    "/ingestion/berth-log",
                    json!({"container": {"image": "log:1"}, "trigger": {"type": "startup"}}),
                ),
                "/ingestion/berth_log",
                json!({"container": {"image": "log:1"}, "trigger": {"type": "startup"}}),
            )),
            &[
                "spec.ingestion.berth_log",
                "spec.ingestion.berth-log",
                "Job 'bot-ingestion-berth-log'",
            ],
        ),
        invalid(
            "webhook_named_like_the_agent_ingress",
            Input::spec(set(
                set(spec(), "/agent/interfaces", json!({"frontend": true})),
                "/ingestion/agent",
                json!({"container": {"image": "hook:1"}, "trigger": {"type": "webhook"}}),
            )),
            &[
                "spec.ingestion.agent",
                "spec.agent.interfaces.frontend",
                "Ingress 'bot-ingress-agent'",
            ],
        ),
        invalid(
            "unsupported_provider",
            Input::spec(set(
                spec(),
                "/knowledge/docs",
                json!({"provider": "weaviate"}),
            )),
            &[
                "spec.knowledge.docs.provider",
                "unsupported provider 'weaviate'",
            ],
        ),
        invalid(
            "builtin_provider_in_wrong_section",
            Input::spec(set(
                spec(),
                "/models/vectors",
                json!({"provider": "qdrant"}),
            )),
            &["spec.models.vectors.provider", "qdrant"],
        ),
        invalid(
            "unknown_spec_key",
            Input::spec(set(
                spec(),
                "/knowlege",
                json!({"docs": {"provider": "qdrant"}}),
            )),
            &["knowlege", "unknown field"],
        ),
        invalid(
            "wrong_type_in_spec",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"container": {"image": "sync:1", "port": "eighty"}, "trigger": {"type": "webhook"}}),
            )),
            &["ingestion.sync.container.port"],
        ),
        // serde would read `agent: [image]` positionally into the struct; a spec is by name.
        invalid(
            "struct_given_as_positional_list_agent",
            Input::spec(set(
                spec(),
                "/agent",
                json!(["registry.example.test/acme/bot:1.0.0"]),
            )),
            &["spec.agent", "sequence"],
        ),
        invalid(
            "struct_given_as_positional_list_model",
            Input::spec(set(spec(), "/models/primary", json!(["anthropic"]))),
            &["spec.models.primary", "sequence"],
        ),
        invalid(
            "container_volume_not_absolute",
            Input::spec(set(
                spec(),
                "/knowledge/db",
                json!({"container": {"image": "postgres:16", "volume": "data"}}),
            )),
            &["spec.knowledge.db.container.volume"],
        ),
        invalid(
            "container_environment_key_not_env_name",
            Input::spec(set(
                spec(),
                "/ingestion/sync",
                json!({"container": {"image": "sync:1", "environment": {"BAD KEY": "x"}}, "trigger": {"type": "startup"}}),
            )),
            &["spec.ingestion.sync.container.environment.BAD KEY"],
        ),
        invalid(
            "healthcheck_bad_interval",
            Input::spec(set(
                spec(),
                "/agent/healthcheck",
                json!({"path": "/health", "interval": "often"}),
            )),
            &["spec.agent.healthcheck.interval", "often"],
        ),
        invalid(
            "every_broken_rule_is_reported_at_once",
            Input::spec(json!({
                "spec": "",
                "name": "bot",
                "agent": {},
                "knowledge": { "docs": {} },
                "ingestion": { "sync": {} }
            })),
            &[
                "spec.spec",
                "spec.agent",
                "spec.knowledge.docs",
                "spec.ingestion.sync.container",
                "spec.ingestion.sync.trigger",
            ],
        ),
        // ------------------------------------------------------------ names
        invalid(
            "reserved_agent_name",
            Input::agent_named("astro"),
            &["name", "reserved"],
        ),
        invalid(
            "uppercase_agent_name",
            Input::agent_named("MyBot"),
            &["name"],
        ),
        invalid(
            "too_long_agent_name",
            Input::agent_named(&"a".repeat(64)),
            &["name"],
        ),
        invalid(
            "agent_name_with_dot_and_slash",
            Input::agent_named("../etc/passwd"),
            &["name"],
        ),
        invalid(
            "bad_account",
            Input::request(set(request(), "/account", json!("Acme_Inc"))),
            &["account"],
        ),
        invalid(
            "request_for_another_account",
            Input::request(set(request(), "/account", json!("someone-else"))),
            &["account", "belongs to account 'acme'"],
        ),
        // ------------------------------------------------------------ schedules
        invalid(
            "cron_with_six_fields",
            Input::schedules(json!({"sync": "0 0 * * * *"})),
            &["schedules.sync", "5"],
        ),
        invalid(
            "cron_macro",
            Input::schedules(json!({"sync": "@daily"})),
            &["schedules.sync", "@daily"],
        ),
        invalid(
            "cron_out_of_range",
            Input::schedules(json!({"sync": "61 * * * *"})),
            &["schedules.sync"],
        ),
        invalid(
            "cron_hostile_value",
            Input::schedules(json!({"sync": "0 * * * *\n---\nkind: Secret"})),
            &["schedules.sync"],
        ),
        invalid(
            "schedule_for_unknown_ingestion",
            Input::schedules(json!({"sync": "0 * * * *", "nope": "0 * * * *"})),
            &["schedules.nope", "names no ingestion"],
        ),
        invalid(
            "schedule_for_startup_ingestion",
            Input::schedules(json!({"sync": "0 * * * *", "boot": "0 * * * *"})),
            &["schedules.boot", "not schedule"],
        ),
        invalid(
            "missing_schedule",
            Input::spec(schedule_spec()),
            &["schedules.sync", "needs a cron"],
        ),
        // ------------------------------------------------------------ interfaces
        invalid(
            "unknown_interface",
            Input::request(set(request(), "/interfaces", json!(["discord"]))),
            &["interfaces[0]", "discord"],
        ),
        invalid(
            "duplicate_interface",
            Input::request(set(request(), "/interfaces", json!(["web", "web"]))),
            &["interfaces[1]"],
        ),
        invalid(
            "interface_for_agent_without_messaging",
            Input::dry_run(
                set(request(), "/interfaces", json!(["web"])).to_string(),
                record(set(spec(), "/agent/interfaces", json!({"frontend": true}))).to_string(),
            ),
            &["interfaces", "does not support messaging"],
        ),
        invalid(
            "hostile_interface_name",
            Input::request(set(
                request(),
                "/interfaces",
                json!(["web\n---\napiVersion: v1\nkind: Secret"]),
            )),
            &["interfaces[0]", "unknown interface"],
        ),
        // ------------------------------------------------------------ credentials
        invalid(
            "missing_credentials_are_all_listed",
            Input::dry_run(
                set(
                    remove(request(), "/user_credentials"),
                    "/interfaces",
                    json!(["slack"]),
                )
                .to_string(),
                record(set(
                    set(
                        spec(),
                        "/integrations/github",
                        json!({"provider": "github"}),
                    ),
                    "/agent/inputs",
                    json!([{"name": "DB_TOKEN", "datatype": "string", "secret": true}]),
                ))
                .to_string(),
            ),
            &[
                "user_credentials.ANTHROPIC_API_KEY",
                "user_credentials.DB_TOKEN",
                "user_credentials.GITHUB_TOKEN",
                "user_credentials.SLACK_APP_TOKEN",
                "user_credentials.SLACK_BOT_TOKEN",
            ],
        )
        .also(Also::ErrorIs("missing credentials")),
        invalid(
            "missing_custom_provider_secret_variable",
            Input::spec(set(
                set(
                    spec(),
                    "/providers/my-jira",
                    custom_provider(&["integrations"]),
                ),
                "/integrations/jira",
                json!({"provider": "my-jira"}),
            )),
            &["MY_JIRA_API_KEY"],
        ),
        invalid(
            "credential_key_not_an_env_name",
            Input::request(set(request(), "/user_credentials/MY-KEY", json!("x"))),
            &["user_credentials.MY-KEY"],
        ),
        invalid(
            "credential_key_with_newline",
            Input::request(set(
                request(),
                "/user_credentials/A\nkind: Secret",
                json!("x"),
            )),
            &["user_credentials.A\\nkind: Secret"],
        ),
        // The value fits the document limit but not the per-credential limit.
        invalid(
            "credential_value_of_one_mebibyte",
            Input::request(set(
                request(),
                "/user_credentials/ANTHROPIC_API_KEY",
                json!("k".repeat(1000 * 1024)),
            )),
            &["user_credentials.ANTHROPIC_API_KEY", "limit"],
        )
        .also(Also::StdoutShorterThan(4096)),
        invalid(
            "request_file_of_two_mebibytes",
            Input::request(set(
                request(),
                "/user_credentials/ANTHROPIC_API_KEY",
                json!("k".repeat(2 * 1024 * 1024)),
            )),
            &["request.yaml", "limit"],
        ),
        // ------------------------------------------------------------ hostile documents
        invalid(
            "hostile_name_with_quotes_and_document_marker",
            Input::request(set(request(), "/name", json!("bot\"\n---\nkind: Secret"))),
            &["name"],
        )
        .also(Also::StdoutLacks("\n---\n", "raw newline echoed")),
        invalid(
            "hostile_account_with_template_syntax",
            Input::request(set(request(), "/account", json!("{{ 7*7 }}{% raw %}"))),
            &["account"],
        )
        .also(Also::StdoutLacks("49", "template was evaluated")),
        invalid(
            "yaml_python_tag_in_request",
            Input::raw_request("account: !!python/object/apply:os.system [\"id\"]\nname: bot\n"),
            &["account"],
        ),
        invalid(
            "yaml_binary_tag_in_spec",
            Input::raw_build(
                "account: acme\nname: bot\nbuild_id: build-1\nimage: img:1\nregistry: reg\n\
                 registered_at: \"2026-01-01T00:00:00Z\"\nspec:\n  spec: package/v1\n  name: bot\n  \
                 agent:\n    image: !!binary aGVsbG8=\n    distributed: !!python/name:os.system\n",
            ),
            &["spec.agent.distributed"],
        ),
        invalid(
            "nul_byte_in_request",
            Input::raw_request("account: acme\nname: bot\0\n"),
            &["request", "NUL"],
        ),
        invalid(
            "invalid_utf8_request",
            Input::raw_request(&b"account: acme\nname: b\xffot\n"[..]),
            &["request.yaml", "UTF-8"],
        ),
        invalid(
            "yaml_alias_bomb",
            Input::raw_request(alias_bomb()),
            &["request", "budget"],
        ),
        invalid(
            "deeply_nested_yaml",
            Input::raw_request(format!(
                "account: {}{}\nname: bot\n",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )),
            &["request"],
        ),
        invalid(
            "deeply_nested_json_in_spec",
            Input::raw_build(format!(
                r#"{{"account":"acme","name":"bot","build_id":"b","image":"i","registry":"r","registered_at":"2026-01-01T00:00:00Z","spec":{}1{}}}"#,
                "[".repeat(5_000),
                "]".repeat(5_000)
            )),
            &["build"],
        ),
        invalid(
            "several_yaml_documents",
            Input::raw_request("account: acme\nname: bot\n---\napiVersion: v1\nkind: Secret\n"),
            &["request", "Documents"],
        ),
        // ------------------------------------------------------------ validate
        not_found(
            "validate_build_not_found_is_an_error_not_a_verdict",
            Input::args(&["validate", "-f", "request.yaml", "--catalog", "catalog"])
                .dir("catalog")
                .file("request.yaml", request().to_string()),
            &["bot"],
        ),
        // ------------------------------------------------------------ template overrides
        invalid(
            "template_field_unknown_to_the_kubernetes_type",
            Input::template(
                "configmap.yaml",
                "{% from \"_common.yaml\" import metadata %}\napiVersion: v1\nkind: ConfigMap\n\
                 metadata:\n  {{ metadata(obj, ns) | indent(2) }}\ndata: {{ obj.spec.data }}\n\
                 dataa: {}\n",
            ),
            &["ConfigMap/", "dataa", "configmap.yaml:7"],
        ),
        invalid(
            "template_with_undefined_variable",
            Input::template(
                "configmap.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ obj.nmae }}\n",
            ),
            &["configmap.yaml"],
        ),
        invalid(
            "template_override_of_unknown_file",
            Input::template("secrets.yaml", "kind: Secret\n"),
            &["secrets.yaml", "no such template"],
        ),
    ]
}

// ---------------------------------------------------------------- validate's verdicts

/// `validate` of `request` and `build`; the run and its JSON verdict.
fn validate(case: &str, request: &Value, build: &Value) -> (Run, Value) {
    let run = Input::args(&["validate", "-f", "request.yaml", "--build", "build.yaml"])
        .file("request.yaml", request.to_string())
        .file("build.yaml", build.to_string())
        .run(case);
    let body: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("validate output is not JSON ({e}):\n{}", run.describe()));
    (run, body)
}

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

fn validate_accepts_the_example() {
    let run = run_in(
        &support::examples(),
        &[
            "validate",
            "-f",
            "deploy-request.json",
            "--catalog",
            "catalog",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let body: Value = serde_json::from_str(&run.stdout).expect("validate prints JSON");
    assert_eq!(
        body,
        json!({"valid": true, "build_id": "build-20240612-1530", "name": "weather-agent"})
    );
}

fn main() {
    let args = Arguments::from_args();
    let tests: [(&str, fn()); 3] = [
        ("validate_lists_every_problem", validate_lists_every_problem),
        (
            "validate_names_each_missing_credential",
            validate_names_each_missing_credential,
        ),
        ("validate_accepts_the_example", validate_accepts_the_example),
    ];
    let mut trials: Vec<Trial> = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::test(name, move || {
                test();
                Ok(())
            })
        })
        .collect();
    for case in cases() {
        trials.push(Trial::test(case.name, move || {
            case.check();
            Ok(())
        }));
    }
    let mut names: Vec<&str> = trials.iter().map(Trial::name).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("two bad-input tests are named {}", twice[0]);
    }
    libtest_mimic::run(&args, trials).exit();
}
