//! Printing manifests as YAML or JSON, with Secret values masked unless asked for.

use base64::Engine;
use serde_json::Value;

use super::Manifest;
use crate::error::Error;
use crate::naming::short_hash;
use crate::resolve::Kind;

/// Start of every masked value.
pub const REDACTED_PREFIX: &str = "<redacted sha256:";

/// Masks a secret value as `<redacted sha256:xxxxxxxx>`: the value is not shown, but a
/// change of value changes the fingerprint.
pub fn mask_secret_value(raw: &str) -> String {
    format!("{REDACTED_PREFIX}{}>", short_hash(raw, 8))
}

/// The objects to print: Secret `data`/`stringData` values masked unless `show_secrets`.
fn printable(manifests: &[Manifest], show_secrets: bool) -> Vec<Value> {
    manifests
        .iter()
        .map(|m| {
            let mut obj = m.object.clone();
            if m.kind == Kind::Secret && !show_secrets {
                redact_secret(&mut obj);
            }
            obj
        })
        .collect()
}

/// Masks every value of a Secret object's `data` and `stringData`.
pub fn redact_secret(obj: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                if let Value::String(s) = v {
                    let raw = if field == "data" {
                        base64::engine::general_purpose::STANDARD
                            .decode(s.as_bytes())
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_else(|_| s.clone())
                    } else {
                        s.clone()
                    };
                    *s = mask_secret_value(&raw);
                }
            }
        }
    }
}

/// One object as a YAML document (no `---`). Long values stay on one line (no folding), so
/// what is reviewed is exactly what is sent.
pub fn yaml_document(obj: &Value) -> Result<String, Error> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(obj, options).map_err(|e| Error::Template {
        template: String::new(),
        line: 0,
        message: format!("cannot print YAML: {e}"),
    })
}

/// Multi-document YAML, one document per object, in apply order.
pub fn to_yaml(manifests: &[Manifest], show_secrets: bool) -> Result<String, Error> {
    let mut out = String::new();
    for obj in printable(manifests, show_secrets) {
        out.push_str("---\n");
        let doc = yaml_document(&obj)?;
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// A `v1` `List` holding every object, as pretty JSON.
pub fn to_json(manifests: &[Manifest], show_secrets: bool) -> String {
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": printable(manifests, show_secrets),
    });
    serde_json::to_string_pretty(&list).unwrap_or_default()
}
