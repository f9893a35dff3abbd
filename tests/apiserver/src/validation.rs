//! Validation and immutability checks, returning field errors
//! (`apimachinery/pkg/api/validation/objectmeta.go` `ValidateObjectMeta`,
//! `pkg/apis/{core,apps,batch,networking}/validation/validation.go`).

use crate::status::{FieldError, render_value};
use crate::util::{Pointer, get_str};
use serde_json::{Map, Value};

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// The RFC 1123 label pattern `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, whatever its length.
fn matches_label_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// RFC 1123 label check (`k8s.io/apimachinery/pkg/util/validation` `IsDNS1123Label`).
fn is_label(s: &str) -> bool {
    s.len() <= 63 && matches_label_pattern(s)
}

/// RFC 1123 subdomain check (`IsDNS1123Subdomain`): at most 253 characters matching the
/// pattern. Its parts between dots have no length limit of their own.
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(matches_label_pattern)
}

fn is_dns1035(s: &str) -> bool {
    is_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// Validates `metadata.name` for a kind (apimachinery `api/validation/objectmeta.go`
/// `ValidateObjectMeta`).
pub fn validate_name(kind: &str, name: &str, errs: &mut Vec<FieldError>) {
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
        return;
    }
    let v = format!("{name:?}");
    match kind {
        "Namespace" => {
            if !is_label(name) {
                errs.push(FieldError::invalid("metadata.name", &v, DNS1123_LABEL_MSG));
            }
        }
        "Service" => {
            if !is_dns1035(name) {
                errs.push(FieldError::invalid("metadata.name", &v, DNS1035_LABEL_MSG));
            }
        }
        _ => {
            if !is_subdomain(name) {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    &v,
                    DNS1123_SUBDOMAIN_MSG,
                ));
            }
            if kind == "CronJob" && name.len() > 52 {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    &v,
                    "must be no more than 52 characters",
                ));
            }
        }
    }
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn validate_labels(field: &str, labels: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        let name = k
            .rsplit_once('/')
            .map(|(p, n)| (Some(p), n))
            .unwrap_or((None, k));
        let bad_prefix = name.0.is_some_and(|p| !is_subdomain(p));
        if !is_qualified_name_part(name.1) || bad_prefix {
            errs.push(FieldError::invalid(
                field,
                &format!("{k:?}"),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ));
        }
        let val = v.as_str().unwrap_or("");
        if !val.is_empty() && !is_qualified_name_part(val) {
            errs.push(FieldError::invalid(
                field,
                &format!("{val:?}"),
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ));
        }
    }
}

/// Go `%#v` of a `map[string]string`.
pub fn go_string_map(v: Option<&Value>) -> String {
    let Some(Value::Object(m)) = v else {
        return "map[string]string(nil)".into();
    };
    let mut items: Vec<(&String, &Value)> = m.iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or("")))
        .collect();
    format!("map[string]string{{{}}}", parts.join(", "))
}

/// Go `%#v` of a `v1.LabelSelector` (kubectl `cmd/util/helpers.go`;
/// `pkg/apis/*/validation/validation.go` `Validate*Update`).
pub fn go_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return "(*v1.LabelSelector)(nil)".into();
    };
    let ml = go_string_map(sel.get("matchLabels"));
    let me = match sel.get("matchExpressions").and_then(Value::as_array) {
        Some(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|r| {
                    let vals: Vec<String> = r
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|vs| {
                            vs.iter()
                                .map(|v| format!("{:?}", v.as_str().unwrap_or("")))
                                .collect()
                        })
                        .unwrap_or_default();
                    let vals = if r.get("values").is_some() {
                        format!("[]string{{{}}}", vals.join(", "))
                    } else {
                        "[]string(nil)".into()
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{vals}}}",
                        get_str(r, &["key"]).unwrap_or(""),
                        get_str(r, &["operator"]).unwrap_or("")
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", parts.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".into(),
    };
    format!("v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}")
}

