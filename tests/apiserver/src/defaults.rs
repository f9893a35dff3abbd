//! Defaulting of the served kinds, applied on every write, as the generated defaulters do
//! (`pkg/apis/{core,apps,batch,networking}/v1/defaults.go`, `zz_generated.defaults.go`).

use crate::util::{Pointer, base64_encode, default_field, ensure_obj};
use serde_json::{Map, Value, json};

/// Applies the defaults of `kind` to a whole object in place.
pub fn apply_defaults(kind: &str, obj: &mut Value) {
    match kind {
        "Deployment" => deployment(obj),
        "StatefulSet" => statefulset(obj),
        "Job" => job(obj),
        "CronJob" => cronjob(obj),
        "Service" => service(obj),
        "Secret" => secret(obj),
        "Namespace" => namespace(obj),
        "PersistentVolumeClaim" => default_field(
            ensure_obj(obj, &["spec"]),
            "volumeMode",
            json!("Filesystem"),
        ),
        "NetworkPolicy" => network_policy(obj),
        "Pod" => {
            let spec = ensure_obj(obj, &["spec"]);
            pod_spec(spec);
            default_field(spec, "enableServiceLinks", json!(true));
            default_field(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            default_field(spec, "priority", json!(0));
        }
        _ => {}
    }
}

fn deployment(obj: &mut Value) {
    let spec = ensure_obj(obj, &["spec"]);
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Value::Object(s) = strategy {
        default_field(s, "type", json!("RollingUpdate"));
        if s.get("type") == Some(&json!("RollingUpdate")) {
            let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Value::Object(ru) = ru {
                default_field(ru, "maxUnavailable", json!("25%"));
                default_field(ru, "maxSurge", json!("25%"));
            }
        }
    }
    pod_template(ensure_obj(obj, &["spec", "template"]));
}

fn statefulset(obj: &mut Value) {
    let spec = ensure_obj(obj, &["spec"]);
    default_field(spec, "replicas", json!(1));
    default_field(spec, "podManagementPolicy", json!("OrderedReady"));
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted":"Retain","whenScaled":"Retain"}),
    );
    let us = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if let Value::Object(us) = us {
        default_field(us, "type", json!("RollingUpdate"));
        if us.get("type") == Some(&json!("RollingUpdate")) {
            let ru = us.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Value::Object(ru) = ru {
                default_field(ru, "partition", json!(0));
            }
        }
    }
    if let Some(Value::Array(vcts)) = spec.get_mut("volumeClaimTemplates") {
        for v in vcts.iter_mut() {
            if let Value::Object(m) = v {
                default_field(m, "apiVersion", json!("v1"));
                default_field(m, "kind", json!("PersistentVolumeClaim"));
                let md = m.entry("metadata").or_insert_with(|| json!({}));
                if let Value::Object(md) = md {
                    md.entry("creationTimestamp").or_insert(Value::Null);
                }
                let s = m.entry("spec").or_insert_with(|| json!({}));
                if let Value::Object(s) = s {
                    default_field(s, "volumeMode", json!("Filesystem"));
                }
                default_field(m, "status", json!({"phase":"Pending"}));
            }
        }
    }
    pod_template(ensure_obj(obj, &["spec", "template"]));
}

fn job_spec(spec: &mut Map<String, Value>) {
    let par_unset = spec.get("parallelism").is_none_or(Value::is_null);
    let comp_unset = spec.get("completions").is_none_or(Value::is_null);
    if par_unset && comp_unset {
        spec.insert("parallelism".into(), json!(1));
        spec.insert("completions".into(), json!(1));
    } else if par_unset {
        spec.insert("parallelism".into(), json!(1));
    }
    default_field(spec, "backoffLimit", json!(6));
    default_field(spec, "completionMode", json!("NonIndexed"));
    default_field(spec, "suspend", json!(false));
    default_field(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    default_field(spec, "manualSelector", json!(false));
}

fn job(obj: &mut Value) {
    job_spec(ensure_obj(obj, &["spec"]));
    pod_template(ensure_obj(obj, &["spec", "template"]));
    let tmpl_labels = obj
        .ptr("/spec/template/metadata/labels")
        .cloned()
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()));
    let md = ensure_obj(obj, &["metadata"]);
    let has_labels = md
        .get("labels")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty());
    if !has_labels && let Some(l) = tmpl_labels {
        md.insert("labels".into(), l);
    }
}

