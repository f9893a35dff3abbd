//! Checks a rendered object against its k8s-openapi type: wrong types and fields the type
//! does not know are errors (k8s-openapi itself would silently drop unknown fields).

use serde::de::DeserializeOwned;
use serde_ignored::Path;
use serde_json::Value;

use crate::kind::Kind;

/// A field that does not fit the object's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Dotted path inside the object.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Checks `value` as an object of `kind`.
pub fn check(kind: Kind, value: &Value) -> Result<(), SchemaError> {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, core::v1 as core, networking::v1 as net,
    };
    match kind {
        Kind::Namespace => typed::<core::Namespace>(value),
        Kind::NetworkPolicy => typed::<net::NetworkPolicy>(value),
        Kind::Secret => typed::<core::Secret>(value),
        Kind::ConfigMap => typed::<core::ConfigMap>(value),
        Kind::Service => typed::<core::Service>(value),
        Kind::Deployment => typed::<apps::Deployment>(value),
        Kind::StatefulSet => typed::<apps::StatefulSet>(value),
        Kind::Job => typed::<batch::Job>(value),
        Kind::CronJob => typed::<batch::CronJob>(value),
        Kind::Ingress => typed::<net::Ingress>(value),
    }
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<(), SchemaError> {
    // Deserialize from the borrowed value, noting the first non-null field the type skips
    // (k8s-openapi's types read fields they do not know as `IgnoredAny`, silently). Tracking
    // the path of a wrong type costs a third of the check, so it is done only for an error.
    let mut unknown = None;
    let parsed = serde_ignored::deserialize::<_, _, T>(value, |path| {
        if unknown.is_none() {
            let mut field = String::new();
            if locate(value, &path, &mut field).is_none_or(|v| !v.is_null()) {
                unknown = Some(field);
            }
        }
    });
    match parsed {
        Ok(_) => match unknown {
            None => Ok(()),
            Some(field) => Err(SchemaError {
                field,
                message: "unknown field: the Kubernetes type has no such field".into(),
            }),
        },
        Err(plain) => Err(match serde_path_to_error::deserialize::<_, T>(value) {
            Err(e) => SchemaError {
                field: e.path().to_string(),
                message: e.into_inner().to_string(),
            },
            Ok(_) => SchemaError {
                field: String::new(),
                message: plain.to_string(),
            },
        }),
    }
}

/// Writes `path` to `out` as a field path (dotted keys, `[i]` for items) and returns what it
/// leads to in `root`.
fn locate<'a>(root: &'a Value, path: &Path<'_>, out: &mut String) -> Option<&'a Value> {
    match path {
        Path::Root => Some(root),
        Path::Seq { parent, index } => {
            let parent = locate(root, parent, out);
            out.push('[');
            out.push_str(&index.to_string());
            out.push(']');
            parent?.get(index)
        }
        Path::Map { parent, key } => {
            let parent = locate(root, parent, out);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
            parent?.get(key.as_str())
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => locate(root, parent, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
            "spec": {"ports": [{"port": 80, "bogus": 1}]}});
        let e = check(Kind::Service, &v).err();
        assert_eq!(e.map(|e| e.field), Some("spec.ports[0].bogus".to_string()));
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
            "spec": {"ports": [{"port": "eighty"}]}});
        let e = check(Kind::Service, &v).err();
        assert_eq!(e.map(|e| e.field), Some("spec.ports[0].port".to_string()));
    }

    #[test]
    fn valid_object_passes() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"A": "1"}});
        assert!(check(Kind::ConfigMap, &v).is_ok());
    }

    #[test]
    fn nested_unknown_field_path_and_null_unknowns() {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "bogus": null},
        "spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "a"}, {"name": "b", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "extra": "1"}}}]}
        ]}}}});
        let e = check(Kind::Deployment, &v).err();
        assert_eq!(
            e.map(|e| e.field),
            Some(
                "spec.template.spec.containers[1].env[0].valueFrom.secretKeyRef.extra".to_string()
            )
        );
    }

    /// What k8s-openapi keeps of `value`: its typed round trip (the slow, obvious oracle).
    fn round_trip(kind: Kind, value: &Value) -> Option<Value> {
        use k8s_openapi::api::{
            apps::v1 as apps, batch::v1 as batch, core::v1 as core, networking::v1 as net,
        };
        fn rt<T: DeserializeOwned + serde::Serialize>(v: &Value) -> Option<Value> {
            serde_json::from_value::<T>(v.clone())
                .ok()
                .and_then(|t| serde_json::to_value(t).ok())
        }
        match kind {
            Kind::Namespace => rt::<core::Namespace>(value),
            Kind::NetworkPolicy => rt::<net::NetworkPolicy>(value),
            Kind::Secret => rt::<core::Secret>(value),
            Kind::ConfigMap => rt::<core::ConfigMap>(value),
            Kind::Service => rt::<core::Service>(value),
            Kind::Deployment => rt::<apps::Deployment>(value),
            Kind::StatefulSet => rt::<apps::StatefulSet>(value),
            Kind::Job => rt::<batch::Job>(value),
            Kind::CronJob => rt::<batch::CronJob>(value),
            Kind::Ingress => rt::<net::Ingress>(value),
        }
    }

    /// Pointers (`/a/0/b`) and dotted paths (`a[0].b`) of every mapping inside `value`.
    fn mappings(value: &Value, pointer: String, dotted: String, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let dot = if dotted.is_empty() {
                        k.clone()
                    } else {
                        format!("{dotted}.{k}")
                    };
                    mappings(v, format!("{pointer}/{k}"), dot, out);
                }
                out.push((pointer, dotted));
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    mappings(v, format!("{pointer}/{i}"), format!("{dotted}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    /// A field added to any mapping of any golden object is an error naming exactly that
    /// field when the typed round trip loses it, and accepted when the mapping keeps any
    /// key (labels, data, resources): the check agrees with the obvious oracle everywhere.
    #[test]
    fn an_added_field_is_reported_exactly_where_the_type_drops_it() {
        let templates = match crate::render::Templates::embedded() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let (mut unknown, mut kept) = (0, 0);
        for resolved in crate::render::tests::golden_deployments()
            .into_iter()
            .take(6)
        {
            let manifests = match crate::render::render(&resolved, &templates) {
                Ok(m) => m,
                Err(e) => panic!("{e}"),
            };
            for m in manifests {
                let mut paths = Vec::new();
                mappings(&m.object, String::new(), String::new(), &mut paths);
                for (pointer, dotted) in paths {
                    let mut changed = m.object.clone();
                    if let Some(Value::Object(map)) = changed.pointer_mut(&pointer) {
                        map.insert("zzAdded".into(), json!("eA=="));
                    }
                    let Some(back) = round_trip(m.kind, &changed) else {
                        panic!("{} {}: no round trip at {pointer}", m.kind.as_str(), m.name)
                    };
                    let lost = back.pointer(&format!("{pointer}/zzAdded")).is_none();
                    let field = if dotted.is_empty() {
                        "zzAdded".to_string()
                    } else {
                        format!("{dotted}.zzAdded")
                    };
                    let got = check(m.kind, &changed).err().map(|e| e.field);
                    if lost {
                        assert_eq!(got, Some(field), "{} {}", m.kind.as_str(), m.name);
                        unknown += 1;
                    } else {
                        assert_eq!(got, None, "{} {} at {field}", m.kind.as_str(), m.name);
                        kept += 1;
                    }
                }
            }
        }
        assert!(unknown > 300 && kept > 50, "{unknown} unknown, {kept} kept");
    }
}
