//! `kubectl astro serve` under load (issue 15's concurrency and fault proofs): many deploys at
//! once through real server processes (the built binary, `--listen 127.0.0.1:0`) on one
//! test-apiserver, every answer checked, the request log read back.
//!
//! * Twenty deploys of one agent, half through each of two servers, serialize: cut at every
//!   successful write of the agent's Lease, the request log falls into segments, and each
//!   segment that applies anything holds exactly one deploy's applies (each object as often as
//!   one deploy applies it) made by the one server that wrote the Lease on both ends of the
//!   segment. The final objects equal those of a single deploy on a fresh cluster.
//! * A hundred first deploys of a hundred agents through one server, sixteen at a time, all
//!   succeed, and every agent's objects equal a single deploy's (the name aside).
//! * The same load with 20 % of the API server's answers faulted (seeded): every answer is
//!   200, 207 or 500, each object whose last request failed is named, no credential shows; with
//!   faults off every agent converges and a further deploy finds nothing to change.
//!
//! Counts and timings go to stdout (`--no-capture`); they are not judged here.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use astro_deploy::kind::Kind;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{
    Env, LEASES, NS, State, actions, assert_same_state, examples, mask_generated, partial_failures,
    serve_started, strip_bookkeeping,
};
use test_apiserver::{Fault, LoggedRequest, ServerOptions};

/// The token and every credential hold this string: it must never appear in an answer or in
/// what a server prints.
const MARKER: &str = "s3cr3t-marker";
const TOKEN: &str = "load-s3cr3t-marker-token";
const CREDENTIAL: &str = "sk-ant-s3cr3t-marker-credential";

/// How many agents the load tests deploy, and how many clients send at once.
const AGENTS: usize = 100;
const CLIENTS: usize = 16;

/// `--lock-wait` long enough that no deploy of one agent answers 409 `busy` while another
/// deploy of it runs (or while a Lease whose release failed under faults expires).
const LOCK_WAIT: [&str; 2] = ["--lock-wait", "300s"];

/// `--lock-wait` for deploys of distinct agents, which never wait for each other's lock: a
/// tenth of a second, less than a deploy takes, so a lock shared by two agents shows as 409.
const NO_WAIT: [&str; 2] = ["--lock-wait", "100ms"];

