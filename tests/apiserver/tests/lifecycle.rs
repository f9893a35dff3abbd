//! Defaulting, validation/immutability and deletion.

mod common;
use common::*;
use serde_json::json;
use test_apiserver::TestApiServer;

async fn server() -> TestApiServer {
    TestApiServer::start().await.expect("start")
}

/// A server whose namespace controller runs inside the DELETE.
async fn synchronous() -> TestApiServer {
    TestApiServer::start_with(test_apiserver::ServerOptions {
        lifecycle: test_apiserver::Lifecycle::Synchronous,
        ..test_apiserver::ServerOptions::default()
    })
    .await
    .expect("start")
}

/// Polls GET `path` until it answers `code`, for at most five seconds; returns the last code.
async fn eventually(b: &str, path: &str, code: u16) -> u16 {
    let started = std::time::Instant::now();
    loop {
        let got = get(b, path).await.code;
        if got == code || started.elapsed() > std::time::Duration::from_secs(5) {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Deployment and pod template defaults. Upstream: `zz_generated.defaults.go`;
/// `pkg/apis/apps/v1/defaults.go`; `pkg/apis/core/v1/defaults.go`.
#[tokio::test]
async fn deployment_defaults() {
    let s = server().await;
    let mut d = deployment("web", 1, "nginx");
    d["spec"].as_object_mut().expect("spec").remove("replicas");
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet":{"port":80}});
    d["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits":{"cpu":"0.5","memory":"1024Mi"}});
    d["spec"]["template"]["spec"]["volumes"] =
        json!([{"name":"a"},{"name":"b","configMap":{"name":"c"}}]);
    let r = apply(&s.base_url(), &format!("{DEPLOY}/web?fieldManager=k"), &d).await;
    assert_eq!(r.code, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(spec["replicas"], json!(1));
    assert_eq!(
        spec["strategy"],
        json!({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], json!(10));
    assert_eq!(spec["progressDeadlineSeconds"], json!(600));
    let ps = &spec["template"]["spec"];
    assert_eq!(ps["dnsPolicy"], json!("ClusterFirst"));
    assert_eq!(ps["restartPolicy"], json!("Always"));
    assert_eq!(ps["schedulerName"], json!("default-scheduler"));
    assert_eq!(ps["securityContext"], json!({}));
    assert_eq!(ps["terminationGracePeriodSeconds"], json!(30));
    let c = &ps["containers"][0];
    assert_eq!(c["imagePullPolicy"], json!("Always"));
    assert_eq!(c["terminationMessagePath"], json!("/dev/termination-log"));
    assert_eq!(c["terminationMessagePolicy"], json!("File"));
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu":"500m","memory":"1024Mi"})
    );
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet":{"port":80,"path":"/","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3})
    );
    assert_eq!(ps["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(ps["volumes"][1]["configMap"]["defaultMode"], json!(420));
}

/// CronJob defaults, Job defaults not applied inside jobTemplate, restartPolicy validation.
/// Upstream: `pkg/apis/batch/v1/defaults.go`.
#[tokio::test]
async fn cronjob_defaults_and_restart_policy() {
    let s = server().await;
    let cj = |rp: Option<&str>| {
        let mut pod = json!({"containers":[{"name":"c","image":"busybox:1"}]});
        if let Some(rp) = rp {
            pod["restartPolicy"] = json!(rp);
        }
        json!({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cj"},
          "spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":pod}}}}})
    };
    let p = "/apis/batch/v1/namespaces/default/cronjobs/cj?fieldManager=k";
    let r = apply(&s.base_url(), p, &cj(None)).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        json!(
            "CronJob.batch \"cj\" is invalid: spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        )
    );
    let r = apply(&s.base_url(), p, &cj(Some("OnFailure"))).await;
    assert_eq!(r.code, 201, "{}", r.text);
    let spec = &r.body["spec"];
    assert_eq!(spec["concurrencyPolicy"], json!("Allow"));
    assert_eq!(spec["suspend"], json!(false));
    assert_eq!(spec["successfulJobsHistoryLimit"], json!(3));
    assert_eq!(spec["failedJobsHistoryLimit"], json!(1));
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
    assert_eq!(r.body["metadata"]["generation"], json!(1));
}

