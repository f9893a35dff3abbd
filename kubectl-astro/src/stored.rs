//! What `deploy` reads of an object the server answered with: a few metadata fields, our
//! field manager's Apply entry and the names of the data keys. serde skips the rest of the
//! answer (spec, status, other managers' field sets) without building it.
//!
//! Each field reads as a JSON pointer into the answer parsed as a `serde_json::Value` reads
//! it; our Apply entry is kept as the bytes the server wrote, for its proof. Answers of the
//! usual shape are read without building a `Value`; anything else — a field of another
//! type, a repeated key, something that is not an object — is read through a `Value`, so
//! the result is the same. Only what is skipped is checked less: it must be well-formed JSON,
//! but no longer also something a `Value` can hold (valid UTF-8, no lone surrogate escape,
//! numbers within `f64`, nesting within 128 levels), which an API server never sends anyway.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};
use serde_json::Value;
use serde_json::value::RawValue;

/// The fields of an answer that an apply's result, inventory token and proof depend on.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stored {
    /// `metadata.resourceVersion`, when it is a string.
    pub resource_version: Option<String>,
    /// `metadata.generation` as sent; `null` when absent.
    pub generation: Value,
    /// `metadata.labels` as sent; `null` when absent.
    pub labels: Value,
    /// `metadata.annotations` as sent; `null` when absent.
    pub annotations: Value,
    /// Whether `metadata.deletionTimestamp` is there (whatever its value, `null` included).
    pub deleting: bool,
    /// The first `metadata.managedFields` entry of the field manager the answer was read for
    /// with operation `Apply` and no subresource, as the server wrote it: its bytes in the
    /// answer (an answer of an unusual shape, read through a `Value`: its compact print).
    pub applied_entry: Option<Vec<u8>>,
    /// What `data` holds.
    data: Data,
}

/// What an answer's `data` holds, as far as a key lookup can tell.
#[derive(Debug, Default, Clone, PartialEq)]
enum Data {
    /// Absent, or neither an object nor an array.
    #[default]
    Nothing,
    /// An object with these keys.
    Keys(Vec<String>),
    /// An array of this many items (a JSON pointer indexes it).
    Items(usize),
}

impl Stored {
    /// Reads `bytes` for field manager `manager`; an answer that is not JSON reads as
    /// [`Stored::default`].
    pub fn parse(bytes: &[u8], manager: &str) -> Stored {
        Answer::read(bytes, manager).unwrap_or_else(|| {
            serde_json::from_slice::<Value>(bytes)
                .map(|value| Stored::from_value(&value, manager))
                .unwrap_or_default()
        })
    }

    /// Reads an answer already parsed.
    pub fn from_value(value: &Value, manager: &str) -> Stored {
        let at = |pointer: &str| value.pointer(pointer).cloned().unwrap_or(Value::Null);
        let applied_entry = value
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .and_then(|entries| {
                entries.iter().find(|e| {
                    ours(
                        manager,
                        e.get("manager"),
                        e.get("operation"),
                        e.get("subresource"),
                    )
                })
            })
            .map(|entry| entry.to_string().into_bytes());
        Stored {
            resource_version: value
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            generation: at("/metadata/generation"),
            labels: at("/metadata/labels"),
            annotations: at("/metadata/annotations"),
            deleting: value.pointer("/metadata/deletionTimestamp").is_some(),
            applied_entry,
            data: match value.get("data") {
                Some(Value::Object(map)) => Data::Keys(map.keys().cloned().collect()),
                Some(Value::Array(items)) => Data::Items(items.len()),
                _ => Data::Nothing,
            },
        }
    }

    /// Whether `data` has `key` (a Secret data key: no `/` or `~`), as the JSON pointer
    /// `/data/<key>` finds it.
    pub fn has_data(&self, key: &str) -> bool {
        match &self.data {
            Data::Nothing => false,
            Data::Keys(keys) => keys.iter().any(|k| k == key),
            Data::Items(n) => array_index(key).is_some_and(|i| i < *n),
        }
    }
}

/// Whether a managedFields entry with these fields is `manager`'s Apply of the object itself
/// (not of a subresource).
fn ours(
    manager: &str,
    entry_manager: Option<&Value>,
    operation: Option<&Value>,
    subresource: Option<&Value>,
) -> bool {
    entry_manager.and_then(Value::as_str) == Some(manager)
        && operation.and_then(Value::as_str) == Some("Apply")
        && subresource.is_none_or(|s| s.as_str() == Some(""))
}