/// A tokens file in `dir`: one deployer of astro-team.
fn tokens_file(dir: &Path) -> PathBuf {
    let sha: String = Sha256::digest(TOKEN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join("tokens.yaml");
    let text =
        format!("tokens:\n- name: load\n  sha256: {sha}\n  accounts: {{astro-team: deployer}}\n");
    std::fs::write(&path, text).expect("tokens file written");
    path
}

/// A running `kubectl-astro serve` and everything it printed so far.
struct Server {
    _child: tokio::process::Child,
    base: String,
    output: Arc<Mutex<String>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer: status, JSON body (`Null` when not JSON) and how long it took.
struct Answer {
    status: u16,
    body: Value,
    took: Duration,
}

impl Server {
    /// Starts `serve` with `kubeconfig`, the tokens file in `dir`, `catalog` and `extra` flags
    /// (among them `--lock-wait`);
    /// waits until it prints the address it listens on.
    async fn start(kubeconfig: &Path, dir: &Path, catalog: &Path, extra: &[&str]) -> Server {
        let tokens = tokens_file(dir);
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--tokens")
            .arg(&tokens)
            .arg("--catalog")
            .arg(catalog)
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts");
        let (base, output) = serve_started(&mut child, Duration::from_secs(60)).await;
        Server {
            _child: child,
            base,
            output,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Everything the server printed so far.
    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// POSTs `body` to `/api/v1/deploy` with the deployer's token.
    async fn deploy(&self, body: &Value) -> Answer {
        let req = hyper::Request::post(format!("{}/api/v1/deploy", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let started = Instant::now();
        let answered = async {
            let response = self.client.request(req).await.ok()?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, bytes))
        };
        let Some((status, bytes)) = answered.await else {
            panic!("deploy {body}: no answer; server said:\n{}", self.output())
        };
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(MARKER),
            "a credential or token in an answer: {text}"
        );
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            took,
        }
    }

    /// Deploys each of `bodies`, [`CLIENTS`] at a time; the answers in the order of `bodies`.
    async fn deploy_all(&self, bodies: &[Value]) -> Vec<Answer> {
        futures::stream::iter(bodies)
            .map(|body| self.deploy(body))
            .buffered(CLIENTS)
            .collect()
            .await
    }

    /// The server printed neither the token nor a credential.
    fn assert_nothing_secret_printed(&self) {
        let out = self.output();
        assert!(!out.contains(MARKER), "a secret was printed:\n{out}");
    }
}

/// The shipped example agent's request.
fn weather() -> Value {
    json!({"account": "astro-team", "name": "weather-agent"})
}

/// The name of load agent `i`.
fn agent(i: usize) -> String {
    format!("load-agent-{i:03}")
}

/// The namespace of the agent named `name`.
fn namespace(name: &str) -> String {
    format!("astro-astro-team-{name}")
}

/// The request deploying load agent `i` (its model's API key a credential).
fn load_request(i: usize) -> Value {
    json!({"account": "astro-team", "name": agent(i),
           "user_credentials": {"ANTHROPIC_API_KEY": CREDENTIAL}})
}

/// A build catalog in `dir` with `n` agents: the example weather agent, renamed, with a hosted
/// model (so a credential of the request goes into a Secret).
fn load_catalog(dir: &Path, n: usize) -> PathBuf {
    let example = examples().join("catalog/astro-team/weather-agent/build-20240612-1530.yaml");
    let text = std::fs::read_to_string(&example).expect("example build record");
    let text = format!("{text}  models:\n    primary:\n      provider: anthropic\n");
    let catalog = dir.join("catalog");
    for i in 0..n {
        let name = agent(i);
        let folder = catalog.join("astro-team").join(&name);
        std::fs::create_dir_all(&folder).expect("catalog folder");
        std::fs::write(
            folder.join("build-20240612-1530.yaml"),
            text.replace("weather-agent", &name),
        )
        .expect("build record written");
    }
    catalog
}

/// Whether `path` is the namespace `ns` itself or an object or collection in it.
fn in_namespace(path: &str, ns: &str) -> bool {
    path == format!("/api/v1/namespaces/{ns}") || path.contains(&format!("/namespaces/{ns}/"))
}

/// How often each path of namespace `ns` was applied (server-side apply) in `log`.
fn applies(log: &[LoggedRequest], ns: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in log
        .iter()
        .filter(|r| r.verb == "apply" && in_namespace(&r.path, ns))
    {
        *counts.entry(r.path.clone()).or_default() += 1;
    }
    counts
}

/// The requests of namespace `ns` between two successful writes (create, update) of its
/// Lease, with the users who made those two writes (`None` at either end of the log).
#[derive(Debug)]
struct Segment {
    opened_by: Option<String>,
    closed_by: Option<String>,
    requests: Vec<LoggedRequest>,
}

/// `log` cut at every successful write of namespace `ns`'s Lease: the segments holding a
/// request of `ns`.
fn segments(log: &[LoggedRequest], ns: &str) -> Vec<Segment> {
    let lease = format!("{LEASES}/{ns}");
    let mut done = Vec::new();
    let mut open = Segment {
        opened_by: None,
        closed_by: None,
        requests: Vec::new(),
    };
    for r in log {
        let lease_write = (r.method == "PUT" && r.path == lease
            || r.method == "POST" && r.path == LEASES)
            && (200..300).contains(&r.status)
            && !r.dropped;
        if lease_write {
            let next = Segment {
                opened_by: Some(r.user.clone()),
                closed_by: None,
                requests: Vec::new(),
            };
            let mut closed = std::mem::replace(&mut open, next);
            closed.closed_by = Some(r.user.clone());
            done.push(closed);
        } else if in_namespace(&r.path, ns) {
            open.requests.push(r.clone());
        }
    }
    done.push(open);
    done.retain(|s| !s.requests.is_empty());
    done
}

/// p-th percentile (0–100) of `times`, nearest rank.
fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One line of figures about `answers`, which took `wall` in all.
fn figures(what: &str, answers: &[Answer], wall: Duration) -> String {
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for a in answers {
        *statuses.entry(a.status).or_default() += 1;
    }
    let times: Vec<Duration> = answers.iter().map(|a| a.took).collect();
    format!(
        "{what}: {} deploys in {:.2} s = {:.1} deploys/s; latency p50 {} ms, p99 {} ms, max {} ms; statuses {statuses:?}",
        answers.len(),
        wall.as_secs_f64(),
        answers.len() as f64 / wall.as_secs_f64().max(1e-9),
        percentile(&times, 50).as_millis(),
        percentile(&times, 99).as_millis(),
        percentile(&times, 100).as_millis(),
    )
}

/// The answer reports every object `unchanged`.
fn all_unchanged(body: &Value) -> bool {
    let all = actions(body);
    !all.is_empty() && all.iter().all(|(_, a)| a == "unchanged")
}

/// Twenty deploys of the weather agent at once, alternating between two servers (two
/// replicas) that authenticate to one test-apiserver as two users, serialize (see the file's
/// comment for what the request log must show); one of them creates everything, the others
/// find it unchanged; the final objects equal a single deploy's on a fresh cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_deploys_of_one_agent_through_two_servers_serialize() {
    const DEPLOYS: usize = 20;
    let catalog = examples().join("catalog");

    // The reference: a single deploy on a fresh cluster, then a second one (what each later
    // deploy applies).
    let fresh = Env::new().await;
    let single = Server::start(&fresh.kubeconfig(), fresh.dir.path(), &catalog, &LOCK_WAIT).await;
    let first = single.deploy(&weather()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let first_applies = applies(&fresh.server.request_log(), NS);
    let want = fresh.state().await;
    fresh.server.clear_request_log();
    let second = single.deploy(&weather()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(all_unchanged(&second.body), "{}", second.body);
    let later_applies = applies(&fresh.server.request_log(), NS);
    assert!(!first_applies.is_empty() && !later_applies.is_empty());
    drop(single);

    // Two users, one per server: the log tells their requests apart.
    let users = [("serve-a-token", "serve-a"), ("serve-b-token", "serve-b")];
    let env = Env::start(ServerOptions {
        tokens: users
            .iter()
            .map(|(t, u)| (t.to_string(), u.to_string()))
            .collect(),
        ..ServerOptions::default()
    })
    .await;
    let kubeconfig_b = env.dir.path().join("kubeconfig-b");
    let text = std::fs::read_to_string(env.kubeconfig()).expect("kubeconfig");
    assert!(text.contains("token: serve-a-token"), "{text}");
    std::fs::write(
        &kubeconfig_b,
        text.replace("token: serve-a-token", "token: serve-b-token"),
    )
    .expect("kubeconfig written");
    let kubeconfig_a = env.kubeconfig();
    let (a, b) = tokio::join!(
        Server::start(&kubeconfig_a, env.dir.path(), &catalog, &LOCK_WAIT),
        Server::start(&kubeconfig_b, env.dir.path(), &catalog, &LOCK_WAIT),
    );
    let started = Instant::now();
    let body = weather();
    let answers: Vec<Answer> = futures::future::join_all((0..DEPLOYS).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.deploy(&body)
    }))
    .await;
    let wall = started.elapsed();
    let log = env.server.request_log();

    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["status"], "success", "{}", answer.body);
    }
    // Serialized: each segment of the log between two Lease writes applies exactly one
    // deploy's objects, all through the server that wrote the Lease on both ends.
    let parts = segments(&log, NS);
    let mut deploys_seen = 0;
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for (i, part) in parts.iter().enumerate() {
        let by: BTreeSet<&str> = part.requests.iter().map(|r| r.user.as_str()).collect();
        let paths: Vec<String> = part
            .requests
            .iter()
            .map(|r| format!("{} {} ({})", r.method, r.path, r.user))
            .collect();
        assert_eq!(by.len(), 1, "segment {i}: two servers at once: {paths:#?}");
        let user = by.first().map(|u| u.to_string());
        assert_eq!(
            (&part.opened_by, &part.closed_by),
            (&user, &user),
            "segment {i}: the Lease was not held by the server that wrote: {paths:#?}"
        );
        let applied = applies(&part.requests, NS);
        if applied.is_empty() {
            continue;
        }
        let want_applies = if deploys_seen == 0 {
            &first_applies
        } else {
            &later_applies
        };
        assert_eq!(
            &applied, want_applies,
            "segment {i}: not one deploy's applies: {paths:#?}"
        );
        deploys_seen += 1;
        *per_user.entry(user.unwrap_or_default()).or_default() += 1;
    }
    assert_eq!(deploys_seen, DEPLOYS, "segments with one deploy each");
    // Each server made half of them.
    assert_eq!(
        per_user,
        BTreeMap::from([
            ("serve-a".to_string(), DEPLOYS / 2),
            ("serve-b".to_string(), DEPLOYS / 2)
        ])
    );

    // Exactly one deploy wrote; the others found everything as it left it.
    let created: Vec<&Answer> = answers.iter().filter(|a| !all_unchanged(&a.body)).collect();
    assert_eq!(created.len(), 1, "deploys that changed something");
    assert_eq!(actions(&created[0].body), actions(&first.body));

    // The final objects are a single deploy's.
    assert_same_state(&env.state().await, &want, "after 20 deploys");
    a.assert_nothing_secret_printed();
    b.assert_nothing_secret_printed();
    let lease_writes = log
        .iter()
        .filter(|r| {
            r.path.starts_with(LEASES) && r.method != "GET" && (200..300).contains(&r.status)
        })
        .count();
    let lease_conflicts = log
        .iter()
        .filter(|r| r.path.starts_with(LEASES) && r.status == 409)
        .count();
    println!(
        "{}; {} log segments, {lease_writes} Lease writes, {lease_conflicts} Lease conflicts (409)",
        figures("one agent, two servers", &answers, wall),
        parts.len()
    );
}

