//! Minimal watch and the kubectl paths that need it (`kubectl delete` waiting, `kubectl rollout
//! status`).

mod common;
use common::*;
use serde_json::{Value, json};
use test_apiserver::TestApiServer;

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn events(r: &Resp) -> Vec<Value> {
    dechunk(&r.text)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A watch from a resourceVersion replays later changes and ends at timeoutSeconds.
/// Upstream: apiserver `handlers/watch.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_replay_and_live_events() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    post(&b, CM, &json!({"metadata":{"name":"before"}})).await;
    let rv = s.resource_version();
    post(&b, CM, &json!({"metadata":{"name":"a"}})).await;
    let b2 = b.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        patch(
            &b2,
            &format!("{CM}/a"),
            "application/merge-patch+json",
            &json!({"data":{"k":"v"}}),
        )
        .await;
        delete(&b2, &format!("{CM}/a"), "").await;
    });
    let r = get(
        &b,
        &format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1&allowWatchBookmarks=true"),
    )
    .await;
    writer.await.expect("writer");
    assert_eq!(r.code, 200);
    let ev = events(&r);
    let kinds: Vec<&str> = ev.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, vec!["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(ev[0]["object"]["kind"], json!("ConfigMap"));
    assert_eq!(ev[1]["object"]["data"], json!({"k":"v"}));
}

/// Without resourceVersion a watch starts with synthetic ADDED events; selectors filter.
/// Upstream: apiserver `handlers/watch.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_initial_events_with_field_selector() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    post(&b, CM, &json!({"metadata":{"name":"x"}})).await;
    post(&b, CM, &json!({"metadata":{"name":"y"}})).await;
    let r = get(
        &b,
        &format!("{CM}?watch=1&fieldSelector=metadata.name%3Dy&timeoutSeconds=1"),
    )
    .await;
    let ev = events(&r);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["type"], json!("ADDED"));
    assert_eq!(ev[0]["object"]["metadata"]["name"], json!("y"));
}

async fn kubectl(dir: &TempDir, args: &[&str]) -> (i32, String, String) {
    let out = kubectl_in(dir, args).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `kubectl rollout status` succeeds once the controller has written status. Upstream: kubectl
/// `polymorphichelpers/rollout_status.go`; `pkg/controller/deployment/util/deployment_util.go`;
/// apiserver `handlers/watch.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_with_controller() {
    let s = TestApiServer::start().await.expect("start");
    s.set_controller(true);
    let dir = TempDir::new("rollout");
    s.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    apply(
        &s.base_url(),
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 2, "nginx:1.27"),
    )
    .await;
    let (code, out, err) = kubectl(
        &dir,
        &["rollout", "status", "deployment/web", "--timeout=20s"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // The controller rolls the Deployment out over a few steps after the apply; kubectl reports
    // those it sees before the last line.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    for l in &lines[..lines.len() - 1] {
        assert!(
            *l == "Waiting for deployment spec update to be observed..."
                || *l
                    == "Waiting for deployment \"web\" rollout to finish: 0 of 2 updated replicas are available...",
            "{out}"
        );
    }
}

/// `kubectl delete` waits for an object held by a finalizer until it is released. Upstream: kubectl
/// `cmd/delete/delete.go`; apiserver `registry/generic/registry/store.go`; apiserver
/// `handlers/watch.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_waits_for_finalizer() {
    let s = TestApiServer::start().await.expect("start");
    let dir = TempDir::new("finalizer");
    s.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    post(
        &s.base_url(),
        CM,
        &json!({"metadata":{"name":"held","finalizers":["example.com/hold"]}}),
    )
    .await;
    let b = s.base_url();
    let releaser = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let r = get(&b, &format!("{CM}/held")).await;
            if r.body["metadata"]["deletionTimestamp"].is_string() {
                patch(
                    &b,
                    &format!("{CM}/held"),
                    "application/merge-patch+json",
                    &json!({"metadata":{"finalizers":null}}),
                )
                .await;
                return true;
            }
        }
        false
    });
    let (code, out, err) = kubectl(&dir, &["delete", "configmap", "held", "--timeout=30s"]).await;
    assert!(
        releaser.await.expect("releaser"),
        "object was marked for deletion"
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "configmap \"held\" deleted\n");
}

/// In stalled mode kubectl rollout status reports the exceeded progress deadline. Upstream: kubectl
/// `polymorphichelpers/rollout_status.go`; `pkg/controller/deployment/util/deployment_util.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_status_stalled() {
    // The status is read right after each write: the controller runs inside it.
    let s = TestApiServer::start_with(test_apiserver::ServerOptions {
        lifecycle: test_apiserver::Lifecycle::Synchronous,
        ..test_apiserver::ServerOptions::default()
    })
    .await
    .expect("start");
    s.set_controller_mode(test_apiserver::ControllerMode::Stalled);
    let dir = TempDir::new("stalled");
    s.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    apply(
        &s.base_url(),
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 2, "nginx:1.27"),
    )
    .await;
    let (code, _out, err) = kubectl(
        &dir,
        &["rollout", "status", "deployment/web", "--timeout=20s"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("deployment \"web\" exceeded its progress deadline"),
        "{err}"
    );
    let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"backoffLimit":1,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"a"}]}}}});
    apply(
        &s.base_url(),
        "/apis/batch/v1/namespaces/default/jobs/j?fieldManager=k",
        &job,
    )
    .await;
    let j = get(&s.base_url(), "/apis/batch/v1/namespaces/default/jobs/j")
        .await
        .body;
    assert_eq!(j["status"]["failed"], json!(2));
    assert_eq!(j["status"]["conditions"][1]["type"], json!("Failed"));
}

/// `kubectl wait --for=condition=Available` succeeds once the controller ran. Upstream: cli-utils
/// `kstatus/status/core.go`; `pkg/controller/deployment/util/deployment_util.go`; apiserver
/// `handlers/watch.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_for_available() {
    let s = TestApiServer::start().await.expect("start");
    let dir = TempDir::new("wait");
    s.write_kubeconfig(&dir.path().join("kubeconfig"))
        .expect("kubeconfig");
    apply(
        &s.base_url(),
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let (code, _, err) = kubectl(
        &dir,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=1s",
        ],
    )
    .await;
    assert_ne!(
        code, 0,
        "without the controller the condition never comes: {err}"
    );
    s.set_controller(true);
    apply(
        &s.base_url(),
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 2, "nginx:1.27"),
    )
    .await;
    let (code, out, err) = kubectl(
        &dir,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=20s",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "deployment.apps/web condition met\n");
}
