//! Reading documents (requests, build records, specs) from JSON or YAML text, with limits
//! against hostile input and errors that name the offending field.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, FieldError};

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Deepest nesting accepted in a document.
const MAX_DEPTH: usize = 48;

/// Parses `text` (JSON or YAML; JSON is tried when the text starts with `{`) into `T`.
/// `what` names the document in errors (`request`, `build record`, …).
pub fn parse_document<T: DeserializeOwned + Serialize>(what: &str, text: &str) -> Result<T, Error> {
    let value = parse_value(what, text)?;
    from_value(what, value)
}

/// Parses `text` into a JSON value, enforcing size, depth and YAML budgets.
pub fn parse_value(what: &str, text: &str) -> Result<serde_json::Value, Error> {
    let parse_err = |message: String| Error::Parse {
        what: what.to_string(),
        error: FieldError::new("", message),
    };
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(parse_err(format!(
            "document is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
            text.len()
        )));
    }
    if text.contains('\0') {
        return Err(parse_err("document contains a NUL byte".into()));
    }
    let trimmed = text.trim_start();
    let value: serde_json::Value = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(|e| parse_err(format!("invalid JSON: {e}")))?
    } else {
        let mut budget = serde_saphyr::Budget::default();
        budget.max_depth = MAX_DEPTH;
        budget.max_documents = 1;
        budget.max_aliases = 1_000;
        budget.max_anchors = 1_000;
        budget.max_nodes = 100_000;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        // No source snippet in errors: the lines around a mistake may hold credentials.
        options.with_snippet = false;
        serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| parse_err(format!("invalid YAML: {}", one_line(&e.to_string()))))?
    };
    if depth(&value) > MAX_DEPTH {
        return Err(parse_err(format!(
            "document is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(value)
}

/// Converts an already-parsed value into `T`, naming the field that does not fit.
pub fn from_value<T: DeserializeOwned + Serialize>(
    what: &str,
    value: serde_json::Value,
) -> Result<T, Error> {
    if value.is_null() {
        return Err(Error::Parse {
            what: what.to_string(),
            error: FieldError::new("", "document is empty"),
        });
    }
    // serde's derived structs also accept a positional list (`[acme, bot]`); a document is
    // a mapping of named fields, so anything else is refused before it can be read that way.
    if !value.is_object() {
        return Err(Error::Parse {
            what: what.to_string(),
            error: FieldError::new("", "document must be a mapping of fields"),
        });
    }
    let typed: T = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner().to_string();
        let (field, mut message) = refine(field, &inner);
        // Credentials are never echoed, even when the value is misplaced or mistyped.
        if field.starts_with("user_credentials") {
            message = hide_quoted(&message);
        }
        Error::Parse {
            what: what.to_string(),
            error: FieldError::new(field, message),
        }
    })?;
    // The same leniency one level down (`agent: [img]`): a list that came back out as a
    // mapping was read positionally into a struct.
    if let Ok(back) = serde_json::to_value(&typed)
        && let Some(field) = positional(&value, &back, String::new())
    {
        return Err(Error::Parse {
            what: what.to_string(),
            error: FieldError::new(field, "invalid type: sequence, expected a mapping"),
        });
    }
    Ok(typed)
}

/// `message` with the content of every `"…"` or `` `…` `` quotation replaced by `…` (serde
/// quotes the offending value: `invalid type: string "sk-…", expected a map`).
fn hide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '`' {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// The path of the first list in `read` that serialized back as a mapping in `back`.
fn positional(read: &serde_json::Value, back: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match (read, back) {
        (Value::Array(_), Value::Object(_)) => Some(path),
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| positional(x, y, format!("{path}[{i}]"))),
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, x)| {
            let y = b.get(k)?;
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            positional(x, y, p)
        }),
        _ => None,
    }
}

/// serde reports unknown and missing fields at the parent's path; name the field itself.
fn refine(field: String, message: &str) -> (String, String) {
    // serde_path_to_error already ends the path with an unknown key; do not repeat it.
    let join = |name: &str| {
        if field.is_empty() {
            name.to_string()
        } else if field == name || field.ends_with(&format!(".{name}")) {
            field.clone()
        } else {
            format!("{field}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return (
            join(name),
            format!("unknown field{}", expected_suffix(rest)),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return (join(name), "required field is missing".to_string());
    }
    (field, message.to_string())
}

fn expected_suffix(rest: &str) -> String {
    match rest.split_once(", expected ") {
        Some((_, expected)) => format!(" (expected {expected})"),
        None => String::new(),
    }
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shows a hostile string safely inside a message: control characters escaped, cut to 80.
pub fn printable(s: &str) -> String {
    let escaped: String = s.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 80 {
        format!("{}…", escaped.chars().take(80).collect::<String>())
    } else {
        escaped
    }
}