/// The objects of every load agent, by agent: what the cluster-wide lists of each kind hold
/// (one request per kind), without server bookkeeping, deployment records left out,
/// generated store passwords masked, the Namespace without its inventory annotation; plus the
/// inventory's keys (as [`Env::state`] has them). The agent's name is replaced by load agent
/// 0's, so that any two agents compare equal; the pod templates' `astro.dev/env-hash`, a
/// digest of the environment (which names the agent's ConfigMap and Secrets), differs with
/// the name: it becomes `<env-hash>` for agents other than 0.
async fn agent_states(env: &Env) -> BTreeMap<String, State> {
    let mut objects: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut inventories: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for kind in Kind::ALL {
        let path = kind.collection_path("").replace("/namespaces//", "/");
        let list = env.get(&path).await.expect("cluster-wide list");
        for item in list["items"].as_array().cloned().unwrap_or_default() {
            let (ns, name) = if kind == Kind::Namespace {
                (
                    item["metadata"]["name"].as_str(),
                    item["metadata"]["name"].as_str(),
                )
            } else {
                (
                    item["metadata"]["namespace"].as_str(),
                    item["metadata"]["name"].as_str(),
                )
            };
            let (Some(ns), Some(name)) = (ns.map(String::from), name.map(String::from)) else {
                panic!("{path}: an item without a name: {item}");
            };
            let Some(agent) = ns.strip_prefix("astro-astro-team-").map(String::from) else {
                continue;
            };
            if item["metadata"]["labels"]["astro.dev/deployment-record"] == "true" {
                continue;
            }
            let mut obj = strip_bookkeeping(item);
            if kind == Kind::Secret && name.contains("-knowledge-") {
                mask_generated(&mut obj, &name);
            }
            if kind == Kind::Namespace {
                let text = obj["metadata"]["annotations"]["astro.dev/inventory"]
                    .as_str()
                    .unwrap_or("{}")
                    .to_string();
                let inventory: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                inventories.entry(agent.clone()).or_default().extend(
                    inventory["objects"]
                        .as_object()
                        .map(|o| o.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                if let Some(a) = obj["metadata"]["annotations"].as_object_mut() {
                    a.remove("astro.dev/inventory");
                }
            }
            objects
                .entry(agent)
                .or_default()
                .insert(format!("{kind}/{name}"), obj);
        }
    }
    let to = agent(0);
    objects
        .into_iter()
        .map(|(name, objs)| {
            let mask = name != to;
            let rename = |s: &str| s.replace(&name, &to);
            let objs = objs
                .into_iter()
                .map(|(k, v)| (rename(&k), renamed(v, &name, &to, mask)))
                .collect();
            let inventory = inventories
                .get(&name)
                .map(|i| i.iter().map(|k| rename(k)).collect())
                .unwrap_or_default();
            (name.clone(), (objs, inventory))
        })
        .collect()
}

/// `v` with `from` replaced by `to` in every string and key; with `mask`, the value of every
/// `astro.dev/env-hash` is `<env-hash>`.
fn renamed(v: Value, from: &str, to: &str, mask: bool) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| renamed(i, from, to, mask))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if mask && k == "astro.dev/env-hash" {
                        Value::String("<env-hash>".into())
                    } else {
                        renamed(v, from, to, mask)
                    };
                    (k.replace(from, to), v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// The objects of a single deploy of load agent 0 on a fresh cluster ([`agent_states`]).
async fn single_agent_state(dir: &Path, catalog: &Path) -> State {
    let fresh = Env::new().await;
    let server = Server::start(&fresh.kubeconfig(), dir, catalog, &LOCK_WAIT).await;
    let answer = server.deploy(&load_request(0)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut states = agent_states(&fresh).await;
    assert_eq!(states.len(), 1, "{:?}", states.keys());
    states.remove(&agent(0)).expect("load agent 0 deployed")
}

/// The cluster holds every load agent, each agent's objects equal to a single deploy's
/// (names aside), and nothing else of astro-team.
async fn assert_every_agent_deployed(env: &Env, want: &State, what: &str) {
    let to = agent(0);
    let masked: State = (
        want.0
            .iter()
            .map(|(k, v)| (k.clone(), renamed(v.clone(), &to, &to, true)))
            .collect(),
        want.1.clone(),
    );
    let states = agent_states(env).await;
    assert_eq!(
        states.keys().cloned().collect::<Vec<_>>(),
        (0..AGENTS).map(agent).collect::<Vec<_>>(),
        "{what}: agents in the cluster"
    );
    for (name, got) in &states {
        let want = if *name == to { want } else { &masked };
        assert_same_state(got, want, &format!("{what}: {name}"));
    }
}

/// A hundred first deploys of a hundred agents through one server, sixteen clients at once:
/// all `success` although no deploy may wait 100 ms for another's lock, and the cluster
/// holds every agent's objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_agents_with_sixteen_clients_all_succeed() {
    let env = Env::new().await;
    let catalog = load_catalog(env.dir.path(), AGENTS);
    let want = single_agent_state(env.dir.path(), &catalog).await;
    let server = Server::start(&env.kubeconfig(), env.dir.path(), &catalog, &NO_WAIT).await;
    let bodies: Vec<Value> = (0..AGENTS).map(load_request).collect();
    let started = Instant::now();
    let answers = server.deploy_all(&bodies).await;
    let wall = started.elapsed();
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.status, 200, "{}: {}", agent(i), answer.body);
        assert_eq!(answer.body["status"], "success", "{}", answer.body);
        assert_eq!(answer.body["name"], agent(i).as_str());
    }
    assert_every_agent_deployed(&env, &want, "100 agents").await;
    server.assert_nothing_secret_printed();
    println!(
        "{}; {} API-server requests",
        figures("100 agents, 16 clients", &answers, wall),
        env.server.request_log().len()
    );
}

