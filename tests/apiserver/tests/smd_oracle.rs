//! test-apiserver's server-side apply, update ownership and conflicts checked against the real
//! structured-merge-diff (`merge.Updater`, run by `tests/smd-oracle`) with the Kubernetes 1.32
//! schema: random sequences of applies (forced or not) and updates by three managers, over the
//! fields the templates use and the ones around them, for each of the 12 kinds rendered or
//! served. Every step compares the merged object, every manager's FieldsV1 and the conflicts.
//! The `http_*` tests send applies to a running test-apiserver instead and compare its answers.
//! `docs/apiserver-fidelity.md` ("Merge and ownership, checked against structured-merge-diff")
//! lists what is compared and the allowed divergences.

mod common;
mod oracle;

use oracle::Oracle;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;
use test_apiserver::fieldpath::Set;
use test_apiserver::fieldpath::render_path;
use test_apiserver::managed::{self, Entry};
use test_apiserver::{TestApiServer, defaults, patch, schema, write};

/// Sequences per kind; 12 kinds give 1,200 sequences a run. `SMD_ORACLE_CASES=N` runs N per
/// kind instead, for a deeper search by hand.
const CASES_PER_KIND: u32 = 100;

fn cases_per_kind() -> u32 {
    std::env::var("SMD_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES_PER_KIND)
}

/// The kinds, their apiVersion and their type in the 1.32 schema.
const KINDS: [(&str, &str, &str); 12] = [
    ("Namespace", "v1", "io.k8s.api.core.v1.Namespace"),
    (
        "NetworkPolicy",
        "networking.k8s.io/v1",
        "io.k8s.api.networking.v1.NetworkPolicy",
    ),
    ("Secret", "v1", "io.k8s.api.core.v1.Secret"),
    ("ConfigMap", "v1", "io.k8s.api.core.v1.ConfigMap"),
    ("Service", "v1", "io.k8s.api.core.v1.Service"),
    ("Deployment", "apps/v1", "io.k8s.api.apps.v1.Deployment"),
    ("StatefulSet", "apps/v1", "io.k8s.api.apps.v1.StatefulSet"),
    ("Job", "batch/v1", "io.k8s.api.batch.v1.Job"),
    ("CronJob", "batch/v1", "io.k8s.api.batch.v1.CronJob"),
    (
        "Ingress",
        "networking.k8s.io/v1",
        "io.k8s.api.networking.v1.Ingress",
    ),
    ("ServiceAccount", "v1", "io.k8s.api.core.v1.ServiceAccount"),
    (
        "PersistentVolumeClaim",
        "v1",
        "io.k8s.api.core.v1.PersistentVolumeClaim",
    ),
];

const NOW: &str = "2025-01-01T00:00:00Z";
const MANAGERS: [&str; 3] = ["alice", "bob", "carol"];

/// One step of a sequence: who, what, forced or not, and the seed of its object.
#[derive(Debug, Clone)]
struct Step {
    manager: usize,
    update: bool,
    force: bool,
    seed: u64,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..MANAGERS.len(), 0u8..10, any::<bool>(), any::<u64>()).prop_map(
            |(manager, op, force, seed)| Step {
                manager,
                // Three in ten are updates (create, PUT, or a patch other than apply).
                update: op >= 7,
                // Forcing half the time lets sequences go on past a conflict.
                force,
                seed,
            },
        ),
        1..8,
    )
}

/// The process's oracle, shared by its cases.
static ORACLE: Mutex<Option<Oracle>> = Mutex::new(None);

/// What one kind's run compared, printed at its end.
#[derive(Default, Debug)]
struct Tally {
    sequences: usize,
    applies: usize,
    updates: usize,
    conflicts: usize,
    owned_paths: usize,
}

static TALLY: Mutex<BTreeMap<&'static str, Tally>> = Mutex::new(BTreeMap::new());

