//! Validation and immutability checks, returning field errors
//! (`apimachinery/pkg/api/validation/objectmeta.go` `ValidateObjectMeta`,
//! `pkg/apis/{core,apps,batch,networking}/validation/validation.go`).

mod cron;
mod networking;
mod pod;

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

/// `MaxLenError` (apimachinery `util/validation/validation.go`).
pub(crate) fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// The messages of `IsDNS1123Label`: the length, then the pattern.
pub(crate) fn dns1123_label_errs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len(63));
    }
    if !matches_label_pattern(s) {
        out.push(DNS1123_LABEL_MSG.to_string());
    }
    out
}

/// RFC 1123 subdomain check (`IsDNS1123Subdomain`): at most 253 characters matching the
/// pattern. Its parts between dots have no length limit of their own.
pub fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(matches_label_pattern)
}

/// The messages of `IsDNS1123Subdomain`.
pub(crate) fn dns1123_subdomain_errs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(max_len(253));
    }
    if !s.split('.').all(matches_label_pattern) {
        out.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    out
}

/// The messages of `IsDNS1035Label`.
pub(crate) fn dns1035_label_errs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len(63));
    }
    if !matches_label_pattern(s) || !s.as_bytes()[0].is_ascii_lowercase() {
        out.push(DNS1035_LABEL_MSG.to_string());
    }
    out
}

/// One `field.Invalid(path, value, msg)` per message, the value a Go string.
pub(crate) fn invalid_each(
    errs: &mut Vec<FieldError>,
    field: &str,
    value: &str,
    msgs: Vec<String>,
) {
    for m in msgs {
        errs.push(FieldError::invalid(field, &format!("{value:?}"), &m));
    }
}

/// `ValidateNonnegativeField` (apimachinery `api/validation/generic.go`).
pub(crate) fn nonnegative(errs: &mut Vec<FieldError>, field: &str, v: Option<&Value>) {
    if let Some(n) = v.and_then(Value::as_i64)
        && n < 0
    {
        errs.push(FieldError::invalid(
            field,
            &n.to_string(),
            "must be greater than or equal to 0",
        ));
    }
}