/// Headless, NodePort and ExternalName services.
/// Upstream: `pkg/apis/core/v1/defaults.go`; `pkg/registry/core/service/storage`.
#[tokio::test]
async fn service_variants() {
    let s = server().await;
    let b = s.base_url();
    let r = post(
        &b,
        "/api/v1/namespaces/default/services",
        &json!({"metadata":{"name":"h"},"spec":{"clusterIP":"None","selector":{"a":"b"}}}),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.body["spec"]["clusterIPs"], json!(["None"]));
    let r = post(
        &b,
        "/api/v1/namespaces/default/services",
        &json!({"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80}]}}),
    )
    .await;
    let np = r.body["spec"]["ports"][0]["nodePort"]
        .as_u64()
        .expect("nodePort");
    assert!((30000..=32767).contains(&np));
    assert_eq!(r.body["spec"]["externalTrafficPolicy"], json!("Cluster"));
    let r = post(&b, "/api/v1/namespaces/default/services", &json!({"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}})).await;
    assert!(r.body["spec"].get("clusterIP").is_none());
    let r = post(
        &b,
        "/api/v1/namespaces/default/services",
        &json!({"metadata":{"name":"noports"},"spec":{"selector":{"a":"b"}}}),
    )
    .await;
    assert_eq!(
        r.body["message"],
        json!("Service \"noports\" is invalid: spec.ports: Required value")
    );
}

/// Secret type default and stringData folded into data.
/// Upstream: `pkg/apis/core/v1/conversion.go`; `pkg/apis/core/v1/defaults.go`.
#[tokio::test]
async fn secret_defaults() {
    let s = server().await;
    let r = apply(&s.base_url(), "/api/v1/namespaces/default/secrets/s?fieldManager=k", &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"password":"hello"}})).await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.body["type"], json!("Opaque"));
    assert_eq!(r.body["data"], json!({"password":"aGVsbG8="}));
    assert!(r.body.get("stringData").is_none());
    assert!(r.body["metadata"].get("generation").is_none());
}

/// Namespace label, spec.finalizers and phase; the label cannot be removed.
/// Upstream: `pkg/registry/core/namespace/strategy.go`.
#[tokio::test]
async fn namespace_defaults() {
    let s = server().await;
    let r = apply(
        &s.base_url(),
        "/api/v1/namespaces/team-a?fieldManager=k",
        &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(
        r.body["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name":"team-a"})
    );
    assert_eq!(r.body["spec"], json!({"finalizers":["kubernetes"]}));
    assert_eq!(r.body["status"], json!({"phase":"Active"}));
    assert!(
        r.body["metadata"].get("managedFields").is_none()
            || r.body["metadata"]["managedFields"][0]["fieldsV1"]
                .get("f:metadata")
                .is_none()
    );
    let r = patch(
        &s.base_url(),
        "/api/v1/namespaces/team-a",
        "application/merge-patch+json",
        &json!({"metadata":{"labels":{"kubernetes.io/metadata.name":null}}}),
    )
    .await;
    assert_eq!(
        r.body["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name":"team-a"})
    );
}

/// Ingress pathType is required.
/// Upstream: `pkg/apis/networking/validation/validation.go`.
#[tokio::test]
async fn ingress_path_type_required() {
    let s = server().await;
    let ing = json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"i"},
      "spec":{"rules":[{"http":{"paths":[{"path":"/","backend":{"service":{"name":"w","port":{"number":80}}}}]}}]}});
    let r = post(
        &s.base_url(),
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        &ing,
    )
    .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        json!("spec.rules[0].http.paths[0].pathType")
    );
    assert_eq!(
        r.body["details"]["causes"][0]["message"],
        json!("Required value: pathType must be specified")
    );
}

