//! One test per divergence the structured-merge-diff oracle and the 1.32 schema check found in
//! test-apiserver's server-side apply (`docs/apiserver-fidelity.md`, "Merge and ownership,
//! checked against structured-merge-diff"). Each states what kube-apiserver 1.32 does.

mod common;

use serde_json::{Value, json};
use std::borrow::Cow;
use test_apiserver::managed::{self, ApplyOutcome, Conflicts, Entry};
use test_apiserver::{defaults, schema};

const NOW: &str = "2025-01-01T00:00:00Z";

fn apply(
    kind: &'static str,
    live: Option<&Value>,
    entries: Vec<Entry>,
    manager: &str,
    config: Value,
) -> Result<ApplyOutcome, Conflicts> {
    let api_version = config["apiVersion"].as_str().unwrap_or("v1").to_string();
    managed::apply(
        live,
        Cow::Owned(config),
        schema::root(kind),
        entries,
        manager,
        &api_version,
        "",
        false,
        NOW,
    )
}

fn fields_of(entries: &[Entry], manager: &str) -> Value {
    entries
        .iter()
        .find(|e| e.manager == manager)
        .map_or(Value::Null, |e| e.set.to_fields_v1())
}

fn deployment(pod_spec: Value) -> Value {
    json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
        "spec":{"template":{"spec":pod_spec}}})
}

/// `PodSpec.nodeSelector` is an atomic map (`+mapType=atomic`): one manager owns it whole, and
/// a second manager's different selector conflicts on `.spec.template.spec.nodeSelector`.
#[test]
fn node_selector_is_atomic() {
    let first = apply(
        "Deployment",
        None,
        vec![],
        "a",
        deployment(json!({"nodeSelector":{"disk":"ssd"}})),
    )
    .expect("create");
    assert_eq!(
        fields_of(&first.entries, "a"),
        json!({"f:spec":{"f:template":{"f:spec":{"f:nodeSelector":{}}}}})
    );
    let c = apply(
        "Deployment",
        Some(&first.object),
        first.entries,
        "b",
        deployment(json!({"nodeSelector":{"zone":"a"}})),
    )
    .err()
    .expect("a second selector conflicts");
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.nodeSelector"
    );
}

/// `EnvVarSource`'s selectors (`SecretKeySelector`, `ConfigMapKeySelector`,
/// `ObjectFieldSelector`, `ResourceFieldSelector`) are atomic structs: a `secretKeyRef` is owned
/// as one field, not field by field.
#[test]
fn env_var_selectors_are_atomic() {
    let env = json!([
        {"name":"A","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}},
        {"name":"B","valueFrom":{"configMapKeyRef":{"name":"c","key":"k"}}},
        {"name":"C","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
        {"name":"D","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}}]);
    let out = apply(
        "Deployment",
        None,
        vec![],
        "a",
        deployment(json!({"containers":[{"name":"app","env":env}]})),
    )
    .expect("create");
    let env = &fields_of(&out.entries, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]
        ["f:env"];
    assert_eq!(
        env["k:{\"name\":\"A\"}"]["f:valueFrom"],
        json!({"f:secretKeyRef":{}})
    );
    assert_eq!(
        env["k:{\"name\":\"B\"}"]["f:valueFrom"],
        json!({"f:configMapKeyRef":{}})
    );
    assert_eq!(
        env["k:{\"name\":\"C\"}"]["f:valueFrom"],
        json!({"f:fieldRef":{}})
    );
    assert_eq!(
        env["k:{\"name\":\"D\"}"]["f:valueFrom"],
        json!({"f:resourceFieldRef":{}})
    );
}

/// `LocalObjectReference` items of `imagePullSecrets` (and `ObjectReference` items of a
/// ServiceAccount's `secrets`) are atomic: the item is owned, not its `name`.
#[test]
fn object_reference_items_are_atomic() {
    let out = apply(
        "Deployment",
        None,
        vec![],
        "a",
        deployment(json!({"imagePullSecrets":[{"name":"reg"}]})),
    )
    .expect("create");
    assert_eq!(
        fields_of(&out.entries, "a")["f:spec"]["f:template"]["f:spec"]["f:imagePullSecrets"],
        json!({"k:{\"name\":\"reg\"}":{}})
    );
    let sa = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"s"},
        "secrets":[{"name":"tok"}]});
    let out = apply("ServiceAccount", None, vec![], "a", sa).expect("create");
    assert_eq!(
        fields_of(&out.entries, "a")["f:secrets"],
        json!({"k:{\"name\":\"tok\"}":{}})
    );
}

/// The `NodeSelector` of required node affinity and the `LabelSelector` of a topology spread
/// constraint are atomic structs.
#[test]
fn node_affinity_and_spread_selectors_are_atomic() {
    let out = apply(
        "Deployment",
        None,
        vec![],
        "a",
        deployment(json!({
            "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms":[{"matchExpressions":[{"key":"z","operator":"Exists"}]}]}}},
            "topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone",
                "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"a"}}}]})),
    )
    .expect("create");
    let spec = &fields_of(&out.entries, "a")["f:spec"]["f:template"]["f:spec"];
    assert_eq!(
        spec["f:affinity"],
        json!({"f:nodeAffinity":{"f:requiredDuringSchedulingIgnoredDuringExecution":{}}})
    );
    assert_eq!(
        spec["f:topologySpreadConstraints"]["k:{\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"DoNotSchedule\"}"]
            ["f:labelSelector"],
        json!({})
    );
}

/// When an applier drops the last label it applied and nobody else owns labels, the labels
/// field goes with it (`merge.Updater.prune` widens what it removes with
/// `EnsureNamedFieldsAreMembers`); it used to stay as `labels: {}`.
#[test]
fn pruning_the_last_label_removes_the_field() {
    let cm = |labels: Option<Value>| {
        let mut v = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
            "data":{"k":"v"}});
        if let Some(l) = labels {
            v["metadata"]["labels"] = l;
        }
        v
    };
    let first = apply("ConfigMap", None, vec![], "a", cm(Some(json!({"x":"1"})))).expect("create");
    let second = apply(
        "ConfigMap",
        Some(&first.object),
        first.entries,
        "a",
        cm(None),
    )
    .expect("apply");
    assert_eq!(
        second.object["metadata"].get("labels"),
        None,
        "{}",
        second.object
    );
}