/// Validates `metadata.name` for a kind (apimachinery `api/validation/objectmeta.go`
/// `ValidateObjectMeta` with the kind's name function: `ValidateNamespaceName` (label),
/// `ValidateServiceName` (DNS-1035 label), `NameIsDNSSubdomain` for the rest;
/// `pkg/apis/batch/validation` `ValidateCronJobCreate` for the 52 characters).
pub fn validate_name(kind: &str, name: &str, errs: &mut Vec<FieldError>) {
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
        return;
    }
    let msgs = match kind {
        "Namespace" => dns1123_label_errs(name),
        "Service" => dns1035_label_errs(name),
        _ => dns1123_subdomain_errs(name),
    };
    invalid_each(errs, "metadata.name", name, msgs);
    if kind == "CronJob" && name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            &format!("{name:?}"),
            "must be no more than 52 characters",
        ));
    }
}

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// The qualified-name pattern `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The messages of `IsQualifiedName` (an optional subdomain prefix and `/`, then a name part
/// of at most 63 characters).
pub(crate) fn qualified_name_errs(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".into());
            } else {
                for m in dns1123_subdomain_errs(prefix) {
                    out.push(format!("prefix part {m}"));
                }
            }
            *name
        }
        _ => {
            out.push(format!("a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
            return out;
        }
    };
    if name.is_empty() {
        out.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        out.push(format!("name part {}", max_len(63)));
    }
    if !matches_qualified_pattern(name) {
        out.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    out
}

/// The messages of `IsValidLabelValue`.
pub(crate) fn label_value_errs(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if v.len() > 63 {
        out.push(max_len(63));
    }
    if !v.is_empty() && !matches_qualified_pattern(v) {
        out.push(LABEL_VALUE_MSG.to_string());
    }
    out
}

/// `ValidateLabels` (apimachinery `apis/meta/v1/validation/validation.go`): each key a
/// qualified name, each value a label value; both reported at the map's path.
pub(crate) fn validate_labels(
    field: &str,
    labels: &Map<String, Value>,
    errs: &mut Vec<FieldError>,
) {
    for (k, v) in labels {
        invalid_each(errs, field, k, qualified_name_errs(k));
        let val = v.as_str().unwrap_or("");
        invalid_each(errs, field, val, label_value_errs(val));
    }
}

/// The total size of all annotations, keys and values (`TotalAnnotationSizeLimitB`).
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// `ValidateAnnotations` (apimachinery `api/validation/objectmeta.go`): keys are qualified
/// names (case-insensitive) and all of them together hold at most 256 KiB.
fn validate_annotations(field: &str, annotations: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    let mut total = 0;
    for (k, v) in annotations {
        invalid_each(errs, field, k, qualified_name_errs(&k.to_lowercase()));
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        errs.push(FieldError::too_long_bytes(field, ANNOTATIONS_MAX_BYTES));
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

fn restart_always(field: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let rp = spec
        .and_then(|s| s.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "Always" {
        errs.push(FieldError::not_supported(field, rp, &["Always"]));
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

/// `ValidateObjectMeta` of a pod template's metadata (`ValidatePodTemplateSpec`).
fn validate_template_meta(at: &str, tmpl: Option<&Value>, errs: &mut Vec<FieldError>) {
    let md = tmpl.and_then(|t| t.get("metadata"));
    if let Some(Value::Object(l)) = md.and_then(|m| m.get("labels")) {
        validate_labels(&format!("{at}.metadata.labels"), l, errs);
    }
    if let Some(Value::Object(a)) = md.and_then(|m| m.get("annotations")) {
        validate_annotations(&format!("{at}.metadata.annotations"), a, errs);
    }
}

/// The selector of a Deployment, StatefulSet or Job: required, not empty, a valid selector
/// that matches the template's labels (`ValidateDeploymentSpec`, `ValidateStatefulSetSpec`,
/// `validateJobSpec`, `ValidatePodTemplateSpecForReplicaSet`).
fn validate_selector(obj: &Value, what: &str, errs: &mut Vec<FieldError>) {
    let sel = obj.ptr("/spec/selector").filter(|s| !s.is_null());
    let tmpl_labels = obj.ptr("/spec/template/metadata/labels");
    let Some(sel) = sel else {
        errs.push(FieldError::required("spec.selector", ""));
        return;
    };
    networking::validate_label_selector("spec.selector", Some(sel), errs);
    let empty = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
    if empty {
        if !what.is_empty() {
            errs.push(FieldError::invalid(
                "spec.selector",
                &go_label_selector(Some(sel)),
                &format!("empty selector is invalid for {what}"),
            ));
        }
    } else if !selector_matches(sel, tmpl_labels) {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            &go_string_map(tmpl_labels),
            "`selector` does not match template `labels`",
        ));
    }
}

/// `ValidateDeploymentSpec` (`pkg/apis/apps/validation/validation.go`).
fn validate_deployment(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec");
    nonnegative(errs, "spec.replicas", obj.ptr("/spec/replicas"));
    validate_selector(obj, "deployment", errs);
    validate_template_meta("spec.template", obj.ptr("/spec/template"), errs);
    pod::validate_pod_spec("spec.template.spec", obj.ptr("/spec/template/spec"), errs);
    restart_always(
        "spec.template.spec.restartPolicy",
        obj.ptr("/spec/template/spec"),
        errs,
    );
    let Some(spec) = spec else { return };
    match spec.ptr("/strategy/type").and_then(Value::as_str) {
        Some("Recreate")
            if spec
                .ptr("/strategy/rollingUpdate")
                .is_some_and(|r| !r.is_null()) =>
        {
            errs.push(FieldError::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ));
        }
        Some("RollingUpdate") => {
            let zero = |k: &str| match spec.ptr(&format!("/strategy/rollingUpdate/{k}")) {
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s == "0%",
                _ => false,
            };
            if zero("maxUnavailable") && zero("maxSurge") {
                let rendered = match spec.ptr("/strategy/rollingUpdate/maxUnavailable") {
                    Some(Value::String(s)) => {
                        format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{s:?}}}")
                    }
                    _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".into(),
                };
                errs.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    &rendered,
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        Some("Recreate") | None => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.strategy.type",
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    nonnegative(
        errs,
        "spec.revisionHistoryLimit",
        spec.get("revisionHistoryLimit"),
    );
    nonnegative(errs, "spec.minReadySeconds", spec.get("minReadySeconds"));
    if let Some(p) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if p <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                &p.to_string(),
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidateStatefulSetSpec`: like upstream, the pod template is checked only for its
/// selector match and restart policy (`ValidatePodTemplateSpecForStatefulSet`; the rest of
/// the pod spec is left to the pods).
fn validate_statefulset(obj: &Value, errs: &mut Vec<FieldError>) {
    nonnegative(errs, "spec.replicas", obj.ptr("/spec/replicas"));
    validate_selector(obj, "statefulset", errs);
    restart_always(
        "spec.template.spec.restartPolicy",
        obj.ptr("/spec/template/spec"),
        errs,
    );
    if let Some(p) = get_str(obj, &["spec", "podManagementPolicy"])
        && p != "OrderedReady"
        && p != "Parallel"
    {
        errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            &format!("{p:?}"),
            "must be 'OrderedReady' or 'Parallel'",
        ));
    }
    for (i, t) in obj
        .ptr("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        validate_pvc_spec(
            &format!("spec.volumeClaimTemplates[{i}].spec"),
            t.get("spec"),
            errs,
        );
    }
}

/// `ValidatePersistentVolumeClaimSpec`: access modes and a storage request.
fn validate_pvc_spec(at: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let modes = spec
        .and_then(|s| s.get("accessModes"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if modes.is_empty() {
        errs.push(FieldError::required(
            &format!("{at}.accessModes"),
            "at least 1 access mode is required",
        ));
    }
    let supported = [
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !supported.contains(&m) {
            errs.push(FieldError::not_supported(
                &format!("{at}.accessModes"),
                m,
                &supported,
            ));
        }
    }
    if spec
        .and_then(|s| s.ptr("/resources/requests/storage"))
        .is_none()
    {
        errs.push(FieldError::required(
            &format!("{at}.resources[storage]"),
            "",
        ));
    }
}

/// `validateJobSpec` at `at` (`spec` or `spec.jobTemplate.spec`).
fn validate_job_spec(at: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    for k in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
    ] {
        nonnegative(errs, &format!("{at}.{k}"), spec.and_then(|s| s.get(k)));
    }
    let tmpl = spec.and_then(|s| s.get("template"));
    validate_template_meta(&format!("{at}.template"), tmpl, errs);
    pod::validate_pod_spec(
        &format!("{at}.template.spec"),
        tmpl.and_then(|t| t.get("spec")),
        errs,
    );
    validate_restart_policy(
        &format!("{at}.template.spec.restartPolicy"),
        tmpl.and_then(|t| t.get("spec")),
        errs,
    );
}

/// `validateCronJobSpec` (`pkg/apis/batch/validation/validation.go`).
fn validate_cronjob(obj: &Value, errs: &mut Vec<FieldError>) {
    match get_str(obj, &["spec", "schedule"]).filter(|s| !s.is_empty()) {
        None => errs.push(FieldError::required("spec.schedule", "")),
        Some(schedule) => {
            let rendered = format!("{schedule:?}");
            if let Err(e) = cron::parse_standard(schedule) {
                errs.push(FieldError::invalid("spec.schedule", &rendered, &e));
            }
            if schedule.contains("TZ") {
                errs.push(FieldError::invalid(
                    "spec.schedule",
                    &rendered,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    pod::one_of(
        errs,
        "spec.concurrencyPolicy",
        get_str(obj, &["spec", "concurrencyPolicy"]),
        &["Allow", "Forbid", "Replace"],
    );
    for k in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        nonnegative(errs, &format!("spec.{k}"), obj.ptr(&format!("/spec/{k}")));
    }
    validate_job_spec(
        "spec.jobTemplate.spec",
        obj.ptr("/spec/jobTemplate/spec"),
        errs,
    );
}

/// `ValidateService`: ports (names, numbers, protocols, target ports, no duplicates) and the
/// selector.
fn validate_service(obj: &Value, errs: &mut Vec<FieldError>) {
    let ty = get_str(obj, &["spec", "type"]).unwrap_or("ClusterIP");
    pod::one_of(
        errs,
        "spec.type",
        Some(ty),
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
    );
    if ty == "ExternalName" {
        let ext = get_str(obj, &["spec", "externalName"]).unwrap_or("");
        if ext.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        }
    }
    let headless = get_str(obj, &["spec", "clusterIP"]) == Some("None");
    let ports = obj
        .ptr("/spec/ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if ty != "ExternalName" && !headless && ports.is_empty() {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut seen: Vec<(i64, &str)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&format!("{at}.name"), ""));
        } else if !name.is_empty() {
            invalid_each(errs, &format!("{at}.name"), name, dns1123_label_errs(name));
            if names.contains(&name) {
                errs.push(FieldError::duplicate(
                    &format!("{at}.name"),
                    &format!("{name:?}"),
                ));
            } else {
                names.push(name);
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        for m in pod::port_num_errs(port) {
            errs.push(FieldError::invalid(
                &format!("{at}.port"),
                &port.to_string(),
                &m,
            ));
        }
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        pod::one_of(
            errs,
            &format!("{at}.protocol"),
            Some(proto),
            &["SCTP", "TCP", "UDP"],
        );
        pod::port_num_or_name(errs, &format!("{at}.targetPort"), p.get("targetPort"));
        if seen.contains(&(port, proto)) {
            errs.push(FieldError::duplicate(
                &at,
                &format!("core.ServicePort{{Name:\"\", Protocol:{proto:?}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"),
            ));
        } else {
            seen.push((port, proto));
        }
    }
    if ty != "ExternalName"
        && let Some(Value::Object(sel)) = obj.ptr("/spec/selector")
    {
        validate_labels("spec.selector", sel, errs);
    }
}

/// `ValidateConfigMap` and `ValidateSecret`: keys are config keys; a ConfigMap key is not in
/// both `data` and `binaryData`; a TLS Secret has its certificate and key.
fn validate_config_data(kind: &str, obj: &Value, errs: &mut Vec<FieldError>) {
    for field in ["data", "binaryData"] {
        if let Some(Value::Object(m)) = obj.get(field) {
            for k in m.keys() {
                invalid_each(errs, &format!("{field}[{k}]"), k, pod::config_key_errs(k));
                if kind == "ConfigMap"
                    && field == "binaryData"
                    && obj.ptr("/data").and_then(|d| d.get(k)).is_some()
                {
                    errs.push(FieldError::invalid(
                        &format!("data[{k}]"),
                        &format!("{k:?}"),
                        "duplicate of key present in binaryData",
                    ));
                }
            }
        }
    }
    if kind == "Secret" && get_str(obj, &["type"]) == Some("kubernetes.io/tls") {
        for k in ["tls.crt", "tls.key"] {
            if obj.ptr("/data").and_then(|d| d.get(k)).is_none() {
                errs.push(FieldError::required(&format!("data[{k}]"), ""));
            }
        }
    }
}

/// Validates an object on create or update (apimachinery `api/validation/objectmeta.go`
/// `ValidateObjectMeta`; `pkg/apis/{core,apps,batch,networking}/validation/validation.go`).
pub fn validate(kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = get_str(obj, &["metadata", "name"]).unwrap_or("");
    validate_name(kind, name, &mut errs);
    if let Some(Value::Object(l)) = obj.ptr("/metadata/labels") {
        validate_labels("metadata.labels", l, &mut errs);
    }
    if let Some(Value::Object(a)) = obj.ptr("/metadata/annotations") {
        validate_annotations("metadata.annotations", a, &mut errs);
    }
    match kind {
        "Deployment" => validate_deployment(obj, &mut errs),
        "StatefulSet" => validate_statefulset(obj, &mut errs),
        "Pod" => pod::validate_pod_spec("spec", obj.get("spec"), &mut errs),
        "Job" => {
            validate_selector(obj, "", &mut errs);
            validate_job_spec("spec", obj.get("spec"), &mut errs);
        }
        "CronJob" => validate_cronjob(obj, &mut errs),
        "Service" => validate_service(obj, &mut errs),
        "Ingress" => networking::validate_ingress(obj, &mut errs),
        "NetworkPolicy" => networking::validate_network_policy(obj, &mut errs),
        "ConfigMap" | "Secret" => validate_config_data(kind, obj, &mut errs),
        "PersistentVolumeClaim" => validate_pvc_spec("spec", obj.get("spec"), &mut errs),
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
mod rules;

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
        assert_eq!(dns1123_label_errs(&long), vec![max_len(63)]);
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