/// An applied selector change merges, then fails validation (422, not a conflict); selector must
/// match template labels. Upstream: apiserver `handlers/patch.go`;
/// `pkg/apis/*/validation/validation.go` `Validate*Update`.
#[tokio::test]
async fn deployment_selector_immutable() {
    let s = server().await;
    let b = s.base_url();
    apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 1, "nginx"),
    )
    .await;
    let mut d = deployment("web", 1, "nginx");
    d["spec"]["selector"]["matchLabels"] = json!({"app":"x"});
    d["spec"]["template"]["metadata"]["labels"] = json!({"app":"x"});
    let r = apply(&b, &format!("{DEPLOY}/web?fieldManager=k"), &d).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        json!(
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        )
    );
    let mut bad = deployment("other", 1, "nginx");
    bad["spec"]["template"]["metadata"]["labels"] = json!({"app":"nope"});
    let r = post(&b, DEPLOY, &bad).await;
    assert_eq!(
        r.body["message"],
        json!(
            "Deployment.apps \"other\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"nope\"}: `selector` does not match template `labels`"
        )
    );
}

/// Immutable ConfigMap, Secret type, Service clusterIP, Job template.
/// Upstream: `pkg/apis/*/validation/validation.go` `Validate*Update`.
#[tokio::test]
async fn other_immutable_fields() {
    let s = server().await;
    let b = s.base_url();
    post(
        &b,
        CM,
        &json!({"metadata":{"name":"c"},"data":{"a":"1"},"immutable":true}),
    )
    .await;
    let r = patch(
        &b,
        &format!("{CM}/c"),
        "application/merge-patch+json",
        &json!({"data":{"a":"2"}}),
    )
    .await;
    assert_eq!(
        r.body["message"],
        json!(
            "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        )
    );
    post(
        &b,
        "/api/v1/namespaces/default/secrets",
        &json!({"metadata":{"name":"s"}}),
    )
    .await;
    let r = patch(
        &b,
        "/api/v1/namespaces/default/secrets/s",
        "application/merge-patch+json",
        &json!({"type":"kubernetes.io/tls"}),
    )
    .await;
    assert_eq!(
        r.body["message"],
        json!(
            "Secret \"s\" is invalid: [type: Invalid value: \"kubernetes.io/tls\": field is immutable, data[tls.crt]: Required value, data[tls.key]: Required value]"
        )
    );
    let svc = post(
        &b,
        "/api/v1/namespaces/default/services",
        &json!({"metadata":{"name":"w"},"spec":{"ports":[{"port":80}]}}),
    )
    .await;
    assert!(svc.body["spec"]["clusterIP"].is_string());
    let r = patch(
        &b,
        "/api/v1/namespaces/default/services/w",
        "application/merge-patch+json",
        &json!({"spec":{"clusterIP":"10.96.9.9","clusterIPs":["10.96.9.9"]}}),
    )
    .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        json!("spec.clusterIPs[0]")
    );
    let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"a"}]}}}});
    apply(
        &b,
        "/apis/batch/v1/namespaces/default/jobs/j?fieldManager=k",
        &job,
    )
    .await;
    let mut job2 = job.clone();
    job2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
    let r = apply(
        &b,
        "/apis/batch/v1/namespaces/default/jobs/j?fieldManager=k",
        &job2,
    )
    .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        json!("spec.template")
    );
}

/// Delete answers with a Success Status; dry-run deletes nothing; bad policy is 422.
/// Upstream: apiserver `handlers/delete.go`; `registry/generic/registry/store.go`.
#[tokio::test]
async fn delete_response_and_dry_run() {
    let s = server().await;
    let b = s.base_url();
    let d = apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 1, "nginx"),
    )
    .await;
    let uid = d.body["metadata"]["uid"].clone();
    let r = delete(
        &b,
        &format!("{DEPLOY}/web"),
        r#"{"propagationPolicy":"Bogus"}"#,
    )
    .await;
    assert_eq!(r.code, 422);
    let r = delete(&b, &format!("{DEPLOY}/web"), r#"{"dryRun":["All"]}"#).await;
    assert_eq!(r.code, 200);
    assert_eq!(get(&b, &format!("{DEPLOY}/web")).await.code, 200);
    let r = delete(
        &b,
        &format!("{DEPLOY}/web"),
        r#"{"propagationPolicy":"Background"}"#,
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"web","group":"apps","kind":"deployments","uid":uid}})
    );
    assert_eq!(get(&b, &format!("{DEPLOY}/web")).await.code, 404);
    let r = delete(&b, &format!("{DEPLOY}/web"), "").await;
    assert_eq!(r.code, 404);
}