fn check_kind(kind_index: usize) {
    let (kind, _, _) = KINDS[kind_index];
    let config = ProptestConfig {
        cases: cases_per_kind(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(seq in steps())| {
        let mut guard = ORACLE.lock().unwrap_or_else(|e| e.into_inner());
        let oracle = guard.get_or_insert_with(Oracle::start);
        if let Err(e) = run(oracle, kind_index, &seq) {
            return Err(TestCaseError::fail(e));
        }
    });
    let tally = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("{kind}: {:?}", tally.get(kind));
}

macro_rules! kind_tests {
    ($($name:ident = $i:expr;)*) => {$(
        #[test]
        fn $name() {
            check_kind($i);
        }
    )*};
}

kind_tests! {
    namespace = 0;
    network_policy = 1;
    secret = 2;
    config_map = 3;
    service = 4;
    deployment = 5;
    stateful_set = 6;
    job = 7;
    cron_job = 8;
    ingress = 9;
    service_account = 10;
    persistent_volume_claim = 11;
}

/// The kinds driven through HTTP: those whose random objects mostly pass validation (random
/// workloads rarely have a selector matching their template).
const HTTP_KINDS: [usize; 8] = [0, 1, 2, 3, 4, 9, 10, 11];

/// One server and runtime per test process.
struct Http {
    runtime: tokio::runtime::Runtime,
    server: TestApiServer,
}

static HTTP: Mutex<Option<Http>> = Mutex::new(None);
static HTTP_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Steps compared over HTTP, and steps the server refused with 422 (not compared beyond "no
/// conflict").
static HTTP_TALLY: Mutex<(usize, usize)> = Mutex::new((0, 0));

/// Applies through test-apiserver's HTTP API (`PATCH` with `application/apply-patch+yaml`,
/// `force` or not), each checked against the oracle given the object and managedFields the
/// server held before it: conflicts (the 409's causes), and every manager's FieldsV1 after it.
/// This covers the whole write pipeline of `write.rs` (reset fields, defaulting after the
/// merge, system metadata) around `managed.rs`.
fn check_kind_http(kind_index: usize) {
    let (kind, _, _) = KINDS[kind_index];
    let config = ProptestConfig {
        // Half as many as through the functions: 400 sequences a run.
        cases: cases_per_kind() / 2,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(seq in steps())| {
        let mut oracle_guard = ORACLE.lock().unwrap_or_else(|e| e.into_inner());
        let oracle = oracle_guard.get_or_insert_with(Oracle::start);
        let mut http_guard = HTTP.lock().unwrap_or_else(|e| e.into_inner());
        let http = http_guard.get_or_insert_with(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let server = runtime.block_on(TestApiServer::start()).expect("start the server");
            Http { runtime, server }
        });
        if let Err(e) = run_http(oracle, http, kind_index, &seq) {
            return Err(TestCaseError::fail(e));
        }
    });
    let (compared, invalid) = *HTTP_TALLY.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("{kind} over HTTP: {compared} steps compared, {invalid} refused as invalid");
    assert!(compared > 0, "no step of {kind} reached the comparison");
}

macro_rules! http_kind_tests {
    ($($name:ident = $i:expr;)*) => {$(
        #[test]
        fn $name() {
            check_kind_http($i);
        }
    )*};
}

http_kind_tests! {
    http_namespace = HTTP_KINDS[0];
    http_network_policy = HTTP_KINDS[1];
    http_secret = HTTP_KINDS[2];
    http_config_map = HTTP_KINDS[3];
    http_service = HTTP_KINDS[4];
    http_ingress = HTTP_KINDS[5];
    http_service_account = HTTP_KINDS[6];
    http_persistent_volume_claim = HTTP_KINDS[7];
}

/// managedFields as the oracle's managers: `manager/operation` → FieldsV1.
fn managers_of(obj: &Value) -> Value {
    let mut out = Map::new();
    for e in obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = format!(
            "{}/{}",
            e["manager"].as_str().unwrap_or(""),
            e["operation"].as_str().unwrap_or("")
        );
        out.insert(key, e["fieldsV1"].clone());
    }
    Value::Object(out)
}

/// The oracle's conflicts as the 409's causes: (`conflict with "<manager>"`, path), sorted.
fn oracle_causes(conflicts: &Value, api_version: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (printed, fields) in printed_conflicts(conflicts, api_version)
        .as_object()
        .into_iter()
        .flatten()
    {
        for p in Set::from_fields_v1(fields).unwrap_or_default().paths() {
            out.push((format!("conflict with {printed}"), render_path(&p)));
        }
    }
    out.sort();
    out
}

