//! Checks a rendered object against its k8s-openapi type: wrong types and fields the type
//! does not know are errors (k8s-openapi itself would silently drop unknown fields).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::keytree::Node;
use crate::resolve::Kind;

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

fn typed<T: DeserializeOwned + Serialize>(value: &Value) -> Result<(), SchemaError> {
    // Deserialize from the borrowed value: no copy of the whole object first. Tracking the
    // path costs a third of the check, so it is done only to name the field of an error.
    let parsed = match T::deserialize(value) {
        Ok(parsed) => parsed,
        Err(plain) => {
            return Err(match serde_path_to_error::deserialize::<_, T>(value) {
                Err(e) => SchemaError {
                    field: e.path().to_string(),
                    message: e.into_inner().to_string(),
                },
                Ok(_) => SchemaError {
                    field: String::new(),
                    message: plain.to_string(),
                },
            });
        }
    };
    // What the type keeps: its serialized shape (keys and nesting, no scalars).
    let back = super::keytree::shape(&parsed).map_err(|e| SchemaError {
        field: String::new(),
        message: e.to_string(),
    })?;
    match first_unknown(value, &back) {
        Some(mut path) => {
            path.reverse();
            let mut field = String::new();
            for seg in path {
                match seg {
                    Seg::Key(k) => {
                        if !field.is_empty() {
                            field.push('.');
                        }
                        field.push_str(k);
                    }
                    Seg::Index(i) => field.push_str(&format!("[{i}]")),
                }
            }
            Err(SchemaError {
                field,
                message: "unknown field: the Kubernetes type has no such field".into(),
            })
        }
        None => Ok(()),
    }
}

/// One step of a path inside an object.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The first path present (and non-null) in `original` but missing from `typed`, innermost
/// step first (built only when there is one: the common case allocates nothing).
fn first_unknown<'a>(original: &'a Value, typed: &Node) -> Option<Vec<Seg<'a>>> {
    match (original, typed) {
        (Value::Object(o), Node::Map(_)) => o.iter().find_map(|(k, v)| {
            let mut path = match typed.get(k) {
                None if !v.is_null() => Vec::new(),
                None => return None,
                Some(tv) => first_unknown(v, tv)?,
            };
            path.push(Seg::Key(k));
            Some(path)
        }),
        (Value::Array(o), Node::Seq(t)) => o.iter().zip(t).enumerate().find_map(|(i, (ov, tv))| {
            let mut path = first_unknown(ov, tv)?;
            path.push(Seg::Index(i));
            Some(path)
        }),
        _ => None,
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
}