/// A JSON pointer token as an array index, as `serde_json` reads one.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// An answer of the usual shape. serde rejects a repeated field or a field of another type,
/// and [`Stored::parse`] then reads the answer as a `Value`. Objects are taken as
/// `RawValue`s and read only when they are objects: a struct would also accept an array,
/// field by position, where a pointer finds nothing.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(default, borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    generation: Option<Value>,
    #[serde(default)]
    labels: Option<Value>,
    #[serde(default)]
    annotations: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    deletion_timestamp: bool,
    #[serde(default, borrow)]
    managed_fields: Option<Vec<&'a RawValue>>,
}

/// The fields of a managedFields entry that say whose it is; its field set is skipped.
#[derive(Deserialize)]
struct EntryHead {
    #[serde(default, deserialize_with = "some")]
    manager: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    operation: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    subresource: Option<Value>,
}

/// `true` for a field that is there, `null` included (absent fields take the default).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A field that is there as `Some`, `null` included (which `Option` would read as `None`).
fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The first byte of a JSON text, past whitespace.
fn opens(text: &[u8]) -> Option<u8> {
    text.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// `raw` read as `T` when it is an object; `Some(None)` when it is anything else, which a
/// pointer crosses finding nothing; `None` when only a `Value` reads it as a pointer does.
fn object<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<Option<T>> {
    match raw {
        Some(raw) if opens(raw.get().as_bytes()) == Some(b'{') => {
            serde_json::from_str(raw.get()).ok().map(Some)
        }
        _ => Some(None),
    }
}

impl Answer<'_> {
    /// Reads `bytes`, or `None` where only a `Value` reads it as the pointers do.
    fn read(bytes: &[u8], manager: &str) -> Option<Stored> {
        if opens(bytes) != Some(b'{') {
            return None;
        }
        let answer: Answer = serde_json::from_slice(bytes).ok()?;
        let data = data(answer.data)?;
        let Some(meta) = object::<Metadata>(answer.metadata)? else {
            return Some(Stored {
                data,
                ..Stored::default()
            });
        };
        let mut applied_entry = None;
        for entry in meta.managed_fields.iter().flatten() {
            let Some(head) = object::<EntryHead>(Some(entry))? else {
                continue;
            };
            if ours(
                manager,
                head.manager.as_ref(),
                head.operation.as_ref(),
                head.subresource.as_ref(),
            ) {
                applied_entry = Some(entry.get().as_bytes().to_vec());
                break;
            }
        }
        Some(Stored {
            resource_version: meta.resource_version,
            generation: meta.generation.unwrap_or(Value::Null),
            labels: meta.labels.unwrap_or(Value::Null),
            annotations: meta.annotations.unwrap_or(Value::Null),
            deleting: meta.deletion_timestamp,
            applied_entry,
            data,
        })
    }
}