/// `Kind/name` of the object at `path` in namespace `ns` (the Namespace itself included);
/// `None` for collections, subresources and other namespaces.
fn object_id(path: &str, ns: &str) -> Option<String> {
    if path == format!("/api/v1/namespaces/{ns}") {
        return Some(format!("Namespace/{ns}"));
    }
    Kind::ALL
        .into_iter()
        .filter(|k| k.namespaced())
        .find_map(|kind| {
            let name = path.strip_prefix(&format!("{}/", kind.collection_path(ns)))?;
            (!name.is_empty() && !name.contains('/')).then(|| format!("{kind}/{name}"))
        })
}

/// Whether the client saw `r` fail: a faulted status, or the connection closed without the
/// answer (the request may have been handled).
fn failed_request(r: &LoggedRequest) -> bool {
    r.dropped || matches!(r.status, 0 | 422 | 429 | 500 | 503)
}

/// The objects of namespace `ns` whose last request in `log` failed, and those with any
/// failed request. Last in the order the requests came in: the log is in the order they
/// finished, and a request the client gave up on (`--request-timeout`) and sent again can
/// finish after its retry.
fn failures_in_log(log: &[LoggedRequest], ns: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    let mut any = BTreeSet::new();
    let mut in_order: Vec<&LoggedRequest> = log.iter().collect();
    in_order.sort_by_key(|r| r.arrived);
    for r in in_order {
        if let Some(id) = object_id(&r.path, ns) {
            let failed = failed_request(r);
            if failed {
                any.insert(id.clone());
            }
            last.insert(id, failed);
        }
    }
    let last_failed = last
        .into_iter()
        .filter(|(_, f)| *f)
        .map(|(k, _)| k)
        .collect();
    (last_failed, any)
}

