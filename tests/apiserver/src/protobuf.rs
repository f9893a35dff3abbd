//! Decoding of Kubernetes protobuf bodies for the kinds `kubectl create namespace|configmap|
//! secret|serviceaccount` send (`Content-Type: application/vnd.kubernetes.protobuf`).

use crate::util::{base64_encode, format_rfc3339};
use serde_json::{Map, Value, json};

/// Protobuf content type.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

#[derive(Clone, Copy)]
enum FieldKind {
    Str,
    Bool,
    Int,
    Time,
    MapStr,
    MapBytes,
    Message(Message),
    RepeatedStr,
    RepeatedMessage(Message),
}

#[derive(Clone, Copy)]
enum Message {
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

fn fields(m: Message) -> &'static [(u64, &'static str, FieldKind)] {
    match m {
        Message::ObjectMeta => &[
            (1, "name", FieldKind::Str),
            (2, "generateName", FieldKind::Str),
            (3, "namespace", FieldKind::Str),
            (5, "uid", FieldKind::Str),
            (6, "resourceVersion", FieldKind::Str),
            (7, "generation", FieldKind::Int),
            (8, "creationTimestamp", FieldKind::Time),
            (11, "labels", FieldKind::MapStr),
            (12, "annotations", FieldKind::MapStr),
            (
                13,
                "ownerReferences",
                FieldKind::RepeatedMessage(Message::OwnerRef),
            ),
            (14, "finalizers", FieldKind::RepeatedStr),
        ],
        Message::OwnerRef => &[
            (1, "kind", FieldKind::Str),
            (3, "name", FieldKind::Str),
            (4, "uid", FieldKind::Str),
            (5, "apiVersion", FieldKind::Str),
            (6, "controller", FieldKind::Bool),
            (7, "blockOwnerDeletion", FieldKind::Bool),
        ],
        Message::ConfigMap => &[
            (1, "metadata", FieldKind::Message(Message::ObjectMeta)),
            (2, "data", FieldKind::MapStr),
            (3, "binaryData", FieldKind::MapBytes),
            (4, "immutable", FieldKind::Bool),
        ],
        Message::Secret => &[
            (1, "metadata", FieldKind::Message(Message::ObjectMeta)),
            (2, "data", FieldKind::MapBytes),
            (3, "type", FieldKind::Str),
            (4, "stringData", FieldKind::MapStr),
            (5, "immutable", FieldKind::Bool),
        ],
        Message::Namespace => &[
            (1, "metadata", FieldKind::Message(Message::ObjectMeta)),
            (2, "spec", FieldKind::Message(Message::NamespaceSpec)),
        ],
        Message::NamespaceSpec => &[(1, "finalizers", FieldKind::RepeatedStr)],
        Message::ServiceAccount => &[
            (1, "metadata", FieldKind::Message(Message::ObjectMeta)),
            (2, "secrets", FieldKind::RepeatedMessage(Message::ObjectRef)),
            (
                3,
                "imagePullSecrets",
                FieldKind::RepeatedMessage(Message::LocalRef),
            ),
            (4, "automountServiceAccountToken", FieldKind::Bool),
        ],
        Message::ObjectRef => &[
            (1, "kind", FieldKind::Str),
            (2, "namespace", FieldKind::Str),
            (3, "name", FieldKind::Str),
            (4, "uid", FieldKind::Str),
            (5, "apiVersion", FieldKind::Str),
        ],
        Message::LocalRef => &[(1, "name", FieldKind::Str)],
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

fn message(b: &[u8], m: Message) -> Result<Value, String> {
    let mut out = Map::new();
    let mut r = Reader { b, i: 0 };
    while let Some((n, w)) = r.next()? {
        let Some((_, name, f)) = fields(m).iter().find(|(num, _, _)| *num == n) else {
            continue;
        };
        let name = (*name).to_string();
        match (f, w) {
            (FieldKind::Str, Wire::Len(x)) => {
                out.insert(name, text(x));
            }
            (FieldKind::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (FieldKind::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (FieldKind::Time, Wire::Len(x)) => {
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
            (FieldKind::MapStr | FieldKind::MapBytes, Wire::Len(x)) => {
                let (k, v) = map_entry(x, matches!(f, FieldKind::MapBytes))?;
                if let Value::Object(mm) = out.entry(name).or_insert_with(|| json!({})) {
                    mm.insert(k, v);
                }
            }
            (FieldKind::Message(sub), Wire::Len(x)) => {
                out.insert(name, message(x, *sub)?);
            }
            (FieldKind::RepeatedStr, Wire::Len(x)) => {
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(text(x));
                }
            }
            (FieldKind::RepeatedMessage(sub), Wire::Len(x)) => {
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
        "ConfigMap" => Message::ConfigMap,
        "Secret" => Message::Secret,
        "Namespace" => Message::Namespace,
        "ServiceAccount" => Message::ServiceAccount,
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
