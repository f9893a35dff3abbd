//! Server-side apply and ownership over raw HTTP.

mod common;
use common::*;
use serde_json::{Value, json};
use test_apiserver::TestApiServer;

fn web(mgr: &str, extra: &str) -> String {
    format!("{DEPLOY}/web?fieldManager={mgr}{extra}")
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Create-on-apply gives 201 and one Apply entry in the real shape. Upstream: apiserver
/// `handlers/patch.go` `applyPatcher`; structured-merge-diff `typed/tofieldset.go`; managedfields
/// `stripmeta.go`; managedfields `managedfields.go`; apiserver `rest.FillObjectMetaSystemFields`.
#[tokio::test]
async fn create_on_apply() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(
        &s.base_url(),
        &web("kubectl", "&fieldValidation=Strict&force=false"),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    let md = &r.body["metadata"];
    assert_eq!(md["generation"], json!(1));
    assert_eq!(md["uid"].as_str().map(str::len), Some(36));
    let ts = md["creationTimestamp"].as_str().expect("ts");
    assert!(ts.len() == 20 && ts.ends_with('Z'), "{ts}");
    let mf = md["managedFields"].as_array().expect("mf");
    assert_eq!(mf.len(), 1);
    let e = &mf[0];
    let keys: Vec<&String> = e.as_object().expect("entry").keys().collect();
    assert_eq!(
        keys,
        vec![
            "manager",
            "operation",
            "apiVersion",
            "time",
            "fieldsType",
            "fieldsV1"
        ]
    );
    assert_eq!(e["operation"], json!("Apply"));
    assert_eq!(e["fieldsV1"]["f:spec"]["f:selector"], json!({}));
    assert!(
        e["fieldsV1"]["f:spec"].get("f:strategy").is_none(),
        "defaults are not owned by the applier"
    );
    assert!(
        e["fieldsV1"].get("f:metadata").is_none(),
        "name/namespace are never owned"
    );
    assert_eq!(
        r.body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
        json!("TCP")
    );
    assert_eq!(r.body["status"], json!({}));
}

/// Re-applying the same config changes nothing: same resourceVersion, same time. Upstream:
/// structured-merge-diff `merge.Updater`; `IgnoreManagedFieldsTimestampsTransformer`; apiserver
/// `registry/generic/registry/store.go`.
#[tokio::test]
async fn noop_apply_keeps_resource_version() {
    let s = TestApiServer::start().await.expect("start");
    let first = apply(
        &s.base_url(),
        &web("kubectl", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let rv_before = s.resource_version();
    let again = apply(
        &s.base_url(),
        &web("kubectl", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    assert_eq!(again.code, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(s.resource_version(), rv_before);
}

/// A second applier changing a field owned by another gets the exact 409 body.
/// Upstream: structured-merge-diff `merge.Updater.Apply`; managedfields `conflict.go`.
#[tokio::test]
async fn apply_conflict_body() {
    let s = TestApiServer::start().await.expect("start");
    apply(
        &s.base_url(),
        &web("kubectl", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let r = apply(
        &s.base_url(),
        &web("other", ""),
        &deployment("web", 3, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas","reason":"Conflict",
        "details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl\"","field":".spec.replicas"}]},"code":409})
    );
}

/// Several conflicts, and an Update owner printed with `using apps/v1`.
/// Upstream: managedfields `conflict.go`.
#[tokio::test]
async fn multiple_conflicts_message() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let r = post(
        &b,
        &format!("{DEPLOY}?fieldManager=creator"),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 201);
    let r = apply(&b, &web("applier", ""), &deployment("web", 2, "nginx:1.28")).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!(
            "Apply failed with 2 conflicts: conflicts with \"creator\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
        )
    );
    assert_eq!(
        r.body["details"]["causes"].as_array().map(Vec::len),
        Some(2)
    );
}

/// Force=true takes the conflicting fields over.
/// Upstream: structured-merge-diff `merge.Updater.Apply`.
#[tokio::test]
async fn force_transfers_ownership() {
    let s = TestApiServer::start().await.expect("start");
    apply(
        &s.base_url(),
        &web("kubectl", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let r = apply(
        &s.base_url(),
        &web("other", "&force=true"),
        &deployment("web", 3, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], json!(3));
    let mf = r.body["metadata"]["managedFields"].as_array().expect("mf");
    let kubectl = mf
        .iter()
        .find(|e| e["manager"] == "kubectl")
        .expect("kubectl entry");
    assert!(kubectl["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    let other = mf
        .iter()
        .find(|e| e["manager"] == "other")
        .expect("other entry");
    assert!(other["fieldsV1"]["f:spec"].get("f:replicas").is_some());
}

/// Equal values are shared, not conflicts; afterwards either changing it conflicts.
/// Upstream: structured-merge-diff `merge.Updater.Apply`.
#[tokio::test]
async fn shared_ownership_on_equal_values() {
    let s = TestApiServer::start().await.expect("start");
    apply(
        &s.base_url(),
        &web("a", ""),
        &deployment("web", 2, "nginx:1.27"),
    )
    .await;
    let r = apply(
        &s.base_url(),
        &web("b", ""),
        &deployment("web", 2, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(
        managers(&r.body),
        vec![("a".into(), "Apply".into()), ("b".into(), "Apply".into())]
    );
    let r = apply(
        &s.base_url(),
        &web("a", ""),
        &deployment("web", 5, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!("Apply failed with 1 conflict: conflict with \"b\": .spec.replicas")
    );
}

/// Fields the applier stops sending are removed unless someone else owns them;
/// a removed defaulted field comes back with its default.
/// Upstream: structured-merge-diff `merge.Updater.prune`.
#[tokio::test]
async fn removal_of_unapplied_fields() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let cm = |data: Value| json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":data});
    let p = format!("{CM}/c?fieldManager=a");
    apply(&b, &p, &cm(json!({"x":"1","y":"2"}))).await;
    apply(&b, &format!("{CM}/c?fieldManager=b"), &cm(json!({"y":"2"}))).await;
    let r = apply(&b, &p, &cm(json!({}))).await;
    assert_eq!(
        r.body["data"],
        json!({"y":"2"}),
        "x removed, y kept because b owns it"
    );
    let mut d = deployment("web", 3, "nginx:1.27");
    apply(&b, &web("kubectl", ""), &d).await;
    d["spec"].as_object_mut().expect("spec").remove("replicas");
    let r = apply(&b, &web("kubectl", ""), &d).await;
    assert_eq!(
        r.body["spec"]["replicas"],
        json!(1),
        "replicas removed, then defaulted"
    );
}

/// Containers merge by name across managers; labels are granular.
/// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
#[tokio::test]
async fn containers_merge_by_name_via_apply() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    apply(&b, &web("a", ""), &deployment("web", 1, "nginx:1.27")).await;
    let mut sidecar = deployment("web", 1, "x");
    sidecar["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    sidecar["spec"]["template"]["spec"]["containers"] =
        json!([{"name":"sidecar","image":"busybox:1"}]);
    let r = apply(&b, &web("b", ""), &sidecar).await;
    assert_eq!(r.code, 200, "{}", r.text);
    let names: Vec<&str> = r.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("c")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, vec!["nginx", "sidecar"]);
}

/// Ingress rules are atomic: another manager changing any rule conflicts on `.spec.rules`.
/// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`.
#[tokio::test]
async fn ingress_rules_atomic_conflict() {
    let s = TestApiServer::start().await.expect("start");
    let ing = |host: &str| {
        json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},
        "spec":{"rules":[{"host":host,"http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}})
    };
    let p = |m: &str| {
        format!("/apis/networking.k8s.io/v1/namespaces/default/ingresses/i?fieldManager={m}")
    };
    let r = apply(&s.base_url(), &p("a"), &ing("a.example.com")).await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(
        r.body["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"],
        json!({"f:rules":{}})
    );
    assert_eq!(r.body["status"], json!({"loadBalancer":{}}));
    let r = apply(&s.base_url(), &p("b"), &ing("b.example.com")).await;
    assert_eq!(
        r.body["message"],
        json!("Apply failed with 1 conflict: conflict with \"a\": .spec.rules")
    );
}

/// Service ports keyed by port+protocol; selector atomic; clusterIP allocated and not owned.
/// Upstream: `+listType`/`+listMapKey`/`+mapType` markers of `k8s.io/api`;
/// `pkg/apis/core/v1/defaults.go`; `pkg/registry/core/service/storage`.
#[tokio::test]
async fn service_ports_and_allocation() {
    let s = TestApiServer::start().await.expect("start");
    let svc = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
        "spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80}]}});
    let p = "/api/v1/namespaces/default/services/web?fieldManager=a";
    let r = apply(&s.base_url(), p, &svc).await;
    assert_eq!(r.code, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(spec["type"], json!("ClusterIP"));
    assert_eq!(spec["sessionAffinity"], json!("None"));
    assert_eq!(spec["ports"][0]["targetPort"], json!(80));
    assert_eq!(spec["ports"][0]["protocol"], json!("TCP"));
    assert_eq!(spec["internalTrafficPolicy"], json!("Cluster"));
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], json!("SingleStack"));
    let ip = spec["clusterIP"].as_str().expect("ip").to_string();
    assert_eq!(spec["clusterIPs"], json!([ip]));
    assert!(
        r.body
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .is_none()
    );
    let f = &r.body["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert_eq!(f["f:selector"], json!({}));
    assert!(
        f["f:ports"]
            .get("k:{\"port\":80,\"protocol\":\"TCP\"}")
            .is_some()
    );
    assert!(f.get("f:clusterIP").is_none());
    let rv = s.resource_version();
    let again = apply(&s.base_url(), p, &svc).await;
    assert_eq!(again.code, 200);
    assert_eq!(
        s.resource_version(),
        rv,
        "re-apply without clusterIP is a no-op"
    );
}

/// dryRun=All keeps live uid/resourceVersion, bumps generation in the answer, stores nothing.
/// Upstream: apiserver `registry/generic/registry/dryrun.go`.
#[tokio::test]
async fn dry_run_apply_update_and_create() {
    let s = TestApiServer::start().await.expect("start");
    let live = apply(
        &s.base_url(),
        &web("kubectl", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let rv = s.resource_version();
    let r = apply(
        &s.base_url(),
        &web("kubectl", "&dryRun=All"),
        &deployment("web", 4, "nginx:1.27"),
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["uid"], live.body["metadata"]["uid"]);
    assert_eq!(
        r.body["metadata"]["resourceVersion"],
        live.body["metadata"]["resourceVersion"]
    );
    assert_eq!(r.body["metadata"]["generation"], json!(2));
    assert_eq!(r.body["spec"]["replicas"], json!(4));
    assert_eq!(s.resource_version(), rv);
    let now = get(&s.base_url(), &format!("{DEPLOY}/web")).await;
    assert_eq!(now.body["spec"]["replicas"], json!(1));
    let c = apply(
        &s.base_url(),
        &format!("{DEPLOY}/new?fieldManager=kubectl&dryRun=All"),
        &deployment("new", 1, "nginx"),
    )
    .await;
    assert_eq!(c.code, 201);
    assert!(c.body["metadata"].get("resourceVersion").is_none());
    assert_eq!(get(&s.base_url(), &format!("{DEPLOY}/new")).await.code, 404);
    let conflict = apply(
        &s.base_url(),
        &web("other", "&dryRun=All"),
        &deployment("web", 9, "nginx:1.27"),
    )
    .await;
    assert_eq!(conflict.code, 409, "dry-run conflicts are real");
}

/// Generation bumps only on spec changes (and Deployment annotations), not labels; ConfigMaps have
/// none. Upstream: `PrepareForUpdate` of the registry strategies;
/// `pkg/registry/core/configmap/strategy.go`.
#[tokio::test]
async fn generation_rules() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let mut d = deployment("web", 1, "nginx:1.27");
    apply(&b, &web("k", ""), &d).await;
    d["metadata"]["labels"] = json!({"team":"a"});
    let r = apply(&b, &web("k", ""), &d).await;
    assert_eq!(r.body["metadata"]["generation"], json!(1));
    d["spec"]["replicas"] = json!(2);
    let r = apply(&b, &web("k", ""), &d).await;
    assert_eq!(r.body["metadata"]["generation"], json!(2));
    d["metadata"]["annotations"] = json!({"note":"x"});
    let r = apply(&b, &web("k", ""), &d).await;
    assert_eq!(r.body["metadata"]["generation"], json!(3));
    let cm = apply(
        &b,
        &format!("{CM}/c?fieldManager=k"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
    )
    .await;
    assert!(cm.body["metadata"].get("generation").is_none());
}

/// A POST creates an Update entry owning defaults with "." on new maps;
/// the same manager applying later gets a separate Apply entry.
/// Upstream: structured-merge-diff `merge.Updater.Update`; managedfields `managedfields.go`.
#[tokio::test]
async fn update_entries() {
    let s = TestApiServer::start().await.expect("start");
    let r = req(
        &s.base_url(),
        "POST",
        DEPLOY,
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "kubectl-create/v1.32.5 (linux/amd64)"),
        ],
        &deployment("web", 1, "nginx:1.27").to_string(),
    )
    .await;
    assert_eq!(r.code, 201);
    let e = &r.body["metadata"]["managedFields"][0];
    assert_eq!(e["manager"], json!("kubectl-create"));
    assert_eq!(e["operation"], json!("Update"));
    let f = &e["fieldsV1"]["f:spec"];
    assert_eq!(
        f["f:template"]["f:metadata"]["f:labels"],
        json!({".":{},"f:app":{}})
    );
    assert!(
        f["f:template"]["f:spec"].get("f:dnsPolicy").is_some(),
        "creator owns defaults"
    );
    assert!(f["f:strategy"]["f:rollingUpdate"].get(".").is_some());
    assert!(f.get(".").is_none(), "spec existed in the zero object");
    let r = apply(
        &s.base_url(),
        &web("kubectl-create", ""),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    assert_eq!(
        managers(&r.body),
        vec![
            ("kubectl-create".into(), "Apply".into()),
            ("kubectl-create".into(), "Update".into())
        ]
    );
}

/// Wrong apiVersion/kind and managedFields in an apply body are 400s.
/// Upstream: managedfields `versioncheck.go`.
#[tokio::test]
async fn apply_type_and_managed_fields_checks() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(
        &s.base_url(),
        &web("k", ""),
        &json!({"metadata":{"name":"web"}}),
    )
    .await;
    assert_eq!(r.code, 400);
    assert_eq!(r.body["message"], json!("invalid object type: /, Kind="));
    let mut d = deployment("web", 1, "nginx");
    d["kind"] = json!("StatefulSet");
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(
        r.body["message"],
        json!("invalid object type: apps/v1, Kind=StatefulSet")
    );
    let mut d = deployment("web", 1, "nginx");
    d["metadata"]["managedFields"] = json!([]);
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(
        r.body["message"],
        json!("metadata.managedFields must be nil")
    );
}

/// Name and namespace must match the URL.
/// Upstream: apiserver `handlers/patch.go`.
#[tokio::test]
async fn name_namespace_mismatch() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(
        &s.base_url(),
        &format!("{DEPLOY}/other?fieldManager=k"),
        &deployment("web", 1, "nginx"),
    )
    .await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.body["message"],
        json!("the name of the object (web) does not match the name on the URL (other)")
    );
    let mut d = deployment("web", 1, "nginx");
    d["metadata"]["namespace"] = json!("elsewhere");
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(
        r.body["message"],
        json!(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    );
}

/// Create-on-apply with a uid but no object → 409 uid mismatch.
/// Upstream: apiserver `handlers/patch.go`.
#[tokio::test]
async fn uid_without_object() {
    let s = TestApiServer::start().await.expect("start");
    let mut d = deployment("web", 1, "nginx");
    d["metadata"]["uid"] = json!("1234");
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!(
            "Operation cannot be fulfilled on deployments.apps \"web\": uid mismatch: the provided object specified uid 1234, and no existing object was found"
        )
    );
}

/// An unknown field in an apply is a 500 without reason, even with fieldValidation=Strict.
/// Upstream: managedfields `structuredmerge.go`; kubernetes#113482.
#[tokio::test]
async fn unknown_field_in_apply_is_500() {
    let s = TestApiServer::start().await.expect("start");
    let svc = json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"admin-api"},"spec":{"topologyKeys":["x"],"ports":[{"port":80}]}});
    let r = apply(
        &s.base_url(),
        "/api/v1/namespaces/default/services/admin-api?fieldManager=k&fieldValidation=Strict",
        &svc,
    )
    .await;
    assert_eq!(r.code, 500);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"failed to create typed patch object (default/admin-api; /v1, Kind=Service): .spec.topologyKeys: field not declared in schema","code":500})
    );
    let mut d = deployment("web", 1, "nginx");
    d["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort":93},{"containerPort":93}]);
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(r.code, 500);
    assert_eq!(
        r.body["message"],
        json!(
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"nginx\"].ports: duplicate entries for key [containerPort=93,protocol=\"TCP\"]"
        )
    );
}