/// Delete preconditions.
/// Upstream: apimachinery `errors.NewConflict`.
#[tokio::test]
async fn delete_preconditions() {
    let s = server().await;
    post(&s.base_url(), CM, &json!({"metadata":{"name":"c"}})).await;
    let r = delete(
        &s.base_url(),
        &format!("{CM}/c"),
        r#"{"preconditions":{"uid":"x"}}"#,
    )
    .await;
    assert_eq!(r.code, 409);
    assert!(r.body["message"].as_str().unwrap_or("").starts_with("Operation cannot be fulfilled on configmaps \"c\": Precondition failed: UID in precondition: x, UID in object meta: "));
}

/// Background deletes dependents; Orphan strips their ownerReferences. Upstream: apiserver
/// `registry/generic/registry/store.go` `deletionFinalizersForGarbageCollection`.
#[tokio::test]
async fn propagation_policies() {
    let s = server().await;
    let b = s.base_url();
    for (policy, survives) in [
        ("Background", false),
        ("Orphan", true),
        ("Foreground", false),
    ] {
        let owner = post(&b, CM, &json!({"metadata":{"name":"owner"}})).await;
        let uid = owner.body["metadata"]["uid"].clone();
        post(&b, CM, &json!({"metadata":{"name":"dep","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":uid,"blockOwnerDeletion":true}]}})).await;
        let r = delete(
            &b,
            &format!("{CM}/owner"),
            &format!(r#"{{"propagationPolicy":"{policy}"}}"#),
        )
        .await;
        assert_eq!(r.code, 200, "{policy}");
        assert_eq!(get(&b, &format!("{CM}/owner")).await.code, 404, "{policy}");
        let dep = get(&b, &format!("{CM}/dep")).await;
        assert_eq!(dep.code == 200, survives, "{policy}");
        if survives {
            assert!(
                dep.body["metadata"]
                    .get("ownerReferences")
                    .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty))
            );
            delete(&b, &format!("{CM}/dep"), "").await;
        }
    }
}

/// Finalizers keep the object with deletionTimestamp; removing the last one deletes it.
/// Upstream: apiserver `registry/generic/registry/store.go`.
#[tokio::test]
async fn finalizers() {
    let s = server().await;
    let b = s.base_url();
    let d = post(&b, DEPLOY, &{
        let mut d = deployment("web", 1, "nginx");
        d["metadata"]["finalizers"] = json!(["example.com/keep"]);
        d
    })
    .await;
    assert_eq!(d.code, 201);
    let r = delete(&b, &format!("{DEPLOY}/web"), "").await;
    assert_eq!(r.code, 200);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], json!(0));
    assert_eq!(r.body["metadata"]["generation"], json!(2));
    let r = patch(
        &b,
        &format!("{DEPLOY}/web"),
        "application/merge-patch+json",
        &json!({"metadata":{"finalizers":["example.com/keep","example.com/new"]}}),
    )
    .await;
    assert_eq!(r.code, 422);
    assert!(r.body["message"].as_str().unwrap_or("").contains("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/new\"}"));
    let r = patch(
        &b,
        &format!("{DEPLOY}/web"),
        "application/merge-patch+json",
        &json!({"metadata":{"finalizers":null}}),
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(get(&b, &format!("{DEPLOY}/web")).await.code, 404);
}

/// Namespace Terminating (opt-in mode): 409 on re-delete, 403 on create, /finalize ends it.
/// Upstream: apiserver `admission/plugin/namespace/lifecycle`;
/// `pkg/registry/core/namespace/storage/storage.go`.
#[tokio::test]
async fn terminating_namespace() {
    let s = TestApiServer::start_with(test_apiserver::ServerOptions {
        keep_terminating_namespaces: true,
        ..Default::default()
    })
    .await
    .expect("start");
    let b = s.base_url();
    post(
        &b,
        "/api/v1/namespaces",
        &json!({"metadata":{"name":"doomed"}}),
    )
    .await;
    let r = delete(&b, "/api/v1/namespaces/doomed", "").await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], json!("Namespace"));
    assert_eq!(r.body["status"]["phase"], json!("Terminating"));
    assert_eq!(r.body["spec"]["finalizers"], json!(["kubernetes"]));
    let r = delete(&b, "/api/v1/namespaces/doomed", "").await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body["message"],
        json!(
            "Operation cannot be fulfilled on namespaces \"doomed\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
        )
    );
    let r = post(
        &b,
        "/api/v1/namespaces/doomed/configmaps",
        &json!({"metadata":{"name":"late"}}),
    )
    .await;
    assert_eq!(r.code, 403);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
      "message":"configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated",
      "reason":"Forbidden","details":{"name":"late","kind":"configmaps","causes":[{"reason":"NamespaceTerminating","message":"namespace doomed is being terminated","field":"metadata.namespace"}]},"code":403})
    );
    let ns = get(&b, "/api/v1/namespaces/doomed").await.body;
    let mut fin = ns.clone();
    fin["spec"]["finalizers"] = json!([]);
    let r = put(&b, "/api/v1/namespaces/doomed/finalize", &fin).await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(get(&b, "/api/v1/namespaces/doomed").await.code, 404);
}