fn selector_matches(sel: &Value, labels: Option<&Value>) -> bool {
    let empty = Map::new();
    let labels = labels.and_then(Value::as_object).unwrap_or(&empty);
    let ml = sel.get("matchLabels").and_then(Value::as_object);
    let me = sel.get("matchExpressions").and_then(Value::as_array);
    if ml.is_none_or(Map::is_empty) && me.is_none_or(Vec::is_empty) {
        return false;
    }
    if let Some(ml) = ml {
        for (k, v) in ml {
            if labels.get(k) != Some(v) {
                return false;
            }
        }
    }
    if let Some(me) = me {
        for r in me {
            let key = get_str(r, &["key"]).unwrap_or("");
            let vals: Vec<&str> = r
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key).and_then(Value::as_str);
            let ok = match get_str(r, &["operator"]).unwrap_or("") {
                "In" => have.is_some_and(|h| vals.contains(&h)),
                "NotIn" => have.is_none_or(|h| !vals.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

fn validate_containers(base: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let cs = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let Some(cs) = cs.filter(|c| !c.is_empty()) else {
        errs.push(FieldError::required(&format!("{base}.containers"), ""));
        return;
    };
    let mut names: Vec<&str> = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let f = format!("{base}.containers[{i}]");
        match c.get("name").and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required(&format!("{f}.name"), "")),
            Some(n) => {
                if names.contains(&n) {
                    errs.push(FieldError::duplicate(
                        &format!("{f}.name"),
                        &format!("{n:?}"),
                    ));
                }
                names.push(n);
            }
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(&format!("{f}.image"), ""));
        }
    }
}

fn validate_restart_policy(field: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let rp = spec
        .and_then(|s| s.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            field,
            rp,
            &["OnFailure", "Never"],
        ));
    }
}