fn server_causes(body: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["message"].as_str().unwrap_or("").to_string(),
                c["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn run_http(
    oracle: &mut Oracle,
    http: &Http,
    kind_index: usize,
    seq: &[Step],
) -> Result<(), String> {
    let (kind, api_version, type_name) = KINDS[kind_index];
    let info = test_apiserver::resources::by_kind(kind).ok_or("unknown kind")?;
    let n = HTTP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("o{n}");
    let base = http.server.base_url();
    let root = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    let path = if info.namespaced {
        format!("{root}/namespaces/default/{}/{name}", info.plural)
    } else {
        format!("{root}/{}/{name}", info.plural)
    };
    let (mut compared, mut invalid) = (0, 0);
    for (i, step) in seq.iter().enumerate() {
        let mut g = Gen(step.seed);
        let mut config = object(kind, api_version, &mut g);
        config["metadata"]["name"] = json!(name);
        if info.namespaced {
            config["metadata"]["namespace"] = json!("default");
        }
        let manager = MANAGERS[step.manager];
        let live = http.runtime.block_on(common::get(&base, &path));
        let live = (live.code == 200).then_some(live.body);
        let (live_obj, mut managers) = match &live {
            Some(l) => {
                let mut o = l.clone();
                if let Some(Value::Object(md)) = o.get_mut("metadata") {
                    md.shift_remove("managedFields");
                }
                (Some(o), managers_of(l))
            }
            None => (None, json!({})),
        };
        // An object without managedFields is first attributed to `before-first-apply`, an
        // Update from the kind's zero value (managedfields `skipnonapplied.go`).
        if let Some(l) = &live_obj
            && managers.as_object().is_some_and(Map::is_empty)
        {
            let answer = oracle.call(&json!({
                "type": type_name, "live": write::skeleton(kind), "managers": {},
                "op": "update", "manager": "before-first-apply/Update", "object": l,
            }));
            if let Some(e) = answer.get("error") {
                return Err(format!(
                    "{kind}: the oracle failed on before-first-apply: {e}"
                ));
            }
            managers = answer["managers"].clone();
        }
        let answer = oracle.call(&json!({
            "type": type_name, "live": live_obj, "managers": managers,
            "op": "apply", "manager": format!("{manager}/Apply"), "object": config,
            "force": step.force,
        }));
        let ctx = |what: &str| {
            format!(
                "{kind} over HTTP, step {i} ({manager} apply{}): {what}\nlive: {}\nobject: {config}",
                if step.force { ", force" } else { "" },
                live.as_ref().map_or("none".into(), Value::to_string),
            )
        };
        if let Some(e) = answer.get("error") {
            return Err(ctx(&format!("the oracle failed: {e}")));
        }
        let url = format!("{path}?fieldManager={manager}&force={}", step.force);
        let resp = http.runtime.block_on(common::apply(&base, &url, &config));
        let conflicts = answer["conflict_count"].as_u64().unwrap_or(0);
        match resp.code {
            409 => {
                let (ours, want) = (
                    server_causes(&resp.body),
                    oracle_causes(&answer["conflicts"], api_version),
                );
                if ours != want {
                    return Err(ctx(&format!(
                        "conflicts differ\n  server: {ours:?}\n  oracle: {want:?}"
                    )));
                }
                compared += 1;
            }
            _ if conflicts > 0 => {
                return Err(ctx(&format!(
                    "the server answers {} ({}), the oracle finds conflicts {}",
                    resp.code, resp.text, answer["conflicts"]
                )));
            }
            200 | 201 => {
                let want = answer.get("managers").cloned().unwrap_or(json!({}));
                let ours = managers_of(&resp.body);
                if ours != want {
                    return Err(ctx(&format!(
                        "ownership differs\n  server: {ours}\n  oracle: {want}"
                    )));
                }
                compared += 1;
            }
            422 => invalid += 1,
            code => return Err(ctx(&format!("unexpected {code}: {}", resp.text))),
        }
    }
    let mut t = HTTP_TALLY.lock().unwrap_or_else(|e| e.into_inner());
    t.0 += compared;
    t.1 += invalid;
    Ok(())
}

fn key(e: &Entry) -> String {
    format!("{}/{}", e.manager, e.operation)
}

fn managers_json(entries: &[Entry]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|e| (key(e), e.set.to_fields_v1()))
            .collect(),
    )
}

fn entries_of(managers: &Value, api_version: &str) -> Result<Vec<Entry>, String> {
    let Some(m) = managers.as_object() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (k, fields) in m {
        let (manager, operation) = k.split_once('/').ok_or("bad manager key")?;
        out.push(Entry {
            manager: manager.into(),
            operation: operation.into(),
            api_version: api_version.into(),
            time: Some(NOW.into()),
            subresource: String::new(),
            set: Set::from_fields_v1(fields).ok_or_else(|| format!("bad FieldsV1 {fields}"))?,
        });
    }
    Ok(out)
}

/// Conflicts as the oracle gives them: printed manager → FieldsV1.
fn conflicts_json(c: &managed::Conflicts) -> Value {
    let mut by: BTreeMap<String, Set> = BTreeMap::new();
    for (printed, path) in &c.items {
        by.entry(printed.clone()).or_default().insert(path);
    }
    Value::Object(by.into_iter().map(|(k, s)| (k, s.to_fields_v1())).collect())
}

/// The oracle's conflict keys (`name/Apply`) as test-apiserver prints managers.
fn printed_conflicts(v: &Value, api_version: &str) -> Value {
    let Some(m) = v.as_object() else {
        return json!({});
    };
    Value::Object(
        m.iter()
            .map(|(k, s)| {
                let (name, op) = k.split_once('/').unwrap_or((k, ""));
                let printed = if op == "Update" {
                    format!("{name:?} using {api_version}")
                } else {
                    format!("{name:?}")
                };
                (printed, s.clone())
            })
            .collect(),
    )
}

fn count_paths(managers: &Value) -> usize {
    managers
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(Set::from_fields_v1)
                .map(|s| s.paths().len())
                .sum()
        })
        .unwrap_or(0)
}

