//! Server-side printing: `meta.k8s.io/v1` Tables with the columns kubectl shows
//! (`pkg/printers/internalversion/printers.go`).

use crate::resources::ResourceDef;
use crate::util::{Pointer, parse_rfc3339};
use serde_json::{Value, json};

/// Content type of a Table answer.
pub const TABLE_CT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether the `Accept` header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .any(|p| p.contains("as=Table") && p.contains("g=meta.k8s.io") && p.contains("v=v1"))
}

/// `duration.HumanDuration` as kubectl prints ages.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", hours / 24 / 365)
}

fn age(obj: &Value) -> String {
    let now = chrono::Utc::now().timestamp();
    match obj
        .ptr("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
    {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn int_at(obj: &Value, p: &str) -> i64 {
    obj.ptr(p).and_then(Value::as_i64).unwrap_or(0)
}

fn s<'a>(obj: &'a Value, p: &str) -> &'a str {
    obj.ptr(p).and_then(Value::as_str).unwrap_or("")
}

fn len(obj: &Value, p: &str) -> i64 {
    match obj.ptr(p) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

fn column(name: &str, ty: &str) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": 0})
}

/// Extra `-o wide` columns (priority 1) and their cells.
fn wide(kind: &str, o: Option<&Value>) -> Vec<Value> {
    let pod = match kind {
        "Deployment" | "StatefulSet" | "Job" => "/spec/template/spec/containers",
        "CronJob" => "/spec/jobTemplate/spec/template/spec/containers",
        "Service" => {
            return match o {
                None => vec![
                    json!({"name":"Selector","type":"string","format":"","description":"","priority":1}),
                ],
                Some(o) => vec![json!(map_selector(o.ptr("/spec/selector")))],
            };
        }
        _ => return Vec::new(),
    };
    let with_selector = kind != "StatefulSet";
    match o {
        None => {
            let mut cols = vec!["Containers", "Images"];
            if with_selector {
                cols.push("Selector");
            }
            cols.into_iter()
                .map(
                    |n| json!({"name":n,"type":"string","format":"","description":"","priority":1}),
                )
                .collect()
        }
        Some(o) => {
            let cs = o
                .ptr(pod)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let names: Vec<&str> = cs
                .iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect();
            let images: Vec<&str> = cs
                .iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .collect();
            let mut out = vec![json!(names.join(",")), json!(images.join(","))];
            if with_selector {
                let sel = if kind == "CronJob" {
                    "<none>".to_string()
                } else {
                    map_selector(o.ptr("/spec/selector/matchLabels"))
                };
                out.push(json!(sel));
            }
            out
        }
    }
}

fn map_selector(m: Option<&Value>) -> String {
    m.and_then(Value::as_object)
        .map(|m| {
            let mut kv: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            kv.sort();
            kv.join(",")
        })
        .filter(|x| !x.is_empty())
        .unwrap_or_else(|| "<none>".into())
}

fn columns(kind: &str) -> Vec<Value> {
    let mut cols = base_columns(kind);
    cols.extend(wide(kind, None));
    cols
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let mut c = base_cells(kind, o);
    c.extend(wide(kind, Some(o)));
    c
}

fn base_columns(kind: &str) -> Vec<Value> {
    let c = |specs: &[(&str, &str)]| specs.iter().map(|(n, t)| column(n, t)).collect();
    match kind {
        "Namespace" => c(&[("Name", "string"), ("Status", "string"), ("Age", "string")]),
        "Pod" => c(&[
            ("Name", "string"),
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
            ("Age", "string"),
        ]),
        "Event" => c(&[
            ("Last Seen", "string"),
            ("Type", "string"),
            ("Reason", "string"),
            ("Object", "string"),
            ("Message", "string"),
        ]),
        "ConfigMap" => c(&[("Name", "string"), ("Data", "string"), ("Age", "string")]),
        "Secret" => c(&[
            ("Name", "string"),
            ("Type", "string"),
            ("Data", "string"),
            ("Age", "string"),
        ]),
        "ServiceAccount" => c(&[("Name", "string"), ("Secrets", "string"), ("Age", "string")]),
        "Service" => c(&[
            ("Name", "string"),
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
            ("Age", "string"),
        ]),
        "PersistentVolumeClaim" => c(&[
            ("Name", "string"),
            ("Status", "string"),
            ("Volume", "string"),
            ("Capacity", "string"),
            ("Access Modes", "string"),
            ("StorageClass", "string"),
            ("VolumeAttributesClass", "string"),
            ("Age", "string"),
        ]),
        "Deployment" => c(&[
            ("Name", "string"),
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ]),
        "StatefulSet" => c(&[("Name", "string"), ("Ready", "string"), ("Age", "string")]),
        "Job" => c(&[
            ("Name", "string"),
            ("Status", "string"),
            ("Completions", "string"),
            ("Duration", "string"),
            ("Age", "string"),
        ]),
        "CronJob" => c(&[
            ("Name", "string"),
            ("Schedule", "string"),
            ("Timezone", "string"),
            ("Suspend", "boolean"),
            ("Active", "integer"),
            ("Last Schedule", "string"),
            ("Age", "string"),
        ]),
        "Ingress" => c(&[
            ("Name", "string"),
            ("Class", "string"),
            ("Hosts", "string"),
            ("Address", "string"),
            ("Ports", "string"),
            ("Age", "string"),
        ]),
        "NetworkPolicy" => c(&[
            ("Name", "string"),
            ("Pod-Selector", "string"),
            ("Age", "string"),
        ]),
        "Lease" => c(&[("Name", "string"), ("Holder", "string"), ("Age", "string")]),
        _ => c(&[("Name", "string"), ("Age", "string")]),
    }
}

fn base_cells(kind: &str, o: &Value) -> Vec<Value> {
    let name = json!(s(o, "/metadata/name"));
    let a = json!(age(o));
    match kind {
        "Namespace" => vec![name, json!(s(o, "/status/phase")), a],
        "Pod" => {
            let total = len(o, "/spec/containers");
            let ready = o
                .ptr("/status/containerStatuses")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter(|c| c["ready"] == json!(true)).count())
                .unwrap_or(0);
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(s(o, "/status/phase")),
                json!("0"),
                a,
            ]
        }
        "Event" => {
            let obj = format!(
                "{}/{}",
                s(o, "/involvedObject/kind").to_ascii_lowercase(),
                s(o, "/involvedObject/name")
            );
            vec![
                a,
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(obj),
                json!(s(o, "/message")),
            ]
        }
        "ConfigMap" => vec![name, json!(len(o, "/data") + len(o, "/binaryData")), a],
        "Secret" => vec![name, json!(s(o, "/type")), json!(len(o, "/data")), a],
        "ServiceAccount" => vec![name, json!(len(o, "/secrets")), a],
        "Service" => {
            let ports: Vec<String> = o
                .ptr("/spec/ports")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let np = p.get("nodePort").and_then(Value::as_i64);
                            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                            match np {
                                Some(n) => format!("{}:{n}/{proto}", int_at(p, "/port")),
                                None => format!("{}/{proto}", int_at(p, "/port")),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ports = if ports.is_empty() {
                "<none>".into()
            } else {
                ports.join(",")
            };
            let ext = match s(o, "/spec/type") {
                "ExternalName" => s(o, "/spec/externalName").to_string(),
                "LoadBalancer" => "<pending>".into(),
                _ => "<none>".into(),
            };
            let cip = match s(o, "/spec/clusterIP") {
                "" => "<none>",
                x => x,
            };
            vec![
                name,
                json!(s(o, "/spec/type")),
                json!(cip),
                json!(ext),
                json!(ports),
                a,
            ]
        }
        "PersistentVolumeClaim" => {
            let modes: Vec<&str> = o
                .ptr("/spec/accessModes")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(|m| match m {
                            "ReadWriteOnce" => "RWO",
                            "ReadOnlyMany" => "ROX",
                            "ReadWriteMany" => "RWX",
                            "ReadWriteOncePod" => "RWOP",
                            x => x,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let sc = match s(o, "/spec/storageClassName") {
                "" => "<unset>",
                x => x,
            };
            vec![
                name,
                json!(s(o, "/status/phase")),
                json!(s(o, "/spec/volumeName")),
                json!(""),
                json!(modes.join(",")),
                json!(sc),
                json!("<unset>"),
                a,
            ]
        }
        "Deployment" => {
            let want = o.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            vec![
                name,
                json!(format!("{}/{want}", int_at(o, "/status/readyReplicas"))),
                json!(int_at(o, "/status/updatedReplicas")),
                json!(int_at(o, "/status/availableReplicas")),
                a,
            ]
        }
        "StatefulSet" => {
            let want = o.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            vec![
                name,
                json!(format!("{}/{want}", int_at(o, "/status/readyReplicas"))),
                a,
            ]
        }
        "Job" => {
            let done = o
                .ptr("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Complete" && c["status"] == "True")
                });
            let status = if done { "Complete" } else { "Running" };
            let comp = o
                .ptr("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let dur = match (
                o.ptr("/status/startTime")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339),
                o.ptr("/status/completionTime")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339),
            ) {
                (Some(st), Some(ct)) => human_duration(ct - st),
                (Some(st), None) => human_duration(chrono::Utc::now().timestamp() - st),
                _ => String::new(),
            };
            vec![
                name,
                json!(status),
                json!(format!("{}/{comp}", int_at(o, "/status/succeeded"))),
                json!(dur),
                a,
            ]
        }
        "CronJob" => {
            let tz = match s(o, "/spec/timeZone") {
                "" => "<none>",
                x => x,
            };
            let last = o
                .ptr("/status/lastScheduleTime")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
                .map(|t| human_duration(chrono::Utc::now().timestamp() - t))
                .unwrap_or_else(|| "<none>".into());
            vec![
                name,
                json!(s(o, "/spec/schedule")),
                json!(tz),
                json!(
                    o.ptr("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                ),
                json!(len(o, "/status/active")),
                json!(last),
                a,
            ]
        }
        "Ingress" => {
            let class = match s(o, "/spec/ingressClassName") {
                "" => "<none>",
                x => x,
            };
            let hosts: Vec<&str> = o
                .ptr("/spec/rules")
                .and_then(Value::as_array)
                .map(|rs| {
                    rs.iter()
                        .map(|r| r.get("host").and_then(Value::as_str).unwrap_or("*"))
                        .collect()
                })
                .unwrap_or_default();
            let hosts = if hosts.is_empty() {
                "*".to_string()
            } else {
                hosts.join(",")
            };
            let ports = if len(o, "/spec/tls") > 0 {
                "80, 443"
            } else {
                "80"
            };
            vec![name, json!(class), json!(hosts), json!(""), json!(ports), a]
        }
        "NetworkPolicy" => {
            let sel = o
                .ptr("/spec/podSelector/matchLabels")
                .and_then(Value::as_object)
                .map(|m| {
                    let mut kv: Vec<String> = m
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect();
                    kv.sort();
                    kv.join(",")
                })
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| "<none>".into());
            vec![name, json!(sel), a]
        }
        "Lease" => vec![name, json!(s(o, "/spec/holderIdentity")), a],
        _ => vec![name, a],
    }
}