/// Status in an apply to the main resource is silently ignored.
/// Upstream: `GetResetFields` of the registry strategies.
#[tokio::test]
async fn status_is_reset_field() {
    let s = TestApiServer::start().await.expect("start");
    let mut d = deployment("web", 1, "nginx");
    d["status"] = json!({"replicas": 5});
    let r = apply(&s.base_url(), &web("k", ""), &d).await;
    assert_eq!(r.body["status"], json!({}));
    assert!(
        r.body["metadata"]["managedFields"][0]["fieldsV1"]
            .get("f:status")
            .is_none()
    );
}

/// Writes through /status change only status, get a subresource entry, no generation bump.
/// Upstream: the registry status strategies.
#[tokio::test]
async fn status_subresource() {
    let s = TestApiServer::start().await.expect("start");
    apply(&s.base_url(), &web("k", ""), &deployment("web", 1, "nginx")).await;
    let r = patch(
        &s.base_url(),
        &format!("{DEPLOY}/web/status?fieldManager=ctl"),
        "application/merge-patch+json",
        &json!({"spec":{"replicas":7},"status":{"replicas":1}}),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["status"]["replicas"], json!(1));
    assert_eq!(r.body["spec"]["replicas"], json!(1));
    assert_eq!(r.body["metadata"]["generation"], json!(1));
    let e = r.body["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .find(|e| e["manager"] == "ctl")
        .cloned()
        .expect("ctl");
    assert_eq!(e["subresource"], json!("status"));
}

/// A merge patch setting managedFields to [{}] resets tracking.
/// Upstream: managedfields `fieldmanager.go`.
#[tokio::test]
async fn reset_managed_fields() {
    let s = TestApiServer::start().await.expect("start");
    apply(
        &s.base_url(),
        &format!("{CM}/c?fieldManager=k"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}),
    )
    .await;
    let r = patch(
        &s.base_url(),
        &format!("{CM}/c"),
        "application/merge-patch+json",
        &json!({"metadata":{"managedFields":[{}]}}),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert!(r.body["metadata"].get("managedFields").is_none());
}

/// Applying to an object without managedFields conflicts with before-first-apply.
/// Upstream: managedfields `skipnonapplied.go`.
#[tokio::test]
async fn before_first_apply() {
    let s = TestApiServer::start().await.expect("start");
    apply(&s.base_url(), &web("k", ""), &deployment("web", 1, "nginx")).await;
    patch(
        &s.base_url(),
        &format!("{DEPLOY}/web"),
        "application/merge-patch+json",
        &json!({"metadata":{"managedFields":[{}]}}),
    )
    .await;
    let r = apply(
        &s.base_url(),
        &web("new", ""),
        &deployment("web", 2, "nginx"),
    )
    .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!(
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
        )
    );
}

