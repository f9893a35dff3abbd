//! Test hooks: request log, faults, bearer auth + allow-list, and the controller.

mod common;
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use test_apiserver::{AllowRule, Fault, ServerOptions, TestApiServer};

/// The request log records method, path, query, content type, status and verb.
#[tokio::test]
async fn request_log_records_round_trips() {
    let s = TestApiServer::start().await.expect("start");
    s.clear_request_log();
    apply(
        &s.base_url(),
        &format!("{CM}/c?fieldManager=k&dryRun=All"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
    )
    .await;
    get(&s.base_url(), &format!("{CM}/c")).await;
    let log = s.request_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "PATCH");
    assert_eq!(log[0].path, format!("{CM}/c"));
    assert_eq!(log[0].query, "fieldManager=k&dryRun=All");
    assert_eq!(log[0].content_type, "application/apply-patch+yaml");
    assert_eq!(log[0].status, 201);
    assert_eq!(log[0].verb, "apply");
    assert_eq!(log[1].status, 404);
    s.clear_request_log();
    assert!(s.request_log().is_empty());
}

/// Status faults by verb/kind/name with Retry-After; `times` limits them.
#[tokio::test]
async fn faults_status_with_retry_after() {
    let s = TestApiServer::start().await.expect("start");
    s.faults().add(
        Fault::status(429, "TooManyRequests", "slow down")
            .verb("apply")
            .kind("ConfigMap")
            .name("c")
            .retry_after(2)
            .times(1),
    );
    let body = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}});
    let r = apply(&s.base_url(), &format!("{CM}/c?fieldManager=k"), &body).await;
    assert_eq!(r.code, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"slow down","reason":"TooManyRequests","details":{"retryAfterSeconds":2},"code":429})
    );
    let r = apply(&s.base_url(), &format!("{CM}/c?fieldManager=k"), &body).await;
    assert_eq!(r.code, 201);
    assert_eq!(s.faults().hits(), vec![1]);
    s.faults().clear();
    assert!(s.faults().hits().is_empty());
}

/// Faults only hit matching requests; a dropped connection gets no answer at all.
#[tokio::test]
async fn faults_match_and_drop_connection() {
    let s = TestApiServer::start().await.expect("start");
    s.faults()
        .add(Fault::drop_connection().verb("get").kind("deployments"));
    assert_eq!(
        get(&s.base_url(), &format!("{CM}/x")).await.code,
        404,
        "other kinds unaffected"
    );
    let r = get(&s.base_url(), &format!("{DEPLOY}/x")).await;
    assert_eq!(r.code, 0, "no HTTP answer");
    assert_eq!(s.request_log().last().map(|l| l.status), Some(0));
}

/// Probabilistic faults are reproducible with a seed; delays are applied.
#[tokio::test]
async fn faults_probability_is_seeded() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let s = TestApiServer::start().await.expect("start");
        s.faults().seed(seed);
        s.faults().add(
            Fault::status(500, "InternalError", "boom")
                .probability(0.5)
                .delay(Duration::from_millis(1)),
        );
        let mut out = Vec::new();
        for _ in 0..16 {
            out.push(get(&s.base_url(), &format!("{CM}/x")).await.code);
        }
        out
    }
    let a = pattern(7).await;
    assert_eq!(a, pattern(7).await);
    assert!(a.contains(&500) && a.contains(&404), "{a:?}");
}

fn auth_opts() -> ServerOptions {
    let mut tokens = BTreeMap::new();
    tokens.insert("tok-jane".to_string(), "jane".to_string());
    ServerOptions {
        tokens,
        allow: Some(vec![
            AllowRule::new("jane", &["get", "list", "patch"], &["deployments"])
                .in_namespaces(&["default"]),
        ]),
        ..Default::default()
    }
}

/// Missing or wrong bearer token → 401 with the real body.
/// Upstream: apiserver `authentication/request/x509`; `filters/authentication.go`.
#[tokio::test]
async fn unauthorized() {
    let s = TestApiServer::start_with(auth_opts()).await.expect("start");
    let r = get(&s.base_url(), "/api/v1/namespaces").await;
    assert_eq!(r.code, 401);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    let r = req(
        &s.base_url(),
        "GET",
        "/version",
        &[("Authorization", "Bearer wrong")],
        "",
    )
    .await;
    assert_eq!(r.code, 401);
}

