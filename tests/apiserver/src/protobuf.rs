//! Decoding of Kubernetes protobuf bodies for the kinds `kubectl create namespace|configmap|
//! secret|serviceaccount` send (`Content-Type: application/vnd.kubernetes.protobuf`).

use crate::util::{base64_encode, format_rfc3339};
use serde_json::{Map, Value, json};

/// Protobuf content type.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

#[derive(Clone, Copy)]
enum F {
    Str,
    Bool,
    Int,
    Time,
    MapStr,
    MapBytes,
    Msg(M),
    RepStr,
    RepMsg(M),
}

#[derive(Clone, Copy)]
enum M {
    ObjectMeta,
    OwnerRef,
    ConfigMap,
    Secret,
    Namespace,
    NamespaceSpec,
    ServiceAccount,
    ObjectRef,
    LocalRef,
}

fn fields(m: M) -> &'static [(u64, &'static str, F)] {
    match m {
        M::ObjectMeta => &[
            (1, "name", F::Str),
            (2, "generateName", F::Str),
            (3, "namespace", F::Str),
            (5, "uid", F::Str),
            (6, "resourceVersion", F::Str),
            (7, "generation", F::Int),
            (8, "creationTimestamp", F::Time),
            (11, "labels", F::MapStr),
            (12, "annotations", F::MapStr),
            (13, "ownerReferences", F::RepMsg(M::OwnerRef)),
            (14, "finalizers", F::RepStr),
        ],
        M::OwnerRef => &[
            (1, "kind", F::Str),
            (3, "name", F::Str),
            (4, "uid", F::Str),
            (5, "apiVersion", F::Str),
            (6, "controller", F::Bool),
            (7, "blockOwnerDeletion", F::Bool),
        ],
        M::ConfigMap => &[
            (1, "metadata", F::Msg(M::ObjectMeta)),
            (2, "data", F::MapStr),
            (3, "binaryData", F::MapBytes),
            (4, "immutable", F::Bool),
        ],
        M::Secret => &[
            (1, "metadata", F::Msg(M::ObjectMeta)),
            (2, "data", F::MapBytes),
            (3, "type", F::Str),
            (4, "stringData", F::MapStr),
            (5, "immutable", F::Bool),
        ],
        M::Namespace => &[
            (1, "metadata", F::Msg(M::ObjectMeta)),
            (2, "spec", F::Msg(M::NamespaceSpec)),
        ],
        M::NamespaceSpec => &[(1, "finalizers", F::RepStr)],
        M::ServiceAccount => &[
            (1, "metadata", F::Msg(M::ObjectMeta)),
            (2, "secrets", F::RepMsg(M::ObjectRef)),
            (3, "imagePullSecrets", F::RepMsg(M::LocalRef)),
            (4, "automountServiceAccountToken", F::Bool),
        ],
        M::ObjectRef => &[
            (1, "kind", F::Str),
            (2, "namespace", F::Str),
            (3, "name", F::Str),
            (4, "uid", F::Str),
            (5, "apiVersion", F::Str),
        ],
        M::LocalRef => &[(1, "name", F::Str)],
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i).ok_or("truncated varint")?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()? as usize;
        let end = self.i.checked_add(n).ok_or("length overflow")?;
        let out = self.b.get(self.i..end).ok_or("truncated field")?;
        self.i = end;
        Ok(out)
    }
    /// Next (field number, wire type, payload) or None at the end.
    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>, String> {
        if self.i >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.i += 8;
                Wire::Other
            }
            2 => Wire::Len(self.bytes()?),
            5 => {
                self.i += 4;
                Wire::Other
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        Ok(Some((key >> 3, wire)))
    }
}

enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Other,
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn map_entry(b: &[u8], as_bytes: bool) -> Result<(String, Value), String> {
    let mut r = Reader { b, i: 0 };
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    while let Some((n, w)) = r.next()? {
        if let Wire::Len(x) = w {
            match n {
                1 => k = String::from_utf8_lossy(x).into_owned(),
                2 => {
                    v = if as_bytes {
                        Value::String(base64_encode(x))
                    } else {
                        text(x)
                    }
                }
                _ => {}
            }
        }
    }
    Ok((k, v))
}

fn message(b: &[u8], m: M) -> Result<Value, String> {
    let mut out = Map::new();
    let mut r = Reader { b, i: 0 };
    while let Some((n, w)) = r.next()? {
        let Some((_, name, f)) = fields(m).iter().find(|(num, _, _)| *num == n) else {
            continue;
        };
        let name = (*name).to_string();
        match (f, w) {
            (F::Str, Wire::Len(x)) => {
                out.insert(name, text(x));
            }
            (F::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (F::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (F::Time, Wire::Len(x)) => {
                let mut tr = Reader { b: x, i: 0 };
                let mut secs = 0u64;
                while let Some((tn, tw)) = tr.next()? {
                    if let (1, Wire::Varint(v)) = (tn, tw) {
                        secs = v;
                    }
                }
                let time = i64::try_from(secs).ok().and_then(format_rfc3339);
                out.insert(name, time.map_or(Value::Null, Value::String));
            }
            (F::MapStr | F::MapBytes, Wire::Len(x)) => {
                let (k, v) = map_entry(x, matches!(f, F::MapBytes))?;
                if let Value::Object(mm) = out.entry(name).or_insert_with(|| json!({})) {
                    mm.insert(k, v);
                }
            }
            (F::Msg(sub), Wire::Len(x)) => {
                out.insert(name, message(x, *sub)?);
            }
            (F::RepStr, Wire::Len(x)) => {
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(text(x));
                }
            }
            (F::RepMsg(sub), Wire::Len(x)) => {
                let item = message(x, *sub)?;
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(item);
                }
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-enveloped protobuf body of `kind` into its JSON form.
pub fn decode(kind: &str, body: &[u8]) -> Result<Value, String> {
    let m = match kind {
        "ConfigMap" => M::ConfigMap,
        "Secret" => M::Secret,
        "Namespace" => M::Namespace,
        "ServiceAccount" => M::ServiceAccount,
        other => return Err(format!("protobuf bodies are not supported for {other}")),
    };
    let rest = body
        .strip_prefix(b"k8s\x00")
        .ok_or("provided value is not a protobuf encoded object (missing k8s prefix)")?;
    let mut r = Reader { b: rest, i: 0 };
    let (mut api_version, mut k, mut raw) = (Value::Null, Value::Null, None);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Len(tm)) => {
                let mut tr = Reader { b: tm, i: 0 };
                while let Some((tn, tw)) = tr.next()? {
                    match (tn, tw) {
                        (1, Wire::Len(x)) => api_version = text(x),
                        (2, Wire::Len(x)) => k = text(x),
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(x)) => raw = Some(x),
            _ => {}
        }
    }
    let mut obj = message(raw.unwrap_or(&[]), m)?;
    if let Value::Object(o) = &mut obj {
        o.insert("apiVersion".into(), api_version);
        o.insert("kind".into(), k);
    }
    Ok(obj)
}