/// The fault kinds of the fault matrix, about 20 % of the API server's answers together,
/// drawn in turn from the seeded generator: each retried kind (500, 503 with `Retry-After: 1`,
/// 429, connection dropped, answer lost after commit, no answer within `--request-timeout`)
/// on an equal share of 16 % of all requests, and a 422 (not retried, so that objects fail
/// for good) on 8 % of the other applies, about half of all requests. Not on the Lease: a
/// release lost to an answer that is not retried would hold the agent for the Lease's 30 s.
fn load_faults() -> Vec<Fault> {
    let kinds = [
        Fault::status(500, "InternalError", "fault: internal error"),
        Fault::status(503, "ServiceUnavailable", "fault: unavailable").retry_after(1),
        Fault::status(429, "TooManyRequests", "fault: slow down"),
        Fault::drop_connection(),
        Fault::drop_after_commit(),
        // Past the server's --request-timeout 1s: the client gives up and retries.
        Fault::delay_only(Duration::from_millis(1500)),
    ];
    let share = 0.16 / kinds.len() as f64;
    let mut faults: Vec<Fault> = kinds
        .into_iter()
        .enumerate()
        // Checked in order: the i-th is drawn only when none before it hit.
        .map(|(i, f)| f.probability(share / (1.0 - i as f64 * share)))
        .collect();
    faults.push(
        Fault::status(422, "Invalid", "fault: invalid")
            .verb("apply")
            .probability(0.08),
    );
    faults
}