fn run(oracle: &mut Oracle, kind_index: usize, seq: &[Step]) -> Result<(), String> {
    let (kind, api_version, type_name) = KINDS[kind_index];
    let ty = schema::root(kind);
    let mut live: Option<Value> = None;
    let mut entries: Vec<Entry> = Vec::new();
    let mut tally = Tally {
        sequences: 1,
        ..Tally::default()
    };
    for (i, step) in seq.iter().enumerate() {
        let mut g = Gen(step.seed);
        let config = object(kind, api_version, &mut g);
        let manager = MANAGERS[step.manager];
        let ctx = |what: &str| {
            format!(
                "{kind} step {i} ({manager} {}{}): {what}\nlive: {}\nmanagers: {}\nobject: {config}",
                if step.update { "update" } else { "apply" },
                if step.force { ", force" } else { "" },
                live.as_ref().map_or("none".into(), Value::to_string),
                managers_json(&entries),
            )
        };
        if step.update {
            tally.updates += 1;
            let base = live.clone().unwrap_or_else(|| write::skeleton(kind));
            let mut new = match &live {
                Some(l) => updated(l, &config, &mut g),
                None => config.clone(),
            };
            defaults::apply_defaults(kind, &mut new);
            let answer = oracle.call(&json!({
                "type": type_name, "live": base, "managers": managers_json(&entries),
                "op": "update", "manager": format!("{manager}/Update"), "object": new,
            }));
            if let Some(e) = answer.get("error") {
                return Err(ctx(&format!("the oracle failed: {e}")));
            }
            let ours = managed::update(
                &base,
                &new,
                ty,
                entries.clone(),
                manager,
                api_version,
                "",
                NOW,
            );
            let want = answer.get("managers").cloned().unwrap_or(json!({}));
            if managers_json(&ours) != want {
                return Err(ctx(&format!(
                    "update ownership differs\n  ours:   {}\n  oracle: {want}",
                    managers_json(&ours)
                )));
            }
            tally.owned_paths += count_paths(&want);
            entries = ours;
            live = Some(new);
            continue;
        }
        tally.applies += 1;
        let answer = oracle.call(&json!({
            "type": type_name, "live": live, "managers": managers_json(&entries),
            "op": "apply", "manager": format!("{manager}/Apply"), "object": config,
            "force": step.force,
        }));
        if let Some(e) = answer.get("error") {
            return Err(ctx(&format!("the oracle failed: {e}")));
        }
        let ours = managed::apply(
            live.as_ref(),
            Cow::Borrowed(&config),
            ty,
            entries.clone(),
            manager,
            api_version,
            "",
            step.force,
            NOW,
        );
        let oracle_conflicts = answer["conflict_count"].as_u64().unwrap_or(0);
        match ours {
            Err(c) => {
                let want = printed_conflicts(&answer["conflicts"], api_version);
                if oracle_conflicts == 0 {
                    return Err(ctx(&format!(
                        "we refuse with {}, the oracle applies",
                        c.message()
                    )));
                }
                if conflicts_json(&c) != want || c.items.len() as u64 != oracle_conflicts {
                    return Err(ctx(&format!(
                        "conflicts differ\n  ours:   {}\n  oracle: {want}",
                        conflicts_json(&c)
                    )));
                }
                tally.conflicts += 1;
            }
            Ok(out) => {
                if oracle_conflicts > 0 {
                    return Err(ctx(&format!(
                        "we apply, the oracle refuses: {}",
                        printed_conflicts(&answer["conflicts"], api_version)
                    )));
                }
                let want_obj = &answer["object"];
                if canonical(&out.object) != canonical(want_obj) {
                    return Err(ctx(&format!(
                        "merged objects differ\n  ours:   {}\n  oracle: {want_obj}",
                        out.object
                    )));
                }
                let want = answer.get("managers").cloned().unwrap_or(json!({}));
                if managers_json(&out.entries) != want {
                    return Err(ctx(&format!(
                        "apply ownership differs\n  ours:   {}\n  oracle: {want}",
                        managers_json(&out.entries)
                    )));
                }
                tally.owned_paths += count_paths(&want);
                entries = entries_of(&want, api_version)?;
                // The server defaults what the merge gives (managedfields
                // `structuredmerge.go` Apply, then the registry's decode).
                let mut next = without_nulls(want_obj);
                defaults::apply_defaults(kind, &mut next);
                live = Some(next);
            }
        }
    }
    let mut all = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    let t = all.entry(kind).or_default();
    t.sequences += tally.sequences;
    t.applies += tally.applies;
    t.updates += tally.updates;
    t.conflicts += tally.conflicts;
    t.owned_paths += tally.owned_paths;
    Ok(())
}

