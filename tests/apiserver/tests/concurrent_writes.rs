//! Writes that race. test-apiserver computes a PATCH or PUT outside its store lock and commits it
//! only if the object, its namespace and the Service allocators are still what it read, as
//! kube-apiserver's `GuaranteedUpdate` does; these tests race many writers on two server threads
//! and check that no write is lost, none is applied twice, no ClusterIP is handed out twice and
//! a stale resourceVersion still loses (apimachinery `errors.NewConflict`).

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use test_apiserver::TestApiServer;
use tokio::sync::Barrier;

/// Runs `f(i)` for `0..n` at once (released together by a barrier) and returns the answers.
async fn race<F, Fut>(n: usize, f: F) -> Vec<Resp>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let barrier = barrier.clone();
        let fut = f(i);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// 24 field managers each apply their own key to one ConfigMap at the same moment. Every apply is
/// kept — 24 keys, 24 Apply entries — and each is one revision: a write computed on an object that
/// another writer changed meanwhile is recomputed, never stored over it. Upstream: managedfields
/// `fieldmanager.go`; structured-merge-diff `merge.Updater`;
/// `IgnoreManagedFieldsTimestampsTransformer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_applies_to_one_object_lose_no_write() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let before = s.resource_version();
    let n = 24;
    let answers = race(n, |i| {
        let b = b.clone();
        async move {
            let body = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},
                "data":{format!("k{i}"): format!("v{i}")}});
            apply(&b, &format!("{CM}/shared?fieldManager=m{i}"), &body).await
        }
    })
    .await;
    let codes: Vec<u16> = answers.iter().map(|a| a.code).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 201).count(),
        1,
        "one create: {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 200 || *c == 201), "{codes:?}");
    let rvs: BTreeSet<&str> = answers
        .iter()
        .filter_map(|a| a.body["metadata"]["resourceVersion"].as_str())
        .collect();
    assert_eq!(rvs.len(), n, "each answer is its own revision");

    let live = get(&b, &format!("{CM}/shared")).await;
    let data = live.body["data"].as_object().expect("data");
    assert_eq!(data.len(), n, "every key kept: {data:?}");
    for i in 0..n {
        assert_eq!(data[&format!("k{i}")], json!(format!("v{i}")));
    }
    let managers: BTreeSet<&str> = live.body["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers.len(), n, "{managers:?}");
    assert_eq!(
        s.resource_version(),
        before + n as u64,
        "one revision per write"
    );
}

/// Services created at the same moment each get their own ClusterIP: an allocation computed
/// while another Service took the next address is recomputed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_service_creates_get_distinct_cluster_ips() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let n = 16;
    let answers = race(n, |i| {
        let b = b.clone();
        async move {
            let body = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":format!("s{i}")},
                "spec":{"selector":{"app":"a"},"ports":[{"port":80}]}});
            apply(
                &b,
                &format!("/api/v1/namespaces/default/services/s{i}?fieldManager=astro"),
                &body,
            )
            .await
        }
    })
    .await;
    let ips: BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.code, 201, "{}", a.text);
            a.body["spec"]["clusterIP"]
                .as_str()
                .expect("clusterIP")
                .to_string()
        })
        .collect();
    assert_eq!(ips.len(), n, "{ips:?}");
    let listed = get(&b, "/api/v1/namespaces/default/services").await;
    let stored: BTreeSet<String> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["spec"]["clusterIP"].as_str().map(str::to_string))
        .collect();
    assert!(ips.is_subset(&stored), "answers are what was stored");
}

/// Eight clients PUT the same ConfigMap at the same moment, each with the resourceVersion
/// they read. Exactly one wins; the others get 409 Conflict, as if they had come one by one.
/// Upstream: apimachinery `errors.NewConflict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_updates_with_one_resource_version_have_one_winner() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let created = apply(
        &b,
        &format!("{CM}/c?fieldManager=astro"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"0"}}),
    )
    .await;
    assert_eq!(created.code, 201, "{}", created.text);
    let rv = created.body["metadata"]["resourceVersion"].clone();
    let n = 8;
    let answers = race(n, |i| {
        let b = b.clone();
        let rv = rv.clone();
        async move {
            let body = json!({"apiVersion":"v1","kind":"ConfigMap",
                "metadata":{"name":"c","resourceVersion":rv},"data":{"k":format!("{}", i + 1)}});
            put(&b, &format!("{CM}/c"), &body).await
        }
    })
    .await;
    let winners: Vec<&Resp> = answers.iter().filter(|a| a.code == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", codes(&answers));
    assert!(
        answers
            .iter()
            .filter(|a| a.code != 200)
            .all(|a| a.code == 409 && a.body["reason"] == "Conflict"),
        "{:?}",
        codes(&answers)
    );
    let live = get(&b, &format!("{CM}/c")).await;
    assert_eq!(live.body["data"], winners[0].body["data"]);
    assert_eq!(
        live.body["metadata"]["resourceVersion"],
        winners[0].body["metadata"]["resourceVersion"]
    );
}

fn codes(answers: &[Resp]) -> Vec<(u16, Value)> {
    answers
        .iter()
        .map(|a| (a.code, a.body["reason"].clone()))
        .collect()
}
