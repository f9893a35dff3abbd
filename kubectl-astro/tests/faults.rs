//! The fault matrix (issue 5): the real binary against test-apiserver with seeded faults on a
//! share of all requests, and faults pinned on one object.
//!
//! Each cell runs, on a fresh server: a first deploy (web chat on: 12 objects) and a second
//! deploy (web chat off: updates and a prune of 2 objects), both under the fault; then the same
//! second deploy with faults off. Checked in every cell:
//!
//! * each faulted deploy ends `success` (exit 0) or `partial` (exit 2) with every failed
//!   object named in `errors` with its last error — or, when the fault hit a request of the
//!   Namespace stage with an answer that is not retried, or on every retry, exit 1 naming the
//!   Namespace and nothing else written;
//! * the run with faults off converges to `success`;
//! * the final cluster, object by object (GET each, bookkeeping stripped), equals a cluster
//!   that never saw a fault, and the inventory lists the same objects;
//! * no object was created twice (at most one 201 per object over the whole cell);
//! * no generated store password was ever rotated: replayed from a watch of the Secrets over
//!   the whole cell, each one held a single value from its first write on.
//!
//! The normal run holds a representative subset (runtime well under a minute on 2 cores); the
//! full matrix (8 fault kinds × 5/20/50 % × 5 seeds, plus pinned faults) prints its table:
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test faults --run-ignored only --no-capture
//! ```

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use support::{Env, NS, State, assert_same_state, created_once, partial_failures, state_after};
use test_apiserver::Fault;

const FIRST: &str = "deploy-request-web.yaml";
const SECOND: &str = "deploy-request.json";

/// The fault kinds of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 503 with `Retry-After: 1` (retried after the advertised second).
    Unavailable,
    /// 500 (retried).
    Internal,
    /// 429 (retried).
    TooMany,
    /// Connection closed without an answer (retried).
    Drop,
    /// The request is handled (a write committed), then the connection is closed without the
    /// answer (retried: the retry meets its own write).
    LostAfterCommit,
    /// 150 ms delay, then the normal answer.
    Delay,
    /// 409 Conflict (an answer: never retried).
    Conflict,
    /// 422 Invalid (an answer: never retried).
    Invalid,
}

const ALL_KINDS: [Kind; 8] = [
    Kind::Unavailable,
    Kind::Internal,
    Kind::TooMany,
    Kind::Drop,
    Kind::LostAfterCommit,
    Kind::Delay,
    Kind::Conflict,
    Kind::Invalid,
];

impl Kind {
    fn fault(self) -> Fault {
        match self {
            Kind::Unavailable => {
                Fault::status(503, "ServiceUnavailable", "fault: unavailable").retry_after(1)
            }
            Kind::Internal => Fault::status(500, "InternalError", "fault: internal error"),
            Kind::TooMany => Fault::status(429, "TooManyRequests", "fault: slow down"),
            Kind::Drop => Fault::drop_connection(),
            Kind::LostAfterCommit => Fault::drop_after_commit(),
            Kind::Delay => Fault::delay_only(Duration::from_millis(150)),
            Kind::Conflict => Fault::status(409, "Conflict", "fault: conflict"),
            Kind::Invalid => Fault::status(422, "Invalid", "fault: invalid"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Unavailable => "503 + Retry-After: 1",
            Kind::Internal => "500",
            Kind::TooMany => "429",
            Kind::Drop => "dropped connection",
            Kind::LostAfterCommit => "answer lost after commit",
            Kind::Delay => "150 ms delay",
            Kind::Conflict => "409 (not retried)",
            Kind::Invalid => "422 (not retried)",
        }
    }

    fn retried(self) -> bool {
        !matches!(self, Kind::Conflict | Kind::Invalid)
    }
}

/// How one faulted deploy ended.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    success: u32,
    partial: u32,
    /// Exit 1 in the Namespace stage: an answer that is not retried, or retries exhausted.
    refused: u32,
    /// Objects named as failed, over all faulted deploys.
    failed_objects: u32,
    /// Writes committed whose answer the client never got (answer-lost-after-commit faults).
    lost_writes: u32,
}

