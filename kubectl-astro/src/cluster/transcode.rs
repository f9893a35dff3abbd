//! A JSON value written out as it is read: the compact text `serde_json::Value` prints for it
//! (`value.to_string()` after parsing it), without building the `Value`.
//!
//! Keys keep their order (the workspace builds `serde_json` with `preserve_order`), strings
//! are escaped and numbers printed by `serde_json` itself. One case a single pass cannot
//! write as `Value` would: an object that repeats a key (`Value` keeps the last value at the
//! first key's place). Reading one fails with [`REPEATED_KEY`], and the caller reads the
//! answer as a `Value` instead.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The error message of an object that repeats a key.
pub const REPEATED_KEY: &str = "an object repeats a key";

/// The output buffer, and the keys of the objects being written (to catch a repeated key).
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
    /// `(start, end)` in `out` of each key of the open objects, innermost last.
    keys: Vec<(usize, usize)>,
}

/// Where an open object's keys start in [`Writer::keys`].
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

impl Writer {
    /// A writer with room for `bytes` of text, so that writing a value that size does not
    /// grow the buffer piece by piece.
    pub fn with_capacity(bytes: usize) -> Writer {
        Writer {
            out: Vec::with_capacity(bytes),
            keys: Vec::with_capacity(32),
        }
    }

    /// Empties the buffer for the next value.
    pub fn clear(&mut self) {
        self.out.clear();
        self.keys.clear();
    }

    /// The text written so far, taken out of the writer.
    pub fn take(&mut self) -> Vec<u8> {
        self.keys.clear();
        std::mem::take(&mut self.out)
    }

    /// A seed that writes the next value.
    pub fn value(&mut self) -> Compact<'_> {
        Compact { w: self }
    }

    /// Opens an object; its keys are then written with [`Writer::key`].
    pub fn open_object(&mut self) -> Mark {
        self.out.push(b'{');
        Mark(self.keys.len())
    }

    /// A seed that writes the next key of the object opened at `mark` (with the comma and
    /// colon around it) and returns what `classify` makes of the key.
    pub fn key<K>(&mut self, mark: Mark, classify: fn(&str) -> K) -> Key<'_, K> {
        Key {
            w: self,
            mark,
            classify,
        }
    }

    /// Closes the object opened at `mark`.
    pub fn close_object(&mut self, mark: Mark) {
        self.keys.truncate(mark.0);
        self.out.push(b'}');
    }

    /// Appends `v` as `serde_json` serializes it.
    fn push<T: serde::Serialize + ?Sized, E: de::Error>(&mut self, v: &T) -> Result<(), E> {
        serde_json::to_writer(&mut self.out, v).map_err(E::custom)
    }
}

/// Writes the value it reads (see the module documentation).
pub struct Compact<'w> {
    w: &'w mut Writer,
}

impl<'de> DeserializeSeed<'de> for Compact<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Compact<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.w.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.w.push(&v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.w.push(&v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.w.push(&v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // Non-finite numbers print as `null`, as a `Value` made of them does.
        self.w.push(&v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.w.push(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.w.out.push(b'[');
        let mut first = true;
        while seq
            .next_element_seed(Element {
                w: &mut *self.w,
                first,
            })?
            .is_some()
        {
            first = false;
        }
        self.w.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mark = self.w.open_object();
        while map.next_key_seed(self.w.key(mark, |_| ()))?.is_some() {
            map.next_value_seed(self.w.value())?;
        }
        self.w.close_object(mark);
        Ok(())
    }
}

/// An array element, after a comma unless it is the first.
struct Element<'w> {
    w: &'w mut Writer,
    first: bool,
}

impl<'de> DeserializeSeed<'de> for Element<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if !self.first {
            self.w.out.push(b',');
        }
        d.deserialize_any(Compact { w: self.w })
    }
}

/// Writes an object's key (see [`Writer::key`]).
pub struct Key<'w, K> {
    w: &'w mut Writer,
    mark: Mark,
    classify: fn(&str) -> K,
}

impl<'de, K> DeserializeSeed<'de> for Key<'_, K> {
    type Value = K;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K> Visitor<'de> for Key<'_, K> {
    type Value = K;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<K, E> {
        let w = self.w;
        let siblings = self.mark.0;
        if w.keys.len() > siblings {
            w.out.push(b',');
        }
        let start = w.out.len();
        w.push::<_, E>(v)?;
        let end = w.out.len();
        // Escaping is deterministic: equal keys have equal text.
        let text = &w.out[start..end];
        if w.keys[siblings..]
            .iter()
            .any(|&(a, b)| b - a == end - start && &w.out[a..b] == text)
        {
            return Err(E::custom(REPEATED_KEY));
        }
        w.keys.push((start, end));
        w.out.push(b':');
        Ok((self.classify)(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Texts with what a server's JSON can hold: escapes (also in keys), unicode, numbers of
    /// every kind and form, nesting, empty containers, whitespace.
    const TEXTS: &[&str] = &[
        r#"{}"#,
        r#"[]"#,
        r#"null"#,
        r#""just a string""#,
        r#"{"manager":"kubectl-astro","operation":"Apply","apiVersion":"v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:a":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}"#,
        r#" { "b" : 1 , "a" : [ 1 , 2.50 , -3 , 1e3 , 1E-2 , -0 , -0.0 , 18446744073709551615 , -9223372036854775808 , 18446744073709551616 , 123456789012345678901234567890 ] } "#,
        r#"{"s":"quote \" backslash \\ slash \/ \b\f\n\r\t \u0000 \u001f \u00e9 \u2603 \ud834\udd1e é ☃ 𝄞 </script> \u003c\u003e\u0026"}"#,
        r#"{"k:{\"name\":\"agent\"}":{".":{},"f:image":{}},"\u0041":true,"B":false,"c":null}"#,
        r#"[[[[]]],{"a":{"b":{"c":[{},{"d":[null]}]}}}]"#,
        r#"{"":"","x":[true,false,null,0,1,-1]}"#,
    ];

    fn compact(text: &str) -> Result<String, serde_json::Error> {
        let mut w = Writer::default();
        let mut de = serde_json::Deserializer::from_str(text);
        w.value().deserialize(&mut de)?;
        de.end()?;
        String::from_utf8(w.take()).map_err(de::Error::custom)
    }

    #[test]
    fn writes_what_value_prints() {
        for text in TEXTS {
            let value: Value = serde_json::from_str(text).expect("test JSON parses");
            assert_eq!(compact(text).ok(), Some(value.to_string()), "{text}");
            // And from a Value, as the Namespace's answer is read.
            let mut w = Writer::default();
            w.value().deserialize(&value).expect("a Value reads");
            assert_eq!(w.take(), value.to_string().into_bytes(), "{text}");
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"b":2,"\u0061":3}"#,
            r#"{"x":[{"k":{"a":1,"a":1}}]}"#,
        ] {
            let err = compact(text).expect_err(text);
            assert!(err.to_string().contains(REPEATED_KEY), "{text}: {err}");
        }
        // The same key in sibling or nested objects is not a repeat.
        let text = r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":{"a":1}}"#;
        assert_eq!(compact(text).ok().as_deref(), Some(text));
    }
}
