//! Pod spec validation as `pkg/apis/core/validation/validation.go` does it: containers and
//! their ports, environment, volume mounts, resources and probes; volumes; the pod-level
//! enumerations. Messages of `apimachinery/pkg/util/validation/validation.go`.

use super::{dns1123_label_errs, dns1123_subdomain_errs, invalid_each, max_len, nonnegative};
use crate::status::FieldError;
use serde_json::{Map, Value};

const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// The messages of `IsValidPortNum`.
pub(crate) fn port_num_errs(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".into()]
    }
}

/// The messages of `IsValidPortName` (an IANA_SVC_NAME).
pub(crate) fn port_name_errs(port: &str) -> Vec<String> {
    let mut out = Vec::new();
    if port.len() > 15 {
        out.push(max_len(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        out.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    }
    if port.starts_with('-') || port.ends_with('-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

/// `ValidatePortNumOrName`: a number in range or a valid port name.
pub(crate) fn port_num_or_name(errs: &mut Vec<FieldError>, field: &str, port: Option<&Value>) {
    match port {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for m in port_num_errs(n) {
                errs.push(FieldError::invalid(field, &n.to_string(), &m));
            }
        }
        Some(Value::String(s)) => invalid_each(errs, field, s, port_name_errs(s)),
        _ => {}
    }
}

/// The messages of `IsConfigMapKey`.
pub(crate) fn config_key_errs(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    if key.len() > 253 {
        out.push(max_len(253));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
    {
        out.push(CONFIG_KEY_MSG.into());
    }
    if key == "." {
        out.push("must not be '.'".into());
    } else if key == ".." {
        out.push("must not be '..'".into());
    } else if key.starts_with("..") {
        out.push("must not start with '..'".into());
    }
    out
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn arr<'a>(v: Option<&'a Value>, k: &str) -> &'a [Value] {
    v.and_then(|v| v.get(k))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `NotSupported` unless `value` (when set) is one of `allowed`.
pub(crate) fn one_of(
    errs: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    allowed: &[&str],
) {
    if let Some(v) = value
        && !allowed.contains(&v)
    {
        errs.push(FieldError::not_supported(field, v, allowed));
    }
}

/// `ValidatePodSpec` for the pod spec at `base` (`spec`, `spec.template.spec`, …); returns
/// nothing, pushes every error.
pub(crate) fn validate_pod_spec(base: &str, spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let volumes = validate_volumes(base, spec, errs);
    let mut names: Vec<&str> = Vec::new();
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&format!("{base}.containers"), ""));
    }
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        validate_container(
            &format!("{base}.initContainers[{i}]"),
            c,
            &volumes,
            &mut names,
            false,
            errs,
        );
    }
    for (i, c) in containers.iter().enumerate() {
        validate_container(
            &format!("{base}.containers[{i}]"),
            c,
            &volumes,
            &mut names,
            true,
            errs,
        );
    }
    let Some(spec) = spec else { return };
    one_of(
        errs,
        &format!("{base}.restartPolicy"),
        s(spec, "restartPolicy"),
        &["Always", "OnFailure", "Never"],
    );
    one_of(
        errs,
        &format!("{base}.dnsPolicy"),
        s(spec, "dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    );
    if let Some(sa) = s(spec, "serviceAccountName").filter(|n| !n.is_empty()) {
        invalid_each(
            errs,
            &format!("{base}.serviceAccountName"),
            sa,
            dns1123_subdomain_errs(sa),
        );
    }
    nonnegative(
        errs,
        &format!("{base}.terminationGracePeriodSeconds"),
        spec.get("terminationGracePeriodSeconds"),
    );
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `ValidateVolumes`: names (labels, unique) and exactly one source each; returns the names.
fn validate_volumes<'a>(
    base: &str,
    spec: Option<&'a Value>,
    errs: &mut Vec<FieldError>,
) -> Vec<&'a str> {
    let mut names = Vec::new();
    for (i, v) in arr(spec, "volumes").iter().enumerate() {
        let at = format!("{base}.volumes[{i}]");
        match s(v, "name").filter(|n| !n.is_empty()) {
            None => errs.push(FieldError::required(&format!("{at}.name"), "")),
            Some(n) => {
                invalid_each(errs, &format!("{at}.name"), n, dns1123_label_errs(n));
                if names.contains(&n) {
                    errs.push(FieldError::duplicate(
                        &format!("{at}.name"),
                        &format!("{n:?}"),
                    ));
                } else {
                    names.push(n);
                }
            }
        }
        let sources: Vec<&str> = VOLUME_SOURCES
            .iter()
            .copied()
            .filter(|k| v.get(*k).is_some_and(|x| !x.is_null()))
            .collect();
        match sources.as_slice() {
            [] => errs.push(FieldError::required(&at, "must specify a volume type")),
            [_, second, ..] => errs.push(FieldError::forbidden(
                &format!("{at}.{second}"),
                "may not specify more than 1 volume type",
            )),
            [one] => {
                let src = &v[*one];
                let fp = format!("{at}.{one}");
                match *one {
                    "secret" if s(src, "secretName").is_none_or(str::is_empty) => {
                        errs.push(FieldError::required(&format!("{fp}.secretName"), ""));
                    }
                    "configMap" if s(src, "name").is_none_or(str::is_empty) => {
                        errs.push(FieldError::required(&format!("{fp}.name"), ""));
                    }
                    "persistentVolumeClaim" if s(src, "claimName").is_none_or(str::is_empty) => {
                        errs.push(FieldError::required(&format!("{fp}.claimName"), ""));
                    }
                    _ => {}
                }
            }
        }
    }
    names
}

fn validate_container<'a>(
    at: &str,
    c: &'a Value,
    volumes: &[&str],
    names: &mut Vec<&'a str>,
    regular: bool,
    errs: &mut Vec<FieldError>,
) {
    match s(c, "name").filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(&format!("{at}.name"), "")),
        Some(n) => {
            invalid_each(errs, &format!("{at}.name"), n, dns1123_label_errs(n));
            if names.contains(&n) {
                errs.push(FieldError::duplicate(
                    &format!("{at}.name"),
                    &format!("{n:?}"),
                ));
            }
            names.push(n);
        }
    }
    if s(c, "image").is_none_or(str::is_empty) {
        errs.push(FieldError::required(&format!("{at}.image"), ""));
    }
    // The order of `validateContainerCommon`: ports, env, mounts, pull policy, resources.
    validate_ports(&format!("{at}.ports"), arr(Some(c), "ports"), errs);
    validate_env(&format!("{at}.env"), arr(Some(c), "env"), errs);
    validate_mounts(
        &format!("{at}.volumeMounts"),
        arr(Some(c), "volumeMounts"),
        volumes,
        errs,
    );
    one_of(
        errs,
        &format!("{at}.imagePullPolicy"),
        s(c, "imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
    );
    validate_resources(&format!("{at}.resources"), c.get("resources"), errs);
    if regular {
        for (probe, liveness_like) in [
            ("livenessProbe", true),
            ("readinessProbe", false),
            ("startupProbe", true),
        ] {
            if let Some(p) = c.get(probe).filter(|p| !p.is_null()) {
                validate_probe(&format!("{at}.{probe}"), p, liveness_like, errs);
            }
        }
    }
}

