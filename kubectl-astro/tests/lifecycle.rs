//! The plugin against the asynchronous lifecycle of a cluster: a deleted namespace stays
//! Terminating until the namespace controller has emptied it, and workloads become ready over
//! a few controller steps. `undeploy --wait` waits for the namespace (and times out with exit 1
//! when a finalizer holds it), a deploy into a Terminating namespace fails at once with a clear
//! error, and `deploy --wait` reports progress until the workloads are ready.
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test lifecycle
//! ```

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{APPLY, Env, MERGE_PATCH, NS, patch_as_another_client, weather_agent};
use test_apiserver::ServerOptions;

const REQUEST: &str = "deploy-request.json";

/// A server whose background controllers look every `interval`, the workload controller on.
async fn env_with(interval: Duration) -> Env {
    Env::start(ServerOptions {
        controller: true,
        controller_interval: interval,
        ..ServerOptions::default()
    })
    .await
}

impl Env {
    /// A ConfigMap with a finalizer in the deployment's namespace: it holds the namespace in
    /// Terminating until the finalizer is removed.
    async fn hold_namespace(&self) {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": NS, "finalizers": ["example.com/hold"]}});
        let path = format!("/api/v1/namespaces/{NS}/configmaps/held?fieldManager=someone-else");
        patch_as_another_client(&self.server, &path, APPLY, &body).await;
    }

    async fn release_namespace(&self) {
        let path = format!("/api/v1/namespaces/{NS}/configmaps/held");
        patch_as_another_client(
            &self.server,
            &path,
            MERGE_PATCH,
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    }

    /// The namespace's phase, `None` once it is gone.
    async fn phase(&self) -> Option<String> {
        self.get(&format!("/api/v1/namespaces/{NS}"))
            .await
            .map(|n| n["status"]["phase"].as_str().unwrap_or("").to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_wait_waits_until_the_terminating_namespace_is_gone() {
    // The namespace controller looks once a second: the namespace is Terminating for a while.
    let env = env_with(Duration::from_secs(1)).await;
    let (code, resp, err) = env.deploy(REQUEST, &[]).await;
    assert_eq!(code, 0, "{resp} {err}");
    env.server.clear_request_log();
    let (code, out, err) = env.run(&weather_agent(&["undeploy"], &["--wait"])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(env.phase().await, None, "gone when undeploy --wait returns");
    // After the DELETE, the namespace was read while it was still there (Terminating).
    let log = env.server.request_log();
    let path = format!("/api/v1/namespaces/{NS}");
    let delete = log
        .iter()
        .position(|r| r.method == "DELETE" && r.path == path)
        .expect("the namespace was deleted");
    let waited = log[delete..]
        .iter()
        .filter(|r| r.method == "GET" && r.path == path && r.status == 200)
        .count();
    assert!(waited >= 1, "undeploy --wait did not wait: {log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_wait_times_out_on_a_namespace_held_by_a_finalizer() {
    let env = env_with(Duration::from_millis(100)).await;
    let (code, resp, err) = env.deploy(REQUEST, &[]).await;
    assert_eq!(code, 0, "{resp} {err}");
    env.hold_namespace().await;
    let started = Instant::now();
    let (code, out, err) = env
        .run(&weather_agent(
            &["undeploy"],
            &["--wait", "--timeout", "1s"],
        ))
        .await;
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(&format!("namespace {NS} is still terminating after 1s")),
        "{out}{err}"
    );
    assert!(took >= Duration::from_secs(1), "did not wait: {took:?}");
    assert_eq!(env.phase().await.as_deref(), Some("Terminating"));
    // Undeploying a namespace that is already Terminating waits for it (a second DELETE would
    // be a 409) and succeeds once the finalizer is gone.
    let release = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        env.release_namespace().await;
    };
    let args = weather_agent(&["undeploy"], &["--wait", "--timeout", "30s"]);
    let undeploy = env.run(&args);
    let ((code, out, err), ()) = tokio::join!(undeploy, release);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(env.phase().await, None);
    assert!(
        !env.server
            .request_log()
            .iter()
            .any(|r| r.method == "DELETE" && r.status == 409),
        "a Terminating namespace was deleted again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_into_a_terminating_namespace_fails_at_once_and_writes_nothing() {
    let env = env_with(Duration::from_millis(100)).await;
    let (code, resp, err) = env.deploy(REQUEST, &[]).await;
    assert_eq!(code, 0, "{resp} {err}");
    env.hold_namespace().await;
    let (code, out, err) = env.run(&weather_agent(&["undeploy"], &[])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(env.phase().await.as_deref(), Some("Terminating"));
    env.server.clear_request_log();
    let started = Instant::now();
    let (code, resp, err) = env.deploy(REQUEST, &["--credential", "X=1"]).await;
    assert!(started.elapsed() < Duration::from_secs(20), "it hung");
    assert_eq!(code, 1, "{resp} {err}");
    let text = resp.to_string();
    assert!(
        text.contains(&format!(
            "namespace {NS} is being deleted; wait until it is gone, then deploy again"
        )),
        "{text}"
    );
    // Nothing but the Namespace apply that revealed it (and the deploy's Lease, taken and
    // released): no object written, no 403 per object.
    let writes: Vec<String> = env
        .server
        .request_log()
        .iter()
        .filter(|r| r.method != "GET" && r.path != format!("/api/v1/namespaces/{NS}"))
        .filter(|r| !r.path.starts_with(support::LEASES))
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_reports_progress_until_ready() {
    // Each controller step a second and a half apart; --wait looks every half second.
    let env = Env::start(ServerOptions {
        controller: false,
        controller_interval: Duration::from_millis(1500),
        ..ServerOptions::default()
    })
    .await;
    let child = env
        .command(&Env::deploy_args(REQUEST, &["--wait", "--timeout", "60s"]))
        .spawn()
        .expect("kubectl-astro starts");
    // The controller starts once --wait reads the Deployment: its first look finds nothing
    // observed.
    let deployment = format!("/apis/apps/v1/namespaces/{NS}/deployments/weather-agent-agent");
    let started = Instant::now();
    while !env
        .server
        .request_log()
        .iter()
        .any(|r| r.method == "GET" && r.path == deployment)
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.server.set_controller(true);
    let out = child.wait_with_output().await.expect("exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let resp: Value = serde_json::from_str(&stdout).expect("a DeployResponse");
    assert_eq!(resp["status"], "success");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Deployment/weather-agent-agent: "))
        .collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "Deployment/weather-agent-agent: in progress: the controller has not observed the latest generation"
        ),
        "{stderr}"
    );
    assert!(
        lines.contains(&"Deployment/weather-agent-agent: in progress: 0/1 available, 1 updated"),
        "the rollout step was not reported: {stderr}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("Deployment/weather-agent-agent: ready"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Job/weather-agent-ingestion-stations: ready"),
        "{stderr}"
    );
}