/// The synchronous lifecycle deletes the content and the namespace inside the DELETE.
/// Upstream: `pkg/registry/core/namespace/storage/storage.go`.
#[tokio::test]
async fn namespace_cascade_synchronous() {
    let s = synchronous().await;
    let b = s.base_url();
    post(&b, "/api/v1/namespaces", &json!({"metadata":{"name":"x"}})).await;
    post(
        &b,
        "/api/v1/namespaces/x/configmaps",
        &json!({"metadata":{"name":"c"}}),
    )
    .await;
    let r = delete(
        &b,
        "/api/v1/namespaces/x",
        r#"{"propagationPolicy":"Background"}"#,
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(get(&b, "/api/v1/namespaces/x").await.code, 404);
    assert_eq!(get(&b, "/api/v1/namespaces/x/configmaps/c").await.code, 404);
    assert_eq!(
        post(&b, "/api/v1/namespaces", &json!({"metadata":{"name":"x"}}))
            .await
            .code,
        201,
        "name reusable"
    );
}

/// deletecollection with a label selector returns the deleted objects.
/// Upstream: apiserver `registry/generic/registry/store.go` `DeleteCollection`.
#[tokio::test]
async fn delete_collection() {
    let s = server().await;
    let b = s.base_url();
    for n in ["a", "b", "c"] {
        let l = if n == "c" { "other" } else { "x" };
        post(&b, CM, &json!({"metadata":{"name":n,"labels":{"app":l}}})).await;
    }
    let r = delete(&b, &format!("{CM}?labelSelector=app%3Dx"), "").await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], json!("ConfigMapList"));
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(get(&b, &format!("{CM}/c")).await.code, 200);
}

/// The advertised /scale subresource works (kubectl scale sends a merge patch to it).
/// Upstream: meta/v1 `APIResourceList`.
#[tokio::test]
async fn scale_subresource() {
    let s = server().await;
    let b = s.base_url();
    apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 1, "nginx"),
    )
    .await;
    let r = get(&b, &format!("{DEPLOY}/web/scale")).await;
    assert_eq!(r.body["kind"], json!("Scale"));
    assert_eq!(r.body["spec"]["replicas"], json!(1));
    assert_eq!(r.body["status"]["selector"], json!("app=web"));
    let r = patch(
        &b,
        &format!("{DEPLOY}/web/scale"),
        "application/merge-patch+json",
        &json!({"spec":{"replicas":4}}),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["replicas"], json!(4));
    let d = get(&b, &format!("{DEPLOY}/web")).await.body;
    assert_eq!(d["spec"]["replicas"], json!(4));
    assert_eq!(d["metadata"]["generation"], json!(2));
    assert!(
        d["metadata"]["managedFields"]
            .as_array()
            .expect("mf")
            .iter()
            .any(|e| e["subresource"] == "scale")
    );
}