/// The allow-list authorizer answers 403 with the RBAC message; apply-create needs create.
/// Upstream: apiserver `responsewriters/errors.go` `forbiddenMessage`.
#[tokio::test]
async fn forbidden_messages() {
    let s = TestApiServer::start_with(auth_opts()).await.expect("start");
    let auth = [("Authorization", "Bearer tok-jane")];
    let r = req(&s.base_url(), "GET", &format!("{DEPLOY}/web"), &auth, "").await;
    assert_eq!(r.code, 404, "allowed, just missing");
    let r = req(
        &s.base_url(),
        "GET",
        "/api/v1/namespaces/default/secrets",
        &auth,
        "",
    )
    .await;
    assert_eq!(r.code, 403);
    assert_eq!(
        r.body["message"],
        json!(
            "secrets is forbidden: User \"jane\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        )
    );
    let r = req(&s.base_url(), "DELETE", &format!("{DEPLOY}/web"), &auth, "").await;
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"deployments.apps \"web\" is forbidden: User \"jane\" cannot delete resource \"deployments\" in API group \"apps\" in the namespace \"default\"",
        "reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403})
    );
    let r = req(
        &s.base_url(),
        "PATCH",
        &format!("{DEPLOY}/web?fieldManager=k"),
        &[auth[0], ("Content-Type", "application/apply-patch+yaml")],
        &deployment("web", 1, "nginx").to_string(),
    )
    .await;
    assert_eq!(r.code, 403);
    assert_eq!(
        r.body["message"],
        json!(
            "deployments.apps \"web\" is forbidden: User \"jane\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"default\""
        )
    );
    let r = req(&s.base_url(), "GET", "/api/v1/namespaces", &auth, "").await;
    assert_eq!(
        r.body["message"],
        json!(
            "namespaces is forbidden: User \"jane\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        )
    );
}

/// The kube client and the kubeconfig carry the token.
#[tokio::test]
async fn client_uses_token() {
    let s = TestApiServer::start_with(auth_opts()).await.expect("start");
    assert!(s.kubeconfig_yaml().contains("token: tok-jane"));
    let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::default_namespaced(s.client().await.expect("client"));
    assert_eq!(
        api.list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        0
    );
}

/// With the controller on, Deployments/StatefulSets/Jobs get a ready status synchronously.
/// Upstream: `pkg/controller/deployment/util/deployment_util.go`.
#[tokio::test]
async fn controller_writes_status() {
    // The status is read right after each write: the controller runs inside it.
    let s = TestApiServer::start_with(test_apiserver::ServerOptions {
        lifecycle: test_apiserver::Lifecycle::Synchronous,
        ..test_apiserver::ServerOptions::default()
    })
    .await
    .expect("start");
    let b = s.base_url();
    apply(
        &b,
        &format!("{DEPLOY}/off?fieldManager=k"),
        &deployment("off", 2, "nginx"),
    )
    .await;
    assert_eq!(
        get(&b, &format!("{DEPLOY}/off")).await.body["status"],
        json!({})
    );
    s.set_controller(true);
    let r = apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 2, "nginx"),
    )
    .await;
    assert_eq!(
        r.body["status"],
        json!({}),
        "the write's own answer precedes the controller"
    );
    let d = get(&b, &format!("{DEPLOY}/web")).await.body;
    let st = &d["status"];
    assert_eq!(st["observedGeneration"], json!(1));
    for k in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        assert_eq!(st[k], json!(2), "{k}");
    }
    assert_eq!(st["conditions"][0]["type"], json!("Available"));
    assert_eq!(
        st["conditions"][1]["reason"],
        json!("NewReplicaSetAvailable")
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        json!("1")
    );
    let kcm: Vec<_> = d["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .filter(|e| e["manager"] == "kube-controller-manager")
        .collect();
    assert_eq!(kcm.len(), 2);
    assert!(kcm.iter().any(|e| e["subresource"] == "status"));
    let r = apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 2, "nginx:2"),
    )
    .await;
    assert_eq!(r.body["metadata"]["generation"], json!(2));
    let d = get(&b, &format!("{DEPLOY}/web")).await.body;
    assert_eq!(d["status"]["observedGeneration"], json!(2));
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        json!("2")
    );
    let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"a"}]}}}});
    apply(
        &b,
        "/apis/batch/v1/namespaces/default/jobs/j?fieldManager=k",
        &job,
    )
    .await;
    let j = get(&b, "/apis/batch/v1/namespaces/default/jobs/j")
        .await
        .body;
    assert_eq!(j["status"]["succeeded"], json!(1));
    assert_eq!(j["status"]["conditions"][1]["type"], json!("Complete"));
}

/// kubectl with a wrong token fails with kubectl's "must be logged in" message.
/// Upstream: apiserver `authentication/request/x509`; `filters/authentication.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_unauthorized_message() {
    let s = TestApiServer::start_with(auth_opts()).await.expect("start");
    let dir = TempDir::new("unauth");
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, s.kubeconfig_yaml().replace("tok-jane", "wrong")).expect("write");
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["get", "configmaps"])
        .env("HOME", dir.path())
        .output()
        .await
        .expect("kubectl");
    assert_ne!(out.status.code(), Some(0));
    // Discovery is refused first, so kubectl reports it with client-go's wording for a 401.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: You must be logged in to the server (the server has asked for the client to provide credentials)"),
        "{err}"
    );
}
