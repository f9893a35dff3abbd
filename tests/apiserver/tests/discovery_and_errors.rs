//! Discovery, /version, OpenAPI, paths, content types and Status error bodies over raw HTTP.

mod common;
use common::*;
use serde_json::json;
use test_apiserver::TestApiServer;

/// /version has all nine fields and minor 32.
/// Upstream: apimachinery `version.Info`.
#[tokio::test]
async fn version_all_nine_fields() {
    let s = TestApiServer::start().await.expect("start");
    let r = get(&s.base_url(), "/version?timeout=5s").await;
    assert_eq!(r.code, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    for k in [
        "major",
        "minor",
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    ] {
        assert!(r.body.get(k).is_some(), "{k}");
    }
    assert_eq!(r.body["minor"], json!("32"));
}

/// Legacy discovery documents.
/// Upstream: meta/v1 `APIVersions`; meta/v1 `APIGroupList`; meta/v1 `APIResourceList`.
#[tokio::test]
async fn legacy_discovery() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let api = get(&b, "/api").await;
    assert_eq!(api.body["kind"], json!("APIVersions"));
    assert_eq!(api.body["versions"], json!(["v1"]));
    assert!(api.body["serverAddressByClientCIDRs"].is_array());
    let apis = get(&b, "/apis").await;
    assert_eq!(apis.body["kind"], json!("APIGroupList"));
    let names: Vec<&str> = apis.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "apps",
            "batch",
            "networking.k8s.io",
            "coordination.k8s.io",
            "rbac.authorization.k8s.io"
        ]
    );
    assert_eq!(
        apis.body["groups"][0]["preferredVersion"],
        json!({"groupVersion":"apps/v1","version":"v1"})
    );
    let apps = get(&b, "/apis/apps/v1").await;
    assert_eq!(apps.body["groupVersion"], json!("apps/v1"));
    let deploy = apps.body["resources"]
        .as_array()
        .expect("res")
        .iter()
        .find(|r| r["name"] == "deployments")
        .cloned()
        .expect("deployments");
    assert_eq!(
        deploy["verbs"],
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    );
    assert_eq!(deploy["shortNames"], json!(["deploy"]));
    assert_eq!(deploy["namespaced"], json!(true));
    let status = apps.body["resources"]
        .as_array()
        .expect("res")
        .iter()
        .find(|r| r["name"] == "deployments/status")
        .cloned()
        .expect("status");
    assert_eq!(status["singularName"], json!(""));
    let core = get(&b, "/api/v1").await;
    assert_eq!(core.body["groupVersion"], json!("v1"));
    let ns = core.body["resources"]
        .as_array()
        .expect("res")
        .iter()
        .find(|r| r["name"] == "namespaces")
        .cloned()
        .expect("ns");
    assert_eq!(ns["namespaced"], json!(false));
}

/// Aggregated discovery is chosen by Accept; plain Accept gets the legacy form.
/// Upstream: client-go `discovery_client.go`; `apidiscovery/v2`.
#[tokio::test]
async fn aggregated_discovery_by_accept() {
    let s = TestApiServer::start().await.expect("start");
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let r = req(
        &s.base_url(),
        "GET",
        "/apis?timeout=32s",
        &[("Accept", accept)],
        "",
    )
    .await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    assert_eq!(r.body["kind"], json!("APIGroupDiscoveryList"));
    let apps = &r.body["items"][0];
    assert_eq!(apps["metadata"]["name"], json!("apps"));
    let d = &apps["versions"][0]["resources"][0];
    assert_eq!(d["resource"], json!("deployments"));
    assert_eq!(d["scope"], json!("Namespaced"));
    assert_eq!(
        d["responseKind"],
        json!({"group":"","version":"","kind":"Deployment"})
    );
    let core = req(&s.base_url(), "GET", "/api", &[("Accept", accept)], "").await;
    assert!(core.body["items"][0]["metadata"].get("name").is_none());
    let legacy = req(
        &s.base_url(),
        "GET",
        "/apis",
        &[("Accept", "application/json, */*")],
        "",
    )
    .await;
    assert_eq!(legacy.header("content-type"), Some("application/json"));
    assert_eq!(legacy.body["kind"], json!("APIGroupList"));
}

