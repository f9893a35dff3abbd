//! Ingress and NetworkPolicy validation (`pkg/apis/networking/validation/validation.go`) and
//! the label selectors they carry (apimachinery `apis/meta/v1/validation/validation.go`
//! `ValidateLabelSelector`).

use super::pod::{one_of, port_name_errs, port_num_errs};
use super::{dns1035_label_errs, dns1123_subdomain_errs, invalid_each, validate_labels};
use crate::status::FieldError;
use crate::util::Pointer;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn arr<'a>(v: Option<&'a Value>, k: &str) -> &'a [Value] {
    v.and_then(|v| v.get(k))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `IsWildcardDNS1123Subdomain`: `*.` followed by a subdomain.
fn wildcard_errs(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    if host.len() > 253 {
        out.push(super::max_len(253));
    }
    let ok = host.strip_prefix("*.").is_some_and(super::is_subdomain);
    if !ok {
        out.push("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    out
}

fn host_errs(host: &str) -> Vec<String> {
    if host.contains('*') {
        wildcard_errs(host)
    } else {
        dns1123_subdomain_errs(host)
    }
}

/// `ValidateLabelSelector`: matchLabels as labels, each requirement's operator and values.
pub(crate) fn validate_label_selector(at: &str, sel: Option<&Value>, errs: &mut Vec<FieldError>) {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return;
    };
    if let Some(Value::Object(ml)) = sel.get("matchLabels") {
        validate_labels(&format!("{at}.matchLabels"), ml, errs);
    }
    for (i, r) in arr(Some(sel), "matchExpressions").iter().enumerate() {
        let ip = format!("{at}.matchExpressions[{i}]");
        let values = arr(Some(r), "values");
        match s(r, "operator").unwrap_or("") {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                &format!("{ip}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                &format!("{ip}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(FieldError::invalid(
                &format!("{ip}.operator"),
                &format!("{op:?}"),
                "not a valid selector operator",
            )),
        }
        let key = s(r, "key").unwrap_or("");
        invalid_each(
            errs,
            &format!("{ip}.key"),
            key,
            super::qualified_name_errs(key),
        );
    }
}

/// `ValidateIngressSpec`: rules or a default backend, hosts, paths, backends and TLS.
pub(crate) fn validate_ingress(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec");
    let rules = arr(spec, "rules");
    let default_backend = spec
        .and_then(|s| s.get("defaultBackend"))
        .filter(|b| !b.is_null());
    if rules.is_empty() && default_backend.is_none() {
        errs.push(FieldError::invalid(
            "spec",
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        validate_backend("spec.defaultBackend", b, errs);
    }
    if let Some(class) = spec
        .and_then(|s| s.get("ingressClassName"))
        .and_then(Value::as_str)
    {
        invalid_each(
            errs,
            "spec.ingressClassName",
            class,
            dns1123_subdomain_errs(class),
        );
    }
    for (i, r) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        if let Some(host) = s(r, "host").filter(|h| !h.is_empty()) {
            if host.parse::<std::net::IpAddr>().is_ok() {
                errs.push(FieldError::invalid(
                    &format!("{at}.host"),
                    &format!("{host:?}"),
                    "must be a DNS name, not an IP address",
                ));
            }
            invalid_each(errs, &format!("{at}.host"), host, host_errs(host));
        }
        let Some(http) = r.get("http").filter(|h| !h.is_null()) else {
            continue;
        };
        let paths = arr(Some(http), "paths");
        if paths.is_empty() {
            errs.push(FieldError::required(&format!("{at}.http.paths"), ""));
        }
        for (j, p) in paths.iter().enumerate() {
            let pp = format!("{at}.http.paths[{j}]");
            // Without a pathType the path's backend is not looked at (`validateHTTPIngressPath`).
            if validate_path(&pp, p, errs) {
                let empty = Value::Object(Default::default());
                let backend = p.get("backend").filter(|b| !b.is_null()).unwrap_or(&empty);
                validate_backend(&format!("{pp}.backend"), backend, errs);
            }
        }
    }
    for (i, t) in arr(spec, "tls").iter().enumerate() {
        for (j, h) in arr(Some(t), "hosts").iter().enumerate() {
            let h = h.as_str().unwrap_or("");
            invalid_each(errs, &format!("spec.tls[{i}].hosts[{j}]"), h, host_errs(h));
        }
        if let Some(name) = s(t, "secretName").filter(|n| !n.is_empty()) {
            invalid_each(
                errs,
                &format!("spec.tls[{i}].secretName"),
                name,
                dns1123_subdomain_errs(name),
            );
        }
    }
}

/// `validateHTTPIngressPath`: a supported pathType; absolute, clean paths for Exact and Prefix.
/// Returns whether the path has a pathType (then its backend is validated too).
fn validate_path(at: &str, p: &Value, errs: &mut Vec<FieldError>) -> bool {
    let path = s(p, "path").unwrap_or("");
    let Some(ty) = s(p, "pathType").filter(|t| !t.is_empty()) else {
        errs.push(FieldError::required(
            &format!("{at}.pathType"),
            "pathType must be specified",
        ));
        return false;
    };
    let field = format!("{at}.path");
    let bad = |detail: &str| FieldError::invalid(&field, &format!("{path:?}"), detail);
    match ty {
        "Exact" | "Prefix" => {
            if !path.starts_with('/') {
                errs.push(bad("must be an absolute path"));
            }
            for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                if path.contains(seq) {
                    errs.push(bad(&format!("must not contain '{seq}'")));
                }
            }
            for suffix in ["/..", "/."] {
                if path.ends_with(suffix) {
                    errs.push(bad(&format!("cannot end with '{suffix}'")));
                }
            }
        }
        "ImplementationSpecific" => {
            if !path.is_empty() && !path.starts_with('/') {
                errs.push(bad("must be an absolute path"));
            }
        }
        other => errs.push(FieldError::not_supported(
            &format!("{at}.pathType"),
            other,
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    true
}

/// `validateIngressBackend`: a Service (DNS-1035 name, a port by name or number) or a resource;
/// the errors about the port's presence are reported at the backend's path, as upstream does.
fn validate_backend(at: &str, b: &Value, errs: &mut Vec<FieldError>) {
    let svc = b.get("service").filter(|v| !v.is_null());
    let resource = b.get("resource").filter(|v| !v.is_null());
    match (svc, resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            at,
            "\"\"",
            "cannot set both resource and service backends",
        )),
        (None, None) => errs.push(FieldError::invalid(
            at,
            "\"\"",
            "resource or service backend is required",
        )),
        (None, Some(_)) => {}
        (Some(svc), None) => {
            let name = s(svc, "name").unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(&format!("{at}.service.name"), ""));
            } else {
                invalid_each(
                    errs,
                    &format!("{at}.service.name"),
                    name,
                    dns1035_label_errs(name),
                );
            }
            let port = svc.get("port");
            let pname = port.and_then(|p| s(p, "name")).filter(|n| !n.is_empty());
            let pnum = port
                .and_then(|p| p.get("number"))
                .and_then(Value::as_i64)
                .filter(|n| *n != 0);
            let pp = format!("{at}.service.port");
            match (pname, pnum) {
                (Some(_), Some(_)) => errs.push(FieldError::invalid(
                    at,
                    "\"\"",
                    "cannot set both port name & port number",
                )),
                (Some(n), None) => invalid_each(errs, &format!("{pp}.name"), n, port_name_errs(n)),
                (None, Some(n)) => {
                    for m in port_num_errs(n) {
                        errs.push(FieldError::invalid(
                            &format!("{pp}.number"),
                            &n.to_string(),
                            &m,
                        ));
                    }
                }
                (None, None) => {
                    errs.push(FieldError::required(at, "port name or number is required"))
                }
            }
        }
    }
}

/// `ValidateNetworkPolicySpec`: the pod selector, each rule's ports and peers, policy types.
pub(crate) fn validate_network_policy(obj: &Value, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec");
    validate_label_selector("spec.podSelector", obj.ptr("/spec/podSelector"), errs);
    for (dir, peers_key) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr(spec, dir).iter().enumerate() {
            let at = format!("spec.{dir}[{i}]");
            for (j, p) in arr(Some(rule), "ports").iter().enumerate() {
                validate_np_port(&format!("{at}.ports[{j}]"), p, errs);
            }
            for (j, peer) in arr(Some(rule), peers_key).iter().enumerate() {
                validate_peer(&format!("{at}.{peers_key}[{j}]"), peer, errs);
            }
        }
    }
    let types = arr(spec, "policyTypes");
    if types.len() > 2 {
        errs.push(FieldError::invalid(
            "spec.policyTypes",
            &format!(
                "[]networking.PolicyType{{{}}}",
                types
                    .iter()
                    .map(|t| format!("{:?}", t.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "may not specify more than two policyTypes",
        ));
        return;
    }
    for (i, t) in types.iter().enumerate() {
        one_of(
            errs,
            &format!("spec.policyTypes[{i}]"),
            t.as_str(),
            &["Ingress", "Egress"],
        );
    }
}

/// `ValidateNetworkPolicyPort`.
fn validate_np_port(at: &str, p: &Value, errs: &mut Vec<FieldError>) {
    one_of(
        errs,
        &format!("{at}.protocol"),
        s(p, "protocol"),
        &["TCP", "UDP", "SCTP"],
    );
    let end = p.get("endPort").and_then(Value::as_i64);
    match p.get("port") {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for m in port_num_errs(n) {
                errs.push(FieldError::invalid(
                    &format!("{at}.port"),
                    &n.to_string(),
                    &m,
                ));
            }
            if let Some(e) = end {
                if e < n {
                    // Upstream reports the port's value at the endPort's path.
                    errs.push(FieldError::invalid(
                        &format!("{at}.endPort"),
                        &n.to_string(),
                        "must be greater than or equal to `port`",
                    ));
                }
                for m in port_num_errs(e) {
                    errs.push(FieldError::invalid(
                        &format!("{at}.endPort"),
                        &e.to_string(),
                        &m,
                    ));
                }
            }
        }
        Some(Value::String(name)) => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    &format!("{at}.endPort"),
                    &e.to_string(),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            invalid_each(errs, &format!("{at}.port"), name, port_name_errs(name));
        }
        _ => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    &format!("{at}.endPort"),
                    &e.to_string(),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

/// `ValidateNetworkPolicyPeer`: exactly one kind of peer; selectors; an IP block's CIDR.
fn validate_peer(at: &str, peer: &Value, errs: &mut Vec<FieldError>) {
    let has = |k: &str| peer.get(k).is_some_and(|v| !v.is_null());
    let mut n = 0;
    for k in ["podSelector", "namespaceSelector"] {
        if has(k) {
            n += 1;
            validate_label_selector(&format!("{at}.{k}"), peer.get(k), errs);
        }
    }
    if has("ipBlock") {
        n += 1;
        let cidr = peer
            .ptr("/ipBlock/cidr")
            .and_then(Value::as_str)
            .unwrap_or("");
        if cidr.is_empty() {
            errs.push(FieldError::required(&format!("{at}.ipBlock.cidr"), ""));
        } else if !is_cidr(cidr) {
            errs.push(FieldError::invalid(
                &format!("{at}.ipBlock.cidr"),
                &format!("{cidr:?}"),
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    if n == 0 {
        errs.push(FieldError::required(at, "must specify a peer"));
    } else if n > 1 && has("ipBlock") {
        errs.push(FieldError::forbidden(
            at,
            "may not specify both ipBlock and another peer",
        ));
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}