/// A list whose last item is pruned becomes null inside the merge (structured-merge-diff
/// `typed/remove.go`), so an updater that owns the list field itself keeps it; the stored
/// object has no null in its place.
#[test]
fn emptied_list_keeps_its_field_owner() {
    let sa = |secrets: Option<Value>| {
        let mut v = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"s"}});
        if let Some(s) = secrets {
            v["secrets"] = s;
        }
        v
    };
    let first = apply(
        "ServiceAccount",
        None,
        vec![],
        "a",
        sa(Some(json!([{"name":"t"}]))),
    )
    .expect("create");
    // An updater that set the list (as `kubectl edit` would) owns `f:secrets`.
    let mut entries = first.entries;
    entries.push(Entry {
        manager: "u".into(),
        operation: "Update".into(),
        api_version: "v1".into(),
        time: Some(NOW.into()),
        subresource: String::new(),
        set: test_apiserver::fieldpath::Set::from_fields_v1(&json!({"f:secrets":{}}))
            .expect("FieldsV1"),
    });
    let out = apply(
        "ServiceAccount",
        Some(&first.object),
        entries,
        "a",
        sa(None),
    )
    .expect("apply");
    assert_eq!(fields_of(&out.entries, "u"), json!({"f:secrets":{}}));
    assert_eq!(out.object.get("secrets"), None, "{}", out.object);
}

/// NetworkPolicy ports default their protocol to TCP, so a second manager applying the same
/// ingress rules without a protocol changes the atomic `ingress` list and conflicts, as on a
/// real server (`SetDefaults_NetworkPolicyPort`; `ingress` is `+listType=atomic`).
#[test]
fn identical_network_policy_rules_conflict_after_defaulting() {
    let np = json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
        "metadata":{"name":"n"},"spec":{"podSelector":{},
        "ingress":[{"ports":[{"port":80}]}]}});
    let first = apply("NetworkPolicy", None, vec![], "a", np.clone()).expect("create");
    let mut live = first.object;
    defaults::apply_defaults("NetworkPolicy", &mut live);
    let c = apply("NetworkPolicy", Some(&live), first.entries, "b", np)
        .err()
        .expect("b changes the defaulted rules");
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.ingress"
    );
}

/// Status conditions are a list map keyed by `type` (Deployment, StatefulSet, Pod, Service,
/// Namespace, PersistentVolumeClaim).
#[test]
fn status_conditions_are_keyed_by_type() {
    for kind in [
        "Deployment",
        "StatefulSet",
        "Pod",
        "Service",
        "Namespace",
        "PersistentVolumeClaim",
    ] {
        let set = test_apiserver::typed::to_field_set(
            &json!({"status":{"conditions":[{"type":"Ready","status":"True"}]}}),
            schema::root(kind),
        );
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":
                {".":{},"f:status":{},"f:type":{}}}}}),
            "{kind}"
        );
    }
}

/// An object without managedFields is first attributed to `before-first-apply` as an Update
/// from the kind's zero value, where a Namespace already has `spec: {}` and `status: {}`: the
/// entry owns `spec.finalizers` and `status.phase` but not `spec` and `status` themselves
/// (managedfields `skipnonapplied.go`, `objectCreater.New`). It used to start from `{}`.
#[tokio::test]
async fn before_first_apply_starts_from_the_zero_value() {
    let s = test_apiserver::TestApiServer::start().await.expect("start");
    let base = s.base_url();
    let path = "/api/v1/namespaces/zero";
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"zero"}});
    // Only the name is applied: nothing is owned, so no managedFields are stored.
    let r = common::apply(&base, &format!("{path}?fieldManager=a"), &ns).await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.body["metadata"].get("managedFields"), None, "{}", r.text);
    let mut labelled = ns.clone();
    labelled["metadata"]["labels"] = json!({"x":"1"});
    let r = common::apply(&base, &format!("{path}?fieldManager=a"), &labelled).await;
    assert_eq!(r.code, 200, "{}", r.text);
    let entries = r.body["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = entries
        .iter()
        .find(|e| e["manager"] == "before-first-apply")
        .map(|e| e["fieldsV1"].clone());
    assert_eq!(
        before,
        Some(
            json!({"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{}}},
            "f:spec":{"f:finalizers":{}},"f:status":{"f:phase":{}}})
        ),
        "{}",
        r.text
    );
}
