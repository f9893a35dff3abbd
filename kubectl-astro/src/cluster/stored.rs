//! What `deploy` reads of an object the server answered with: a few metadata fields, our
//! field manager's Apply entry and the names of the data keys — read straight from the
//! answer's bytes, the rest (spec, status, other managers' entries) skipped unparsed.
//!
//! Each field reads as a JSON pointer into the answer parsed as a `serde_json::Value` reads
//! it: absent when the path is missing or crosses something that is not an object, the last
//! of repeated keys, any JSON type where the old code took any. An answer that is not JSON,
//! or repeats a key inside our entry (which [`super::transcode`] cannot write as `Value`
//! prints it), is read through a `Value`. Only what is skipped is checked less: it must be
//! well-formed JSON, but no longer also something a `Value` can hold (valid UTF-8, no lone
//! surrogate escape, numbers within `f64`, nesting within 128 levels), which an API server
//! never sends anyway.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::transcode::{Mark, Writer};

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
    /// with operation `Apply` and no subresource, as compact JSON: `entry.to_string()` of the
    /// entry parsed as a `Value`.
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
    /// [`Stored::default`], as before the `Value` read it as `null`.
    pub fn parse(bytes: &[u8], manager: &str) -> Stored {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let narrow = Top {
            manager,
            room: bytes.len(),
        }
        .deserialize(&mut de)
        .and_then(|stored| de.end().map(|()| stored));
        match narrow {
            Ok(stored) => stored,
            Err(_) => serde_json::from_slice::<Value>(bytes)
                .map(|value| Stored::from_value(&value, manager))
                .unwrap_or_default(),
        }
    }

    /// Reads an answer already parsed.
    pub fn from_value(value: &Value, manager: &str) -> Stored {
        // A `Value` repeats no key, so this reads; were it to fail, nothing is read.
        Top {
            manager,
            room: ENTRY_ROOM,
        }
        .deserialize(value)
        .unwrap_or_default()
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

/// A JSON pointer token as an array index, as `serde_json` reads one.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Reads one JSON object; any other JSON value reads as `Out::default()`, as a pointer
/// through it finds nothing.
trait ObjectReader<'de> {
    /// What the object yields.
    type Out: Default;
    /// Reads the object's entries.
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error>;
}

/// Deserializes with an [`ObjectReader`].
struct Object<R>(R);

impl<'de, R: ObjectReader<'de>> DeserializeSeed<'de> for Object<R> {
    type Value = R::Out;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<R::Out, D::Error> {
        d.deserialize_any(self)
    }
}

/// The `visit_*` methods of a visitor for which everything but some JSON types reads as
/// `Self::Value::default()` (arrays are read through to their end).
macro_rules! default_for_other_types {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

impl<'de, R: ObjectReader<'de>> Visitor<'de> for Object<R> {
    type Value = R::Out;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<R::Out, A::Error> {
        self.0.read(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<R::Out, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Default::default())
    }

    default_for_other_types!();
}

/// A key read only to be told apart from a few names.
struct Name<K>(fn(&str) -> K);

impl<'de, K> DeserializeSeed<'de> for Name<K> {
    type Value = K;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K> Visitor<'de> for Name<K> {
    type Value = K;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
        Ok((self.0)(v))
    }
}

/// Room for our entry's text when the answer's length is not known: a Deployment's entry
/// takes a few kilobytes.
const ENTRY_ROOM: usize = 4096;

/// The answer: `metadata` and `data`.
struct Top<'m> {
    manager: &'m str,
    /// Room to reserve for our entry's text: the answer's length when known (the entry's
    /// text is no longer than the answer's), so that writing it never grows the buffer.
    room: usize,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Stored;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Stored, D::Error> {
        Object(self).deserialize(d)
    }
}

impl<'de> ObjectReader<'de> for Top<'_> {
    type Out = Stored;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored, A::Error> {
        enum K {
            Metadata,
            Data,
            Other,
        }
        let mut stored = Stored::default();
        let mut data = Data::Nothing;
        while let Some(key) = map.next_key_seed(Name(|k| match k {
            "metadata" => K::Metadata,
            "data" => K::Data,
            _ => K::Other,
        }))? {
            match key {
                K::Metadata => {
                    stored = map.next_value_seed(Object(Metadata {
                        manager: self.manager,
                        room: self.room,
                    }))?
                }
                K::Data => data = map.next_value_seed(DataSeed)?,
                K::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        stored.data = data;
        Ok(stored)
    }
}

/// `metadata`: everything of [`Stored`] but `data`.
struct Metadata<'m> {
    manager: &'m str,
    room: usize,
}

impl<'de> ObjectReader<'de> for Metadata<'_> {
    type Out = Stored;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored, A::Error> {
        enum K {
            ResourceVersion,
            Generation,
            Labels,
            Annotations,
            DeletionTimestamp,
            ManagedFields,
            Other,
        }
        let mut s = Stored::default();
        while let Some(key) = map.next_key_seed(Name(|k| match k {
            "resourceVersion" => K::ResourceVersion,
            "generation" => K::Generation,
            "labels" => K::Labels,
            "annotations" => K::Annotations,
            "deletionTimestamp" => K::DeletionTimestamp,
            "managedFields" => K::ManagedFields,
            _ => K::Other,
        }))? {
            match key {
                K::ResourceVersion => {
                    s.resource_version = match map.next_value()? {
                        Value::String(rv) => Some(rv),
                        _ => None,
                    }
                }
                K::Generation => s.generation = map.next_value()?,
                K::Labels => s.labels = map.next_value()?,
                K::Annotations => s.annotations = map.next_value()?,
                K::DeletionTimestamp => {
                    map.next_value::<IgnoredAny>()?;
                    s.deleting = true;
                }
                K::ManagedFields => {
                    s.applied_entry = map.next_value_seed(ManagedFields {
                        manager: self.manager,
                        room: self.room,
                    })?
                }
                K::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(s)
    }
}

/// `data`: its keys, or its length when it is an array.
struct DataSeed;

impl<'de> DeserializeSeed<'de> for DataSeed {
    type Value = Data;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            keys.push(key);
        }
        Ok(Data::Keys(keys))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(Data::Items(n))
    }

    default_for_other_types!();
}