fn cronjob(obj: &mut Value) {
    let spec = ensure_obj(obj, &["spec"]);
    default_field(spec, "concurrencyPolicy", json!("Allow"));
    default_field(spec, "suspend", json!(false));
    default_field(spec, "successfulJobsHistoryLimit", json!(3));
    default_field(spec, "failedJobsHistoryLimit", json!(1));
    ensure_obj(obj, &["spec", "jobTemplate", "metadata"])
        .entry("creationTimestamp")
        .or_insert(Value::Null);
    pod_template(ensure_obj(
        obj,
        &["spec", "jobTemplate", "spec", "template"],
    ));
}

/// Pod template defaults (`pkg/apis/core/v1/defaults.go`; meta/v1 `Time.MarshalJSON`
/// `creationTimestamp: null`).
fn pod_template(t: &mut Map<String, Value>) {
    let md = t.entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(md) = md {
        md.entry("creationTimestamp").or_insert(Value::Null);
    }
    let spec = t.entry("spec").or_insert_with(|| json!({}));
    if let Value::Object(spec) = spec {
        pod_spec(spec);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(key) {
            for c in cs.iter_mut() {
                if let Value::Object(c) = c {
                    container(c);
                }
            }
        }
    }
    if let Some(Value::Array(vols)) = spec.get_mut("volumes") {
        for v in vols.iter_mut() {
            if let Value::Object(v) = v {
                volume(v);
            }
        }
    }
}

fn volume(v: &mut Map<String, Value>) {
    if v.keys().all(|k| k == "name") {
        v.insert("emptyDir".into(), json!({}));
    }
    for src in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(Value::Object(s)) = v.get_mut(src) {
            default_field(s, "defaultMode", json!(420));
            if src == "projected"
                && let Some(Value::Array(sources)) = s.get_mut("sources")
            {
                for so in sources.iter_mut() {
                    if let Some(Value::Object(t)) = so.get_mut("serviceAccountToken") {
                        default_field(t, "expirationSeconds", json!(3600));
                    }
                }
            }
        }
    }
    if let Some(Value::Object(h)) = v.get_mut("hostPath") {
        default_field(h, "type", json!(""));
    }
}