/// `validateContainerPorts`.
fn validate_ports(at: &str, ports: &[Value], errs: &mut Vec<FieldError>) {
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let ip = format!("{at}[{i}]");
        if let Some(n) = s(p, "name").filter(|n| !n.is_empty()) {
            let msgs = port_name_errs(n);
            if !msgs.is_empty() {
                invalid_each(errs, &format!("{ip}.name"), n, msgs);
            } else if names.contains(&n) {
                errs.push(FieldError::duplicate(
                    &format!("{ip}.name"),
                    &format!("{n:?}"),
                ));
            } else {
                names.push(n);
            }
        }
        match p.get("containerPort").and_then(Value::as_i64).unwrap_or(0) {
            0 => errs.push(FieldError::required(&format!("{ip}.containerPort"), "")),
            n => {
                for m in port_num_errs(n) {
                    errs.push(FieldError::invalid(
                        &format!("{ip}.containerPort"),
                        &n.to_string(),
                        &m,
                    ));
                }
            }
        }
        if let Some(h) = p
            .get("hostPort")
            .and_then(Value::as_i64)
            .filter(|h| *h != 0)
        {
            for m in port_num_errs(h) {
                errs.push(FieldError::invalid(
                    &format!("{ip}.hostPort"),
                    &h.to_string(),
                    &m,
                ));
            }
        }
        one_of(
            errs,
            &format!("{ip}.protocol"),
            s(p, "protocol"),
            &["SCTP", "TCP", "UDP"],
        );
    }
}