/// PUT with a stale resourceVersion → 409; without one it is unconditional; uid stays. Upstream:
/// apiserver `registry/generic/registry/store.go`; apiserver `rest.FillObjectMetaSystemFields`;
/// apimachinery `errors.NewConflict`.
#[tokio::test]
async fn update_resource_version_rules() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let c = post(&b, CM, &json!({"metadata":{"name":"c"},"data":{"a":"1"}})).await;
    let mut body = c.body.clone();
    body["data"] = json!({"a":"2"});
    let r = put(&b, &format!("{CM}/c"), &body).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["uid"], c.body["metadata"]["uid"]);
    assert!(r.body["metadata"]["resourceVersion"] != c.body["metadata"]["resourceVersion"]);
    let r = put(&b, &format!("{CM}/c"), &body).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!(
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
    assert_eq!(r.body["reason"], json!("Conflict"));
    body["metadata"]
        .as_object_mut()
        .expect("md")
        .remove("resourceVersion");
    body["data"] = json!({"a":"3"});
    assert_eq!(put(&b, &format!("{CM}/c"), &body).await.code, 200);
}

/// The zero creationTimestamp of a pod template serializes as null.
/// Upstream: meta/v1 `Time.MarshalJSON`.
#[tokio::test]
async fn template_creation_timestamp_null() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(&s.base_url(), &web("k", ""), &deployment("web", 1, "nginx")).await;
    assert!(r.body["spec"]["template"]["metadata"]["creationTimestamp"].is_null());
    assert!(
        r.body["spec"]["template"]["metadata"]
            .as_object()
            .is_some_and(|m| m.contains_key("creationTimestamp"))
    );
}

