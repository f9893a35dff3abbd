//! Schema conformance of request bodies: unknown fields and type errors, found by decoding into
//! the k8s-openapi types and comparing (the `fieldValidation` of `handlers/patch.go` and
//! `create.go`; apply schema errors as `managedfields/internal/structuredmerge.go` reports them).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a body check found.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Unknown field paths as `spec.foo` (dotted, list items as `[i]`).
    pub unknown: Vec<String>,
    /// Decode error (wrong type), if any.
    pub type_error: Option<String>,
}

fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let t: T = T::deserialize(v).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

/// Whether any quantity map holds a JSON number (then a normalised copy is needed).
fn has_numeric_quantity(v: &Value, in_quantity_map: bool) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, c)| {
            let q = matches!(
                k.as_str(),
                "limits" | "requests" | "capacity" | "allocatable" | "overhead" | "hard"
            );
            (in_quantity_map && c.is_number()) || has_numeric_quantity(c, q)
        }),
        Value::Array(a) => a.iter().any(|c| has_numeric_quantity(c, false)),
        _ => false,
    }
}

fn typed_roundtrip(kind: &str, v: &Value) -> Option<Result<Value, String>> {
    use k8s_openapi::api::{apps, batch, coordination, core, networking, rbac};
    Some(match kind {
        "Namespace" => roundtrip::<core::v1::Namespace>(v),
        "ConfigMap" => roundtrip::<core::v1::ConfigMap>(v),
        "Secret" => roundtrip::<core::v1::Secret>(v),
        "ServiceAccount" => roundtrip::<core::v1::ServiceAccount>(v),
        "Pod" => roundtrip::<core::v1::Pod>(v),
        "Event" => roundtrip::<core::v1::Event>(v),
        "Service" => roundtrip::<core::v1::Service>(v),
        "PersistentVolumeClaim" => roundtrip::<core::v1::PersistentVolumeClaim>(v),
        "Deployment" => roundtrip::<apps::v1::Deployment>(v),
        "StatefulSet" => roundtrip::<apps::v1::StatefulSet>(v),
        "Job" => roundtrip::<batch::v1::Job>(v),
        "CronJob" => roundtrip::<batch::v1::CronJob>(v),
        "Ingress" => roundtrip::<networking::v1::Ingress>(v),
        "NetworkPolicy" => roundtrip::<networking::v1::NetworkPolicy>(v),
        "Lease" => roundtrip::<coordination::v1::Lease>(v),
        "ClusterRole" => roundtrip::<rbac::v1::ClusterRole>(v),
        "ClusterRoleBinding" => roundtrip::<rbac::v1::ClusterRoleBinding>(v),
        _ => return None,
    })
}

/// Quantities may be sent as JSON numbers; the typed decoder wants strings.
fn normalise_numbers(v: &mut Value, in_quantity_map: bool) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                let q = matches!(
                    k.as_str(),
                    "limits" | "requests" | "capacity" | "allocatable" | "overhead" | "hard"
                );
                if in_quantity_map && c.is_number() {
                    *c = Value::String(c.to_string());
                } else {
                    normalise_numbers(c, q);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| normalise_numbers(c, false)),
        _ => {}
    }
}

/// One step of the path to a field, rendered only when the field is unknown.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The dotted path of `steps`, list items as `[i]` (`spec.containers[0].bar`).
fn render(steps: &[Step]) -> String {
    let mut p = String::new();
    for s in steps {
        match s {
            Step::Key(k) => {
                if !p.is_empty() {
                    p.push('.');
                }
                p.push_str(k);
            }
            Step::Index(i) => p.push_str(&format!("[{i}]")),
        }
    }
    p
}

fn diff<'a>(input: &'a Value, typed: &Value, path: &mut Vec<Step<'a>>, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(tv) => {
                        path.push(Step::Key(k));
                        diff(v, tv, path, out);
                        path.pop();
                    }
                    None if v.is_null() => {}
                    None => {
                        path.push(Step::Key(k));
                        out.push(render(path));
                        path.pop();
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                path.push(Step::Index(i));
                diff(x, y, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Checks a body against the typed schema of `kind`.
pub fn check(kind: &str, body: &Value) -> Findings {
    let owned;
    let input = if has_numeric_quantity(body, false) {
        let mut c = body.clone();
        normalise_numbers(&mut c, false);
        owned = c;
        &owned
    } else {
        body
    };
    match typed_roundtrip(kind, input) {
        None => Findings::default(),
        Some(Err(e)) => Findings {
            unknown: Vec::new(),
            type_error: Some(e),
        },
        Some(Ok(typed)) => {
            let mut unknown = Vec::new();
            diff(input, &typed, &mut Vec::new(), &mut unknown);
            Findings {
                unknown,
                type_error: None,
            }
        }
    }
}

/// Removes unknown field paths (as returned by [`check`]) from a body.
pub fn drop_unknown(body: &mut Value, unknown: &[String]) {
    for p in unknown {
        remove_dotted(body, p);
    }
}

fn remove_dotted(v: &mut Value, path: &str) {
    let mut cur = v;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let (name, idxs) = match seg.find('[') {
            Some(p) => (&seg[..p], &seg[p..]),
            None => (*seg, ""),
        };
        let last = i == segs.len() - 1 && idxs.is_empty();
        if last {
            if let Value::Object(m) = cur {
                m.shift_remove(name);
            }
            return;
        }
        let Some(next) = cur.get_mut(name) else {
            return;
        };
        cur = next;
        for idx in idxs.split(['[', ']']).filter(|s| !s.is_empty()) {
            let Ok(n) = idx.parse::<usize>() else { return };
            let Some(next) = cur.get_mut(n) else { return };
            cur = next;
        }
        if i == segs.len() - 1 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Unknown fields are found with their dotted path. Upstream: apiserver `handlers/patch.go`;
    /// meta/v1 `validation.go` `ValidatePatchOptions`; managedfields `structuredmerge.go`;
    /// kubernetes#113482.
    #[test]
    fn unknown_field_detection() {
        let d = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
          "spec":{"foo":1,"template":{"spec":{"containers":[{"name":"a","image":"b","bar":true,
          "resources":{"limits":{"cpu":1}}}]}}}});
        let f = check("Deployment", &d);
        assert_eq!(
            f.unknown,
            vec!["spec.foo", "spec.template.spec.containers[0].bar"]
        );
        assert!(f.type_error.is_none());
        let mut d2 = d.clone();
        drop_unknown(&mut d2, &f.unknown);
        assert!(check("Deployment", &d2).unknown.is_empty());
    }
}
