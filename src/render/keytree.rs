//! The shape of a serialized value — which keys each mapping has, how long each sequence is
//! — without its scalars. The schema check only compares keys, and building this tree is
//! much cheaper than `serde_json::to_value` (no hashed maps, no copies of scalars, struct
//! field names borrowed). Keys and nesting match what `serde_json::to_value` would build.

use std::borrow::Cow;

use serde::ser::{self, Serialize};

/// A serialized value's shape.
#[derive(Debug, PartialEq)]
pub(crate) enum Node {
    /// Any scalar (or null).
    Leaf,
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in serialization order.
    Map(Vec<(Cow<'static, str>, Node)>),
}

impl Node {
    /// The value under `key` (the last one, as `serde_json::Map::insert` keeps the last).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The shape of `value`.
pub(crate) fn shape<T: Serialize + ?Sized>(value: &T) -> Result<Node, Error> {
    value.serialize(Shape)
}

/// A serialization failure.
#[derive(Debug)]
pub(crate) struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct Shape;

/// Collects a sequence (or tuple).
struct SeqShape(Vec<Node>);

/// Collects a mapping (or struct).
struct MapShape {
    entries: Vec<(Cow<'static, str>, Node)>,
    key: Option<Cow<'static, str>>,
}

/// Wraps a variant's content as `{variant: content}`, as serde_json does.
struct VariantShape<S> {
    variant: &'static str,
    inner: S,
}

macro_rules! leaf {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, _v: $t) -> Result<Node, Error> { Ok(Node::Leaf) })*
    };
}

impl ser::Serializer for Shape {
    type Ok = Node;
    type Error = Error;
    type SerializeSeq = SeqShape;
    type SerializeTuple = SeqShape;
    type SerializeTupleStruct = SeqShape;
    type SerializeTupleVariant = VariantShape<SeqShape>;
    type SerializeMap = MapShape;
    type SerializeStruct = MapShape;
    type SerializeStructVariant = VariantShape<MapShape>;

    leaf!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str);

    fn serialize_bytes(self, v: &[u8]) -> Result<Node, Error> {
        Ok(Node::Seq(v.iter().map(|_| Node::Leaf).collect()))
    }
    fn serialize_none(self) -> Result<Node, Error> {
        Ok(Node::Leaf)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Node, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node, Error> {
        Ok(Node::Leaf)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Node, Error> {
        Ok(Node::Leaf)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<Node, Error> {
        Ok(Node::Leaf)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Node, Error> {
        Ok(Node::Map(vec![(
            Cow::Borrowed(variant),
            value.serialize(self)?,
        )]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqShape, Error> {
        Ok(SeqShape(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqShape, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqShape, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantShape<SeqShape>, Error> {
        Ok(VariantShape {
            variant,
            inner: SeqShape(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapShape, Error> {
        Ok(MapShape {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapShape, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantShape<MapShape>, Error> {
        Ok(VariantShape {
            variant,
            inner: self.serialize_map(Some(len))?,
        })
    }
}

impl ser::SerializeSeq for SeqShape {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(Shape)?);
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqShape {
    type Ok = Node;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqShape {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for VariantShape<SeqShape> {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(&mut self.inner, value)
    }
    fn end(self) -> Result<Node, Error> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(Node::Map(vec![(Cow::Borrowed(self.variant), inner)]))
    }
}

impl ser::SerializeMap for MapShape {
    type Ok = Node;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(Cow::Owned(key.serialize(KeyText)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error("serialize_value called before serialize_key".into()))?;
        self.entries.push((key, value.serialize(Shape)?));
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Map(self.entries))
    }
}

impl ser::SerializeStruct for MapShape {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entries
            .push((Cow::Borrowed(key), value.serialize(Shape)?));
        Ok(())
    }
    fn end(self) -> Result<Node, Error> {
        Ok(Node::Map(self.entries))
    }
}

impl ser::SerializeStructVariant for VariantShape<MapShape> {
    type Ok = Node;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Node, Error> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Node::Map(vec![(Cow::Borrowed(self.variant), inner)]))
    }
}

/// A map key as serde_json writes it: strings as they are, numbers, booleans and chars as
/// their text; anything else is an error, as in serde_json.
struct KeyText;

macro_rules! key_display {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, v: $t) -> Result<String, Error> { Ok(v.to_string()) })*
    };
}

macro_rules! key_error {
    ($($name:ident$(<$g:ident>)?($($arg:ty),*) -> $ret:ty),*) => {
        $(fn $name$(<$g: Serialize + ?Sized>)?(self, $(_: $arg),*) -> Result<$ret, Error> {
            Err(Error("key must be a string".into()))
        })*
    };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    key_display!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_i128: i128, serialize_u8: u8,
        serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
        serialize_char: char, serialize_str: &str);

    key_error!(serialize_f32(f32) -> String, serialize_f64(f64) -> String,
        serialize_bytes(&[u8]) -> String, serialize_none() -> String,
        serialize_some<T>(&T) -> String, serialize_unit() -> String,
        serialize_unit_struct(&'static str) -> String,
        serialize_newtype_variant<T>(&'static str, u32, &'static str, &T) -> String,
        serialize_seq(Option<usize>) -> ser::Impossible<String, Error>,
        serialize_tuple(usize) -> ser::Impossible<String, Error>,
        serialize_tuple_struct(&'static str, usize) -> ser::Impossible<String, Error>,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> ser::Impossible<String, Error>,
        serialize_map(Option<usize>) -> ser::Impossible<String, Error>,
        serialize_struct(&'static str, usize) -> ser::Impossible<String, Error>,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> ser::Impossible<String, Error>);

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The same keys and nesting as serde_json::to_value.
    fn same_shape(v: &Value, n: &Node) -> bool {
        match (v, n) {
            (Value::Object(o), Node::Map(m)) => {
                o.len() == m.len()
                    && o.iter()
                        .all(|(k, v)| n.get(k).is_some_and(|n| same_shape(v, n)))
            }
            (Value::Array(a), Node::Seq(s)) => {
                a.len() == s.len() && a.iter().zip(s).all(|(v, n)| same_shape(v, n))
            }
            (Value::Object(_) | Value::Array(_), _) => false,
            (_, Node::Leaf) => true,
            _ => false,
        }
    }

    #[test]
    fn shape_matches_to_value_for_k8s_types() {
        use k8s_openapi::api::apps::v1::Deployment;
        let v = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "replicas": 1,
                "template": {"spec": {"containers": [{"name": "c", "image": "i",
                    "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}},
                    "livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}});
        let d: Deployment = match serde_json::from_value(v) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let value = serde_json::to_value(&d).unwrap_or_default();
        let node = shape(&d).map_err(|e| e.to_string());
        assert!(matches!(&node, Ok(n) if same_shape(&value, n)), "{node:?}");
    }
}