/// Checks one faulted deploy's result; returns how it ended.
fn check_faulted(code: i32, resp: &Value, stderr: &str, what: &str, tally: &mut Tally) {
    match code {
        0 => {
            assert_eq!(resp["status"], "success", "{what}: {resp}");
            assert_eq!(resp["errors"], serde_json::json!([]), "{what}: {resp}");
            tally.success += 1;
        }
        2 => {
            let failed = partial_failures(resp, NS, what);
            for (id, msg) in &failed {
                assert!(
                    msg.contains("fault:") || msg.contains("cluster unreachable"),
                    "{what}: {id}: the message is not the fault's: {msg}"
                );
            }
            tally.partial += 1;
            tally.failed_objects += failed.len() as u32;
        }
        1 => {
            let details = resp["details"].as_str().unwrap_or("");
            // The deploy stops at its first step: the settings read, the Lease or the
            // Namespace.
            assert!(
                details.starts_with(&format!("Namespace/{NS}: "))
                    || details.starts_with(&format!("Lease astro-system/{NS}: "))
                    || details.starts_with(
                        "reading the cluster settings ConfigMap astro-system/astro-settings: "
                    ),
                "{what}: {resp}"
            );
            match resp["error"].as_str() {
                // An answer that is not retried.
                Some("deployment failed") => {
                    assert!(details.contains("fault:"), "{what}: {details}")
                }
                // Retries exhausted on a request of the Namespace stage: 7 transport failures
                // in a row (at 50 %, p ≈ 0.8 % per request).
                Some("cluster unreachable") => assert!(
                    details.contains("cluster unreachable: ") && details.contains("connection"),
                    "{what}: {details}"
                ),
                _ => panic!("{what}: exit 1: {resp}"),
            }
            tally.refused += 1;
        }
        _ => panic!("{what}: exit {code}: {resp} {stderr}"),
    }
}

/// The state of a cluster that never saw a fault.
async fn reference() -> State {
    state_after(&[FIRST, SECOND]).await
}

/// One cell: `faults` active for both deploys, then off; checked against `want`.
async fn cell(
    what: &str,
    seed: u64,
    faults: &[Fault],
    want: &(BTreeMap<String, Value>, BTreeSet<String>),
    tally: &mut Tally,
) {
    let env = Env::new().await;
    let ctl = env.server.faults();
    ctl.seed(seed);
    for f in faults {
        ctl.add(f.clone());
    }
    for req in [FIRST, SECOND] {
        let (code, resp, stderr) = env.deploy(req, &[]).await;
        if std::env::var_os("FAULTS_VERBOSE").is_some() {
            eprintln!(
                "{what} {req}: exit {code}: {}",
                resp["errors"].to_string() + resp["details"].as_str().unwrap_or("")
            );
        }
        check_faulted(code, &resp, &stderr, &format!("{what} {req}"), tally);
    }
    ctl.clear();
    let (code, resp, stderr) = env.deploy(SECOND, &[]).await;
    assert_eq!(
        code, 0,
        "{what}: faults off does not converge: {resp} {stderr}"
    );
    assert_eq!(resp["status"], "success");
    assert_same_state(&env.state().await, want, what);
    created_once(&env, what);
    never_rotated(&env, what).await;
    tally.lost_writes += env
        .server
        .request_log()
        .iter()
        .filter(|r| r.dropped && r.method != "GET" && (200..300).contains(&r.status))
        .count() as u32;
}

