//! The first field a type ignores: a deserializer over a borrowed `serde_json::Value` that
//! reads any type exactly as `&Value` does and notes the first non-null field the type skips.
//!
//! k8s-openapi's types skip fields they do not know (they read them as `IgnoredAny`), so a
//! misspelt field in a template would vanish silently. Noting the skips while deserializing
//! costs a few instructions per field; comparing the typed value's re-serialized keys with
//! the original afterwards (what the schema check did before) cost a sixth of a render.

use std::cell::RefCell;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deserializes `T` from `value`; `Ok(Some(path))` names the first non-null field `T`
/// ignored (dotted keys, `[i]` for items).
pub(crate) fn deserialize<'a, T: de::Deserialize<'a>>(
    value: &'a Value,
) -> Result<(T, Option<String>), serde_json::Error> {
    let first = RefCell::new(None);
    let parsed = T::deserialize(Tracked {
        value,
        path: Path::Root,
        first: &first,
    })?;
    Ok((parsed, first.into_inner()))
}

/// Where a value sits, as a chain of borrowed steps (built on the stack, never allocated).
#[derive(Clone, Copy)]
enum Path<'p, 'a> {
    Root,
    Key(&'p Path<'p, 'a>, &'a str),
    Index(&'p Path<'p, 'a>, usize),
}

impl Path<'_, '_> {
    fn write(&self, out: &mut String) {
        match *self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Index(parent, i) => {
                parent.write(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

/// One value being deserialized, with its path and the shared note of the first skip.
struct Tracked<'p, 'a, 'f> {
    value: &'a Value,
    path: Path<'p, 'a>,
    first: &'f RefCell<Option<String>>,
}

impl<'a> Tracked<'_, 'a, '_> {
    fn note_ignored(&self) {
        let mut first = self.first.borrow_mut();
        if first.is_none() && !self.value.is_null() {
            let mut path = String::new();
            self.path.write(&mut path);
            *first = Some(path);
        }
    }

    fn visit_object<V: Visitor<'a>>(
        &self,
        map: &'a Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut access = Entries {
            iter: map.iter(),
            pending: None,
            path: &self.path,
            first: self.first,
        };
        let out = visitor.visit_map(&mut access)?;
        match access.iter.len() {
            0 => Ok(out),
            _ => Err(de::Error::invalid_length(
                map.len(),
                &"fewer elements in map",
            )),
        }
    }

    fn visit_array<V: Visitor<'a>>(
        &self,
        items: &'a [Value],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut access = Items {
            iter: items.iter().enumerate(),
            path: &self.path,
            first: self.first,
        };
        let out = visitor.visit_seq(&mut access)?;
        match access.iter.len() {
            0 => Ok(out),
            _ => Err(de::Error::invalid_length(
                items.len(),
                &"fewer elements in array",
            )),
        }
    }
}

/// Forwards each listed method to `&serde_json::Value`: scalars read exactly as there.
macro_rules! forward {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
            self.value.$method(visitor)
        })*
    };
}

impl<'a> Deserializer<'a> for Tracked<'_, 'a, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(map) => self.visit_object(map, visitor),
            Value::Array(items) => self.visit_array(items, visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(map) => self.visit_object(map, visitor),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(map) => self.visit_object(map, visitor),
            Value::Array(items) => self.visit_array(items, visitor),
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Read as `&Value` reads it, without tracking inside: k8s-openapi's types have no serde
    /// enums (0.29 never calls this), so no field can hide there today.
    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.note_ignored();
        visitor.visit_unit()
    }

    forward!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_unit,
        deserialize_identifier
    );

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_unit_struct(name, visitor)
    }
}

/// A mapping's entries, each value tracked under its key.
struct Entries<'p, 'a, 'f> {
    iter: serde_json::map::Iter<'a>,
    pending: Option<(&'a str, &'a Value)>,
    path: &'p Path<'p, 'a>,
    first: &'f RefCell<Option<String>>,
}

impl<'a> MapAccess<'a> for Entries<'_, 'a, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.pending = Some((key.as_str(), value));
                seed.deserialize(BorrowedStrDeserializer::<serde_json::Error>::new(
                    key.as_str(),
                ))
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'a>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("value is missing"));
        };
        seed.deserialize(Tracked {
            value,
            path: Path::Key(self.path, key),
            first: self.first,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A sequence's items, each tracked under its index.
struct Items<'p, 'a, 'f> {
    iter: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    path: &'p Path<'p, 'a>,
    first: &'f RefCell<Option<String>>,
}

impl<'a> SeqAccess<'a> for Items<'_, 'a, '_> {
    type Error = serde_json::Error;

    fn next_element_seed<S: DeserializeSeed<'a>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        match self.iter.next() {
            Some((i, value)) => seed
                .deserialize(Tracked {
                    value,
                    path: Path::Index(self.path, i),
                    first: self.first,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}