/// After kubectl's CSA→SSA migration (a JSON patch writing Update-style managedFields with "."
/// markers into an Apply entry), re-applying must not prune whole lists or maps. Upstream:
/// structured-merge-diff `merge.Updater.prune`; kubectl `cmd/apply/apply.go`
/// `migrateToSSAIfNecessary`.
#[tokio::test]
async fn reapply_after_managed_fields_migration() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let created = post(
        &b,
        &format!("{DEPLOY}?fieldManager=kubectl-client-side-apply"),
        &deployment("web", 1, "nginx:1.27"),
    )
    .await;
    let mut mf = created.body["metadata"]["managedFields"].clone();
    mf[0]["manager"] = json!("kubectl");
    mf[0]["operation"] = json!("Apply");
    let rv = created.body["metadata"]["resourceVersion"].clone();
    let r = patch(&b, &format!("{DEPLOY}/web?fieldManager=kubectl"), "application/json-patch+json",
        &json!([{"op":"replace","path":"/metadata/managedFields","value":mf},{"op":"replace","path":"/metadata/resourceVersion","value":rv}])).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(managers(&r.body), vec![("kubectl".into(), "Apply".into())]);
    let r = apply(&b, &web("kubectl", ""), &deployment("web", 2, "nginx:1.27")).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(
        r.body["spec"]["template"]["spec"]["containers"][0]["name"],
        json!("nginx")
    );
    assert_eq!(
        r.body["spec"]["template"]["metadata"]["labels"],
        json!({"app":"web"})
    );
}