/// OpenAPI v3 root and per-GV documents with a PATCH per kind carrying fieldValidation.
/// Upstream: cli-runtime `query_param_verifier_v3.go`; kube-openapi `handler3`.
#[tokio::test]
async fn openapi_v3_patch_operations() {
    let s = TestApiServer::start().await.expect("start");
    let root = get(&s.base_url(), "/openapi/v3").await;
    let url = root.body["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("url")
        .to_string();
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
    assert!(root.body["paths"].get("api/v1").is_some());
    let doc = get(&s.base_url(), &format!("{url}&timeout=32s")).await;
    let p = &doc.body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        p["x-kubernetes-group-version-kind"],
        json!({"group":"apps","version":"v1","kind":"Deployment"})
    );
    assert!(
        p["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .any(|x| x["name"] == "fieldValidation")
    );
    let core = get(&s.base_url(), "/openapi/v3/api/v1").await;
    assert!(
        core.body["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object(),
        "Namespace needs a PATCH"
    );
}

/// NotFound Status for objects, unknown resources and unknown paths.
/// Upstream: apimachinery `api/errors/errors.go`; apimachinery `errors.NewNotFound`.
#[tokio::test]
async fn not_found_bodies() {
    let s = TestApiServer::start().await.expect("start");
    let r = get(&s.base_url(), &format!("{DEPLOY}/web")).await;
    assert_eq!(r.code, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"deployments.apps \"web\" not found","reason":"NotFound",
        "details":{"name":"web","group":"apps","kind":"deployments"},"code":404})
    );
    let r = get(&s.base_url(), &format!("{CM}/cfg")).await;
    assert_eq!(r.body["message"], json!("configmaps \"cfg\" not found"));
    assert!(r.body["details"].get("group").is_none());
    let r = get(&s.base_url(), "/apis/apps/v1/namespaces/default/widgets").await;
    assert_eq!(r.code, 404);
    assert_eq!(
        r.body["message"],
        json!("the server could not find the requested resource")
    );
    let r = get(&s.base_url(), "/nothing/here").await;
    assert_eq!(r.code, 404);
}

/// Namespaced, cluster-scoped and all-namespaces paths, verbs to HTTP methods; list shape.
/// Upstream: apiserver `endpoints/installer.go`; meta/v1 `ListMeta`.
#[tokio::test]
async fn paths_and_list_shape() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let r = post(
        &b,
        "/api/v1/namespaces",
        &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}),
    )
    .await;
    assert_eq!(r.code, 201);
    assert_eq!(get(&b, "/api/v1/namespaces/team-a").await.code, 200);
    for ns in ["default", "team-a"] {
        let r = post(
            &b,
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            &json!({"metadata":{"name":"c","labels":{"app":"x"}},"data":{"k":"v"}}),
        )
        .await;
        assert_eq!(r.code, 201, "{}", r.text);
    }
    let all = get(&b, "/api/v1/configmaps?labelSelector=app%3Dx&limit=500").await;
    assert_eq!(all.body["kind"], json!("ConfigMapList"));
    assert_eq!(all.body["apiVersion"], json!("v1"));
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
    assert!(
        all.body["items"][0].get("kind").is_none(),
        "list items carry no kind"
    );
    assert_eq!(
        all.body["metadata"]["resourceVersion"],
        json!(s.resource_version().to_string())
    );
    let one = get(
        &b,
        "/api/v1/namespaces/team-a/configmaps?labelSelector=app%3Dy",
    )
    .await;
    assert_eq!(one.body["items"], json!([]));
}

/// Unknown patch content type → 415 with the exact message.
/// Upstream: apiserver `handlers/patch.go`.
#[tokio::test]
async fn unsupported_patch_type_415() {
    let s = TestApiServer::start().await.expect("start");
    post(&s.base_url(), CM, &json!({"metadata":{"name":"c"}})).await;
    let r = patch(&s.base_url(), &format!("{CM}/c"), "text/plain", &json!({})).await;
    assert_eq!(r.code, 415);
    assert_eq!(r.body["reason"], json!("UnsupportedMediaType"));
    assert_eq!(
        r.body["message"],
        json!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
        )
    );
}

/// Non-apply patch on a missing object is 404; JSON patch failure is 422 Invalid.
/// Upstream: apiserver `handlers/patch.go`.
#[tokio::test]
async fn patch_missing_and_json_patch_failure() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let r = patch(
        &b,
        &format!("{CM}/nope"),
        "application/merge-patch+json",
        &json!({"data":{"a":"b"}}),
    )
    .await;
    assert_eq!(r.code, 404);
    post(&b, CM, &json!({"metadata":{"name":"c"},"data":{"a":"1"}})).await;
    let r = patch(
        &b,
        &format!("{CM}/c"),
        "application/json-patch+json",
        &json!([{"op":"remove","path":"/data/zz"}]),
    )
    .await;
    assert_eq!(r.code, 422);
    assert_eq!(r.body["reason"], json!("Invalid"));
    let r = patch(
        &b,
        &format!("{CM}/c"),
        "application/json-patch+json",
        &json!([{"op":"add","path":"/data/b","value":"2"}]),
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["data"], json!({"a":"1","b":"2"}));
    let r = patch(
        &b,
        &format!("{CM}/c"),
        "application/strategic-merge-patch+json",
        &json!({"data":{"a":null}}),
    )
    .await;
    assert_eq!(r.body["data"], json!({"b":"2"}));
}