/// gracePeriodSeconds does not delay deletion of non-Pod kinds.
/// Upstream: apiserver `rest.BeforeDelete`.
#[tokio::test]
async fn grace_period_ignored_for_non_pods() {
    let s = server().await;
    post(&s.base_url(), CM, &json!({"metadata":{"name":"c"}})).await;
    let r = delete(
        &s.base_url(),
        &format!("{CM}/c"),
        r#"{"gracePeriodSeconds":30}"#,
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(get(&s.base_url(), &format!("{CM}/c")).await.code, 404);
}

/// A dry-run POST answers without uid, resourceVersion or generated name and stores nothing.
/// Upstream: apiserver `registry/generic/registry/dryrun.go`.
#[tokio::test]
async fn dry_run_post_resets_metadata() {
    let s = server().await;
    let r = post(
        &s.base_url(),
        &format!("{CM}?dryRun=All"),
        &json!({"metadata":{"generateName":"gen-"}}),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    let md = &r.body["metadata"];
    assert!(
        md.get("uid").is_none() && md.get("resourceVersion").is_none() && md.get("name").is_none(),
        "{md}"
    );
    assert!(md["creationTimestamp"].is_string());
    assert_eq!(get(&s.base_url(), CM).await.body["items"], json!([]));
}

/// Content with finalizers keeps its namespace Terminating until the finalizer goes. Upstream:
/// apiserver `registry/generic/registry/store.go`;
/// `pkg/registry/core/namespace/storage/storage.go`.
#[tokio::test]
async fn namespace_waits_for_finalized_content() {
    let s = server().await;
    let b = s.base_url();
    post(&b, "/api/v1/namespaces", &json!({"metadata":{"name":"x"}})).await;
    post(
        &b,
        "/api/v1/namespaces/x/configmaps",
        &json!({"metadata":{"name":"held","finalizers":["example.com/hold"]}}),
    )
    .await;
    let r = delete(&b, "/api/v1/namespaces/x", "").await;
    assert_eq!(r.code, 200);
    let ns = get(&b, "/api/v1/namespaces/x").await;
    assert_eq!(ns.body["status"]["phase"], json!("Terminating"));
    // The namespace controller marks the held object deleting a moment later.
    let started = std::time::Instant::now();
    let held = loop {
        let held = get(&b, "/api/v1/namespaces/x/configmaps/held").await;
        if held.body["metadata"]["deletionTimestamp"].is_string()
            || started.elapsed() > std::time::Duration::from_secs(5)
        {
            break held;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(held.body["metadata"]["deletionTimestamp"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ns = get(&b, "/api/v1/namespaces/x").await;
    assert_eq!(
        ns.body["status"]["phase"],
        json!("Terminating"),
        "held by the finalizer"
    );
    let r = patch(
        &b,
        "/api/v1/namespaces/x/configmaps/held",
        "application/merge-patch+json",
        &json!({"metadata":{"finalizers":null}}),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(eventually(&b, "/api/v1/namespaces/x", 404).await, 404);
}

/// By default a deleted namespace is Terminating (deletionTimestamp, the `kubernetes`
/// finalizer, phase Terminating; creates inside it are 403) until the background namespace
/// controller has emptied it a moment later. Upstream: `pkg/registry/core/namespace/storage`,
/// `pkg/controller/namespace/deletion/namespaced_resources_deleter.go`, apiserver
/// `admission/plugin/namespace/lifecycle/admission.go`.
#[tokio::test]
async fn namespace_terminates_in_the_background() {
    let s = server().await;
    let b = s.base_url();
    post(&b, "/api/v1/namespaces", &json!({"metadata":{"name":"x"}})).await;
    post(
        &b,
        "/api/v1/namespaces/x/configmaps",
        &json!({"metadata":{"name":"c"}}),
    )
    .await;
    let r = delete(&b, "/api/v1/namespaces/x", "").await;
    assert_eq!(r.code, 200);
    let ns = get(&b, "/api/v1/namespaces/x").await;
    assert_eq!(ns.code, 200, "the DELETE left the namespace Terminating");
    assert_eq!(ns.body["status"]["phase"], json!("Terminating"));
    assert_eq!(ns.body["spec"]["finalizers"], json!(["kubernetes"]));
    assert!(ns.body["metadata"]["deletionTimestamp"].is_string());
    let r = post(
        &b,
        "/api/v1/namespaces/x/configmaps",
        &json!({"metadata":{"name":"late"}}),
    )
    .await;
    assert_eq!(r.code, 403, "{}", r.text);
    assert_eq!(
        eventually(&b, "/api/v1/namespaces/x/configmaps/c", 404).await,
        404
    );
    assert_eq!(eventually(&b, "/api/v1/namespaces/x", 404).await, 404);
}

/// With the controller on, a Deployment is first rolling (observed, nothing available, the
/// Progressing reason `ReplicaSetUpdated`), then available (`NewReplicaSetAvailable`); a Job
/// is active, then complete. Upstream: `pkg/controller/deployment/sync.go`,
/// `pkg/controller/deployment/util/deployment_util.go`, `pkg/controller/job`.
#[tokio::test]
async fn workloads_roll_to_ready_over_steps() {
    let s = TestApiServer::start_with(test_apiserver::ServerOptions {
        controller: true,
        controller_interval: std::time::Duration::from_millis(300),
        ..test_apiserver::ServerOptions::default()
    })
    .await
    .expect("start");
    let b = s.base_url();
    let path = format!("{DEPLOY}/web");
    let r = apply(
        &b,
        &format!("{path}?fieldManager=k"),
        &deployment("web", 2, "nginx"),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert!(
        r.body["status"]["conditions"].is_null(),
        "{}",
        r.body["status"]
    );
    let mut reasons = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(5) {
        let d = get(&b, &path).await.body;
        let reason = d["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"))
            .map(|c| c["reason"].as_str().unwrap_or("").to_string());
        if let Some(reason) = reason
            && reasons.last() != Some(&reason)
        {
            if reason == "ReplicaSetUpdated" {
                assert_eq!(
                    d["status"]["availableReplicas"],
                    json!(null),
                    "{}",
                    d["status"]
                );
                assert_eq!(d["status"]["unavailableReplicas"], json!(2));
            }
            reasons.push(reason);
        }
        if reasons.last().map(String::as_str) == Some("NewReplicaSetAvailable") {
            assert_eq!(d["status"]["availableReplicas"], json!(2));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reasons, ["ReplicaSetUpdated", "NewReplicaSetAvailable"]);
}

/// A Job deleted without a policy is orphaned and the answer carries the Warning header. Upstream:
/// apiserver `registry/generic/registry/store.go` `deletionFinalizersForGarbageCollection`.
#[tokio::test]
async fn job_delete_warning_header() {
    let s = server().await;
    let job = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"a"}]}}}});
    apply(
        &s.base_url(),
        "/apis/batch/v1/namespaces/default/jobs/j?fieldManager=k",
        &job,
    )
    .await;
    let r = delete(
        &s.base_url(),
        "/apis/batch/v1/namespaces/default/jobs/j",
        "",
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.header("warning"),
        Some(
            "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\""
        )
    );
}

/// Foreground/Orphan answer with the object carrying the GC finalizer; it is gone after. Upstream:
/// apiserver `handlers/delete.go`; `registry/generic/registry/store.go`; apiserver
/// `registry/generic/registry/store.go` `deletionFinalizersForGarbageCollection`.
#[tokio::test]
async fn pending_deletion_answer_for_foreground() {
    let s = server().await;
    let b = s.base_url();
    apply(
        &b,
        &format!("{DEPLOY}/web?fieldManager=k"),
        &deployment("web", 1, "nginx"),
    )
    .await;
    let r = delete(
        &b,
        &format!("{DEPLOY}/web"),
        r#"{"propagationPolicy":"Foreground"}"#,
    )
    .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], json!("Deployment"));
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["generation"], json!(2));
    assert_eq!(get(&b, &format!("{DEPLOY}/web")).await.code, 404);
}

