//! Non-apply patch types (`k8s.io/apiserver/pkg/endpoints/handlers/patch.go`): JSON merge patch
//! (RFC 7386), strategic merge patch and JSON patch (RFC 6902).

use crate::schema::{self, FieldType, StructType};
use serde::Deserialize as _;
use serde_json::{Map, Value};

/// RFC 7386 merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(pm) => {
            let mut out = match target {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            for (k, v) in pm {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let cur = out.get(k).cloned().unwrap_or(Value::Null);
                    out.insert(k.clone(), merge_patch(&cur, v));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Strategic merge patch using the merge keys of the schema (lists with a merge key merge by it,
/// sets merge by value, everything else is replaced; `$patch: delete|replace` honoured).
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    ty: FieldType,
) -> Result<Value, String> {
    strategic_merge(target, patch, Some(ty))
}

fn strategic_merge(target: &Value, patch: &Value, ty: Option<FieldType>) -> Result<Value, String> {
    let Value::Object(pm) = patch else {
        return Ok(patch.clone());
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = pm.clone();
        p.remove("$patch");
        return Ok(Value::Object(p));
    }
    let struct_type = match ty {
        Some(FieldType::Struct(struct_type)) => Some(struct_type),
        Some(FieldType::FreeMap) => None,
        _ => Some(StructType::Generic),
    };
    let mut out = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in pm {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (out.get_mut(field), v) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let child_type = struct_type.and_then(|s| schema::field(s, k));
        let cur = out.get(k).cloned().unwrap_or(Value::Null);
        let merged = match (child_type, v) {
            (Some(t @ FieldType::ListMap { .. }), Value::Array(items)) => {
                merge_keyed_list(&cur, items, t)?
            }
            (Some(FieldType::ListSet), Value::Array(items)) => {
                let mut base: Vec<Value> = cur.as_array().cloned().unwrap_or_default();
                for it in items {
                    if !base.contains(it) {
                        base.push(it.clone());
                    }
                }
                Value::Array(base)
            }
            (Some(FieldType::Atomic), _) => v.clone(),
            (_, Value::Object(_)) => strategic_merge(
                &cur,
                v,
                child_type.or(Some(FieldType::Struct(StructType::Generic))),
            )?,
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Ok(Value::Object(out))
}

fn merge_keyed_list(cur: &Value, items: &[Value], t: FieldType) -> Result<Value, String> {
    let Some(key) = schema::strategic_merge_key(t) else {
        return Ok(Value::Array(items.to_vec()));
    };
    let FieldType::ListMap { elem, .. } = t else {
        return Ok(Value::Array(items.to_vec()));
    };
    let mut base: Vec<Value> = cur.as_array().cloned().unwrap_or_default();
    for it in items {
        let Some(kv) = it.get(key) else {
            return Err(format!(
                "map: {it} does not contain declared merge key: {key}"
            ));
        };
        let pos = base.iter().position(|b| b.get(key) == Some(kv));
        let del = it.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, del) {
            (Some(i), true) => {
                base.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                base[i] = strategic_merge(&base[i], it, Some(FieldType::Struct(elem)))?;
            }
            (None, false) => base.push(strategic_merge(
                &Value::Null,
                it,
                Some(FieldType::Struct(elem)),
            )?),
        }
    }
    Ok(Value::Array(base))
}

/// RFC 6902 JSON patch, applied as a whole or not at all; errors carry the message
/// evanphx/json-patch (which kube-apiserver uses) gives for the failing operation.
pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value, String> {
    let Value::Array(list) = ops else {
        return Err("json patch must be a list of operations".into());
    };
    const KINDS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];
    if let Some(kind) = list
        .iter()
        .map(|op| op.get("op").and_then(Value::as_str).unwrap_or(""))
        .find(|kind| !KINDS.contains(kind))
    {
        return Err(format!("Unexpected kind: {kind}"));
    }
    let patch = json_patch::Patch::deserialize(ops).map_err(|e| e.to_string())?;
    let mut doc = doc.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| {
        let op = patch.0.get(e.operation);
        let path = e.path.as_str();
        match (op, &e.kind) {
            (_, json_patch::PatchErrorKind::TestFailed) => {
                format!("testing value {path} failed: test failed")
            }
            (Some(json_patch::PatchOperation::Remove(_)), _) => {
                let key = e
                    .path
                    .last()
                    .map(|t| t.decoded().into_owned())
                    .unwrap_or_default();
                format!("Unable to remove nonexistent key: {key}: missing value")
            }
            (Some(json_patch::PatchOperation::Replace(_)), _) => {
                format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )
            }
            (Some(json_patch::PatchOperation::Add(_)), _) => {
                format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                )
            }
            _ => format!("doc is missing path: {path}: {}", e.kind),
        }
    })?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Merge patch deletes on null and merges maps.
    /// Upstream: apiserver `handlers/patch.go`.
    #[test]
    fn merge_patch_deletes_nulls_and_merges_maps() {
        let t = json!({"a":{"b":1,"c":2},"d":[1]});
        let p = json!({"a":{"b":null,"e":3},"d":[2]});
        assert_eq!(merge_patch(&t, &p), json!({"a":{"c":2,"e":3},"d":[2]}));
    }

    /// Strategic merge patch merges containers by name.
    /// Upstream: apiserver `handlers/patch.go`.
    #[test]
    fn strategic_merge_patch_containers() {
        let t = json!({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"1"}]}}}});
        let p = json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"2"}]}}}});
        let out = strategic_merge_patch(&t, &p, crate::schema::root("Deployment"));
        assert_eq!(
            out.ok(),
            Some(
                json!({"spec":{"template":{"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}}}})
            )
        );
    }

    /// JSON patch operations.
    /// Upstream: apiserver `handlers/patch.go`.
    #[test]
    fn json_patch_operations_and_errors() {
        let t = json!({"a":[1,2],"b":{"c":1}});
        let p = json!([{"op":"add","path":"/a/-","value":3},{"op":"replace","path":"/b/c","value":2},{"op":"remove","path":"/a/0"}]);
        assert_eq!(
            json_patch(&t, &p).ok(),
            Some(json!({"a":[2,3],"b":{"c":2}}))
        );
        assert_eq!(
            json_patch(&t, &json!([{"op":"remove","path":"/zz"}])),
            Err("Unable to remove nonexistent key: zz: missing value".into())
        );
        assert_eq!(
            json_patch(&t, &json!([{"op":"replace","path":"/b/x","value":1}])),
            Err("replace operation does not apply: doc is missing key: /b/x: missing value".into())
        );
        assert_eq!(
            json_patch(&t, &json!([{"op":"test","path":"/b/c","value":2}])),
            Err("testing value /b/c failed: test failed".into())
        );
        assert_eq!(
            json_patch(&t, &json!([{"op":"frob","path":"/b"}])),
            Err("Unexpected kind: frob".into())
        );
        assert_eq!(
            json_patch(&t, &json!({"op":"add"})),
            Err("json patch must be a list of operations".into())
        );
        // All or nothing: a failing second operation leaves no trace of the first.
        assert!(
            json_patch(
                &t,
                &json!([{"op":"add","path":"/d","value":1},{"op":"remove","path":"/zz"}])
            )
            .is_err()
        );
        let moved = json_patch(
            &t,
            &json!([{"op":"move","from":"/b/c","path":"/e"},{"op":"copy","from":"/a","path":"/f"}]),
        );
        assert_eq!(moved, Ok(json!({"a":[1,2],"b":{},"e":1,"f":[1,2]})));
    }
}
