//! `coordination.k8s.io/v1` Leases as kube-apiserver serves them to the leader-election
//! clients (client-go `tools/leaderelection/resourcelock/leaselock.go`): discovered, created,
//! read, replaced with a resourceVersion precondition (409 Conflict when it is stale, the
//! optimistic concurrency of `GuaranteedUpdate`), validated (`pkg/apis/coordination/validation`
//! `ValidateLeaseSpec`), and refused in a namespace that does not exist.

mod common;
use common::*;
use serde_json::{Value, json};
use test_apiserver::TestApiServer;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn lease(holder: &str, rv: Option<&str>) -> Value {
    let mut l = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "agent"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                 "acquireTime": "2026-01-02T03:04:05.000000Z",
                 "renewTime": "2026-01-02T03:04:05.000000Z", "leaseTransitions": 0}});
    if let Some(rv) = rv {
        l["metadata"]["resourceVersion"] = json!(rv);
    }
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_discovered() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let group = get(&b, "/apis/coordination.k8s.io/v1").await;
    assert_eq!(group.code, 200, "{}", group.text);
    let leases = group.body["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "leases")
        .cloned()
        .expect("leases listed");
    assert_eq!(leases["kind"], "Lease");
    assert_eq!(leases["namespaced"], true);
    let openapi = get(&b, "/openapi/v3/apis/coordination.k8s.io/v1").await;
    assert_eq!(openapi.code, 200, "{}", openapi.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_update_of_a_lease_is_a_conflict() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let created = post(&b, LEASES, &lease("a", None)).await;
    assert_eq!(created.code, 201, "{}", created.text);
    let rv = created.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    assert_eq!(created.body["spec"]["holderIdentity"], "a");
    assert_eq!(
        created.body["spec"]["renewTime"],
        "2026-01-02T03:04:05.000000Z"
    );
    let again = post(&b, LEASES, &lease("b", None)).await;
    assert_eq!(again.code, 409, "{}", again.text);
    assert_eq!(again.body["reason"], "AlreadyExists");

    // Two candidates read the same version; the first update wins, the second is stale.
    let path = format!("{LEASES}/agent");
    let b_takes = put(&b, &path, &lease("b", Some(&rv))).await;
    assert_eq!(b_takes.code, 200, "{}", b_takes.text);
    assert_ne!(b_takes.body["metadata"]["resourceVersion"], json!(rv));
    let c_takes = put(&b, &path, &lease("c", Some(&rv))).await;
    assert_eq!(c_takes.code, 409, "{}", c_takes.text);
    assert_eq!(c_takes.body["reason"], "Conflict");
    let now = get(&b, &path).await;
    assert_eq!(now.body["spec"]["holderIdentity"], "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_spec_and_namespace_are_checked() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let mut bad = lease("a", None);
    bad["spec"]["leaseDurationSeconds"] = json!(0);
    let r = post(&b, LEASES, &bad).await;
    assert_eq!(r.code, 422, "{}", r.text);
    assert!(
        r.text
            .contains("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
        "{}",
        r.text
    );
    let r = post(
        &b,
        "/apis/coordination.k8s.io/v1/namespaces/nowhere/leases",
        &lease("a", None),
    )
    .await;
    assert_eq!(r.code, 404, "{}", r.text);
    assert_eq!(r.body["details"]["kind"], "namespaces");
}