/// An apply body may be real YAML; invalid YAML is a 400.
/// Upstream: apiserver `handlers/patch.go` `applyPatcher`.
#[tokio::test]
async fn apply_yaml_body() {
    let s = TestApiServer::start().await.expect("start");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n";
    let r = req(
        &s.base_url(),
        "PATCH",
        &format!("{CM}/c?fieldManager=k"),
        &[("Content-Type", "application/apply-patch+yaml")],
        yaml,
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.body["data"], json!({"a":"1"}));
    let r = req(
        &s.base_url(),
        "PATCH",
        &format!("{CM}/c?fieldManager=k"),
        &[("Content-Type", "application/apply-patch+yaml")],
        "a: [b\n  c: :",
    )
    .await;
    assert_eq!(r.code, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("error decoding YAML: "),
        "{}",
        r.text
    );
}

/// Create-on-apply in a missing namespace is the namespace's 404.
/// Upstream: apiserver `handlers/patch.go`; apiserver `admission/plugin/namespace/lifecycle`.
#[tokio::test]
async fn apply_create_in_missing_namespace() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(
        &s.base_url(),
        "/api/v1/namespaces/nope/configmaps/c?fieldManager=k",
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
    )
    .await;
    assert_eq!(r.code, 404);
    assert_eq!(r.body["message"], json!("namespaces \"nope\" not found"));
}

