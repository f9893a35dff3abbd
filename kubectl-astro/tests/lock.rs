//! The per-deployment Lease (`kubectl_astro::lock`): two deploys of one agent from two
//! processes serialize, a dead holder's Lease is taken over once it expires, a held one
//! makes the other run give up naming its holder, a holder renews it, undeploy deletes it.
//! The rules are client-go's leader election (`tools/leaderelection/leaderelection.go`).
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test lock --no-capture
//! ```

mod support;

use std::time::{Duration, Instant};

use kubectl_astro::lock::{self, LockOptions};
use kubectl_astro::{Cluster, ErrorKind};
use serde_json::{Value, json};
use support::{Env, NS, actions, weather_agent};
use test_apiserver::Fault;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/astro-system/leases";

/// A MicroTime `ago` before now.
fn micro_ago(ago: Duration) -> String {
    let at = chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Sends `method path` with a JSON body through the server's own client (someone other than
/// the plugin); returns the answer or panics naming it.
async fn send(env: &Env, method: &str, path: &str, body: &Value) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
        .expect("request");
    let client = env.server.client().await.expect("client");
    client
        .request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The Lease of the example deployment, held by `holder` (a process that no longer runs),
/// last renewed `renewed_ago`, for `duration_s` seconds.
async fn dead_holders_lease(env: &Env, holder: &str, renewed_ago: Duration, duration_s: i64) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "astro-system"}});
    send(env, "POST", "/api/v1/namespaces", &ns).await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": NS},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration_s,
                 "acquireTime": micro_ago(renewed_ago), "renewTime": micro_ago(renewed_ago),
                 "leaseTransitions": 3}});
    send(env, "POST", LEASES, &lease).await;
}

async fn lease(env: &Env) -> Option<Value> {
    env.get(&format!("{LEASES}/{NS}")).await
}

/// Two `kubectl astro deploy` runs of one agent at once (two CI pipelines): one applies
/// everything, the other waits for its Lease and then finds every object unchanged. Without
/// the Lease both apply, and the second reports objects `configured` that nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_cli_deploys_of_one_agent_serialize() {
    let env = Env::new().await;
    // The first Deployment apply takes 1.5 s: whichever run sends it is in the middle of its
    // deploy (namespace, config and secrets written) when the other one starts.
    env.server.faults().add(
        Fault::delay_only(Duration::from_millis(1500))
            .verb("apply")
            .kind("Deployment")
            .times(1),
    );
    let started = Instant::now();
    let (a, b) = tokio::join!(
        env.deploy("deploy-request.json", &[]),
        env.deploy("deploy-request.json", &[])
    );
    let took = started.elapsed();
    assert_eq!((a.0, b.0), (0, 0), "{}\n{}\n{}\n{}", a.1, a.2, b.1, b.2);
    let (first, second) = if actions(&a.1).iter().any(|(_, x)| x == "created") {
        (a.1, b.1)
    } else {
        (b.1, a.1)
    };
    let first = actions(&first);
    let second = actions(&second);
    println!("first: {first:?}\nsecond: {second:?}");
    assert!(first.iter().all(|(_, x)| x == "created"), "{first:?}");
    assert!(second.iter().all(|(_, x)| x == "unchanged"), "{second:?}");
    assert_eq!(first.len(), second.len());
    // No write of the second run falls between the first run's taking and releasing of the
    // Lease: the writes to the agent's namespace come in two runs, not interleaved.
    let log = env.server.request_log();
    let lease_writes: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.path.starts_with(LEASES) && r.method != "GET" && r.status < 300)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        lease_writes.len(),
        4,
        "take, release, take, release: {log:#?}"
    );
    let writes_to_ns = |from: usize, to: usize| {
        log[from..to]
            .iter()
            .filter(|r| r.path.contains(NS) && r.method != "GET" && !r.path.starts_with(LEASES))
            .count()
    };
    assert!(
        writes_to_ns(lease_writes[0], lease_writes[1]) > 0,
        "{log:#?}"
    );
    assert_eq!(
        writes_to_ns(lease_writes[1], lease_writes[2]),
        0,
        "{log:#?}"
    );
    assert_eq!(writes_to_ns(lease_writes[3], log.len()), 0, "{log:#?}");
    println!(
        "two concurrent deploys of one agent: {} ms, {} requests",
        took.as_millis(),
        log.len()
    );
    let released = lease(&env).await.expect("the Lease stays");
    assert_eq!(released["spec"].get("holderIdentity"), None, "{released}");
}

