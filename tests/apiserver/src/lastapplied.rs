//! kubectl's last-applied handling for `fieldManager=kubectl` (apimachinery
//! `util/managedfields/internal/lastappliedupdater.go` and `lastappliedmanager.go`).

use crate::schema;
use crate::util::Pointer;
use serde_json::{Value, json};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn last_applied(obj: &Value) -> Option<&str> {
    obj.ptr("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Fields of the last-applied configuration whose value still matches the live object
/// (managedfields `lastappliedupdater.go`; `lastappliedmanager.go`).
pub(crate) fn last_applied_allowed(
    live: &Value,
    ty: schema::FieldType,
) -> Option<crate::fieldpath::Set> {
    let la: Value = serde_json::from_str(last_applied(live)?).ok()?;
    let set = crate::typed::to_field_set(&la, ty);
    let cmp = crate::typed::compare(&la, live, ty);
    Some(set.difference(&cmp.modified))
}

/// Rewrites a present last-applied annotation to the applied config (sorted compact JSON,
/// managedfields `lastappliedupdater.go`; `lastappliedmanager.go`).
pub(crate) fn sync_last_applied(new: &mut Value, config: &Value) {
    if last_applied(new).is_none() {
        return;
    }
    let mut cfg = config.clone();
    if let Some(Value::Object(a)) = cfg.ptr_mut("/metadata/annotations") {
        a.shift_remove(LAST_APPLIED);
    }
    let text = sorted_json(&cfg);
    if text.len() > 262_144 {
        return;
    }
    if let Some(Value::Object(a)) = new.ptr_mut("/metadata/annotations") {
        a.insert(LAST_APPLIED.into(), json!(text));
    }
}

/// Compact JSON with object keys sorted, as Go's encoding/json prints maps.
fn sorted_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        sorted_json(&m[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(sorted_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}