fn validate_workload(obj: &Value, errs: &mut Vec<FieldError>, require_selector: bool) {
    let spec = obj.get("spec");
    let sel = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null());
    let tmpl_labels = obj.ptr("/spec/template/metadata/labels");
    match sel {
        None if require_selector => errs.push(FieldError::required("spec.selector", "")),
        None => {}
        Some(sel) => {
            let empty = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
            if empty {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    &go_label_selector(Some(sel)),
                    "empty selector is invalid for deployment",
                ));
            } else if !selector_matches(sel, tmpl_labels) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    &go_string_map(tmpl_labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if let Some(r) = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64)
        && r < 0
    {
        errs.push(FieldError::invalid(
            "spec.replicas",
            &r.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    validate_containers("spec.template.spec", obj.ptr("/spec/template/spec"), errs);
}

/// Validates an object on create or update (apimachinery `api/validation/objectmeta.go`
/// `ValidateObjectMeta`; `pkg/apis/*/validation/validation.go`;
/// `pkg/apis/networking/validation/validation.go`; `pkg/apis/batch/v1/defaults.go`).
pub fn validate(kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = get_str(obj, &["metadata", "name"]).unwrap_or("");
    validate_name(kind, name, &mut errs);
    if let Some(Value::Object(l)) = obj.ptr("/metadata/labels") {
        validate_labels("metadata.labels", l, &mut errs);
    }
    match kind {
        "Deployment" | "StatefulSet" => validate_workload(obj, &mut errs, true),
        "Pod" => validate_containers("spec", obj.get("spec"), &mut errs),
        "Job" => {
            validate_containers(
                "spec.template.spec",
                obj.ptr("/spec/template/spec"),
                &mut errs,
            );
            validate_restart_policy(
                "spec.template.spec.restartPolicy",
                obj.ptr("/spec/template/spec"),
                &mut errs,
            );
        }
        "CronJob" => {
            if get_str(obj, &["spec", "schedule"]).is_none_or(str::is_empty) {
                errs.push(FieldError::required("spec.schedule", ""));
            }
            validate_containers(
                "spec.jobTemplate.spec.template.spec",
                obj.ptr("/spec/jobTemplate/spec/template/spec"),
                &mut errs,
            );
            validate_restart_policy(
                "spec.jobTemplate.spec.template.spec.restartPolicy",
                obj.ptr("/spec/jobTemplate/spec/template/spec"),
                &mut errs,
            );
        }
        "Service" => {
            let ty = get_str(obj, &["spec", "type"]).unwrap_or("ClusterIP");
            let headless = get_str(obj, &["spec", "clusterIP"]) == Some("None");
            let ports = obj.ptr("/spec/ports").and_then(Value::as_array);
            if ty != "ExternalName" && !headless && ports.is_none_or(Vec::is_empty) {
                errs.push(FieldError::required("spec.ports", ""));
            }
            if let Some(ports) = ports {
                for (i, p) in ports.iter().enumerate() {
                    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                    if !(1..=65535).contains(&port) {
                        errs.push(FieldError::invalid(
                            &format!("spec.ports[{i}].port"),
                            &port.to_string(),
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                    if ports.len() > 1
                        && p.get("name")
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                    {
                        errs.push(FieldError::required(&format!("spec.ports[{i}].name"), ""));
                    }
                }
            }
        }
        "Ingress" => {
            if let Some(rules) = obj.ptr("/spec/rules").and_then(Value::as_array) {
                for (i, r) in rules.iter().enumerate() {
                    if let Some(paths) = r.ptr("/http/paths").and_then(Value::as_array) {
                        for (j, p) in paths.iter().enumerate() {
                            if p.get("pathType")
                                .and_then(Value::as_str)
                                .is_none_or(str::is_empty)
                            {
                                errs.push(FieldError::required(
                                    &format!("spec.rules[{i}].http.paths[{j}].pathType"),
                                    "pathType must be specified",
                                ));
                            }
                        }
                    }
                }
            }
        }
        "Lease" => {
            // `pkg/apis/coordination/validation/validation.go` `ValidateLeaseSpec`.
            let number = |f: &str| obj.ptr(&format!("/spec/{f}")).and_then(Value::as_i64);
            if let Some(d) = number("leaseDurationSeconds")
                && d <= 0
            {
                errs.push(FieldError::invalid(
                    "spec.leaseDurationSeconds",
                    &d.to_string(),
                    "must be greater than 0",
                ));
            }
            if let Some(t) = number("leaseTransitions")
                && t < 0
            {
                errs.push(FieldError::invalid(
                    "spec.leaseTransitions",
                    &t.to_string(),
                    "must be greater than or equal to 0",
                ));
            }
        }
        _ => {}
    }
    errs
}

/// Whether two specs (absent = null) are equal once the `allowed` keys are taken out of them.
fn specs_equal_except(old: Option<&Value>, new: Option<&Value>, allowed: &[&str]) -> bool {
    let stripped = |spec: Option<&Value>| {
        let mut spec = spec.cloned().unwrap_or(Value::Null);
        if let Value::Object(m) = &mut spec {
            m.retain(|k, _| !allowed.contains(&k.as_str()));
        }
        spec
    };
    stripped(old) == stripped(new)
}

/// Update-only checks: immutable fields and finalizers while deleting
/// (`pkg/apis/*/validation/validation.go` `Validate*Update`).
pub fn validate_update(kind: &str, old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let immut = "field is immutable";
    match kind {
        "Deployment" | "Job" => {
            let (o, n) = (old.ptr("/spec/selector"), new.ptr("/spec/selector"));
            if o != n {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    &go_label_selector(n),
                    immut,
                ));
            }
            if kind == "Job" && old.ptr("/spec/template") != new.ptr("/spec/template") {
                errs.push(FieldError::invalid(
                    "spec.template",
                    "core.PodTemplateSpec{...}",
                    immut,
                ));
            }
            if kind == "Job" && old.ptr("/spec/completions") != new.ptr("/spec/completions") {
                errs.push(FieldError::invalid(
                    "spec.completions",
                    &new.ptr("/spec/completions")
                        .map(render_value)
                        .unwrap_or("null".into()),
                    immut,
                ));
            }
        }
        "StatefulSet" | "PersistentVolumeClaim" => {
            // Only some spec fields may change (apps/core validation of updates).
            let allowed: &[&str] = if kind == "StatefulSet" {
                &[
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ]
            } else {
                &["resources", "volumeAttributesClassName"]
            };
            if !specs_equal_except(old.get("spec"), new.get("spec"), allowed) {
                let detail = if kind == "StatefulSet" {
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                } else {
                    "spec is immutable after creation except resources.requests for bound claims"
                };
                errs.push(FieldError::forbidden("spec", detail));
            }
        }
        "Service" => {
            let o = get_str(old, &["spec", "clusterIP"]).unwrap_or("");
            let n = get_str(new, &["spec", "clusterIP"]).unwrap_or("");
            if !o.is_empty() && n.is_empty() {
                errs.push(FieldError::invalid("spec.clusterIP", "\"\"", immut));
            } else if !o.is_empty() && o != n {
                errs.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    &format!("[]string{{{n:?}}}"),
                    "may not change once set",
                ));
            }
        }
        "Secret" | "ConfigMap" => {
            if old.get("immutable") == Some(&Value::Bool(true)) {
                if new.get("immutable") != Some(&Value::Bool(true)) {
                    errs.push(FieldError::forbidden(
                        "immutable",
                        "field is immutable when `immutable` is set",
                    ));
                }
                if old.get("data") != new.get("data") {
                    errs.push(FieldError::forbidden(
                        "data",
                        "field is immutable when `immutable` is set",
                    ));
                }
                if kind == "ConfigMap" && old.get("binaryData") != new.get("binaryData") {
                    errs.push(FieldError::forbidden(
                        "binaryData",
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
            if kind == "Secret" && old.get("type") != new.get("type") {
                errs.push(FieldError::invalid(
                    "type",
                    &new.get("type").map(render_value).unwrap_or("\"\"".into()),
                    immut,
                ));
            }
        }
        _ => {}
    }
    if old.ptr("/metadata/deletionTimestamp").is_some() {
        let get = |v: &Value| -> Vec<String> {
            v.ptr("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (o, n) = (get(old), get(new));
        let added: Vec<String> = n.into_iter().filter(|f| !o.contains(f)).collect();
        if !added.is_empty() {
            let list: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// A subdomain's parts are not held to a label's 63 characters; the whole is held to 253,
    /// a label (a Namespace's name) to 63.
    #[test]
    fn subdomain_parts_may_be_longer_than_a_label() {
        let long = "a".repeat(99);
        assert!(is_subdomain(&long));
        assert!(is_subdomain(&format!("{long}.{long}")));
        assert!(!is_subdomain(&"a".repeat(254)));
        assert!(!is_label(&long));
        let mut e = Vec::new();
        validate_name("Secret", &long, &mut e);
        assert!(e.is_empty(), "{:?}", e.first().map(|e| &e.body));
        validate_name("Namespace", &long, &mut e);
        assert_eq!(e.len(), 1);
    }

    /// Name rules per kind.
    /// Upstream: apimachinery `api/validation/objectmeta.go` `ValidateObjectMeta`.
    #[test]
    fn name_validation() {
        let mut e = Vec::new();
        validate_name("ConfigMap", "Web_1", &mut e);
        assert!(
            e[0].body
                .contains("a lowercase RFC 1123 subdomain must consist of")
        );
        let mut e = Vec::new();
        validate_name("Service", "1abc", &mut e);
        assert!(e[0].body.contains("a DNS-1035 label must consist of"));
        let mut e = Vec::new();
        validate_name("Namespace", "a.b", &mut e);
        assert!(
            e[0].body
                .contains("a lowercase RFC 1123 label must consist of")
        );
        let mut e = Vec::new();
        validate_name("Deployment", "", &mut e);
        assert_eq!(
            e[0].body,
            "Required value: name or generateName is required"
        );
    }

    /// Go rendering of a LabelSelector. Upstream: kubectl `cmd/util/helpers.go`;
    /// `pkg/apis/*/validation/validation.go` `Validate*Update`.
    #[test]
    fn label_selector_rendering() {
        assert_eq!(
            go_label_selector(Some(&json!({"matchLabels":{"app":"nginx2"}}))),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }
}