/// A Lease whose holder died (not renewed, 2 s duration): the next deploy waits until it has
/// seen the record unchanged for those 2 s, then takes it over (one more transition).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_is_taken_over_after_it_expires() {
    let env = Env::new().await;
    dead_holders_lease(&env, "ci-runner-7/4242", Duration::ZERO, 2).await;
    let started = Instant::now();
    let (code, resp, stderr) = env
        .deploy("deploy-request.json", &["--lock-wait", "20s"])
        .await;
    let took = started.elapsed();
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(
        took >= Duration::from_secs(2),
        "{took:?}: taken before it expired"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let now = lease(&env).await.expect("lease");
    assert_eq!(now["spec"]["leaseTransitions"], 4, "{now}");
}

/// A Lease last renewed long ago (more than twice its duration by our clock) is taken over
/// at once, without waiting a whole duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_renewed_long_ago_is_taken_over_at_once() {
    let env = Env::new().await;
    dead_holders_lease(&env, "ci-runner-7/4242", Duration::from_secs(3600), 30).await;
    let started = Instant::now();
    let (code, resp, stderr) = env
        .deploy("deploy-request.json", &["--lock-wait", "20s"])
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A live holder keeps it: past `--lock-wait` the deploy exits 6 with the `busy` error naming
/// the holder, and has written nothing to the agent's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_makes_deploy_and_undeploy_give_up_naming_the_holder() {
    let env = Env::new().await;
    dead_holders_lease(&env, "pipeline-1234@runner-9", Duration::ZERO, 60).await;
    let (code, resp, stderr) = env
        .deploy("deploy-request.json", &["--lock-wait", "1500ms"])
        .await;
    assert_eq!(code, 6, "{resp} {stderr}");
    assert_eq!(resp["error"], "busy", "{resp}");
    let details = resp["details"].as_str().unwrap_or("");
    assert!(
        details.contains("holder pipeline-1234@runner-9"),
        "{details}"
    );
    assert!(
        details.contains(&format!("Lease astro-system/{NS}")),
        "{details}"
    );
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());

    // Undeploy waits for the same Lease.
    send(
        &env,
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {
            "app.kubernetes.io/managed-by": "kubectl-astro",
            "astro.dev/agent": "astro-team.weather-agent"}}}),
    )
    .await;
    let (code, out, err) = env
        .run(&weather_agent(&["undeploy"], &["--lock-wait", "500ms"]))
        .await;
    assert_eq!(code, 6, "{out} {err}");
    assert!(out.contains("pipeline-1234@runner-9"), "{out}");
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_some());
}

/// The holder renews its Lease while it holds it (so a long deploy is not taken over), and
/// another candidate cannot take it meanwhile; released, it is free at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_and_released() {
    let env = Env::new().await;
    let cluster = Cluster::new(env.server.client().await.expect("client"));
    let ours = LockOptions::default()
        .lease(Duration::from_secs(1), Duration::from_millis(200))
        .wait(Duration::ZERO);
    let held = lock::acquire(&cluster, "agent-ns", &ours)
        .await
        .expect("free lease taken");
    let path = format!("{LEASES}/agent-ns");
    let first = env.get(&path).await.expect("lease")["spec"]["renewTime"].clone();
    // Three lease durations: without renewals it would have expired twice over.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = env.get(&path).await.expect("lease");
    assert_ne!(later["spec"]["renewTime"], first, "{later}");
    let other = LockOptions::default()
        .wait(Duration::from_millis(1500))
        .retry_every(Duration::from_millis(100));
    let refused = lock::acquire(&cluster, "agent-ns", &other)
        .await
        .expect_err("held and renewed");
    assert_eq!(refused.kind(), ErrorKind::Busy, "{refused}");
    assert!(held.lost().is_none());
    held.release(&cluster).await;
    let started = Instant::now();
    let taken = lock::acquire(&cluster, "agent-ns", &other.clone().wait(Duration::ZERO))
        .await
        .expect("released lease taken at once");
    assert!(started.elapsed() < Duration::from_millis(500));
    taken.release(&cluster).await;
}

/// Undeploy deletes the deployment's Lease with its namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_deletes_the_lease() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(lease(&env).await.is_some());
    let (code, out, err) = env.run(&weather_agent(&["undeploy"], &[])).await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        lease(&env).await.is_none(),
        "the Lease outlived its deployment"
    );
}