/// `managedFields`: the text of our Apply entry, when it has one.
struct ManagedFields<'m> {
    manager: &'m str,
    room: usize,
}

impl<'de> DeserializeSeed<'de> for ManagedFields<'_> {
    type Value = Option<Vec<u8>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ManagedFields<'_> {
    type Value = Option<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut w = Writer::with_capacity(self.room);
        let mut found = None;
        while found.is_none() {
            let entry = Entry {
                manager: self.manager,
                w: &mut w,
            };
            match seq.next_element_seed(Object(entry))? {
                Some(text) => found = text,
                None => return Ok(None),
            }
        }
        // The first match counts; the rest are skipped.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    default_for_other_types!();
}

/// How one of an entry's `manager`, `operation` and `subresource` compares with the value
/// our Apply entry has.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// Not in the entry.
    #[default]
    Absent,
    /// The string wanted.
    Is,
    /// Anything else: another string, or not a string.
    IsNot,
}

/// One managedFields entry: its text when it is our Apply entry. The text is written while
/// the entry is read, until `manager`, `operation` or `subresource` rules the entry out.
struct Entry<'a> {
    manager: &'a str,
    w: &'a mut Writer,
}

/// An entry's keys, as far as choosing it goes.
#[derive(Clone, Copy)]
enum EntryKey {
    Manager,
    Operation,
    Subresource,
    Other,
}

fn entry_key(k: &str) -> EntryKey {
    match k {
        "manager" => EntryKey::Manager,
        "operation" => EntryKey::Operation,
        "subresource" => EntryKey::Subresource,
        _ => EntryKey::Other,
    }
}

impl<'de> ObjectReader<'de> for Entry<'_> {
    type Out = Option<Vec<u8>>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let w = self.w;
        w.clear();
        let mark: Mark = w.open_object();
        let (mut manager, mut operation, mut subresource) =
            (Field::Absent, Field::Absent, Field::Absent);
        let mut writing = true;
        loop {
            let key = if writing {
                map.next_key_seed(w.key(mark, entry_key))?
            } else {
                map.next_key_seed(Name(entry_key))?
            };
            let Some(key) = key else { break };
            let (slot, wanted) = match key {
                EntryKey::Manager => (&mut manager, self.manager),
                EntryKey::Operation => (&mut operation, "Apply"),
                EntryKey::Subresource => (&mut subresource, ""),
                EntryKey::Other => {
                    if writing {
                        map.next_value_seed(w.value())?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    continue;
                }
            };
            if *slot != Field::Absent {
                // Repeated (caught by the writer while it writes): `Value` keeps the last.
                return Err(de::Error::custom(super::transcode::REPEATED_KEY));
            }
            *slot = if writing {
                map.next_value_seed(Compare {
                    wanted,
                    w: Some(&mut *w),
                })?
            } else {
                map.next_value_seed(Compare { wanted, w: None })?
            };
            writing = ![manager, operation, subresource].contains(&Field::IsNot);
        }
        let ours = manager == Field::Is && operation == Field::Is && subresource != Field::IsNot;
        if !ours {
            return Ok(None);
        }
        w.close_object(mark);
        Ok(Some(w.take()))
    }
}

/// A value compared with the string `wanted`, and written when there is a writer.
struct Compare<'a> {
    wanted: &'a str,
    w: Option<&'a mut Writer>,
}

impl<'de> DeserializeSeed<'de> for Compare<'_> {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
}

impl Compare<'_> {
    /// Writes a value that is not a string (when writing), which is never the one wanted.
    fn other<E: de::Error>(
        self,
        write: impl FnOnce(super::transcode::Compact<'_>) -> Result<(), E>,
    ) -> Result<Field, E> {
        if let Some(w) = self.w {
            write(w.value())?;
        }
        Ok(Field::IsNot)
    }
}

impl<'de> Visitor<'de> for Compare<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        if let Some(w) = self.w {
            w.value().visit_str::<E>(v)?;
        }
        Ok(if v == self.wanted {
            Field::Is
        } else {
            Field::IsNot
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field, E> {
        self.other(|c| c.visit_unit())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field, E> {
        self.other(|c| c.visit_bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field, E> {
        self.other(|c| c.visit_i64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
        self.other(|c| c.visit_u64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field, E> {
        self.other(|c| c.visit_f64(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        match self.w {
            Some(w) => w.value().visit_seq(seq)?,
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Field::IsNot)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        match self.w {
            Some(w) => w.value().visit_map(map)?,
            None => while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {},
        }
        Ok(Field::IsNot)
    }
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

    /// What the old code read, by JSON pointer into the answer parsed as a `Value`.
    fn by_pointer(
        text: &str,
        key: &str,
    ) -> (
        Option<String>,
        Value,
        Value,
        Value,
        bool,
        Option<Vec<u8>>,
        bool,
    ) {
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
            .map(|e| e.to_string().into_bytes());
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

    fn read(
        s: &Stored,
        key: &str,
    ) -> (
        Option<String>,
        Value,
        Value,
        Value,
        bool,
        Option<Vec<u8>>,
        bool,
    ) {
        (
            s.resource_version.clone(),
            s.generation.clone(),
            s.labels.clone(),
            s.annotations.clone(),
            s.deleting,
            s.applied_entry.clone(),
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