/// `v` without null members: kube-apiserver decodes the merged object into its Go type, where
/// a null is an absent field or a zero value.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, c)| !c.is_null())
                .map(|(k, c)| (k.clone(), without_nulls(c)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// The form merged objects are compared in. Members that are null, `{}` or `[]` are dropped:
/// structured-merge-diff leaves a null where it emptied a map or list, test-apiserver an empty
/// one, and the typed round trip of kube-apiserver makes either absent or the zero value.
/// Lists are sorted: structured-merge-diff v4.2 changed the order of merged associative lists
/// (structured-merge-diff #203, #205), so v4.1.2's order is not 1.32's.
fn canonical(v: &Value) -> Value {
    let empty = |c: &Value| match c {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    match v {
        Value::Object(m) => {
            // Keys sorted, so that the text lists are sorted by does not depend on key order.
            let sorted: BTreeMap<&String, Value> = m
                .iter()
                .map(|(k, c)| (k, canonical(c)))
                .filter(|(_, c)| !empty(c))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, c)| (k.clone(), c)).collect())
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(canonical).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// A non-apply write: the live object with part of `config` put over it: a JSON merge patch
/// (RFC 7386, as `kubectl patch --type merge`), or one top-level field replaced whole (as a PUT
/// of an edited object), or the labels replaced.
fn updated(live: &Value, config: &Value, g: &mut Gen) -> Value {
    match g.below(3) {
        0 => patch::merge_patch(live, config),
        1 => {
            let mut new = live.clone();
            let fields: Vec<&String> = config
                .as_object()
                .into_iter()
                .flat_map(Map::keys)
                .filter(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                .collect();
            let candidates = ["spec", "data", "stringData", "type", "secrets"];
            let field = if fields.is_empty() {
                g.pick(&candidates).to_string()
            } else {
                g.pick(&fields).to_string()
            };
            if let Value::Object(m) = &mut new {
                match config.get(&field) {
                    Some(v) => {
                        m.insert(field, v.clone());
                    }
                    None => {
                        m.shift_remove(&field);
                    }
                }
            }
            new
        }
        _ => {
            let mut new = live.clone();
            if let Some(Value::Object(md)) = new.get_mut("metadata") {
                match config["metadata"].get("labels") {
                    Some(l) => {
                        md.insert("labels".into(), l.clone());
                    }
                    None => {
                        md.shift_remove("labels");
                    }
                }
            }
            new
        }
    }
}

/// A small deterministic generator (splitmix64), seeded by proptest.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
    fn subset<T: Clone>(&mut self, xs: &[T]) -> Vec<T> {
        xs.iter().filter(|_| self.chance(50)).cloned().collect()
    }
    /// A map of some of `keys`, each to one of `values`.
    fn str_map(&mut self, keys: &[&str], values: &[&str]) -> Value {
        let mut m = Map::new();
        for k in self.subset(keys) {
            m.insert(k.to_string(), json!(self.pick(values)));
        }
        Value::Object(m)
    }
    /// Puts `f()` at `key` with probability `percent`.
    fn put(
        &mut self,
        m: &mut Map<String, Value>,
        percent: u64,
        key: &str,
        f: impl FnOnce(&mut Gen) -> Value,
    ) {
        if self.chance(percent) {
            let v = f(self);
            m.insert(key.into(), v);
        }
    }
}

fn object(kind: &str, api_version: &str, g: &mut Gen) -> Value {
    let mut o = Map::new();
    o.insert("apiVersion".into(), json!(api_version));
    o.insert("kind".into(), json!(kind));
    o.insert("metadata".into(), metadata(g, kind != "Namespace", true));
    match kind {
        "ConfigMap" => {
            g.put(&mut o, 70, "data", |g| {
                g.str_map(&["k1", "k2", "k3"], &["v1", "v2"])
            });
            g.put(&mut o, 10, "binaryData", |g| {
                g.str_map(&["b1", "b2"], &["YQ==", "Yg=="])
            });
        }
        "Secret" => {
            g.put(&mut o, 40, "type", |_| json!("Opaque"));
            g.put(&mut o, 60, "data", |g| {
                g.str_map(&["k1", "k2", "k3"], &["YQ==", "Yg=="])
            });
            g.put(&mut o, 20, "stringData", |g| {
                g.str_map(&["k2", "k4"], &["a", "b"])
            });
        }
        "ServiceAccount" => {
            g.put(&mut o, 30, "automountServiceAccountToken", |g| {
                json!(g.chance(50))
            });
            g.put(&mut o, 40, "secrets", |g| names(g, &["s1", "s2", "s3"]));
            g.put(&mut o, 30, "imagePullSecrets", |g| {
                names(g, &["reg1", "reg2"])
            });
        }
        "Namespace" => {}
        _ => {
            let spec = match kind {
                "Service" => service_spec(g),
                "Deployment" => deployment_spec(g),
                "StatefulSet" => statefulset_spec(g),
                "Job" => job_spec(g),
                "CronJob" => cronjob_spec(g),
                "Ingress" => ingress_spec(g),
                "NetworkPolicy" => network_policy_spec(g),
                "PersistentVolumeClaim" => pvc_spec(g),
                other => unreachable!("no generator for {other}"),
            };
            if g.chance(90) {
                o.insert("spec".into(), spec);
            }
        }
    }
    Value::Object(o)
}

fn names(g: &mut Gen, pool: &[&str]) -> Value {
    Value::Array(
        g.subset(pool)
            .into_iter()
            .map(|n| json!({ "name": n }))
            .collect(),
    )
}

fn metadata(g: &mut Gen, namespaced: bool, named: bool) -> Value {
    let mut m = Map::new();
    if named {
        m.insert("name".into(), json!("x"));
        if namespaced {
            m.insert("namespace".into(), json!("ns"));
        }
    }
    g.put(&mut m, 50, "labels", |g| {
        g.str_map(&["app", "team", "tier"], &["a", "b"])
    });
    g.put(&mut m, 30, "annotations", |g| {
        g.str_map(&["note", "owner"], &["x", "y"])
    });
    g.put(&mut m, 10, "finalizers", |g| {
        json!(g.subset(&["example.com/a", "example.com/b"]))
    });
    Value::Object(m)
}

fn selector(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 80, "matchLabels", |g| {
        g.str_map(&["app", "tier"], &["a", "b"])
    });
    g.put(&mut s, 15, "matchExpressions", |g| {
        json!([{"key": g.pick(&["app", "env"]), "operator": "In", "values": [g.pick(&["a", "b"])]}])
    });
    Value::Object(s)
}

fn pod_template(g: &mut Gen) -> Value {
    let mut t = Map::new();
    g.put(&mut t, 70, "metadata", |g| metadata(g, false, false));
    g.put(&mut t, 90, "spec", pod_spec);
    Value::Object(t)
}

fn pod_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 30, "restartPolicy", |g| {
        json!(g.pick(&["Always", "OnFailure", "Never"]))
    });
    g.put(&mut s, 30, "automountServiceAccountToken", |g| {
        json!(g.chance(50))
    });
    g.put(&mut s, 30, "enableServiceLinks", |g| json!(g.chance(50)));
    g.put(&mut s, 15, "terminationGracePeriodSeconds", |g| {
        json!(g.pick(&[10, 30]))
    });
    g.put(&mut s, 40, "securityContext", |g| {
        let mut c = Map::new();
        g.put(&mut c, 50, "runAsNonRoot", |_| json!(true));
        g.put(&mut c, 40, "runAsUser", |g| json!(g.pick(&[1000, 2000])));
        g.put(&mut c, 30, "fsGroup", |g| json!(g.pick(&[1000, 2000])));
        g.put(
            &mut c,
            50,
            "seccompProfile",
            |g| json!({"type": g.pick(&["RuntimeDefault", "Unconfined"])}),
        );
        Value::Object(c)
    });
    g.put(&mut s, 25, "tolerations", |g| {
        json!([{"key": g.pick(&["gpu", "spot"]), "operator": "Exists", "effect": "NoSchedule"}])
    });
    g.put(&mut s, 35, "nodeSelector", |g| {
        g.str_map(&["disk", "zone", "gpu"], &["ssd", "a", "b"])
    });
    g.put(&mut s, 15, "affinity", |g| {
        json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": [g.pick(&["a", "b"])]}]}]}}})
    });
    g.put(&mut s, 15, "topologySpreadConstraints", |g| {
        json!([{"maxSkew": g.pick(&[1, 2]), "topologyKey": "zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": g.str_map(&["app", "tier"], &["a", "b"])}}])
    });
    g.put(&mut s, 20, "imagePullSecrets", |g| {
        names(g, &["reg1", "reg2"])
    });
    g.put(&mut s, 35, "volumes", |g| {
        let mut vols = Vec::new();
        for name in g.subset(&["data", "tmp", "conf"]) {
            vols.push(match g.below(3) {
                0 => json!({"name": name, "emptyDir": {}}),
                1 => json!({"name": name, "configMap": {"name": g.pick(&["c1", "c2"])}}),
                _ => json!({"name": name, "secret": {"secretName": g.pick(&["s1", "s2"])}}),
            });
        }
        Value::Array(vols)
    });
    g.put(&mut s, 90, "containers", |g| {
        let names = g.subset(&["app", "side"]);
        Value::Array(names.into_iter().map(|n| container(g, n)).collect())
    });
    g.put(&mut s, 10, "initContainers", |g| {
        json!([container(g, "init")])
    });
    Value::Object(s)
}

