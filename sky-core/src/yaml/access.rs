//! Typed access to [`Node`]s: every helper names the field path and line in its error.

use std::collections::BTreeSet;

use super::error::{FieldPath, TaskError, TaskErrorKind};
use super::node::{Node, Value};
use crate::suggest;

/// One `key: value` entry of a mapping, with the path of the value.
#[derive(Clone, Debug)]
pub(crate) struct Entry<'n> {
    pub(crate) key: String,
    pub(crate) key_node: &'n Node,
    pub(crate) value: &'n Node,
    pub(crate) path: FieldPath,
}

pub(crate) fn type_error(expected: &str, node: &Node, path: &FieldPath) -> TaskError {
    TaskError::at(
        TaskErrorKind::InvalidType {
            expected: expected.to_owned(),
            found: node.value.type_name().to_owned(),
        },
        path,
        node,
    )
}

pub(crate) fn invalid(message: impl Into<String>, node: &Node, path: &FieldPath) -> TaskError {
    TaskError::at(
        TaskErrorKind::InvalidValue {
            message: message.into(),
        },
        path,
        node,
    )
}

/// The entries of a mapping (null counts as empty), rejecting duplicate keys and, when
/// `allowed` is given, unknown keys (with a did-you-mean over `allowed`).
pub(crate) fn entries<'n>(
    node: &'n Node,
    path: &FieldPath,
    allowed: Option<&[&str]>,
    expected: &str,
) -> Result<Vec<Entry<'n>>, TaskError> {
    let items = match &node.value {
        Value::Null => return Ok(Vec::new()),
        Value::Map(items) => items,
        _ => return Err(type_error(expected, node, path)),
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        let key = k.key_text();
        let kpath = path.key(&key);
        if let Some(allowed) = allowed {
            let is_str = matches!(k.value, Value::Str(_));
            if !is_str || !allowed.contains(&key.as_str()) {
                return Err(TaskError::at(
                    TaskErrorKind::UnknownField { field: key.clone() },
                    &kpath,
                    k,
                )
                .with_suggestion(near(&key, allowed.iter().copied())));
            }
        }
        if !seen.insert(key.clone()) {
            return Err(TaskError::at(
                TaskErrorKind::DuplicateKey { key },
                &kpath,
                k,
            ));
        }
        out.push(Entry {
            key,
            key_node: k,
            value: v,
            path: kpath,
        });
    }
    Ok(out)
}

/// A string (not a number or boolean).
pub(crate) fn string(node: &Node, path: &FieldPath) -> Result<String, TaskError> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(type_error("a string", node, path)),
    }
}

/// A string, or `None` for null.
pub(crate) fn opt_string(node: &Node, path: &FieldPath) -> Result<Option<String>, TaskError> {
    match &node.value {
        Value::Null => Ok(None),
        _ => string(node, path).map(Some),
    }
}

/// A non-empty string, or `None` for null.
pub(crate) fn opt_name(node: &Node, path: &FieldPath) -> Result<Option<String>, TaskError> {
    match opt_string(node, path)? {
        Some(s) if s.trim().is_empty() => Err(invalid("must not be empty", node, path)),
        other => Ok(other),
    }
}

/// Any scalar as text, the way SkyPilot stringifies envs and labels (`str(v)`).
pub(crate) fn scalar_text(node: &Node, path: &FieldPath) -> Result<String, TaskError> {
    node.scalar_text()
        .ok_or_else(|| type_error("a string, number or boolean", node, path))
}

/// A boolean; the YAML 1.1 spellings `yes`/`no`/`on`/`off` are accepted too, as PyYAML
/// reads them.
pub(crate) fn boolean(node: &Node, path: &FieldPath) -> Result<bool, TaskError> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(type_error("a boolean", node, path)),
        },
        _ => Err(type_error("a boolean", node, path)),
    }
}

/// An integer.
pub(crate) fn integer(node: &Node, path: &FieldPath) -> Result<i128, TaskError> {
    match &node.value {
        Value::Int(i) => Ok(*i),
        _ => Err(type_error("an integer", node, path)),
    }
}

/// An integer within `lo..=hi`.
pub(crate) fn int_in(node: &Node, path: &FieldPath, lo: i128, hi: i128) -> Result<i128, TaskError> {
    let v = integer(node, path)?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(
            format!("{v} is out of range: must be between {lo} and {hi}"),
            node,
            path,
        ))
    }
}

/// A finite number (integer or float).
pub(crate) fn number(node: &Node, path: &FieldPath) -> Result<f64, TaskError> {
    match &node.value {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        Value::Float(_) => Err(invalid("must be a finite number", node, path)),
        _ => Err(type_error("a number", node, path)),
    }
}

/// The items of a list.
pub(crate) fn seq<'n>(
    node: &'n Node,
    path: &FieldPath,
    expected: &str,
) -> Result<&'n [Node], TaskError> {
    match &node.value {
        Value::Seq(items) => Ok(items),
        _ => Err(type_error(expected, node, path)),
    }
}

/// A did-you-mean for a name ([`suggest::did_you_mean`]).
pub(crate) fn near<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    suggest::did_you_mean(input, candidates)
}

/// A free-form value (`config`, `service`, plugin keys) as JSON, rejecting duplicate keys
/// at any depth.
pub(crate) fn json(node: &Node, path: &FieldPath) -> Result<serde_json::Value, TaskError> {
    unique_keys(node, path)?;
    Ok(node.to_json())
}

fn unique_keys(node: &Node, path: &FieldPath) -> Result<(), TaskError> {
    match &node.value {
        Value::Map(_) => {
            for e in entries(node, path, None, "a mapping")? {
                unique_keys(e.value, &e.path)?;
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                unique_keys(item, &path.index(i))?;
            }
        }
        _ => {}
    }
    Ok(())
}