/// What the faulted deploys answered.
#[derive(Debug, Default)]
struct Outcomes {
    success: usize,
    partial: usize,
    failed: usize,
    objects_named_failed: usize,
}

/// Checks the faulted answer for load agent `i` against the requests of its namespace in
/// `log`: 200 `success` with no failed request left standing; 207 `partial` naming every
/// object whose last request failed (in `resources` as `failed` and in `errors` with its
/// message); 500 an `Error` naming the Namespace or the Lease whose request failed.
fn check_faulted_answer(i: usize, answer: &Answer, log: &[LoggedRequest], seen: &mut Outcomes) {
    let ns = namespace(&agent(i));
    let what = format!("{} ({} ms)", agent(i), answer.took.as_millis());
    let body = &answer.body;
    let (last_failed, any_failed) = failures_in_log(log, &ns);
    // The requests of an object, for the messages.
    let requests_of = |id: &str| -> Vec<String> {
        log.iter()
            .filter(|r| object_id(&r.path, &ns).as_deref() == Some(id))
            .map(|r| {
                let dropped = if r.dropped { " dropped" } else { "" };
                format!(
                    "#{} {} {} {}{dropped}",
                    r.arrived, r.method, r.verb, r.status
                )
            })
            .collect()
    };
    match answer.status {
        200 => {
            assert_eq!(body["status"], "success", "{what}: {body}");
            assert_eq!(body["errors"], json!([]), "{what}: {body}");
            assert!(
                last_failed.is_empty(),
                "{what}: success, but the last request of {last_failed:?} failed: {:?}",
                last_failed
                    .iter()
                    .map(|id| requests_of(id))
                    .collect::<Vec<_>>()
            );
            seen.success += 1;
        }
        207 => {
            let failed = partial_failures(body, &ns, &what);
            for (id, msg) in &failed {
                // It failed because a request of it did (or its answer did not come in time).
                assert!(
                    any_failed.contains(id) || msg.contains("no answer within"),
                    "{what}: {id} failed ({msg}) without a failed request in the log"
                );
            }
            let errors: Vec<&str> = body["errors"]
                .as_array()
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            // Every object the log shows failing last is named, failed or in errors.
            for id in &last_failed {
                assert!(
                    errors.iter().any(|e| e.starts_with(&format!("{id}: "))),
                    "{what}: the last request of {id} failed, not named: {body}\n{:?}",
                    requests_of(id)
                );
            }
            seen.partial += 1;
            seen.objects_named_failed += failed.len();
        }
        500 => {
            let error = body["error"].as_str().unwrap_or("");
            let details = body["details"].as_str().unwrap_or("");
            assert!(
                !error.is_empty() && !details.is_empty(),
                "{what}: 500 is not an Error with details: {body}"
            );
            // The deploy stops at its first step: the Lease or the Namespace.
            let named = details.starts_with(&format!("Namespace/{ns}: "))
                || details.starts_with(&format!("Lease astro-system/{ns}: "));
            assert!(named, "{what}: {body}");
            for id in &last_failed {
                assert!(
                    details.starts_with(&format!("{id}: ")),
                    "{what}: the last request of {id} failed, not named: {body}\n{:?}",
                    requests_of(id)
                );
            }
            seen.failed += 1;
        }
        other => panic!("{what}: {other} {body}"),
    }
}