/// Apply without fieldManager, force on a non-apply patch, bad dryRun → 422 PatchOptions.
/// Upstream: apiserver `handlers/patch.go`; meta/v1 `validation.go` `ValidatePatchOptions`.
#[tokio::test]
async fn patch_options_validation() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let r = apply(
        &b,
        &format!("{CM}/c"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
    )
    .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        json!(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        )
    );
    assert_eq!(r.body["details"]["group"], json!("meta.k8s.io"));
    assert_eq!(r.body["details"]["kind"], json!("PatchOptions"));
    post(&b, CM, &json!({"metadata":{"name":"c"}})).await;
    let r = patch(
        &b,
        &format!("{CM}/c?force=true"),
        "application/merge-patch+json",
        &json!({}),
    )
    .await;
    assert_eq!(
        r.body["message"],
        json!(
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        )
    );
    let r = patch(
        &b,
        &format!("{CM}/c?dryRun=Some"),
        "application/merge-patch+json",
        &json!({}),
    )
    .await;
    assert_eq!(r.code, 422);
}

/// fieldValidation Strict → 400, Warn → Warning header, Ignore → silent.
/// Upstream: apiserver `handlers/patch.go`; meta/v1 `validation.go` `ValidatePatchOptions`.
#[tokio::test]
async fn field_validation_modes() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let body = json!({"metadata":{"name":"c"},"data":{"a":"1"},"foo":1});
    let r = post(&b, &format!("{CM}?fieldValidation=Strict"), &body).await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.body["message"],
        json!(
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"foo\""
        )
    );
    let r = post(&b, &format!("{CM}?fieldValidation=Warn"), &body).await;
    assert_eq!(r.code, 201);
    assert_eq!(
        r.header("warning"),
        Some("299 - \"unknown field \\\"foo\\\"\"")
    );
    assert!(r.body.get("foo").is_none());
    let body2 = json!({"metadata":{"name":"d"},"foo":1});
    let r = post(&b, &format!("{CM}?fieldValidation=Ignore"), &body2).await;
    assert_eq!(r.code, 201);
    assert!(r.header("warning").is_none());
    // An update is decoded the same way: the same prefix (`transformDecodeError`, apiserver
    // `handlers/rest.go`), here for an apps/v1 kind.
    let mut d = deployment("web", 1, "nginx");
    post(&b, DEPLOY, &d).await;
    d["spec"]["bar"] = json!(1);
    let r = put(&b, &format!("{DEPLOY}/web?fieldValidation=Strict"), &d).await;
    assert_eq!(r.code, 400, "{}", r.text);
    assert_eq!(
        r.body["message"],
        json!(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.bar\""
        )
    );
}

/// kube-rs style `?&` queries and `?` with empty query work. Upstream: kube-rs
/// `kube-core/src/request.rs`; apiserver `handlers/patch.go`; meta/v1 `validation.go`
/// `ValidatePatchOptions`.
#[tokio::test]
async fn query_with_leading_ampersand() {
    let s = TestApiServer::start().await.expect("start");
    let r = apply(
        &s.base_url(),
        &format!("{CM}/c?&fieldManager=x&fieldValidation=Strict"),
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    let r = delete(&s.base_url(), &format!("{CM}/c?"), "{}").await;
    assert_eq!(r.code, 200);
}

/// 422 Invalid body with Kind in details and causes, field error body format. Upstream: meta/v1
/// `Status`; apimachinery `errors.NewInvalid`; apimachinery `validation/field/errors.go`;
/// `pkg/apis/*/validation/validation.go`.
#[tokio::test]
async fn invalid_body_shape() {
    let s = TestApiServer::start().await.expect("start");
    let mut d = deployment("web", 1, "nginx");
    d["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("c")
        .remove("image");
    let r = post(&s.base_url(), DEPLOY, &d).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"Deployment.apps \"web\" is invalid: spec.template.spec.containers[0].image: Required value",
      "reason":"Invalid","details":{"name":"web","group":"apps","kind":"Deployment",
      "causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.template.spec.containers[0].image"}]},"code":422})
    );
}