/// What `data` holds; `None` where only a `Value` reads it as a pointer does.
fn data(raw: Option<&RawValue>) -> Option<Data> {
    let Some(raw) = raw else {
        return Some(Data::Nothing);
    };
    Some(match opens(raw.get().as_bytes()) {
        Some(b'{') => Data::Keys(
            serde_json::from_str::<BTreeMap<String, IgnoredAny>>(raw.get())
                .ok()?
                .into_keys()
                .collect(),
        ),
        Some(b'[') => Data::Items(
            serde_json::from_str::<Vec<IgnoredAny>>(raw.get())
                .ok()?
                .len(),
        ),
        _ => Data::Nothing,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const US: &str = "kubectl-astro";

    /// Answers as a server may send them, and as it should not: every field read in every
    /// JSON type, missing, repeated, escaped, inside things that are not objects.
    pub(crate) const ANSWERS: &[&str] = &[
        // A Deployment as kube-apiserver answers it.
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"agent","namespace":"n","uid":"u-1","resourceVersion":"4711","generation":3,"creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"agent","tier":"x"},"annotations":{"deployment.kubernetes.io/revision":"2","astro.dev/env-hash":"abc"},"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1","time":"2026-01-01T00:00:01Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:replicas":{}}},"subresource":"status"},{"manager":"kubectl-astro","operation":"Apply","apiVersion":"apps/v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"agent\"}":{".":{},"f:image":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}}}}}}}}}]},"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"agent","image":"i:1"}]}}},"status":{"replicas":1,"conditions":[{"type":"Available","status":"True"}]}}"#,
        // A Secret with our entry, the generated passwords' and data.
        r#"{"kind":"Secret","metadata":{"name":"s","resourceVersion":"7","managedFields":[{"manager":"kubectl-astro-generated","operation":"Apply","fieldsV1":{"f:data":{"f:password":{}}}},{"manager":"kubectl-astro","operation":"Apply","fieldsV1":{"f:data":{"f:user":{}}}}]},"data":{"user":"dXNlcg==","password":"cA==","0":""},"type":"Opaque"}"#,
        // Whitespace everywhere, escapes in keys and values, numbers of every form.
        " { \"metadata\" : { \"resourceVersion\" : \"1\" , \"generation\" : 1.0e0 , \"managedFields\" : [ { \"man\\u0061ger\" : \"kubectl-astro\" , \"operation\" : \"Apply\" , \"subresource\" : \"\" , \"n\" : [ -0 , 1e300 , 18446744073709551616 , 2.50 , -9223372036854775808 ] , \"s\" : \"\\ud834\\udd1e \\u003c/script\\u003e \\\" \\\\ \\/ \\n\" } ] } } ",
        // Our manager, but not our Apply: an Update, a status Apply, a null subresource.
        r#"{"metadata":{"managedFields":[{"manager":"kubectl-astro","operation":"Update","fieldsV1":{}},{"manager":"kubectl-astro","operation":"Apply","subresource":"status","fieldsV1":{}},{"manager":"kubectl-astro","operation":"Apply","subresource":null,"fieldsV1":{}}]}}"#,
        // Two Apply entries of ours: the first counts. Keys in any order.
        r#"{"metadata":{"managedFields":[{"fieldsV1":{"f:a":{}},"subresource":"","operation":"Apply","manager":"kubectl-astro"},{"manager":"kubectl-astro","operation":"Apply","fieldsV1":{"f:b":{}}}]}}"#,
        // Entries that are not objects, and managers that are not strings.
        r#"{"metadata":{"managedFields":[null,"kubectl-astro",["manager","kubectl-astro"],{"manager":["kubectl-astro"],"operation":"Apply"},{"manager":"kubectl-astro","operation":{"Apply":1}},{"manager":"kubectl-astro","operation":"Apply","time":null,"x":true}]}}"#,
        // managedFields not an array.
        r#"{"metadata":{"managedFields":{"manager":"kubectl-astro","operation":"Apply"}}}"#,
        r#"{"metadata":{"managedFields":"kubectl-astro"}}"#,
        // Repeated keys: the last counts, at every level.
        r#"{"metadata":{"resourceVersion":"1"},"metadata":{"resourceVersion":"2","generation":2},"data":[1],"data":{"a":null}}"#,
        r#"{"metadata":{"resourceVersion":"1","resourceVersion":3,"labels":{"a":"1","a":"2"},"deletionTimestamp":"t","generation":1,"generation":"2"}}"#,
        r#"{"metadata":{"managedFields":[{"manager":"other","operation":"Apply","manager":"kubectl-astro","fieldsV1":{"f:x":{}}}]}}"#,
        r#"{"metadata":{"managedFields":[{"manager":"kubectl-astro","operation":"Apply","manager":"other","fieldsV1":{"f:x":{}}}]}}"#,
        r#"{"metadata":{"managedFields":[{"manager":"kubectl-astro","operation":"Apply","fieldsV1":{"f:x":{},"f:y":{},"f:x":{"f:z":{}}}}]}}"#,
        r#"{"metadata":{"managedFields":[{"manager":"other","operation":"Update","fieldsV1":{"f:x":{},"f:x":{}}},{"manager":"kubectl-astro","operation":"Apply"}]}}"#,
        // Odd types for every field.
        r#"{"metadata":{"resourceVersion":12,"generation":"7","labels":["a"],"annotations":"x","deletionTimestamp":null}}"#,
        r#"{"metadata":{"resourceVersion":null,"generation":null,"labels":null,"annotations":{}},"data":null}"#,
        r#"{"metadata":{"generation":-1.5e-3,"labels":{"a":{"b":[1,{"c":null}]}}},"data":"x"}"#,
        r#"{"metadata":{"generation":18446744073709551615},"data":["a","b"]}"#,
        r#"{"metadata":[{"resourceVersion":"1"}],"data":[]}"#,
        r#"{"metadata":null,"data":{}}"#,
        r#"{"metadata":"x"}"#,
        r#"{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z","managedFields":[{"manager":"kubectl-astro","operation":"Apply"}]}}"#,
        // Not an object at all, or not JSON.
        r#"[{"metadata":{"resourceVersion":"1"}}]"#,
        r#""metadata""#,
        r#"null"#,
        r#"42"#,
        r#""#,
        r#"{"metadata":{"resourceVersion":"1"}"#,
        r#"{"metadata":{"resourceVersion":"1"}} trailing"#,
        r#"not json"#,
    ];

    /// Data keys looked up: plain, numeric (an array index when `data` is an array), absent.
    pub(crate) const KEYS: &[&str] =
        &["user", "password", "a", "0", "1", "2", "01", "+1", "-1", ""];

    /// Every field read, in one comparable tuple: resourceVersion, generation, labels,
    /// annotations, deleting, our entry (parsed), whether the data key is there.
    type Fields = (
        Option<String>,
        Value,
        Value,
        Value,
        bool,
        Option<Value>,
        bool,
    );

    /// What the old code read, by JSON pointer into the answer parsed as a `Value`.
    fn by_pointer(text: &str, key: &str) -> Fields {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let get = |p: &str| v.pointer(p).cloned().unwrap_or(Value::Null);
        let entry = v
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .and_then(|entries| {
                entries.iter().find(|e| {
                    e.get("manager").and_then(Value::as_str) == Some(US)
                        && e.get("operation").and_then(Value::as_str) == Some("Apply")
                        && e.get("subresource").is_none_or(|s| s.as_str() == Some(""))
                })
            })
            .cloned();
        (
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            get("/metadata/generation"),
            get("/metadata/labels"),
            get("/metadata/annotations"),
            v.pointer("/metadata/deletionTimestamp").is_some(),
            entry,
            v.pointer(&format!("/data/{key}")).is_some(),
        )
    }

    fn read(s: &Stored, key: &str) -> Fields {
        (
            s.resource_version.clone(),
            s.generation.clone(),
            s.labels.clone(),
            s.annotations.clone(),
            s.deleting,
            s.applied_entry
                .as_deref()
                .map(|bytes| serde_json::from_slice(bytes).unwrap_or(Value::Null)),
            s.has_data(key),
        )
    }

    #[test]
    fn reads_every_field_as_a_pointer_into_the_value_does() {
        for text in ANSWERS {
            let stored = Stored::parse(text.as_bytes(), US);
            let value: Option<Value> = serde_json::from_str(text).ok();
            for key in KEYS {
                assert_eq!(read(&stored, key), by_pointer(text, key), "{text} / {key}");
                if let Some(value) = &value {
                    let from_value = Stored::from_value(value, US);
                    assert_eq!(
                        read(&from_value, key),
                        by_pointer(text, key),
                        "{text} / {key}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_answers_exercise_what_they_are_for() {
        let read = |t: &&str| Stored::parse(t.as_bytes(), US);
        let entries = ANSWERS.iter().filter(|t| read(t).applied_entry.is_some());
        assert_eq!(entries.count(), 9);
        // Repeated keys inside our entry go through the `Value` and still find it.
        assert!(read(&ANSWERS[12]).applied_entry.is_some());
        assert_eq!(read(&ANSWERS[0]).resource_version.as_deref(), Some("4711"));
        assert!(read(&ANSWERS[1]).has_data("password"));
    }

    /// The entry is kept as the server wrote it, whitespace and escapes included (its proof
    /// hashes these bytes), and an answer read through a `Value` keeps its compact print.
    #[test]
    fn the_entry_is_the_bytes_the_server_sent() {
        let entry = |t: &str| Stored::parse(t.as_bytes(), US).applied_entry;
        let text = ANSWERS[0];
        let start = text.find(r#"{"manager":"kubectl-astro""#).unwrap_or(0);
        let len = text[start..].find("}}}}}}}}}}]").unwrap_or(0) + 10;
        assert_eq!(
            entry(text).as_deref(),
            Some(&text.as_bytes()[start..start + len])
        );
        let spaced = ANSWERS[2];
        let start = spaced.find(r#"{ "man"#).unwrap_or(0);
        let end = spaced.rfind(r#"" } ]"#).unwrap_or(0) + 3;
        assert_eq!(
            entry(spaced).as_deref(),
            Some(&spaced.as_bytes()[start..end])
        );
        // A repeated key in the entry's field set is kept as sent, too.
        assert!(
            entry(ANSWERS[12])
                .is_some_and(|e| e.windows(5).filter(|w| w == b"\"f:x\"").count() == 2)
        );
        // A repeated `manager` is read through the `Value`: its last value counts.
        assert_eq!(
            entry(ANSWERS[11]),
            None,
            "the last manager of ANSWERS[11] is another one"
        );
        assert_eq!(
            entry(ANSWERS[10]).as_deref(),
            Some(
                br#"{"manager":"kubectl-astro","operation":"Apply","fieldsV1":{"f:x":{}}}"#
                    .as_slice()
            )
        );
    }

    #[test]
    fn the_entry_is_the_one_of_the_manager_read_for() {
        let text = ANSWERS[1];
        let ours = Stored::parse(text.as_bytes(), US).applied_entry;
        let generated = Stored::parse(text.as_bytes(), "kubectl-astro-generated").applied_entry;
        assert!(ours.is_some() && generated.is_some());
        assert_ne!(ours, generated);
        assert_eq!(Stored::parse(text.as_bytes(), "nobody").applied_entry, None);
    }
}