fn container(g: &mut Gen, name: &str) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(name));
    g.put(&mut c, 70, "image", |g| {
        json!(g.pick(&["nginx:1.27", "nginx", "busybox:1.36"]))
    });
    g.put(&mut c, 20, "imagePullPolicy", |g| {
        json!(g.pick(&["Always", "IfNotPresent"]))
    });
    g.put(&mut c, 20, "args", |g| {
        json!(g.subset(&["--a", "--b", "--c"]))
    });
    g.put(&mut c, 40, "ports", |g| {
        let mut ports = Vec::new();
        for (pname, port, udp) in g.subset(&[
            ("http", 80, false),
            ("metrics", 9090, false),
            ("dns", 53, true),
        ]) {
            let mut p = Map::new();
            p.insert("containerPort".into(), json!(port));
            if g.chance(70) {
                p.insert("name".into(), json!(pname));
            }
            if udp {
                p.insert("protocol".into(), json!("UDP"));
            } else if g.chance(50) {
                p.insert("protocol".into(), json!("TCP"));
            }
            ports.push(Value::Object(p));
        }
        Value::Array(ports)
    });
    g.put(
        &mut c,
        20,
        "envFrom",
        |g| json!([{"configMapRef": {"name": g.pick(&["c1", "c2"])}}]),
    );
    g.put(&mut c, 45, "env", |g| {
        let mut env = Vec::new();
        for n in g.subset(&["A", "B", "C"]) {
            env.push(match g.below(5) {
                0 | 1 => json!({"name": n, "value": g.pick(&["1", "2"])}),
                2 => {
                    let mut r = Map::new();
                    g.put(&mut r, 80, "name", |g| json!(g.pick(&["s1", "s2"])));
                    r.insert("key".into(), json!(g.pick(&["k1", "k2"])));
                    g.put(&mut r, 20, "optional", |g| json!(g.chance(50)));
                    json!({"name": n, "valueFrom": {"secretKeyRef": r}})
                }
                3 => json!({"name": n, "valueFrom": {"configMapKeyRef": {
                    "name": g.pick(&["c1", "c2"]), "key": g.pick(&["k1", "k2"])}}}),
                _ => {
                    if g.chance(50) {
                        json!({"name": n, "valueFrom": {"fieldRef": {"fieldPath": g.pick(&["metadata.name", "status.podIP"])}}})
                    } else {
                        json!({"name": n, "valueFrom": {"resourceFieldRef": {"resource": g.pick(&["limits.cpu", "requests.memory"])}}})
                    }
                }
            });
        }
        Value::Array(env)
    });
    g.put(&mut c, 45, "resources", |g| {
        let mut r = Map::new();
        g.put(&mut r, 70, "requests", |g| {
            g.str_map(&["cpu", "memory"], &["100m", "1", "0.5", "128Mi"])
        });
        g.put(&mut r, 50, "limits", |g| {
            g.str_map(&["cpu", "memory"], &["1", "1000m", "256Mi"])
        });
        Value::Object(r)
    });
    g.put(&mut c, 20, "livenessProbe", |g| {
        json!({"httpGet": {"path": g.pick(&["/", "/healthz"]), "port": g.pick(&[json!(80), json!("http")])},
               "periodSeconds": g.pick(&[10, 20])})
    });
    g.put(
        &mut c,
        15,
        "readinessProbe",
        |g| json!({"exec": {"command": ["true"]}, "timeoutSeconds": g.pick(&[1, 5])}),
    );
    g.put(&mut c, 30, "volumeMounts", |g| {
        let mut ms = Vec::new();
        for (n, path) in g.subset(&[("data", "/data"), ("tmp", "/tmp"), ("conf", "/etc/conf")]) {
            let mut m = Map::new();
            m.insert("name".into(), json!(n));
            m.insert("mountPath".into(), json!(path));
            g.put(&mut m, 20, "readOnly", |g| json!(g.chance(50)));
            ms.push(Value::Object(m));
        }
        Value::Array(ms)
    });
    g.put(&mut c, 25, "securityContext", |g| {
        let mut s = Map::new();
        g.put(&mut s, 70, "allowPrivilegeEscalation", |_| json!(false));
        g.put(&mut s, 30, "readOnlyRootFilesystem", |_| json!(true));
        g.put(&mut s, 60, "capabilities", |g| {
            let mut caps = Map::new();
            caps.insert("drop".into(), json!(["ALL"]));
            g.put(&mut caps, 30, "add", |g| {
                json!([g.pick(&["NET_BIND_SERVICE", "CHOWN"])])
            });
            Value::Object(caps)
        });
        Value::Object(s)
    });
    Value::Object(c)
}