/// Name validation messages.
/// Upstream: apimachinery `api/validation/objectmeta.go` `ValidateObjectMeta`.
#[tokio::test]
async fn invalid_names() {
    let s = TestApiServer::start().await.expect("start");
    let r = post(&s.base_url(), CM, &json!({"metadata":{"name":"Web_1"}})).await;
    assert_eq!(r.code, 422);
    assert!(r.body["message"].as_str().unwrap_or("").starts_with("ConfigMap \"Web_1\" is invalid: metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of"));
    let r = post(&s.base_url(), CM, &json!({"metadata":{}})).await;
    assert_eq!(
        r.body["message"],
        json!(
            "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
        )
    );
    let r = post(
        &s.base_url(),
        CM,
        &json!({"metadata":{"generateName":"gen-"}}),
    )
    .await;
    assert_eq!(r.code, 201);
    assert!(
        r.body["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("gen-")
    );
}

/// Create returns 201; duplicate → 409 AlreadyExists; create with resourceVersion fails. Upstream:
/// apiserver `handlers/create.go`; `rest.BeforeCreate`; apimachinery `errors.NewAlreadyExists`.
#[tokio::test]
async fn create_and_already_exists() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let r = post(&b, DEPLOY, &deployment("web", 1, "nginx")).await;
    assert_eq!(r.code, 201);
    let r = post(&b, DEPLOY, &deployment("web", 1, "nginx")).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"web\" already exists","reason":"AlreadyExists","details":{"name":"web","group":"apps","kind":"deployments"},"code":409})
    );
    let r = post(
        &b,
        CM,
        &json!({"metadata":{"name":"c","resourceVersion":"5"}}),
    )
    .await;
    assert_eq!(r.code, 500);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("resourceVersion should not be set on objects to be created")
    );
}

/// Create in a missing namespace → 404 of the namespace.
/// Upstream: apiserver `admission/plugin/namespace/lifecycle`.
#[tokio::test]
async fn missing_namespace() {
    let s = TestApiServer::start().await.expect("start");
    let r = post(
        &s.base_url(),
        "/api/v1/namespaces/nope/configmaps",
        &json!({"metadata":{"name":"c"}}),
    )
    .await;
    assert_eq!(r.code, 404);
    assert_eq!(r.body["message"], json!("namespaces \"nope\" not found"));
    assert_eq!(
        r.body["details"],
        json!({"name":"nope","kind":"namespaces"})
    );
    let l = get(&s.base_url(), "/api/v1/namespaces/nope/configmaps").await;
    assert_eq!(l.code, 200);
    assert_eq!(l.body["items"], json!([]));
}

/// 405 for a verb the path does not support; 400 for undecodable bodies.
/// Upstream: apimachinery `api/errors/errors.go`.
#[tokio::test]
async fn method_not_allowed_and_bad_request() {
    let s = TestApiServer::start().await.expect("start");
    let r = req(
        &s.base_url(),
        "POST",
        &format!("{CM}/c"),
        &[("Content-Type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(r.code, 405);
    assert_eq!(r.body["reason"], json!("MethodNotAllowed"));
    let r = req(
        &s.base_url(),
        "POST",
        CM,
        &[("Content-Type", "application/json")],
        "{not json",
    )
    .await;
    assert_eq!(r.code, 400);
    assert_eq!(r.body["reason"], json!("BadRequest"));
}

/// A fresh cluster has the bootstrap namespaces and the kubernetes Service.
/// Upstream: client-go `clientcmd`; `pkg/controlplane/controller`.
#[tokio::test]
async fn bootstrap_objects() {
    let s = TestApiServer::start().await.expect("start");
    let r = get(&s.base_url(), "/api/v1/namespaces").await;
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let svc = get(
        &s.base_url(),
        "/api/v1/namespaces/default/services/kubernetes",
    )
    .await;
    assert_eq!(svc.body["spec"]["clusterIP"], json!("10.96.0.1"));
    let r = delete(&s.base_url(), "/api/v1/namespaces/default", "").await;
    assert_eq!(r.code, 403);
    assert_eq!(
        r.body["message"],
        json!("namespaces \"default\" is forbidden: this namespace may not be deleted")
    );
}

/// /openapi/v2 is not served (kubectl only needs it when v3 lacks a group-version).
/// Upstream: cli-runtime `query_param_verifier_v3.go`.
#[tokio::test]
async fn openapi_v2_not_served() {
    let s = TestApiServer::start().await.expect("start");
    assert_eq!(get(&s.base_url(), "/openapi/v2").await.code, 404);
}
