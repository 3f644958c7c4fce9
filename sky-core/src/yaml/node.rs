//! A YAML node tree that remembers where every node came from.
//!
//! The task loader first reads the text into [`Node`]s (through serde-saphyr, asking for
//! `Spanned` values at every level), then converts the tree into a [`crate::task::Task`] by hand, so
//! that every error can name the field path and the line of the offending node.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node starts: 1-based line and column (0 when unknown, e.g. when the tree was
/// deserialized from a format without positions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) line: u64,
    pub(crate) column: u64,
}

impl Loc {
    /// Whether the position is known.
    pub(crate) fn is_known(self) -> bool {
        self.line > 0
    }
}

/// A YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) loc: Loc,
}

/// A YAML value. Mapping entries keep their order and duplicates (the converter rejects
/// duplicate keys with the path and line).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of the node's type, for "expected X, found Y" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The scalar as text, the way SkyPilot stringifies YAML scalars (`str(v)` in Python):
    /// `None` for null and collections.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(python_float(*f)),
            Value::Bool(true) => Some("True".into()),
            Value::Bool(false) => Some("False".into()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// This node as JSON (mapping keys as their scalar text).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i)
                .map(J::from)
                .or_else(|_| u64::try_from(*i).map(J::from))
                .unwrap_or_else(|_| J::String(i.to_string())),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(python_float(*f))),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A mapping key as text (`null` for a null key, JSON for a collection key).
    pub(crate) fn key_text(&self) -> String {
        match self.scalar_text() {
            Some(s) => s,
            None => match &self.value {
                Value::Null => "null".into(),
                _ => self.to_json().to_string(),
            },
        }
    }
}

/// Python's `str(float)`: `1.0`, `0.5`, `inf`, `nan`.
pub(crate) fn python_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            value: spanned.value,
            loc: Loc {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor::<true>)
    }
}

/// A [`Node`] read without positions, from deserializers other than serde-saphyr's (which
/// do not understand `Spanned`).
pub(crate) struct PlainNode(pub(crate) Node);

impl<'de> Deserialize<'de> for PlainNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PlainNode(Node {
            value: d.deserialize_any(ValueVisitor::<false>)?,
            loc: Loc::default(),
        }))
    }
}

/// Builds a [`Value`]; children are read as spanned nodes when `SPANNED`.
struct ValueVisitor<const SPANNED: bool>;

impl<const SPANNED: bool> ValueVisitor<SPANNED> {
    fn child<'de, T: ChildSource<'de>>(src: &mut T) -> Result<Option<Node>, T::Error> {
        if SPANNED {
            src.next_child::<Node>()
        } else {
            Ok(src.next_child::<PlainNode>()?.map(|p| p.0))
        }
    }
}

/// The next element of a sequence, or key or value of a mapping.
trait ChildSource<'de> {
    type Error;
    fn next_child<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, Self::Error>;
}

struct SeqChildren<A>(A);
impl<'de, A: SeqAccess<'de>> ChildSource<'de> for SeqChildren<A> {
    type Error = A::Error;
    fn next_child<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, A::Error> {
        self.0.next_element()
    }
}

struct MapKeys<'a, A>(&'a mut A);
impl<'de, A: MapAccess<'de>> ChildSource<'de> for MapKeys<'_, A> {
    type Error = A::Error;
    fn next_child<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, A::Error> {
        self.0.next_key()
    }
}

struct MapValue<'a, A>(&'a mut A);
impl<'de, A: MapAccess<'de>> ChildSource<'de> for MapValue<'_, A> {
    type Error = A::Error;
    fn next_child<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, A::Error> {
        self.0.next_value().map(Some)
    }
}

impl<'de, const SPANNED: bool> Visitor<'de> for ValueVisitor<SPANNED> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        let mut seq = SeqChildren(seq);
        let mut items = Vec::new();
        while let Some(item) = Self::child(&mut seq)? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = Self::child(&mut MapKeys(&mut map))? {
            let value = Self::child(&mut MapValue(&mut map))?.unwrap_or(Node {
                value: Value::Null,
                loc: key.loc,
            });
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Node {
        serde_saphyr::from_str(s).unwrap()
    }

    #[test]
    fn nested_nodes_keep_their_positions() {
        let n = parse("name: x\nresources:\n  accelerators: [V100, 'A100:2']\n  cpus: 4+\n");
        let Value::Map(top) = &n.value else {
            panic!("{n:?}")
        };
        assert_eq!(top[0].0.value, Value::Str("name".into()));
        assert_eq!(top[0].0.loc, Loc { line: 1, column: 1 });
        assert_eq!(top[1].0.loc.line, 2);
        let Value::Map(res) = &top[1].1.value else {
            panic!()
        };
        assert_eq!(res[0].0.loc, Loc { line: 3, column: 3 });
        let Value::Seq(accs) = &res[0].1.value else {
            panic!()
        };
        assert_eq!(accs[1].value, Value::Str("A100:2".into()));
        assert_eq!(
            accs[1].loc,
            Loc {
                line: 3,
                column: 24
            }
        );
        assert_eq!(res[1].1.loc, Loc { line: 4, column: 9 });
    }

    #[test]
    fn scalars_are_typed() {
        let n = parse("[1, 1.5, true, null, '4', ~, -3]");
        let Value::Seq(items) = n.value else { panic!() };
        let kinds: Vec<_> = items.iter().map(|i| i.value.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Value::Int(1),
                Value::Float(1.5),
                Value::Bool(true),
                Value::Null,
                Value::Str("4".into()),
                Value::Null,
                Value::Int(-3)
            ]
        );
    }

    #[test]
    fn python_float_formatting() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.5), "0.5");
        assert_eq!(python_float(-2.0), "-2.0");
    }
}
