//! Which fields of a body survive decoding into a k8s-openapi type, found without building the
//! typed object's JSON: a serializer walks the typed object alongside the body and marks the
//! body's values that have a counterpart, as `serde_json::to_value` followed by a comparison
//! with the body would find them (see `strict::diff`, which this replaces).
//!
//! A body value is *present* when the typed object emits its key, and *descended* when, in
//! addition, both are objects or both are arrays (the comparison looks inside those only).
//! List items are matched by index, as the comparison zips them. Anything the probe cannot
//! mirror exactly (enum variants with content, non-string map keys, 128-bit integers, a custom
//! serialization error) makes it give up with [`Fallback`]; the caller then compares with the
//! typed object's JSON as before.

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::{Map, Value};
use std::fmt;

/// The probe cannot mirror this serialization exactly.
#[derive(Debug)]
pub(super) struct Fallback;

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("serialization not mirrored by the probe")
    }
}

impl std::error::Error for Fallback {}

impl ser::Error for Fallback {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fallback
    }
}

/// Marks on body values: (address of the value, whether it is descended). Sorted by
/// [`Marks::finish`] before lookups.
#[derive(Debug, Default)]
pub(super) struct Marks(Vec<(usize, bool)>);

fn addr(v: &Value) -> usize {
    std::ptr::from_ref(v) as usize
}

impl Marks {
    /// Walks `typed` alongside `input`; `Err` if the walk cannot mirror `serde_json`.
    pub(super) fn of<T: Serialize>(typed: &T, input: &Value) -> Result<Marks, Fallback> {
        let mut marks = Marks::default();
        typed.serialize(Probe {
            input: Some(input),
            marks: &mut marks,
        })?;
        marks.0.sort_unstable();
        Ok(marks)
    }

    fn present(&mut self, v: &Value) {
        self.0.push((addr(v), false));
    }

    fn descended_into(&mut self, v: &Value) {
        self.0.push((addr(v), true));
    }

    /// Whether the typed object has a counterpart of `v` (a key it emits).
    pub(super) fn is_present(&self, v: &Value) -> bool {
        let a = addr(v);
        self.0.binary_search_by(|(x, _)| x.cmp(&a)).is_ok()
    }

    /// Whether `v` and its counterpart are both objects or both arrays.
    pub(super) fn is_descended(&self, v: &Value) -> bool {
        self.0.binary_search(&(addr(v), true)).is_ok()
    }
}

/// Serializes a typed value whose body counterpart is `input` (if any).
struct Probe<'a, 'm> {
    input: Option<&'a Value>,
    marks: &'m mut Marks,
}

/// Items of a typed list, matched by index with the body's list (if it is one).
struct Seq<'a, 'm> {
    items: Option<&'a [Value]>,
    next: usize,
    marks: &'m mut Marks,
}

/// Fields or entries of a typed object, looked up in the body's object (if it is one).
struct Obj<'a, 'm> {
    map: Option<&'a Map<String, Value>>,
    value: Option<&'a Value>,
    marks: &'m mut Marks,
}

impl<'a> Obj<'a, '_> {
    fn child(&mut self, key: &str) -> Option<&'a Value> {
        let c = self.map?.get(key)?;
        self.marks.present(c);
        Some(c)
    }
}

macro_rules! scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<Self::Ok, Fallback> {
            Ok(Self::Ok::default())
        })*
    };
}

macro_rules! refused {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<Self::Ok, Fallback> {
            Err(Fallback)
        })*
    };
}

impl<'a, 'm> ser::Serializer for Probe<'a, 'm> {
    type Ok = ();
    type Error = Fallback;
    type SerializeSeq = Seq<'a, 'm>;
    type SerializeTuple = Seq<'a, 'm>;
    type SerializeTupleStruct = Seq<'a, 'm>;
    type SerializeTupleVariant = Impossible<(), Fallback>;
    type SerializeMap = Obj<'a, 'm>;
    type SerializeStruct = Obj<'a, 'm>;
    type SerializeStructVariant = Impossible<(), Fallback>;

    scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );
    refused!(serialize_i128(i128), serialize_u128(u128));

    fn serialize_none(self) -> Result<(), Fallback> {
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Fallback> {
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Fallback> {
        value.serialize(self)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), Fallback> {
        Ok(())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Fallback> {
        Err(Fallback)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a, 'm>, Fallback> {
        let items = match self.input {
            Some(v @ Value::Array(a)) => {
                self.marks.descended_into(v);
                Some(a.as_slice())
            }
            _ => None,
        };
        Ok(Seq {
            items,
            next: 0,
            marks: self.marks,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, 'm>, Fallback> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a, 'm>, Fallback> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Fallback>, Fallback> {
        Err(Fallback)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Obj<'a, 'm>, Fallback> {
        let map = match self.input {
            Some(v @ Value::Object(m)) => {
                self.marks.descended_into(v);
                Some(m)
            }
            _ => None,
        };
        Ok(Obj {
            map,
            value: None,
            marks: self.marks,
        })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Obj<'a, 'm>, Fallback> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Fallback>, Fallback> {
        Err(Fallback)
    }
}

impl ser::SerializeSeq for Seq<'_, '_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Fallback> {
        let input = self.items.and_then(|a| a.get(self.next));
        self.next += 1;
        value.serialize(Probe {
            input,
            marks: self.marks,
        })
    }

    fn end(self) -> Result<(), Fallback> {
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_, '_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Fallback> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Fallback> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Seq<'_, '_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Fallback> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Fallback> {
        Ok(())
    }
}

impl ser::SerializeStruct for Obj<'_, '_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Fallback> {
        let input = self.child(key);
        value.serialize(Probe {
            input,
            marks: self.marks,
        })
    }

    fn end(self) -> Result<(), Fallback> {
        Ok(())
    }
}

impl ser::SerializeMap for Obj<'_, '_> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Fallback> {
        self.value = key.serialize(KeyProbe { map: self.map })?;
        if let Some(c) = self.value {
            self.marks.present(c);
        }
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Fallback> {
        let input = self.value.take();
        value.serialize(Probe {
            input,
            marks: self.marks,
        })
    }

    fn end(self) -> Result<(), Fallback> {
        Ok(())
    }
}

/// Looks a typed map's key up in the body's object (if it is one); a key that is not a string
/// (or a newtype around one) gives up.
struct KeyProbe<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> ser::Serializer for KeyProbe<'a> {
    type Ok = Option<&'a Value>;
    type Error = Fallback;
    type SerializeSeq = Impossible<Self::Ok, Fallback>;
    type SerializeTuple = Impossible<Self::Ok, Fallback>;
    type SerializeTupleStruct = Impossible<Self::Ok, Fallback>;
    type SerializeTupleVariant = Impossible<Self::Ok, Fallback>;
    type SerializeMap = Impossible<Self::Ok, Fallback>;
    type SerializeStruct = Impossible<Self::Ok, Fallback>;
    type SerializeStructVariant = Impossible<Self::Ok, Fallback>;

    refused!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_str(self, key: &str) -> Result<Self::Ok, Fallback> {
        Ok(self.map.and_then(|m| m.get(key)))
    }

    fn serialize_none(self) -> Result<Self::Ok, Fallback> {
        Err(Fallback)
    }

    fn serialize_unit(self) -> Result<Self::Ok, Fallback> {
        Err(Fallback)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Self::Ok, Fallback> {
        Err(Fallback)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Self::Ok, Fallback> {
        Err(Fallback)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Fallback> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, Fallback> {
        Err(Fallback)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Fallback> {
        Err(Fallback)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Fallback> {
        Err(Fallback)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Fallback> {
        Err(Fallback)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Fallback> {
        Err(Fallback)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Fallback> {
        Err(Fallback)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Fallback> {
        Err(Fallback)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Fallback> {
        Err(Fallback)
    }
}
