//! Schema conformance of request bodies: unknown fields and type errors, found by decoding into
//! the k8s-openapi types and comparing (B22 fieldValidation, B47 apply schema errors).

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

mod probe;

/// Unknown fields of `v` as the type `T` sees them: decoded into `T`, and compared with what
/// `T` would encode back (`Err`: the decode error).
fn unknown_fields<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Vec<String>, String> {
    let t: T = T::deserialize(v).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    match probe::Marks::of(&t, v) {
        Ok(marks) => {
            if marks.is_descended(v) {
                report(v, &marks, &mut Vec::new(), &mut unknown);
            }
        }
        Err(probe::Fallback) => {
            let typed = serde_json::to_value(&t).map_err(|e| e.to_string())?;
            diff(v, &typed, &mut Vec::new(), &mut unknown);
        }
    }
    Ok(unknown)
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

/// Unknown fields of a body of `kind` (`None`: a kind without a typed schema here).
fn typed_unknown_fields(kind: &str, v: &Value) -> Option<Result<Vec<String>, String>> {
    use k8s_openapi::api::{apps, batch, core, networking};
    Some(match kind {
        "Namespace" => unknown_fields::<core::v1::Namespace>(v),
        "ConfigMap" => unknown_fields::<core::v1::ConfigMap>(v),
        "Secret" => unknown_fields::<core::v1::Secret>(v),
        "ServiceAccount" => unknown_fields::<core::v1::ServiceAccount>(v),
        "Pod" => unknown_fields::<core::v1::Pod>(v),
        "Event" => unknown_fields::<core::v1::Event>(v),
        "Service" => unknown_fields::<core::v1::Service>(v),
        "PersistentVolumeClaim" => unknown_fields::<core::v1::PersistentVolumeClaim>(v),
        "Deployment" => unknown_fields::<apps::v1::Deployment>(v),
        "StatefulSet" => unknown_fields::<apps::v1::StatefulSet>(v),
        "Job" => unknown_fields::<batch::v1::Job>(v),
        "CronJob" => unknown_fields::<batch::v1::CronJob>(v),
        "Ingress" => unknown_fields::<networking::v1::Ingress>(v),
        "NetworkPolicy" => unknown_fields::<networking::v1::NetworkPolicy>(v),
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

/// The fields of `input` that the typed object does not have, in the order of `input`: what
/// [`diff`] finds against the typed object's JSON, from the probe's marks.
fn report<'a>(
    input: &'a Value,
    marks: &probe::Marks,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<String>,
) {
    match input {
        Value::Object(a) => {
            for (k, v) in a {
                if marks.is_descended(v) {
                    path.push(Step::Key(k));
                    report(v, marks, path, out);
                    path.pop();
                } else if !v.is_null() && !marks.is_present(v) {
                    path.push(Step::Key(k));
                    out.push(render(path));
                    path.pop();
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                if marks.is_descended(x) {
                    path.push(Step::Index(i));
                    report(x, marks, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// The fields of `input` that `typed` (its typed round trip) does not have.
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
    match typed_unknown_fields(kind, input) {
        None => Findings::default(),
        Some(Err(e)) => Findings {
            unknown: Vec::new(),
            type_error: Some(e),
        },
        Some(Ok(unknown)) => Findings {
            unknown,
            type_error: None,
        },
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

    /// The check this module had before the probe: the typed object's JSON, then `diff`.
    fn reference_check(kind: &str, body: &Value) -> Findings {
        fn typed<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Vec<String>, String> {
            let t: T = T::deserialize(v).map_err(|e| e.to_string())?;
            let typed = serde_json::to_value(&t).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            diff(v, &typed, &mut Vec::new(), &mut out);
            Ok(out)
        }
        use k8s_openapi::api::{apps, batch, core, networking};
        let mut input = body.clone();
        normalise_numbers(&mut input, false);
        let r = match kind {
            "Namespace" => typed::<core::v1::Namespace>(&input),
            "ConfigMap" => typed::<core::v1::ConfigMap>(&input),
            "Secret" => typed::<core::v1::Secret>(&input),
            "ServiceAccount" => typed::<core::v1::ServiceAccount>(&input),
            "Pod" => typed::<core::v1::Pod>(&input),
            "Event" => typed::<core::v1::Event>(&input),
            "Service" => typed::<core::v1::Service>(&input),
            "PersistentVolumeClaim" => typed::<core::v1::PersistentVolumeClaim>(&input),
            "Deployment" => typed::<apps::v1::Deployment>(&input),
            "StatefulSet" => typed::<apps::v1::StatefulSet>(&input),
            "Job" => typed::<batch::v1::Job>(&input),
            "CronJob" => typed::<batch::v1::CronJob>(&input),
            "Ingress" => typed::<networking::v1::Ingress>(&input),
            "NetworkPolicy" => typed::<networking::v1::NetworkPolicy>(&input),
            _ => return Findings::default(),
        };
        match r {
            Ok(unknown) => Findings {
                unknown,
                type_error: None,
            },
            Err(e) => Findings {
                unknown: Vec::new(),
                type_error: Some(e),
            },
        }
    }

    /// Adds random fields, known and unknown, with random values (nulls, objects, lists, the
    /// wrong types) at random places of `v`.
    fn mutate(v: &mut Value, r: &mut crate::fieldpath::tests::Rng) {
        const KEYS: &[&str] = &[
            "foo",
            "name",
            "image",
            "ports",
            "labels",
            "containerPort",
            "spec",
            "metadata",
            "value",
            "env",
            "annotations",
            "resources",
            "limits",
            "fieldsV1",
            "managedFields",
            "x",
            "data",
            "replicas",
            "selector",
            "template",
            "containers",
            "protocol",
        ];
        match v {
            Value::Object(m) => {
                for c in m.values_mut() {
                    mutate(c, r);
                }
                if r.below(6) == 0 {
                    let k = KEYS[r.below(KEYS.len() as u64) as usize];
                    let value = crate::typed::tests::random_value(r, 2);
                    m.insert(k.into(), value);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| mutate(c, r)),
            _ => {}
        }
    }

    /// B22/B47: the probe finds the same unknown fields, in the same order, and the same
    /// decode errors as the typed object's JSON compared with the body did, on the golden
    /// manifests and on thousands of bodies with random fields added at random places.
    #[test]
    fn b47_unknown_fields_match_reference() {
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../golden");
        let mut bodies: Vec<(String, Value)> = Vec::new();
        for case in std::fs::read_dir(golden).into_iter().flatten().flatten() {
            let Ok(text) = std::fs::read_to_string(case.path().join("expected.yaml")) else {
                continue;
            };
            for doc in text.split("\n---") {
                if let Ok(obj) = serde_saphyr::from_str::<Value>(doc) {
                    let kind = obj["kind"].as_str().unwrap_or("").to_string();
                    bodies.push((kind, obj));
                }
            }
        }
        assert!(bodies.len() > 50, "only {} golden objects", bodies.len());
        for (kind, obj) in crate::typed::tests::edge_objects() {
            bodies.push((kind.to_string(), obj));
        }
        bodies.push((
            "Deployment".into(),
            json!({"metadata":{"name":"m","managedFields":[{"manager":"a","operation":"Apply",
              "apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"x":[1]}},"extra":1}]},
              "spec":{"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":1,"memory":"1Gi"}},
              "ports":[{"containerPort":"80"}]}]}}}}),
        ));
        let mut r = crate::fieldpath::tests::Rng(0xfeed_5eed_1234_4321);
        let (mut unknown, mut errors, mut checked) = (0, 0, 0);
        for (kind, obj) in &bodies {
            for round in 0..40 {
                let mut body = obj.clone();
                if round > 0 {
                    mutate(&mut body, &mut r);
                }
                let (new, old) = (check(kind, &body), reference_check(kind, &body));
                assert_eq!(new.unknown, old.unknown, "{kind} {body}");
                assert_eq!(new.type_error, old.type_error, "{kind} {body}");
                unknown += usize::from(!new.unknown.is_empty());
                errors += usize::from(new.type_error.is_some());
                checked += 1;
            }
        }
        assert!(
            unknown > checked / 4 && errors > checked / 20,
            "{checked} bodies, {unknown} with unknown fields, {errors} with errors"
        );
    }

    /// B22/B47: unknown fields are found with their dotted path.
    #[test]
    fn b47_unknown_field_detection() {
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