/// `ValidateEnv` with the relaxed names of 1.32 (`RelaxedEnvironmentVariableValidation`,
/// beta and on: `IsRelaxedEnvVarName`) and `validateEnvVarValueFrom`.
fn validate_env(at: &str, env: &[Value], errs: &mut Vec<FieldError>) {
    for (i, e) in env.iter().enumerate() {
        let ip = format!("{at}[{i}]");
        match s(e, "name").filter(|n| !n.is_empty()) {
            None => errs.push(FieldError::required(&format!("{ip}.name"), "")),
            Some(n) => {
                if !n.bytes().all(|c| (b' '..=b'~').contains(&c) && c != b'=') {
                    errs.push(FieldError::invalid(
                        &format!("{ip}.name"),
                        &format!("{n:?}"),
                        "a valid environment variable name must consist only of printable ASCII characters other than '='",
                    ));
                }
            }
        }
        let Some(from) = e.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let fp = format!("{ip}.valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ];
        let count = sources
            .iter()
            .filter(|k| from.get(**k).is_some_and(|x| !x.is_null()))
            .count();
        for key_ref in ["secretKeyRef", "configMapKeyRef"] {
            let Some(r) = from.get(key_ref).filter(|x| !x.is_null()) else {
                continue;
            };
            let name = s(r, "name").unwrap_or("");
            invalid_each(
                errs,
                &format!("{fp}.{key_ref}.name"),
                name,
                dns1123_subdomain_errs(name),
            );
            match s(r, "key").filter(|k| !k.is_empty()) {
                None => errs.push(FieldError::required(&format!("{fp}.{key_ref}.key"), "")),
                Some(k) => {
                    invalid_each(errs, &format!("{fp}.{key_ref}.key"), k, config_key_errs(k))
                }
            }
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                &fp,
                "\"\"",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if s(e, "value").is_some_and(|v| !v.is_empty()) {
            errs.push(FieldError::invalid(
                &fp,
                "\"\"",
                "may not be specified when `value` is not empty",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                &fp,
                "\"\"",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

/// `ValidateVolumeMounts`: a name that is one of the pod's volumes, a unique mount path.
fn validate_mounts(at: &str, mounts: &[Value], volumes: &[&str], errs: &mut Vec<FieldError>) {
    let mut paths: Vec<&str> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let ip = format!("{at}[{i}]");
        let name = s(m, "name").unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{ip}.name"), ""));
        }
        if !volumes.contains(&name) {
            errs.push(FieldError::not_found(
                &format!("{ip}.name"),
                &format!("{name:?}"),
            ));
        }
        let path = s(m, "mountPath").unwrap_or("");
        if path.is_empty() {
            errs.push(FieldError::required(&format!("{ip}.mountPath"), ""));
        }
        if paths.contains(&path) {
            errs.push(FieldError::invalid(
                &format!("{ip}.mountPath"),
                &format!("{path:?}"),
                "must be unique",
            ));
        }
        paths.push(path);
    }
}

/// A quantity's value as a float (`resource.Quantity`; enough to compare two of them).
pub(crate) fn quantity_value(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

fn quantity_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `IsOvercommitAllowed`: native resources (no domain, or a `kubernetes.io/` one) other than
/// huge pages may be requested below their limit; extended resources (`nvidia.com/gpu`) not.
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

/// `ValidateResourceRequirements`: quantities not negative, requests at most the limits, and
/// equal to them (with a limit set) for resources that may not be overcommitted.
fn validate_resources(at: &str, res: Option<&Value>, errs: &mut Vec<FieldError>) {
    let empty = Map::new();
    let map = |k: &str| {
        res.and_then(|r| r.get(k))
            .and_then(Value::as_object)
            .unwrap_or(&empty)
    };
    let (limits, requests) = (map("limits"), map("requests"));
    for (which, m) in [("limits", limits), ("requests", requests)] {
        for (name, q) in m {
            let text = quantity_text(q);
            if quantity_value(&text).is_some_and(|v| v < 0.0) {
                errs.push(FieldError::invalid(
                    &format!("{at}.{which}[{name}]"),
                    &format!("{text:?}"),
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    for (name, q) in requests {
        let Some(limit) = limits.get(name) else {
            if !overcommit_allowed(name) {
                errs.push(FieldError::required(
                    &format!("{at}.limits"),
                    "Limit must be set for non overcommitable resources",
                ));
            }
            continue;
        };
        let (rt, lt) = (quantity_text(q), quantity_text(limit));
        let values = (quantity_value(&rt), quantity_value(&lt));
        if !overcommit_allowed(name)
            && let (Some(r), Some(l)) = values
            && r != l
        {
            errs.push(FieldError::invalid(
                &format!("{at}.requests"),
                &format!("{rt:?}"),
                &format!("must be equal to {name} limit of {lt}"),
            ));
        } else if let (Some(r), Some(l)) = values
            && r > l
        {
            errs.push(FieldError::invalid(
                &format!("{at}.requests"),
                &format!("{rt:?}"),
                &format!("must be less than or equal to {name} limit of {lt}"),
            ));
        }
    }
}

/// `validateProbe` and `validateHandler`; liveness and startup probes need a success
/// threshold of 1 (`validateLivenessProbe`, `validateStartupProbe`).
fn validate_probe(at: &str, p: &Value, liveness_like: bool, errs: &mut Vec<FieldError>) {
    let handlers: Vec<&str> = ["exec", "httpGet", "tcpSocket", "grpc"]
        .into_iter()
        .filter(|k| p.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
    match handlers.as_slice() {
        [] => errs.push(FieldError::required(at, "must specify a handler type")),
        [_, second, ..] => errs.push(FieldError::forbidden(
            &format!("{at}.{second}"),
            "may not specify more than 1 handler type",
        )),
        ["httpGet"] => {
            let h = &p["httpGet"];
            if s(h, "path").is_none_or(str::is_empty) {
                errs.push(FieldError::required(&format!("{at}.httpGet.path"), ""));
            }
            port_num_or_name(errs, &format!("{at}.httpGet.port"), h.get("port"));
            one_of(
                errs,
                &format!("{at}.httpGet.scheme"),
                s(h, "scheme"),
                &["HTTP", "HTTPS"],
            );
        }
        ["tcpSocket"] => port_num_or_name(
            errs,
            &format!("{at}.tcpSocket.port"),
            p["tcpSocket"].get("port"),
        ),
        _ => {}
    }
    for k in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonnegative(errs, &format!("{at}.{k}"), p.get(k));
    }
    if let Some(t) = p
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        && t <= 0
    {
        errs.push(FieldError::invalid(
            &format!("{at}.terminationGracePeriodSeconds"),
            &t.to_string(),
            "must be greater than 0",
        ));
    }
    if liveness_like
        && let Some(n) = p.get("successThreshold").and_then(Value::as_i64)
        && n != 1
    {
        errs.push(FieldError::invalid(
            &format!("{at}.successThreshold"),
            &n.to_string(),
            "must be 1",
        ));
    }
}
