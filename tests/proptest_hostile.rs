//! Hostile input, property-tested (issue 5): DeployRequest parsing, astropods.yml parsing +
//! validation, and resolve + render never panic, never hang, and never produce an object or a
//! key the input did not ask for. Plus the YAML budgets and size limits, each with a clear
//! error, and the regressions the secret audit found.
//!
//! Deterministic: a fixed seed (override with `PROPTEST_RNG_SEED`), no persistence files.
//! `PROPTEST_CASES` raises the case count of every property for a longer run:
//!
//! ```sh
//! cargo nextest run -p astro-deploy --test proptest_hostile
//! PROPTEST_CASES=20000 cargo nextest run -p astro-deploy --test proptest_hostile --release
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{Build, BuildRecord};
use astro_deploy::input::{MAX_DOCUMENT_BYTES, from_value, parse_document};
use astro_deploy::render::{Manifest, Templates, render, to_json, to_yaml};
use astro_deploy::resolve::{Kind, ResolveOptions, resolve};
use astro_deploy::spec::{parse_spec, spec_from_value, validate};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};

/// One input may take this long at most (generous: a loaded CI machine).
const HANG: Duration = Duration::from_secs(5);

fn config(cases: u32) -> Config {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("PROPTEST_CASES").map_or(cases, |c| c as u32),
        rng_seed: RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(0x5eed_a57e)),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Pieces of YAML and JSON syntax, field names of the request and the spec, and hostile
/// strings, glued into documents.
const TOKENS: &[&str] = &[
    "account: ",
    "name: ",
    "source_account: ",
    "user_credentials:",
    "interfaces:",
    "schedules:",
    "spec: ",
    "agent:",
    "image: ",
    "models:",
    "knowledge:",
    "ingestion:",
    "integrations:",
    "inputs:",
    "trigger:",
    "type: ",
    "schedule",
    "container:",
    "port: ",
    "provider: ",
    "persistent: true",
    "blueprint/v1",
    "package/v1",
    "astro/v1",
    "acme",
    "bot",
    "slack",
    "web",
    "\n",
    "\n  ",
    "\n    ",
    "\n- ",
    "- ",
    " ",
    "\t",
    ": ",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!!str ",
    "!custom ",
    "? ",
    "| ",
    "> ",
    "# c",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "~",
    "null",
    "true",
    "1e999",
    "0x1F",
    "-1",
    "18446744073709551616",
    "{{ 7*7 }}",
    "{% raw %}",
    "\u{feff}",
    "\u{0}",
    "ünï",
    "\\u0000",
];

fn token_doc() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => token_doc(),
        1 => ".{0,400}",
        1 => any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Keys a document may hold: real field names, near misses and arbitrary text.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "account", "name", "source_account", "user_credentials", "interfaces", "schedules",
            "ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "docs_sync", "spec",
            "agent", "image", "inputs", "models", "knowledge", "ingestion", "integrations",
            "build", "interfaces", "frontend", "messaging", "trigger", "type", "schedule",
        ]).prop_map(String::from),
        1 => "[A-Za-z_][A-Za-z0-9_]{0,12}",
        1 => ".{0,12}",
    ]
}

/// Arbitrary JSON trees of bounded depth and width.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(TOKENS).prop_map(|s| json!(s)),
        ".{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value that is syntax somewhere, or plain text.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|t| t.concat()),
        ".{0,60}",
    ]
}

fn record(path: &str) -> BuildRecord {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/catalog")
            .join(path),
    )
    .expect("example record");
    BuildRecord::parse(&text).expect("example record parses")
}

fn weather() -> BuildRecord {
    record("astro-team/weather-agent/build-20240612-1530.yaml")
}