fn deployment_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 40, "replicas", |g| json!(g.pick(&[1, 2, 3])));
    g.put(&mut s, 20, "progressDeadlineSeconds", |g| {
        json!(g.pick(&[180, 600]))
    });
    g.put(&mut s, 10, "minReadySeconds", |g| json!(g.pick(&[0, 5])));
    g.put(&mut s, 25, "strategy", |g| {
        if g.chance(50) {
            json!({"type": "Recreate"})
        } else {
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": g.pick(&[json!("25%"), json!(1)])}})
        }
    });
    g.put(&mut s, 50, "selector", selector);
    g.put(&mut s, 70, "template", pod_template);
    Value::Object(s)
}

fn statefulset_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 40, "replicas", |g| json!(g.pick(&[1, 2, 3])));
    g.put(&mut s, 40, "serviceName", |g| json!(g.pick(&["svc", "db"])));
    g.put(&mut s, 10, "podManagementPolicy", |g| {
        json!(g.pick(&["OrderedReady", "Parallel"]))
    });
    g.put(
        &mut s,
        15,
        "updateStrategy",
        |g| json!({"type": g.pick(&["RollingUpdate", "OnDelete"])}),
    );
    g.put(&mut s, 50, "selector", selector);
    g.put(&mut s, 70, "template", pod_template);
    g.put(&mut s, 25, "volumeClaimTemplates", |g| {
        json!([{"metadata": {"name": g.pick(&["data", "logs"])},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": g.pick(&["1Gi", "2Gi"])}}}}])
    });
    g.put(
        &mut s,
        10,
        "persistentVolumeClaimRetentionPolicy",
        |g| json!({"whenDeleted": g.pick(&["Retain", "Delete"])}),
    );
    Value::Object(s)
}

fn job_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 40, "backoffLimit", |g| json!(g.pick(&[3, 6])));
    g.put(&mut s, 20, "completions", |g| json!(g.pick(&[1, 2])));
    g.put(&mut s, 20, "parallelism", |g| json!(g.pick(&[1, 2])));
    g.put(&mut s, 15, "ttlSecondsAfterFinished", |g| {
        json!(g.pick(&[60, 600]))
    });
    g.put(&mut s, 70, "template", pod_template);
    Value::Object(s)
}

