//! An ordered YAML output tree, so that serialised tasks list their fields in SkyPilot's
//! order (name, workdir, num_nodes, resources, ...) rather than alphabetically.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::error::{TaskError, TaskErrorKind};

/// A YAML value to write; mappings keep insertion order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Out {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

impl Out {
    /// A number: an integer when it is one, else a float.
    pub(crate) fn num(n: f64) -> Out {
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            Out::Int(n as i64)
        } else {
            Out::Float(n)
        }
    }

    pub(crate) fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }
}

impl From<&serde_json::Value> for Out {
    fn from(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Out::Null,
            J::Bool(b) => Out::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Out::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Out::UInt(u)
                } else {
                    Out::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Out::Str(s.clone()),
            J::Array(items) => Out::Seq(items.iter().map(Out::from).collect()),
            J::Object(m) => Out::Map(m.iter().map(|(k, v)| (k.clone(), Out::from(v))).collect()),
        }
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => s.serialize_unit(),
            Out::Bool(b) => s.serialize_bool(*b),
            Out::Int(i) => s.serialize_i64(*i),
            Out::UInt(u) => s.serialize_u64(*u),
            Out::Float(f) => s.serialize_f64(*f),
            Out::Str(v) => s.serialize_str(v),
            Out::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Out::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Writes one YAML document. Multi-line strings (scripts) become literal blocks; long lines
/// are never folded, so scripts survive unchanged.
pub(crate) fn to_yaml(out: &Out) -> Result<String, TaskError> {
    let mut opts = serde_saphyr::SerializerOptions::default();
    opts.folded_wrap_chars = usize::MAX;
    opts.min_fold_chars = usize::MAX;
    serde_saphyr::to_string_with_options(out, opts).map_err(|e| {
        TaskError::new(TaskErrorKind::Serialize {
            message: e.to_string(),
        })
    })
}

/// Writes several YAML documents separated by `---`.
pub(crate) fn to_yaml_multi(docs: &[Out]) -> Result<String, TaskError> {
    let mut s = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        s.push_str(&to_yaml(d)?);
    }
    Ok(s)
}
