//! The answer lost after the write is committed (`Fault::drop_after_commit`): the object is
//! stored, the client sees only a closed connection, and what a retry of each verb then meets —
//! a server-side apply is a no-op (200, same resourceVersion), a create a 409, a delete a 404.
//! `Fault::drop_connection` is the contrast: nothing is written.

mod common;
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use test_apiserver::{Fault, TestApiServer};

fn config_map(name: &str) -> serde_json::Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name},"data":{"k":"v"}})
}

/// An apply whose answer is lost after the commit is stored (resourceVersion moved, the
/// log holds the real 201 marked `dropped`); the client got no HTTP answer; the identical retry
/// is a 200 no-op that returns the stored object and writes nothing.
/// Upstream: structured-merge-diff `merge.Updater`; `IgnoreManagedFieldsTimestampsTransformer`.
#[tokio::test]
async fn apply_answer_lost_after_commit_is_stored_and_its_retry_is_a_no_op() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    s.faults().add(
        Fault::drop_after_commit()
            .verb("apply")
            .kind("ConfigMap")
            .name("c")
            .times(1),
    );
    let url = format!("{CM}/c?fieldManager=astro");
    let before = s.resource_version();
    let lost = apply(&b, &url, &config_map("c")).await;
    assert_eq!(lost.code, 0, "no HTTP answer: {}", lost.text);
    assert!(lost.text.is_empty(), "nothing sent: {}", lost.text);
    let committed = s.resource_version();
    assert!(committed > before, "the write was committed");
    let log = s.request_log();
    let last = log.last().expect("logged");
    assert_eq!(
        (last.verb.as_str(), last.status, last.dropped),
        ("apply", 201, true)
    );

    let live = get(&b, &format!("{CM}/c")).await;
    assert_eq!(live.code, 200, "the object exists: {}", live.text);
    assert_eq!(live.body["data"], json!({"k":"v"}));
    assert_eq!(
        live.body["metadata"]["resourceVersion"],
        json!(committed.to_string())
    );

    let retry = apply(&b, &url, &config_map("c")).await;
    assert_eq!(retry.code, 200, "{}", retry.text);
    assert_eq!(retry.body, live.body, "the retry returns the stored object");
    assert_eq!(s.resource_version(), committed, "the retry wrote nothing");
    assert_eq!(s.faults().hits(), vec![1]);
    let last = s.request_log().pop().expect("logged");
    assert_eq!((last.status, last.dropped), (200, false));
}

/// The contrast: `drop_connection` closes before handling, so nothing is written and the log
/// shows status 0.
#[tokio::test]
async fn drop_connection_writes_nothing() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    s.faults()
        .add(Fault::drop_connection().verb("apply").kind("ConfigMap"));
    let before = s.resource_version();
    let lost = apply(&b, &format!("{CM}/c?fieldManager=astro"), &config_map("c")).await;
    assert_eq!(lost.code, 0);
    assert_eq!(s.resource_version(), before);
    let last = s.request_log().pop().expect("logged");
    assert_eq!((last.status, last.dropped), (0, true));
    assert_eq!(get(&b, &format!("{CM}/c")).await.code, 404);
}

/// What a kube-rs client (the plugin's) sees: a transport error, not an API answer; the object is
/// there, and the retried apply returns it unchanged (structured-merge-diff `merge.Updater`;
/// `IgnoreManagedFieldsTimestampsTransformer`).
#[tokio::test]
async fn kube_client_sees_a_connection_error_and_its_retry_is_a_no_op() {
    let s = TestApiServer::start().await.expect("start");
    let api: Api<ConfigMap> = Api::default_namespaced(s.client().await.expect("client"));
    s.faults()
        .add(Fault::drop_after_commit().verb("apply").times(1));
    let pp = PatchParams::apply("astro");
    let err = api
        .patch("c", &pp, &Patch::Apply(&config_map("c")))
        .await
        .expect_err("the answer was lost");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a connection error, not an API answer: {err:?}"
    );
    let committed = s.resource_version();
    let live = api.get("c").await.expect("the object exists");
    assert_eq!(live.metadata.resource_version, Some(committed.to_string()));
    let again = api
        .patch("c", &pp, &Patch::Apply(&config_map("c")))
        .await
        .expect("retry");
    assert_eq!(again, live, "the retry returns the stored object");
    assert_eq!(s.resource_version(), committed, "the retry wrote nothing");
}

/// Why the verb matters: a create whose answer was lost meets 409 AlreadyExists when retried, and a
/// delete 404 NotFound (the no-op rule covers only apply).
#[tokio::test]
async fn create_and_delete_answers_lost_after_commit_make_their_retries_fail() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    s.faults()
        .add(Fault::drop_after_commit().verb("create").times(1));
    s.faults()
        .add(Fault::drop_after_commit().verb("delete").times(1));
    let lost = post(&b, CM, &config_map("c")).await;
    assert_eq!(lost.code, 0);
    assert_eq!(get(&b, &format!("{CM}/c")).await.code, 200, "created");
    let retry = post(&b, CM, &config_map("c")).await;
    assert_eq!(retry.code, 409, "{}", retry.text);
    assert_eq!(retry.body["reason"], "AlreadyExists");

    let lost = delete(&b, &format!("{CM}/c"), "").await;
    assert_eq!(lost.code, 0);
    assert_eq!(get(&b, &format!("{CM}/c")).await.code, 404, "deleted");
    let retry = delete(&b, &format!("{CM}/c"), "").await;
    assert_eq!(retry.code, 404, "{}", retry.text);
    assert_eq!(s.faults().hits(), vec![1, 1]);
    let statuses: Vec<(String, u16, bool)> = s
        .request_log()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.verb.clone(), r.status, r.dropped))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("create".into(), 201, true),
            ("create".into(), 409, false),
            ("delete".into(), 200, true),
            ("delete".into(), 404, false),
        ]
    );
}