/// `imagePullPolicy` default (`SetDefaults_Container`, `pkg/apis/core/v1/defaults.go`): Always
/// when the tag is `latest`, which `ParseImageName` (`pkg/util/parsers`) assumes when there is
/// neither a tag nor a digest — so `name:latest@sha256:…` is Always too — else IfNotPresent.
pub fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match (last.rsplit_once(':').map(|(_, tag)| tag), digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

fn container(c: &mut Map<String, Value>) {
    default_field(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(c, "terminationMessagePolicy", json!("File"));
    if let Some(img) = c.get("image").and_then(Value::as_str) {
        let p = pull_policy(img);
        default_field(c, "imagePullPolicy", json!(p));
    }
    default_field(c, "resources", json!({}));
    if let Some(Value::Object(r)) = c.get_mut("resources") {
        for k in ["limits", "requests"] {
            if let Some(Value::Object(q)) = r.get_mut(k) {
                for v in q.values_mut() {
                    *v = canonical_quantity(v);
                }
            }
        }
    }
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut() {
            if let Value::Object(p) = p {
                default_field(p, "protocol", json!("TCP"));
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(Value::Object(p)) = c.get_mut(probe) {
            default_field(p, "timeoutSeconds", json!(1));
            default_field(p, "periodSeconds", json!(10));
            default_field(p, "successThreshold", json!(1));
            default_field(p, "failureThreshold", json!(3));
            if let Some(Value::Object(h)) = p.get_mut("httpGet") {
                default_field(h, "path", json!("/"));
                default_field(h, "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for e in env.iter_mut() {
            if let Some(Value::Object(fr)) = e.ptr_mut("/valueFrom/fieldRef") {
                default_field(fr, "apiVersion", json!("v1"));
            }
        }
    }
}

/// Canonicalises a resource quantity (`pkg/apis/core/v1/defaults.go`): numbers become strings,
/// decimal fractions without a suffix become milli-units, whole milli-values lose the `m`.
pub fn canonical_quantity(v: &Value) -> Value {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return other.clone(),
    };
    if let Some(num) = s.strip_suffix('m')
        && let Ok(n) = num.parse::<u64>()
        && n.is_multiple_of(1000)
    {
        return json!((n / 1000).to_string());
    }
    if s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.contains('.')
        && let Ok(f) = s.parse::<f64>()
    {
        let milli = (f * 1000.0).ceil() as u64;
        if milli.is_multiple_of(1000) {
            return json!((milli / 1000).to_string());
        }
        return json!(format!("{milli}m"));
    }
    json!(s)
}

fn service(obj: &mut Value) {
    let spec = ensure_obj(obj, &["spec"]);
    default_field(spec, "type", json!("ClusterIP"));
    default_field(spec, "sessionAffinity", json!("None"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if spec.get("sessionAffinity") == Some(&json!("None")) {
        spec.remove("sessionAffinityConfig");
    } else if spec.get("sessionAffinity") == Some(&json!("ClientIP")) {
        let c = spec
            .entry("sessionAffinityConfig")
            .or_insert_with(|| json!({}));
        if let Value::Object(c) = c {
            let ip = c.entry("clientIP").or_insert_with(|| json!({}));
            if let Value::Object(ip) = ip {
                default_field(ip, "timeoutSeconds", json!(10800));
            }
        }
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut() {
            if let Value::Object(p) = p {
                default_field(p, "protocol", json!("TCP"));
                let unset = match p.get("targetPort") {
                    None | Some(Value::Null) => true,
                    Some(Value::Number(n)) => n.as_i64() == Some(0),
                    Some(Value::String(s)) => s.is_empty(),
                    _ => false,
                };
                if unset && let Some(port) = p.get("port").cloned() {
                    p.insert("targetPort".into(), port);
                }
            }
        }
    }
    if ty != "ExternalName" {
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if ty == "NodePort" || ty == "LoadBalancer" || has_external_ips {
        default_field(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn secret(obj: &mut Value) {
    let Value::Object(m) = obj else { return };
    if m.get("type").and_then(Value::as_str) == Some("") {
        m.shift_remove("type");
    }
    default_field(m, "type", json!("Opaque"));
    if let Some(Value::Object(sd)) = m.remove("stringData") {
        let data = m.entry("data").or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        if let Value::Object(d) = data {
            for (k, v) in sd {
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                d.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

fn namespace(obj: &mut Value) {
    let name = obj
        .ptr("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    ensure_obj(obj, &["metadata", "labels"])
        .insert("kubernetes.io/metadata.name".into(), json!(name));
}

fn network_policy(obj: &mut Value) {
    let spec = ensure_obj(obj, &["spec"]);
    let empty = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        let mut types = vec![json!("Ingress")];
        if spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
    default_field(spec, "podSelector", json!({}));
    // Every port of every rule: protocol TCP (`SetDefaults_NetworkPolicyPort`).
    for rules in ["ingress", "egress"] {
        let Some(Value::Array(rules)) = spec.get_mut(rules) else {
            continue;
        };
        for rule in rules {
            if let Some(Value::Array(ports)) = rule.get_mut("ports") {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    default_field(port, "protocol", json!("TCP"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// imagePullPolicy defaulting rules.
    /// Upstream: `pkg/apis/core/v1/defaults.go`.
    #[test]
    fn image_pull_policy() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(pull_policy("nginx@sha256:abc"), "IfNotPresent");
        assert_eq!(pull_policy("nginx:latest@sha256:abc"), "Always");
    }

    /// Quantities are canonicalised.
    /// Upstream: `pkg/apis/core/v1/defaults.go`.
    #[test]
    fn quantity_canonical() {
        assert_eq!(canonical_quantity(&json!("0.5")), json!("500m"));
        assert_eq!(canonical_quantity(&json!(1)), json!("1"));
        assert_eq!(canonical_quantity(&json!("1000m")), json!("1"));
        assert_eq!(canonical_quantity(&json!("1024Mi")), json!("1024Mi"));
    }

    /// A NetworkPolicy port without a protocol gets TCP, in ingress and egress rules.
    /// Upstream: `pkg/apis/networking/v1/defaults.go` (`SetDefaults_NetworkPolicyPort`).
    #[test]
    fn network_policy_port_protocol() {
        let mut np = json!({"spec":{
            "ingress":[{"ports":[{"port":80},{"port":53,"protocol":"UDP"}]}],
            "egress":[{"ports":[{"port":443}]},{"to":[]}]}});
        apply_defaults("NetworkPolicy", &mut np);
        assert_eq!(
            np["spec"]["ingress"][0]["ports"],
            json!([{"port":80,"protocol":"TCP"},{"port":53,"protocol":"UDP"}])
        );
        assert_eq!(
            np["spec"]["egress"][0]["ports"],
            json!([{"port":443,"protocol":"TCP"}])
        );
    }

    /// stringData is merged into data as base64 and dropped.
    /// Upstream: `pkg/apis/core/v1/conversion.go`; `pkg/apis/core/v1/defaults.go`.
    #[test]
    fn secret_string_data() {
        let mut s = json!({"stringData":{"a":"hello"},"data":{"b":"eA=="}});
        apply_defaults("Secret", &mut s);
        assert_eq!(
            s,
            json!({"data":{"b":"eA==","a":"aGVsbG8="},"type":"Opaque"})
        );
    }
}