/// No object created twice (as `support::created_once` checks, for the requests that name
/// their object: applies and the like; a POST names only its collection, as the Leases'
/// creates do): a second 201 for a path needs a successful DELETE in between. The log keeps
/// the real status of a write whose answer was lost, so a retried create counts too.
fn created_once_by_path(log: &[LoggedRequest]) {
    let mut alive: BTreeMap<&str, bool> = BTreeMap::new();
    for r in log.iter().filter(|r| r.method != "POST") {
        if r.status == 201 {
            let was = alive.insert(&r.path, true).unwrap_or(false);
            assert!(!was, "{} created twice", r.path);
        } else if r.method == "DELETE" && (200..300).contains(&r.status) {
            alive.insert(&r.path, false);
        }
    }
}

/// A hundred agents deployed sixteen at a time while 20 % of the API server's answers are
/// faulted: every answer is 200, 207 or 500 and names every object that failed; nothing
/// secret shows. With faults off every agent's deploy converges to `success`, a further
/// deploy changes nothing, and each agent's objects equal a single deploy's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_20_percent_under_load_are_named_and_converge() {
    let env = Env::new().await;
    let catalog = load_catalog(env.dir.path(), AGENTS);
    let want = single_agent_state(env.dir.path(), &catalog).await;
    let server = Server::start(
        &env.kubeconfig(),
        env.dir.path(),
        &catalog,
        &[LOCK_WAIT[0], LOCK_WAIT[1], "--request-timeout", "1s"],
    )
    .await;
    let bodies: Vec<Value> = (0..AGENTS).map(load_request).collect();
    let ctl = env.server.faults();
    ctl.seed(15);
    for fault in load_faults() {
        ctl.add(fault);
    }
    let started = Instant::now();
    let faulted = server.deploy_all(&bodies).await;
    let faulted_wall = started.elapsed();
    let hits: u32 = ctl.hits().iter().sum();
    ctl.clear();
    let log = env.server.request_log();
    let mut seen = Outcomes::default();
    for (i, answer) in faulted.iter().enumerate() {
        check_faulted_answer(i, answer, &log, &mut seen);
    }
    // The faults did make objects fail: the naming checks above ran.
    assert!(seen.partial > 0, "no partial deploy: {seen:?}");

    let started = Instant::now();
    let rerun = server.deploy_all(&bodies).await;
    let rerun_wall = started.elapsed();
    for (i, answer) in rerun.iter().enumerate() {
        assert_eq!(answer.status, 200, "{}: {}", agent(i), answer.body);
        assert_eq!(answer.body["status"], "success", "{}", answer.body);
    }
    let started = Instant::now();
    let noop = server.deploy_all(&bodies).await;
    let noop_wall = started.elapsed();
    for (i, answer) in noop.iter().enumerate() {
        assert_eq!(answer.status, 200, "{}: {}", agent(i), answer.body);
        assert!(
            all_unchanged(&answer.body),
            "{}: still something to change: {}",
            agent(i),
            answer.body
        );
    }
    assert_every_agent_deployed(&env, &want, "after faults").await;
    created_once_by_path(&env.server.request_log());
    server.assert_nothing_secret_printed();

    // Requests of an object that finished after a later one of it came in: what a client gave
    // up on and sent again.
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    let mut overtaken = 0;
    for r in &log {
        let seen = newest.entry(r.path.as_str()).or_default();
        if r.arrived < *seen {
            overtaken += 1;
        }
        *seen = (*seen).max(r.arrived);
    }
    let resource_requests = log.iter().filter(|r| !r.verb.is_empty()).count();
    println!(
        "{}; {hits} faults in {resource_requests} API-server requests ({:.1} %), {overtaken} finished after a later request of their object; {seen:?}",
        figures("100 agents, 16 clients, faults", &faulted, faulted_wall),
        100.0 * f64::from(hits) / resource_requests.max(1) as f64
    );
    println!("{}", figures("rerun, faults off", &rerun, rerun_wall));
    println!("{}", figures("no-op deploy", &noop, noop_wall));
}