/// StatefulSet spec fields other than replicas/template/updateStrategy/... and PVC specs
/// (except resources) are immutable.
/// Upstream: `pkg/apis/*/validation/validation.go` `Validate*Update`.
#[tokio::test]
async fn statefulset_and_pvc_spec_immutable() {
    let s = server().await;
    let b = s.base_url();
    let sts = |storage: &str, replicas: i64| {
        json!({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},
        "spec":{"replicas":replicas,"serviceName":"db","selector":{"matchLabels":{"app":"db"}},
          "template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16"}]}},
          "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":storage}}}}]}})
    };
    let p = "/apis/apps/v1/namespaces/default/statefulsets/db?fieldManager=k";
    assert_eq!(apply(&b, p, &sts("1Gi", 1)).await.code, 201);
    assert_eq!(
        apply(&b, p, &sts("1Gi", 3)).await.code,
        200,
        "replicas may change"
    );
    let r = apply(&b, p, &sts("5Gi", 3)).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        json!(
            "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        )
    );
    let pvc = |modes: &str, size: &str| json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"d"},"spec":{"accessModes":[modes],"resources":{"requests":{"storage":size}}}});
    let p = "/api/v1/namespaces/default/persistentvolumeclaims/d?fieldManager=k";
    assert_eq!(apply(&b, p, &pvc("ReadWriteOnce", "1Gi")).await.code, 201);
    assert_eq!(apply(&b, p, &pvc("ReadWriteOnce", "2Gi")).await.code, 200);
    let r = apply(&b, p, &pvc("ReadWriteMany", "2Gi")).await;
    assert_eq!(
        r.body["message"],
        json!(
            "PersistentVolumeClaim \"d\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests for bound claims"
        )
    );
}