fn cronjob_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 60, "schedule", |g| {
        json!(g.pick(&["*/5 * * * *", "0 * * * *"]))
    });
    g.put(&mut s, 30, "concurrencyPolicy", |g| {
        json!(g.pick(&["Forbid", "Allow"]))
    });
    g.put(&mut s, 20, "suspend", |g| json!(g.chance(50)));
    g.put(&mut s, 20, "successfulJobsHistoryLimit", |g| {
        json!(g.pick(&[1, 3]))
    });
    g.put(&mut s, 20, "failedJobsHistoryLimit", |g| {
        json!(g.pick(&[1, 3]))
    });
    g.put(&mut s, 70, "jobTemplate", |g| {
        let mut t = Map::new();
        g.put(&mut t, 20, "metadata", |g| metadata(g, false, false));
        g.put(&mut t, 90, "spec", job_spec);
        Value::Object(t)
    });
    Value::Object(s)
}

fn service_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 20, "type", |g| {
        json!(g.pick(&["ClusterIP", "NodePort"]))
    });
    g.put(&mut s, 10, "clusterIP", |_| json!("None"));
    g.put(&mut s, 50, "selector", |g| {
        g.str_map(&["app", "tier"], &["a", "b"])
    });
    g.put(&mut s, 15, "publishNotReadyAddresses", |g| {
        json!(g.chance(50))
    });
    g.put(&mut s, 10, "sessionAffinity", |g| {
        json!(g.pick(&["None", "ClientIP"]))
    });
    g.put(&mut s, 70, "ports", |g| {
        let mut ports = Vec::new();
        for (name, port, target, udp) in g.subset(&[
            ("http", 80, json!("http"), false),
            ("https", 443, json!(8443), false),
            ("dns", 53, json!(53), true),
        ]) {
            let mut p = Map::new();
            p.insert("port".into(), json!(port));
            if g.chance(80) {
                p.insert("name".into(), json!(name));
            }
            g.put(&mut p, 60, "targetPort", |_| target);
            if udp {
                p.insert("protocol".into(), json!("UDP"));
            } else if g.chance(50) {
                p.insert("protocol".into(), json!("TCP"));
            }
            ports.push(Value::Object(p));
        }
        Value::Array(ports)
    });
    Value::Object(s)
}

fn ingress_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    let backend = |g: &mut Gen| {
        let port = if g.chance(50) {
            json!({"name": g.pick(&["http", "web"])})
        } else {
            json!({"number": g.pick(&[80, 8080])})
        };
        json!({"service": {"name": g.pick(&["web", "api"]), "port": port}})
    };
    g.put(&mut s, 40, "ingressClassName", |g| {
        json!(g.pick(&["nginx", "traefik"]))
    });
    g.put(&mut s, 25, "tls", |g| {
        json!([{"hosts": [g.pick(&["a.example.com", "b.example.com"])], "secretName": g.pick(&["t1", "t2"])}])
    });
    g.put(&mut s, 60, "rules", |g| {
        let mut rules = Vec::new();
        for host in g.subset(&["a.example.com", "b.example.com"]) {
            let b = backend(g);
            rules.push(json!({"host": host, "http": {"paths": [
                {"path": g.pick(&["/", "/api"]), "pathType": "Prefix", "backend": b}]}}));
        }
        Value::Array(rules)
    });
    g.put(&mut s, 15, "defaultBackend", backend);
    Value::Object(s)
}

fn network_policy_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 70, "podSelector", selector);
    g.put(&mut s, 30, "policyTypes", |g| {
        json!(g.pick(&[json!(["Ingress"]), json!(["Ingress", "Egress"])]))
    });
    g.put(&mut s, 50, "ingress", |g| {
        let mut rule = Map::new();
        g.put(&mut rule, 80, "from", |g| {
            if g.chance(50) {
                json!([{"podSelector": {}}])
            } else {
                json!([{"namespaceSelector": {"matchLabels": g.str_map(&["team"], &["a", "b"])}}])
            }
        });
        g.put(&mut rule, 60, "ports", |g| {
            let mut p = Map::new();
            p.insert("port".into(), g.pick(&[json!(80), json!("http")]));
            g.put(&mut p, 50, "protocol", |_| json!("TCP"));
            json!([p])
        });
        json!([rule])
    });
    g.put(
        &mut s,
        15,
        "egress",
        |g| json!([{"to": [{"ipBlock": {"cidr": g.pick(&["10.0.0.0/8", "0.0.0.0/0"])}}]}]),
    );
    Value::Object(s)
}

fn pvc_spec(g: &mut Gen) -> Value {
    let mut s = Map::new();
    g.put(&mut s, 50, "accessModes", |g| {
        g.pick(&[
            json!(["ReadWriteOnce"]),
            json!(["ReadWriteOnce", "ReadOnlyMany"]),
        ])
    });
    g.put(&mut s, 30, "storageClassName", |g| {
        json!(g.pick(&["fast", "slow"]))
    });
    g.put(
        &mut s,
        50,
        "resources",
        |g| json!({"requests": {"storage": g.pick(&["1Gi", "2Gi"])}}),
    );
    g.put(&mut s, 10, "volumeMode", |_| json!("Filesystem"));
    Value::Object(s)
}
