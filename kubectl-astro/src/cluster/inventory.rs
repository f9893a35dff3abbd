//! The inventory: which objects the last deploy applied and what the server returned for
//! each. It lives in one annotation of the deployment's Namespace, written under its own field
//! manager, so the Namespace apply that starts every deploy also reads it — no extra request.

use std::collections::BTreeMap;

use astro_deploy::naming::short_hash;
use astro_deploy::resolve::Kind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Annotation holding the inventory JSON.
pub const ANNOTATION: &str = "astro.dev/inventory";

/// Objects of the last deploy: `Kind/name` → fingerprint of the object as the server stored it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Build that was deployed.
    #[serde(default)]
    pub build_id: String,
    /// `Kind/name` → fingerprint.
    #[serde(default)]
    pub objects: BTreeMap<String, String>,
}

/// Inventory key of an object.
pub fn key(kind: Kind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

impl Inventory {
    /// The inventory recorded on a Namespace object, if any (an unreadable one counts as none).
    pub fn from_namespace(ns: &Value) -> Option<Inventory> {
        let text = ns
            .pointer("/metadata/annotations")?
            .get(ANNOTATION)?
            .as_str()?;
        serde_json::from_str(text).ok()
    }

    /// The apply body that records this inventory on namespace `ns`.
    pub fn apply_body(&self, ns: &str) -> Value {
        let text = serde_json::to_string(self).unwrap_or_default();
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "annotations": {ANNOTATION: text}},
        })
    }
}

/// A fingerprint of an object as stored: everything but status and server bookkeeping (and
/// the inventory itself), so it changes exactly when the object's content changes — not when a
/// controller writes status.
pub fn fingerprint(object: &Value) -> String {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "managedFields",
            "generation",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            ann.remove(ANNOTATION);
        }
    }
    short_hash(&canonical(&o), 16)
}

/// JSON with object keys sorted, so equal content gives equal text.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_status_and_bookkeeping_but_not_content() {
        let a = json!({"kind": "Deployment", "metadata": {"name": "x", "resourceVersion": "1", "generation": 1},
            "spec": {"replicas": 1}, "status": {"readyReplicas": 0}});
        let b = json!({"metadata": {"resourceVersion": "7", "name": "x", "generation": 1}, "kind": "Deployment",
            "spec": {"replicas": 1}, "status": {"readyReplicas": 1}});
        let c = json!({"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": 2}});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn inventory_round_trips_through_the_namespace_annotation() {
        let mut inv = Inventory {
            build_id: "b1".into(),
            ..Default::default()
        };
        inv.objects.insert(key(Kind::Secret, "s"), "abc".into());
        let body = inv.apply_body("ns");
        assert_eq!(Inventory::from_namespace(&body), Some(inv));
        assert_eq!(Inventory::from_namespace(&json!({"metadata": {}})), None);
    }
}