/// Every value each generated store password (`Secret/*-knowledge-*`, key) held since the
/// server started, in order, repeats folded: replayed by a watch of the namespace's Secrets
/// from the start of the server's history, read until each store Secret's current
/// resourceVersion has gone by.
async fn password_history(env: &Env) -> BTreeMap<String, Vec<String>> {
    use futures::{AsyncBufReadExt, StreamExt};
    let secrets = format!("/api/v1/namespaces/{NS}/secrets");
    let list = env.get(&secrets).await.expect("list Secrets");
    let mut pending: BTreeMap<String, String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let name = s["metadata"]["name"].as_str()?;
            let rv = s["metadata"]["resourceVersion"].as_str()?;
            name.contains("-knowledge-")
                .then(|| (name.to_string(), rv.to_string()))
        })
        .collect();
    let client = env.server.client().await.expect("client");
    let req = http::Request::get(format!(
        "{secrets}?watch=true&resourceVersion=1&timeoutSeconds=60"
    ))
    .body(Vec::new())
    .expect("request");
    let mut lines = Box::pin(client.request_stream(req).await.expect("watch").lines());
    let mut history: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let replay = async {
        while !pending.is_empty() {
            let Some(line) = lines.next().await else {
                break;
            };
            let event: Value = serde_json::from_str(&line.expect("watch line")).expect("event");
            let object = &event["object"];
            let name = object["metadata"]["name"].as_str().unwrap_or("");
            if !name.contains("-knowledge-") {
                continue;
            }
            for (key, value) in object["data"].as_object().into_iter().flatten() {
                let value = value.as_str().unwrap_or("").to_string();
                let seen = history.entry(format!("{name}/{key}")).or_default();
                if seen.last() != Some(&value) {
                    seen.push(value);
                }
            }
            let rv = object["metadata"]["resourceVersion"].as_str();
            if pending.get(name).map(String::as_str) == rv {
                pending.remove(name);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), replay)
        .await
        .expect("the watch replays the Secrets' history");
    assert!(pending.is_empty(), "history not replayed for {pending:?}");
    history
}

/// No generated store password was rotated: each held one value from its first write on
/// (a retried write after a lost answer must not store a second, different password).
async fn never_rotated(env: &Env, what: &str) {
    let history = password_history(env).await;
    assert!(!history.is_empty(), "{what}: no generated password stored");
    for (key, values) in &history {
        assert_eq!(values.len(), 1, "{what}: {key} rotated: {values:?}");
    }
}

/// Runs `kinds` × `rates` × `seeds`; returns one table row per (kind, rate).
async fn matrix(kinds: &[Kind], rates: &[f64], seeds: &[u64]) -> Vec<String> {
    let want = reference().await;
    let mut rows = Vec::new();
    for kind in kinds {
        for rate in rates {
            let mut tally = Tally::default();
            let started = std::time::Instant::now();
            for seed in seeds {
                let what = format!("{} at {:.0}% seed {seed}", kind.label(), rate * 100.0);
                let fault = kind.fault().probability(*rate);
                cell(&what, *seed, &[fault], &want, &mut tally).await;
            }
            if *kind == Kind::LostAfterCommit {
                // The fault must really have hit committed writes.
                assert!(
                    *rate < 0.2 || tally.lost_writes > 0,
                    "{kind:?} {rate}: {tally:?}"
                );
            }
            if !kind.retried() {
                // Answers are not retried: with this many requests some must fail.
                assert!(
                    *rate < 0.2 || tally.partial + tally.refused > 0,
                    "{kind:?} {rate}: {tally:?}"
                );
            }
            let label = match kind {
                Kind::LostAfterCommit => {
                    format!("{} ({} writes)", kind.label(), tally.lost_writes)
                }
                _ => kind.label().to_string(),
            };
            rows.push(row(
                &label,
                &format!("{:.0}%", rate * 100.0),
                seeds.len(),
                tally,
                started,
            ));
            if std::env::var_os("FAULTS_VERBOSE").is_some() {
                eprintln!("{}", rows.last().map(String::as_str).unwrap_or(""));
            }
        }
    }
    rows
}

