//! The real kube client against the server: SSA, dry-run, conflicts, list, delete.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use test_apiserver::TestApiServer;

fn deploy(replicas: i32) -> serde_json::Value {
    json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
      "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":"web"}},
        "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}})
}

/// SSA create, dry-run keeps uid/resourceVersion, discovery works. Upstream: apimachinery
/// `version.Info`; apiserver `handlers/patch.go` `applyPatcher`; apiserver
/// `registry/generic/registry/dryrun.go`.
#[tokio::test]
async fn kube_b31_b53_apply_and_dry_run() {
    let s = TestApiServer::start().await.expect("start");
    let client = s.client().await.expect("client");
    let v = client.apiserver_version().await.expect("version");
    assert_eq!(v.minor, "32");
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("astro").force();
    let d = api
        .patch("web", &pp, &Patch::Apply(&deploy(1)))
        .await
        .expect("apply");
    let uid = d.metadata.uid.clone();
    let rv = d.metadata.resource_version.clone();
    let dry = api
        .patch(
            "web",
            &PatchParams::apply("astro").force().dry_run(),
            &Patch::Apply(&deploy(3)),
        )
        .await
        .expect("dry-run");
    assert_eq!(dry.metadata.uid, uid);
    assert_eq!(dry.metadata.resource_version, rv);
    assert_eq!(dry.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let live = api.get("web").await.expect("get");
    assert_eq!(live.spec.and_then(|s| s.replicas), Some(1));
    // kube-rs sends `?&dryRun=All&force=true&fieldManager=astro` (kube-rs
    // `kube-core/src/request.rs`).
    let log = s.request_log();
    assert!(
        log.iter()
            .any(|r| r.query.contains("dryRun=All") && r.verb == "apply" && r.status == 200)
    );
}

/// Conflicts surface as kube::Error::Api with reason Conflict and the exact message.
/// Upstream: structured-merge-diff `merge.Updater.Apply`; managedfields `conflict.go`.
#[tokio::test]
async fn kube_b42_conflict() {
    let s = TestApiServer::start().await.expect("start");
    let api: Api<Deployment> = Api::default_namespaced(s.client().await.expect("client"));
    api.patch("web", &PatchParams::apply("a"), &Patch::Apply(&deploy(1)))
        .await
        .expect("apply a");
    let err = api
        .patch("web", &PatchParams::apply("b"), &Patch::Apply(&deploy(2)))
        .await
        .expect_err("conflict");
    match err {
        kube::Error::Api(st) => {
            assert_eq!(st.code, 409);
            assert_eq!(st.reason, "Conflict");
            assert_eq!(
                st.message,
                "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Create/list with labelSelector/delete with Status answer/reuse name. Upstream: meta/v1
/// `ListMeta`; apiserver `handlers/create.go`; `rest.BeforeCreate`; apimachinery
/// `errors.NewAlreadyExists`; apiserver `handlers/delete.go`; `registry/generic/registry/store.go`.
#[tokio::test]
async fn kube_b84_create_list_delete() {
    let s = TestApiServer::start().await.expect("start");
    let client = s.client().await.expect("client");
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata":{"name":"team-a"}})).expect("ns"),
    )
    .await
    .expect("create ns");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata":{"name":"c","labels":{"app":"web"}},"data":{"k":"v"}}),
    )
    .expect("cm");
    let created = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let err = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("exists");
    assert!(matches!(err, kube::Error::Api(ref st) if st.is_already_exists()));
    let all: Api<ConfigMap> = Api::all(client.clone());
    let l = all
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("list");
    assert_eq!(l.items.len(), 1);
    let r = cms
        .delete("c", &DeleteParams::background())
        .await
        .expect("delete");
    assert!(r.is_right(), "completed deletes answer with a Status");
    let err = cms.get("c").await.expect_err("gone");
    assert!(matches!(err, kube::Error::Api(ref st) if st.is_not_found()));
    let again = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("recreate");
    assert_ne!(again.metadata.uid, created.metadata.uid);
}

/// Job defaults; a Job deleted with kube's default (empty) DeleteParams is orphaned. Upstream:
/// `pkg/registry/batch/job/strategy.go`; apiserver `handlers/delete.go`;
/// `registry/generic/registry/store.go`
/// `deletionFinalizersForGarbageCollection`.
#[tokio::test]
async fn kube_b85_job_default_orphan() {
    let s = TestApiServer::start().await.expect("start");
    let jobs: Api<Job> = Api::default_namespaced(s.client().await.expect("client"));
    let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},
       "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}});
    let j = jobs
        .patch("j", &PatchParams::apply("astro"), &Patch::Apply(&job))
        .await
        .expect("apply job");
    let spec = j.spec.expect("spec");
    assert_eq!(spec.backoff_limit, Some(6));
    assert_eq!(spec.completions, Some(1));
    assert!(
        spec.selector.is_some(),
        "the Job strategy generates the selector"
    );
    let r = jobs
        .delete("j", &DeleteParams::default())
        .await
        .expect("delete");
    let pending = r.left().expect("orphan deletion answers with the Job");
    assert_eq!(
        pending.metadata.finalizers,
        Some(vec!["orphan".to_string()])
    );
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(jobs.get_opt("j").await.expect("get").is_none());
}