/// Builds a Table for objects of one resource (meta/v1 `Table`;
/// `pkg/printers/internalversion/printers.go`); rows carry PartialObjectMetadata.
pub fn table(res: &ResourceDef, rv: u64, objects: &[Value]) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({"cells": cells(res.kind, o),
                   "object": {"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
                              "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({}))}})
        })
        .collect();
    json!({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion": rv.to_string()},
           "columnDefinitions": columns(res.kind), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::format_rfc3339;

    /// Pod rows as kubectl shows them.
    /// Upstream: meta/v1 `Table`; `pkg/printers/internalversion/printers.go`.
    #[test]
    fn pod_columns() {
        let res = crate::resources::by_kind("Pod").expect("pod resource");
        let pod = serde_json::json!({"metadata":{"name":"p","creationTimestamp":"2025-01-01T00:00:00Z"},
            "spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Pending"}});
        let t = table(res, 7, &[pod]);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec!["Name", "Ready", "Status", "Restarts", "Age"]);
        assert_eq!(t["rows"][0]["cells"][1], serde_json::json!("0/2"));
        assert_eq!(t["metadata"]["resourceVersion"], serde_json::json!("7"));
    }

    /// Ages as kubectl prints them.
    /// Upstream: meta/v1 `Table`; `pkg/printers/internalversion/printers.go`.
    #[test]
    fn ages_as_kubectl_prints_them() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(5 * 3600 + 600), "5h10m");
        assert_eq!(human_duration(3 * 86_400), "3d");
        assert_eq!(
            format_rfc3339(1_735_689_600)
                .as_deref()
                .and_then(parse_rfc3339),
            Some(1_735_689_600)
        );
    }
}