fn row(fault: &str, share: &str, seeds: usize, t: Tally, started: std::time::Instant) -> String {
    format!(
        "| {fault} | {share} | {seeds} | {} | {} | {} | {} | converged, equal | {:.1}s |",
        t.success,
        t.partial,
        t.refused,
        t.failed_objects,
        started.elapsed().as_secs_f64()
    )
}

const HEADER: &str = "| fault | share of requests | seeds | deploys success | partial | refused (Namespace) | objects named failed | after faults off | time |\n|---|---|---|---|---|---|---|---|---|";

/// What a pinned fault must do to the two faulted deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// At least one object fails in each.
    Fail,
    /// Either.
    Any,
    /// Both succeed, the fault absorbed by retries, after exactly this many committed writes
    /// lost their answer.
    Absorbed(u32),
}

/// Faults pinned on one object: named as failed with the last error until the fault goes.
/// `full` adds the slow case (a 500 on every attempt of two deploys: retries exhausted twice).
async fn pinned(full: bool) -> Vec<String> {
    let want = reference().await;
    let mut rows = Vec::new();
    const STORE: &str = "weather-agent-knowledge-cache-creds";
    let mut cases: Vec<(&str, Vec<Fault>, Want)> = vec![
        (
            "409 on Deployment/weather-agent-agent, always",
            vec![
                Fault::status(409, "Conflict", "fault: conflict")
                    .verb("apply")
                    .kind("Deployment")
                    .name("weather-agent-agent"),
            ],
            Want::Fail,
        ),
        (
            "422 on Ingress/weather-agent-ingress-messaging, always",
            vec![
                Fault::status(422, "Invalid", "fault: invalid")
                    .verb("apply")
                    .kind("Ingress")
                    .name("weather-agent-ingress-messaging"),
            ],
            Want::Any,
        ),
        (
            "dropped connection on Service/weather-agent-agent, 3 times",
            vec![
                Fault::drop_connection()
                    .verb("apply")
                    .kind("Service")
                    .name("weather-agent-agent")
                    .times(3),
            ],
            Want::Any,
        ),
        (
            "500 on the prune DELETE of Service/weather-agent-messaging, always",
            vec![
                Fault::status(500, "InternalError", "fault: internal error")
                    .verb("delete")
                    .kind("Service")
                    .name("weather-agent-messaging"),
            ],
            Want::Any,
        ),
        (
            "409 on the prune DELETE of Service/weather-agent-messaging (changed since read), once",
            // A controller writing the object between prune's GET and its DELETE fails the
            // resourceVersion precondition; prune reads it again and deletes that version.
            vec![
                Fault::status(409, "Conflict", "fault: precondition failed")
                    .verb("delete")
                    .kind("Service")
                    .name("weather-agent-messaging")
                    .times(1),
            ],
            Want::Absorbed(0),
        ),
        (
            "answer lost after commit on the Namespace create (the first request), once",
            vec![
                Fault::drop_after_commit()
                    .verb("apply")
                    .kind("Namespace")
                    .times(1),
            ],
            Want::Absorbed(1),
        ),
        (
            "answer lost after commit on the generated-password write of the store Secret, twice",
            // The first apply of the Secret (ours) passes; the next two (the generated
            // password's write and its retry) are committed and lose their answer.
            vec![
                Fault::delay_only(Duration::ZERO)
                    .verb("apply")
                    .kind("Secret")
                    .name(STORE)
                    .times(1),
                Fault::drop_after_commit()
                    .verb("apply")
                    .kind("Secret")
                    .name(STORE)
                    .times(2),
            ],
            Want::Absorbed(2),
        ),
        (
            "answer lost after commit on each DELETE (Job replacement, 2 prunes), once each",
            // Each retry meets 404 (already gone), which the plugin takes as done.
            vec![
                Fault::drop_after_commit()
                    .verb("delete")
                    .kind("Job")
                    .times(1),
                Fault::drop_after_commit()
                    .verb("delete")
                    .kind("Service")
                    .times(1),
                Fault::drop_after_commit()
                    .verb("delete")
                    .kind("Ingress")
                    .times(1),
            ],
            Want::Absorbed(3),
        ),
    ];
    if full {
        cases.push((
            "500 on ConfigMap apply, always (retries exhausted)",
            vec![
                Fault::status(500, "InternalError", "fault: internal error")
                    .verb("apply")
                    .kind("ConfigMap"),
            ],
            Want::Fail,
        ));
    }
    for (what, faults, expect) in cases {
        let mut tally = Tally::default();
        let started = std::time::Instant::now();
        cell(what, 1, &faults, &want, &mut tally).await;
        match expect {
            Want::Fail => assert_eq!(tally.success, 0, "{what}: {tally:?}"),
            Want::Absorbed(lost) => {
                assert_eq!(tally.success, 2, "{what}: {tally:?}");
                assert_eq!(tally.lost_writes, lost, "{what}: {tally:?}");
            }
            Want::Any => {}
        }
        rows.push(row(what, "pinned", 1, tally, started));
    }
    rows
}