fn assistant() -> BuildRecord {
    record("astro-team/engineering-assistant/build-20260410-0800.yaml")
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    assert!(
        started.elapsed() < HANG,
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

/// Keys of the object at `pointer` in `v`.
fn keys_at(v: &Value, pointer: &str) -> BTreeSet<String> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

// --- DeployRequest ----------------------------------------------------------------------

proptest! {
    #![proptest_config(config(768))]

    /// Any text: no panic, no hang; what is read came from the text.
    #[test]
    fn request_text_never_panics(text in any_text()) {
        let parsed = timed("request parse", || parse_document::<DeployRequest>("request", &text));
        if let Ok(req) = parsed {
            for k in req.user_credentials.keys().chain(req.schedules.keys()).chain(req.interfaces.iter()) {
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    prop_assert!(text.contains(k.as_str()), "{k} is not in the input");
                }
            }
        }
    }

    /// Any JSON tree: no panic; every credential, interface and schedule is the input's own.
    #[test]
    fn request_values_are_the_inputs_own(mut v in json_value(), creds in prop::collection::btree_map(key(), json_value(), 0..4)) {
        if let Value::Object(m) = &mut v {
            m.insert("user_credentials".into(), Value::Object(creds.into_iter().collect()));
        }
        let parsed = timed("request from value", || from_value::<DeployRequest>("request", v.clone()));
        if let Ok(req) = parsed {
            let given = keys_at(&v, "/user_credentials");
            for (k, val) in &req.user_credentials {
                prop_assert!(given.contains(k), "credential {k} was not asked for");
                prop_assert_eq!(v["user_credentials"][k].as_str(), Some(val.as_str()));
            }
            let schedules = keys_at(&v, "/schedules");
            prop_assert!(req.schedules.keys().all(|k| schedules.contains(k)));
            for i in &req.interfaces {
                prop_assert!(v["interfaces"].as_array().is_some_and(|a| a.contains(&json!(i))));
            }
            prop_assert_eq!(v["account"].as_str(), Some(req.account.as_str()));
        }
    }
}

// --- astropods.yml -------------------------------------------------------------------------

/// A JSON pointer into `v` chosen by `pick` (any node), for mutations.
fn nodes(v: &Value, path: String, out: &mut Vec<String>) {
    out.push(path.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            nodes(
                c,
                format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| nodes(c, format!("{path}/{i}"), out)),
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Insert(usize, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), key(), json_value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

fn mutate(mut v: Value, muts: &[Mutation]) -> Value {
    for m in muts {
        let mut all = Vec::new();
        nodes(&v, String::new(), &mut all);
        let at = |i: usize| all[i % all.len()].clone();
        match m {
            Mutation::Replace(i, new) => {
                let p = at(*i);
                if p.is_empty() {
                    continue;
                }
                if let Some(slot) = v.pointer_mut(&p) {
                    *slot = new.clone();
                }
            }
            Mutation::Remove(i) => {
                let p = at(*i);
                if let Some((parent, last)) = p.rsplit_once('/')
                    && let Some(Value::Object(m)) = v.pointer_mut(parent)
                {
                    m.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
            }
            Mutation::Insert(i, k, new) => {
                if let Some(Value::Object(m)) = v.pointer_mut(&at(*i)) {
                    m.insert(k.clone(), new.clone());
                }
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text as an astropods.yml: no panic, no hang; validation of whatever parsed too.
    #[test]
    fn spec_text_never_panics(text in any_text()) {
        let parsed = timed("spec parse", || parse_spec(&text));
        if let Ok(spec) = parsed {
            let _ = validate::validate(&spec);
        }
    }

}

// --- resolve + render ------------------------------------------------------------------------

/// A request for `build` with every credential it needs (placeholder values) plus `extra`.
fn request_for(
    build: &Build,
    extra: &BTreeMap<String, String>,
    interfaces: &[&str],
) -> DeployRequest {
    let mut creds: BTreeMap<String, String> = [
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "MY_JIRA_API_KEY",
        "POSTGRES_PASSWORD",
        "SLACK_APP_TOKEN",
        "SLACK_BOT_TOKEN",
        "OPENWEATHER_API_KEY",
    ]
    .iter()
    .map(|k| (k.to_string(), "placeholder-value".to_string()))
    .collect();
    creds.extend(extra.clone());
    // A cron for every scheduled ingestion the spec has.
    let schedules = build
        .spec
        .ingestion
        .iter()
        .filter(|(_, i)| i.trigger.as_ref().is_some_and(|t| t.kind == "schedule"))
        .map(|(n, _)| (n.clone(), "0 */6 * * *".to_string()))
        .collect();
    let interfaces: &[&str] = if build.spec.agent.effective_interfaces().messaging {
        interfaces
    } else {
        &[]
    };
    DeployRequest {
        account: build.record.account.clone(),
        name: build.record.name.clone(),
        source_account: None,
        user_credentials: creds,
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        schedules,
    }
}

fn shape(ms: &[Manifest]) -> Vec<(Kind, String, String)> {
    ms.iter()
        .map(|m| (m.kind, m.name.clone(), m.namespace.clone()))
        .collect()
}

/// The example specs with up to 4 random mutations: parse + validate never panic, and a
/// spec that validates resolves and renders without panicking (a resolved deployment always
/// renders). Asserts that a fair share of cases really reach render.
#[test]
fn mutated_specs_validate_resolve_and_render_without_panic() {
    let cfg = config(512);
    let cases = cfg.cases as usize;
    let mut runner = proptest::test_runner::TestRunner::new(cfg);
    let (valid, rendered) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let templates = Templates::embedded().expect("templates");
    let strategy = (any::<bool>(), prop::collection::vec(mutation(), 1..5));
    let result = runner.run(&strategy, |(which, muts)| {
        let base = if which { weather() } else { assistant() };
        let spec = mutate(base.spec.clone(), &muts);
        let Ok(parsed) = timed("spec from value", || spec_from_value(spec.clone())) else {
            return Ok(());
        };
        valid.fetch_add(1, Ordering::Relaxed);
        let _ = validate::validate(&parsed);
        let mut rec = base.clone();
        rec.spec = spec;
        let Ok(build) = rec.into_build() else {
            return Ok(());
        };
        let req = request_for(&build, &BTreeMap::new(), &["slack", "web"]);
        let Ok(resolved) = timed("resolve", || {
            resolve(&req, &build, &ResolveOptions::default())
        }) else {
            return Ok(());
        };
        let out = timed("render", || render(&resolved, &templates));
        prop_assert!(
            out.is_ok(),
            "a resolved deployment did not render: {:?}",
            out.err()
        );
        rendered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (valid, rendered) = (valid.into_inner(), rendered.into_inner());
    println!("mutated specs: {cases} cases, {valid} valid, {rendered} resolved and rendered");
    assert!(
        rendered * 10 >= cases,
        "too few cases reach render: {rendered}/{cases}"
    );
}

/// Random credential keys and hostile values, interfaces, schedules, account names and
/// namespaces: resolve + render never panic; when they succeed, the objects are exactly
/// those of the same request with benign values, every Secret key is one the request
/// named, every object is in the deployment's namespace, and the redacted output holds no
/// credential value. Asserts that a fair share of cases really reach render.
#[test]
fn resolve_and_render_make_only_what_was_asked() {
    let cfg = config(256);
    let cases = cfg.cases as usize;
    let mut runner = proptest::test_runner::TestRunner::new(cfg);
    let rendered = AtomicUsize::new(0);
    let templates = Templates::embedded().expect("templates");
    let strategy = (
        any::<bool>(),
        prop::collection::btree_map(
            prop_oneof![12 => "[A-Z][A-Z0-9_]{0,15}", 1 => ".{0,10}"],
            hostile_string(),
            0..6,
        ),
        prop::collection::vec(hostile_string(), 8),
        prop_oneof![
            10 => prop::sample::subsequence(vec!["slack", "web"], 0..=2),
            1 => prop::collection::vec(
                prop_oneof![Just("slack"), Just("web"), Just("sms"), Just("")],
                0..3,
            ),
        ],
        prop_oneof![10 => Just(None), 1 => hostile_string().prop_map(Some)],
        prop_oneof![
            12 => Just("astro-team".to_string()),
            1 => "[a-z0-9-]{0,70}",
            1 => ".{0,20}"
        ],
        prop_oneof![
            10 => Just(None),
            1 => "[a-z0-9-]{0,70}".prop_map(Some),
            1 => ".{0,20}".prop_map(Some)
        ],
    );
    let result = runner.run(
        &strategy,
        |(which, extra, values, interfaces, schedule, account, namespace)| {
            let rec = if which { weather() } else { assistant() };
            let build = rec.into_build().expect("example build");
            let mut req = request_for(&build, &extra, &interfaces);
            // Hostile values on the real credentials too.
            for (i, v) in req.user_credentials.values_mut().enumerate() {
                if let Some(h) = values.get(i) {
                    *v = format!("Zq{i}x{h}");
                }
            }
            if let Some(cron) = schedule {
                for v in req.schedules.values_mut() {
                    *v = cron.clone();
                }
            }
            req.account = account.clone();
            let opts = ResolveOptions {
                namespace: namespace.clone(),
                ..ResolveOptions::default()
            };
            let Ok(resolved) = timed("resolve", || resolve(&req, &build, &opts)) else {
                return Ok(());
            };
            let manifests = timed("render", || render(&resolved, &templates));
            prop_assert!(
                manifests.is_ok(),
                "resolved but did not render: {:?}",
                manifests.err()
            );
            let manifests = manifests.unwrap_or_default();
            rendered.fetch_add(1, Ordering::Relaxed);

            // The same request with benign values: the same objects.
            let mut benign = req.clone();
            for v in benign.user_credentials.values_mut() {
                *v = "benign".into();
            }
            let plain = resolve(&benign, &build, &opts).and_then(|r| render(&r, &templates));
            prop_assert!(plain.is_ok());
            prop_assert_eq!(shape(&manifests), shape(&plain.unwrap_or_default()));

            let asked: BTreeSet<&String> = req.user_credentials.keys().collect();
            for m in &manifests {
                if m.kind == Kind::Namespace {
                    prop_assert_eq!(&m.name, &resolved.namespace);
                } else {
                    prop_assert_eq!(&m.namespace, &resolved.namespace);
                }
                if m.kind == Kind::Secret && !m.name.contains("-knowledge-") {
                    for k in keys_at(&m.object, "/data")
                        .iter()
                        .chain(keys_at(&m.object, "/stringData").iter())
                    {
                        prop_assert!(asked.contains(k), "{}: key {k} was not asked for", m.name);
                    }
                }
            }
            // Redacted output: no credential value, raw or base64.
            let yaml = to_yaml(&manifests, false).expect("yaml");
            let json_out = to_json(&manifests, false);
            let list: Value = serde_json::from_str(&json_out).expect("json output parses");
            prop_assert_eq!(
                list["items"].as_array().map(Vec::len),
                Some(manifests.len())
            );
            for v in req.user_credentials.values().filter(|v| v.len() >= 12) {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode(v);
                for out in [&yaml, &json_out] {
                    prop_assert!(
                        !out.contains(v.as_str()) && !out.contains(&b64),
                        "credential value printed: {v:?}"
                    );
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let rendered = rendered.into_inner();
    println!("resolve + render: {cases} cases, {rendered} rendered and checked");
    assert!(
        rendered * 4 >= cases,
        "too few cases reach render: {rendered}/{cases}"
    );
}

// --- budgets and limits --------------------------------------------------------------------

fn parse_error(text: &str) -> String {
    match timed("budget", || {
        parse_document::<DeployRequest>("request", text)
    }) {
        Ok(r) => panic!("accepted: {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    doc.push_str("account: acme\nname: bot\n");
    let err = parse_error(&doc);
    assert!(
        err.contains("invalid YAML") && err.contains("budget breached"),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_refused_with_the_limit() {
    let yaml = format!("account: {}x{}\n", "[".repeat(5_000), "]".repeat(5_000));
    let err = parse_error(&yaml);
    assert!(
        err.contains("invalid YAML") && err.contains("recursion limit"),
        "{err}"
    );
    let json = format!(
        "{{\"account\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = parse_error(&json);
    assert!(
        err.contains("invalid JSON") && err.contains("recursion"),
        "{err}"
    );
    let json = format!("{{\"account\": {}1{}}}", "[".repeat(100), "]".repeat(100));
    let err = parse_error(&json);
    assert!(err.contains("nested deeper than 48 levels"), "{err}");
}

#[test]
fn huge_documents_and_node_counts_are_refused() {
    let doc = format!(
        "account: acme\nname: bot\n#{}\n",
        "x".repeat(MAX_DOCUMENT_BYTES)
    );
    let err = parse_error(&doc);
    assert!(err.contains("bytes; the limit is 1048576"), "{err}");
    let doc = format!(
        "account: acme\nname: bot\ninterfaces:\n{}",
        "- a\n".repeat(200_000)
    );
    let err = parse_error(&doc);
    assert!(
        err.contains("invalid YAML") && err.contains("budget"),
        "{err}"
    );
    let err = parse_error("account: acme\nname: \"bot\0\"\n");
    assert!(err.contains("NUL byte"), "{err}");
    let err = parse_error("---\naccount: a\n---\naccount: b\n");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn credential_values_have_size_limits() {
    let build = weather().into_build().expect("build");
    let mut big = BTreeMap::new();
    big.insert("BIG".to_string(), "x".repeat(64 * 1024 + 1));
    let req = request_for(&build, &big, &[]);
    let err = resolve(&req, &build, &ResolveOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("user_credentials.BIG") && err.contains("65536"),
        "{err}"
    );
    let many: BTreeMap<String, String> = (0..9)
        .map(|i| (format!("K{i}"), "x".repeat(60 * 1024)))
        .collect();
    let req = request_for(&build, &many, &[]);
    let err = resolve(&req, &build, &ResolveOptions::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("524288"), "{err}");
}

// --- regressions of the secret audit ---------------------------------------------------------

#[test]
fn parse_errors_never_echo_a_credential() {
    let secret = "sk-ant-REGRESSION-1234";
    // A YAML mistake next to a credential: no source lines in the error.
    let doc = format!("account: acme\nname: bot\nuser_credentials:\n  A: \"{secret}\n  B: [\n");
    let err = parse_error(&doc);
    assert!(!err.contains(secret), "{err}");
    // A credential where a map is expected, and a map where a value is expected.
    let doc = format!("account: acme\nname: bot\nuser_credentials: \"{secret}\"\n");
    let err = parse_error(&doc);
    assert!(
        !err.contains(secret) && err.contains("user_credentials"),
        "{err}"
    );
    let doc = format!("account: acme\nname: bot\nuser_credentials:\n  A: {{\"{secret}\": 1}}\n");
    let err = parse_error(&doc);
    assert!(
        !err.contains(secret) && err.contains("user_credentials.A"),
        "{err}"
    );
}