/// Pods and Events are served (kubectl get pods/events, describe); a Pod gets the PodSpec defaults
/// and a deleted Pod is answered with the object (no kubelet: removed at once). Upstream: meta/v1
/// `APIResourceList`; `pkg/apis/core/v1/defaults.go`; apiserver `handlers/delete.go`;
/// `registry/generic/registry/store.go`.
#[tokio::test]
async fn pods_and_events_served() {
    let s = server().await;
    let b = s.base_url();
    let r = post(
        &b,
        "/api/v1/namespaces/default/pods",
        &json!({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.body["spec"]["restartPolicy"], json!("Always"));
    assert_eq!(r.body["spec"]["enableServiceLinks"], json!(true));
    assert_eq!(
        r.body["spec"]["containers"][0]["imagePullPolicy"],
        json!("Always")
    );
    assert_eq!(r.body["status"]["phase"], json!("Pending"));
    let d = delete(&b, "/api/v1/namespaces/default/pods/p", "").await;
    assert_eq!(d.body["kind"], json!("Pod"));
    assert_eq!(get(&b, "/api/v1/namespaces/default/pods/p").await.code, 404);
    let ev = get(
        &b,
        "/api/v1/namespaces/default/events?fieldSelector=metadata.name%3Dx",
    )
    .await;
    assert_eq!(ev.body["kind"], json!("EventList"));
}

/// A 422 is shaped like kube-apiserver's: a `Status` with reason `Invalid`, the kind, group and
/// name in `details`, one cause per field error with its path, and the aggregate message.
/// Upstream: apimachinery `api/errors/errors.go` `NewInvalid`; `pkg/apis/core/validation`
/// `validateContainerPorts`, `ValidateVolumeMounts`, `ValidateResourceRequirements`.
#[tokio::test]
async fn invalid_pod_template_answers_422_with_causes() {
    let s = server().await;
    let mut d = deployment("web", 1, "nginx");
    let c = &mut d["spec"]["template"]["spec"]["containers"][0];
    c["ports"] = json!([{"name": "messaging-grpc-port", "containerPort": 80}]);
    c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    c["resources"] = json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}});
    let r = post(&s.base_url(), DEPLOY, &d).await;
    assert_eq!(r.code, 422, "{}", r.text);
    let c0 = "spec.template.spec.containers[0]";
    assert_eq!(
        r.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("Deployment.apps \"web\" is invalid: [{c0}.ports[0].name: Invalid value: \"messaging-grpc-port\": must be no more than 15 characters, {c0}.volumeMounts[0].name: Not found: \"data\", {c0}.resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1]"),
            "reason": "Invalid",
            "details": {"name": "web", "group": "apps", "kind": "Deployment", "causes": [
                {"reason": "FieldValueInvalid", "message": "Invalid value: \"messaging-grpc-port\": must be no more than 15 characters", "field": format!("{c0}.ports[0].name")},
                {"reason": "FieldValueNotFound", "message": "Not found: \"data\"", "field": format!("{c0}.volumeMounts[0].name")},
                {"reason": "FieldValueInvalid", "message": "Invalid value: \"2\": must be less than or equal to cpu limit of 1", "field": format!("{c0}.resources.requests")}]},
            "code": 422})
    );
}
