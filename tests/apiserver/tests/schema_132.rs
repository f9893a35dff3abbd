//! test-apiserver's merge schema (`src/schema.rs`) checked against the Kubernetes 1.32 schema
//! for every field of every served kind: list type and keys, key defaults, atomic or granular
//! structs and maps. The 1.32 schema is `tests/smd-oracle/schema-1.32.json`, converted from the
//! JSON schemas of kubernetes-validate by `gen_schema.py` (kube-openapi `schemaconv` rules).

use serde_json::Value;
use std::collections::BTreeMap;
use test_apiserver::schema::{self, FieldType, StructType};

const ROOTS: [(&str, &str); 14] = [
    ("Namespace", "io.k8s.api.core.v1.Namespace"),
    ("ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
    ("Secret", "io.k8s.api.core.v1.Secret"),
    ("ServiceAccount", "io.k8s.api.core.v1.ServiceAccount"),
    ("Service", "io.k8s.api.core.v1.Service"),
    ("Pod", "io.k8s.api.core.v1.Pod"),
    ("Event", "io.k8s.api.core.v1.Event"),
    (
        "PersistentVolumeClaim",
        "io.k8s.api.core.v1.PersistentVolumeClaim",
    ),
    ("Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
    ("Job", "io.k8s.api.batch.v1.Job"),
    ("CronJob", "io.k8s.api.batch.v1.CronJob"),
    ("Ingress", "io.k8s.api.networking.v1.Ingress"),
    ("NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy"),
];

struct Walk<'a> {
    types: BTreeMap<&'a str, &'a Value>,
    fields: usize,
    mismatches: Vec<String>,
}

/// A type reference resolved to its atom (a named type's definition, or the inlined atom).
fn atom<'a>(w: &Walk<'a>, tr: &'a Value) -> &'a Value {
    match tr.get("namedType").and_then(Value::as_str) {
        Some(n) => w.types.get(n).copied().unwrap_or(tr),
        None => tr,
    }
}

fn relationship(v: &Value) -> &str {
    v.get("elementRelationship")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn describe(t: Option<FieldType>) -> String {
    match t {
        None => "undeclared".into(),
        Some(t) => format!("{t:?}"),
    }
}

impl<'a> Walk<'a> {
    fn check(&mut self, path: &str, tr: &'a Value, ours: Option<FieldType>) {
        self.fields += 1;
        let a = atom(self, tr);
        let bad = |w: &mut Walk, want: &str| {
            w.mismatches.push(format!(
                "{path}: 1.32 has {want}, test-apiserver {}",
                describe(ours)
            ));
        };
        if let Some(m) = a.get("map") {
            let fields = m.get("fields").and_then(Value::as_array);
            if relationship(m) == "atomic" {
                if ours != Some(FieldType::Atomic) {
                    bad(self, "an atomic struct or map");
                }
                return;
            }
            match fields {
                Some(fields) if !fields.is_empty() => {
                    let st = match ours {
                        None => StructType::Generic,
                        Some(FieldType::Struct(st)) => st,
                        _ => return bad(self, "a granular struct"),
                    };
                    for f in fields {
                        let name = f["name"].as_str().unwrap_or("");
                        let child = schema::field(st, name);
                        self.check(&format!("{path}.{name}"), &f["type"], child);
                    }
                }
                _ => {
                    let elem = atom(self, &m["elementType"]);
                    let scalar_elems = elem.get("scalar").is_some() && elem.get("map").is_none();
                    match ours {
                        Some(FieldType::FreeMap) => {}
                        // An undeclared object of scalars merges as a granular map of leaves.
                        None if scalar_elems => {}
                        _ => bad(self, "a granular map"),
                    }
                }
            }
        } else if let Some(l) = a.get("list") {
            let keys: Vec<&str> = l
                .get("keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match (relationship(l), ours) {
                ("atomic" | "", None | Some(FieldType::Atomic)) => {}
                ("associative", Some(FieldType::ListSet)) if keys.is_empty() => {}
                (
                    "associative",
                    Some(FieldType::ListMap {
                        keys: ours_keys,
                        elem,
                        atomic_elem,
                    }),
                ) if !keys.is_empty() => {
                    if ours_keys != keys.as_slice() {
                        return bad(self, &format!("a list map keyed by {keys:?}"));
                    }
                    let item = &l["elementType"];
                    let item_atom = atom(self, item);
                    for k in &keys {
                        let default = item_atom["map"]["fields"]
                            .as_array()
                            .and_then(|fs| fs.iter().find(|f| f["name"] == *k))
                            .and_then(|f| f.get("default"))
                            .and_then(Value::as_str);
                        if schema::key_default(ours_keys, k) != default {
                            self.mismatches.push(format!(
                                "{path}: key {k} defaults to {default:?} in 1.32, to {:?} in test-apiserver",
                                schema::key_default(ours_keys, k)
                            ));
                        }
                    }
                    let ours_item = if atomic_elem {
                        Some(FieldType::Atomic)
                    } else {
                        Some(FieldType::Struct(elem))
                    };
                    self.check(&format!("{path}[]"), item, ours_item);
                }
                ("associative", _) if keys.is_empty() => bad(self, "a set"),
                ("associative", _) => bad(self, &format!("a list map keyed by {keys:?}")),
                (r, _) => bad(self, &format!("a list ({r})")),
            }
        } else if ours.is_some() && ours != Some(FieldType::Atomic) {
            bad(self, "a scalar");
        }
    }
}

/// Every field of the served kinds has the merge type 1.32 gives it.
/// Upstream: the `+listType`, `+listMapKey`, `+mapType`, `+structType` markers of `k8s.io/api`
/// 1.32 as published in its OpenAPI schema; kube-openapi `pkg/schemaconv`.
#[test]
fn schema_tables_match_kubernetes_1_32() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../smd-oracle/schema-1.32.json");
    let text = std::fs::read_to_string(&path).expect("the 1.32 schema is checked in");
    let doc: Value = serde_json::from_str(&text).expect("the 1.32 schema is JSON");
    let mut w = Walk {
        types: doc["types"]
            .as_array()
            .expect("types")
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?, t)))
            .collect(),
        fields: 0,
        mismatches: Vec::new(),
    };
    for (kind, name) in ROOTS {
        let tr = serde_json::json!({ "namedType": name });
        let tr: &'static Value = Box::leak(Box::new(tr));
        w.check(kind, tr, Some(schema::root(kind)));
    }
    eprintln!("{} fields of {} kinds compared", w.fields, ROOTS.len());
    assert!(
        w.mismatches.is_empty(),
        "{} of {} fields differ from 1.32:\n{}",
        w.mismatches.len(),
        w.fields,
        w.mismatches.join("\n")
    );
}
