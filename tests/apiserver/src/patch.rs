//! Non-apply patch types (B21): JSON merge patch (RFC 7386), strategic merge patch and
//! JSON patch (RFC 6902).

use crate::schema::{self, St, Ty};
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
pub fn strategic_merge_patch(target: &Value, patch: &Value, ty: Ty) -> Result<Value, String> {
    smp(target, patch, Some(ty))
}

fn smp(target: &Value, patch: &Value, ty: Option<Ty>) -> Result<Value, String> {
    let Value::Object(pm) = patch else {
        return Ok(patch.clone());
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = pm.clone();
        p.remove("$patch");
        return Ok(Value::Object(p));
    }
    let st = match ty {
        Some(Ty::Obj(st)) => Some(st),
        Some(Ty::FreeMap) => None,
        _ => Some(St::Generic),
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
        let cty = st.and_then(|s| schema::field(s, k));
        let cur = out.get(k).cloned().unwrap_or(Value::Null);
        let merged = match (cty, v) {
            (Some(t @ Ty::ListMap { .. }), Value::Array(items)) => {
                merge_keyed_list(&cur, items, t)?
            }
            (Some(Ty::ListSet), Value::Array(items)) => {
                let mut base: Vec<Value> = cur.as_array().cloned().unwrap_or_default();
                for it in items {
                    if !base.contains(it) {
                        base.push(it.clone());
                    }
                }
                Value::Array(base)
            }
            (Some(Ty::Atomic), _) => v.clone(),
            (_, Value::Object(_)) => smp(&cur, v, cty.or(Some(Ty::Obj(St::Generic))))?,
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Ok(Value::Object(out))
}

fn merge_keyed_list(cur: &Value, items: &[Value], t: Ty) -> Result<Value, String> {
    let Some(key) = schema::smp_merge_key(t) else {
        return Ok(Value::Array(items.to_vec()));
    };
    let Ty::ListMap { elem, .. } = t else {
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
                base[i] = smp(&base[i], it, Some(Ty::Obj(elem)))?;
            }
            (None, false) => base.push(smp(&Value::Null, it, Some(Ty::Obj(elem)))?),
        }
    }
    Ok(Value::Array(base))
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("JSON pointer must start with '/': {p:?}"));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("doc is missing path: {t}"))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("invalid index {t}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} out of bounds"))?
            }
            _ => return Err(format!("doc is missing path: {t}")),
        };
    }
    Ok(cur)
}

fn op_add(doc: &mut Value, path: &str, v: Value) -> Result<(), String> {
    let toks = split_pointer(path)?;
    let Some((last, parent)) = toks.split_last() else {
        *doc = v;
        return Ok(());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last.parse().map_err(|_| format!("invalid index {last}"))?;
                if i > a.len() {
                    return Err(format!("index {i} out of bounds"));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(format!("doc is missing path: {path}")),
    }
    Ok(())
}

fn op_remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = split_pointer(path)?;
    let Some((last, parent)) = toks.split_last() else {
        return Err("cannot remove root".into());
    };
    match parent_mut(doc, parent)? {
        Value::Object(m) => m
            .shift_remove(last)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {last}: missing value")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("invalid index {last}"))?;
            if i >= a.len() {
                return Err(format!("index {i} out of bounds"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("doc is missing path: {path}")),
    }
}

/// RFC 6902 JSON patch; errors carry the message of the failing operation.
pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value, String> {
    let Value::Array(ops) = ops else {
        return Err("json patch must be a list of operations".into());
    };
    let mut doc = doc.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match kind {
            "add" => op_add(&mut doc, path, value)?,
            "remove" => {
                op_remove(&mut doc, path)?;
            }
            "replace" => {
                let toks = split_pointer(path)?;
                let target = parent_mut(&mut doc, &toks)
                    .map_err(|_| format!("replace operation does not apply: doc is missing key: {path}: missing value"))?;
                *target = value;
            }
            "move" | "copy" => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = if kind == "move" {
                    op_remove(&mut doc, from)?
                } else {
                    let toks = split_pointer(from)?;
                    parent_mut(&mut doc, &toks)?.clone()
                };
                op_add(&mut doc, path, v)?;
            }
            "test" => {
                let toks = split_pointer(path)?;
                if *parent_mut(&mut doc, &toks)? != value {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// B21: merge patch deletes on null and merges maps.
    #[test]
    fn b21_merge_patch() {
        let t = json!({"a":{"b":1,"c":2},"d":[1]});
        let p = json!({"a":{"b":null,"e":3},"d":[2]});
        assert_eq!(merge_patch(&t, &p), json!({"a":{"c":2,"e":3},"d":[2]}));
    }

    /// B21: strategic merge patch merges containers by name.
    #[test]
    fn b21_strategic_merge_patch_containers() {
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

    /// B21: JSON patch operations.
    #[test]
    fn b21_json_patch() {
        let t = json!({"a":[1,2],"b":{"c":1}});
        let p = json!([{"op":"add","path":"/a/-","value":3},{"op":"replace","path":"/b/c","value":2},{"op":"remove","path":"/a/0"}]);
        assert_eq!(
            json_patch(&t, &p).ok(),
            Some(json!({"a":[2,3],"b":{"c":2}}))
        );
        assert!(json_patch(&t, &json!([{"op":"remove","path":"/zz"}])).is_err());
    }
}