fn print_table(rows: &[String]) {
    println!("{HEADER}");
    for r in rows {
        println!("{r}");
    }
}

// --- the normal run: a representative subset -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_faults_at_5_20_50_percent_converge() {
    let mut rows = matrix(&[Kind::Internal], &[0.05, 0.2], &[11, 12]).await;
    rows.extend(matrix(&[Kind::Internal], &[0.5], &[11]).await);
    rows.extend(matrix(&[Kind::Drop], &[0.2], &[11, 12]).await);
    rows.extend(matrix(&[Kind::TooMany, Kind::Delay], &[0.2], &[13]).await);
    rows.extend(matrix(&[Kind::Unavailable], &[0.05], &[14]).await);
    print_table(&rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_retried_are_named_and_converge() {
    let rows = matrix(
        &[Kind::Conflict, Kind::Invalid],
        &[0.05, 0.2, 0.5],
        &[21, 22],
    )
    .await;
    print_table(&rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_commit_converge_without_duplicates_or_rotation() {
    let mut rows = matrix(&[Kind::LostAfterCommit], &[0.05, 0.2], &[31, 32]).await;
    rows.extend(matrix(&[Kind::LostAfterCommit], &[0.5], &[31]).await);
    print_table(&rows);
}

/// The rotation check can fail: a password rewritten after the first deploy shows up as a
/// second value in the Secret's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_is_seen_in_the_history() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy(FIRST, &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let history = password_history(&env).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let (key, values) = history.iter().next().expect("one password");
    assert_eq!(values.len(), 1, "{key}: {values:?}");
    let (secret, field) = key.split_once('/').expect("Secret/key");
    let client = env.server.client().await.expect("client");
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(client, NS);
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret}, "data": {field: "cm90YXRlZA=="}});
    api.patch(
        secret,
        &kube::api::PatchParams::apply("kubectl-astro-generated").force(),
        &kube::api::Patch::Apply(&body),
    )
    .await
    .expect("rewrite the password");
    let history = password_history(&env).await;
    assert_eq!(
        history.get(key).map(Vec::len),
        Some(2),
        "the rewrite is seen: {history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_pinned_on_one_object_is_named_until_it_goes() {
    let rows = pinned(false).await;
    print_table(&rows);
}

// --- the full matrix (ignored: run with --run-ignored only) ----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full fault matrix, minutes: cargo nextest run -p kubectl-astro --test faults --run-ignored only --no-capture"]
async fn full_fault_matrix() {
    let mut rows = matrix(&ALL_KINDS, &[0.05, 0.2, 0.5], &[1, 2, 3, 4, 5]).await;
    rows.extend(pinned(true).await);
    print_table(&rows);
}