/// With manager `kubectl`, conflicts on fields the last-applied annotation still matches are
/// forced, and an existing annotation is rewritten to the applied config. Other managers opt out.
/// Upstream: managedfields `lastappliedupdater.go`; `lastappliedmanager.go`.
#[tokio::test]
async fn kubectl_last_applied_takeover() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let mut d = deployment("web", 1, "nginx:1.27");
    let la = serde_json::to_string(&d).unwrap_or_default();
    d["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": la});
    let r = post(
        &b,
        &format!("{DEPLOY}?fieldManager=kubectl-client-side-apply"),
        &d,
    )
    .await;
    assert_eq!(r.code, 201);
    let r = apply(&b, &web("other", ""), &deployment("web", 2, "nginx:1.27")).await;
    assert_eq!(r.code, 409, "other managers get the conflict");
    let r = apply(&b, &web("kubectl", ""), &deployment("web", 2, "nginx:1.27")).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], json!(2));
    let ann = r.body["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or("");
    let parsed: Value = serde_json::from_str(ann).unwrap_or(Value::Null);
    assert_eq!(parsed["spec"]["replicas"], json!(2));
    assert!(
        ann.starts_with("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\""),
        "{ann}"
    );
}

/// Applying through /status owns only status, in an entry with subresource "status".
/// Upstream: managedfields `managedfields.go`; the registry status strategies.
#[tokio::test]
async fn apply_status_subresource() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    apply(&b, &web("k", ""), &deployment("web", 1, "nginx")).await;
    let st = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":9},"status":{"replicas":1,"readyReplicas":1}});
    let r = apply(&b, &format!("{DEPLOY}/web/status?fieldManager=ctl"), &st).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["status"], json!({"replicas":1,"readyReplicas":1}));
    assert_eq!(r.body["spec"]["replicas"], json!(1));
    let e = r.body["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .find(|e| e["manager"] == "ctl")
        .cloned()
        .expect("ctl");
    assert_eq!(e["operation"], json!("Apply"));
    assert_eq!(e["subresource"], json!("status"));
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status":{"f:readyReplicas":{},"f:replicas":{}}})
    );
    let r = apply(&b, &format!("{DEPLOY}/nope/status?fieldManager=ctl"), &st).await;
    assert_eq!(r.code, 404);
}
