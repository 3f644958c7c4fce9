//! The YAML plumbing under task and resources parsing: a node tree that remembers where
//! every node came from, typed access to it whose errors name the field path and line, and
//! an ordered output tree for writing.
//!
//! - [`node`]: [`node::Node`]s with their line and column, read through serde-saphyr.
//! - [`read`]: YAML text → [`node::Node`] documents, with the parser's limits.
//! - [`access`]: "a string", "an integer", "a mapping with these keys" from a node, each
//!   failure a [`error::TaskError`] at the field path.
//! - [`emit`]: [`emit::Out`], a YAML value whose mappings keep insertion order, and its text.
//! - [`error`]: [`error::TaskError`] and [`error::TaskErrorKind`] (public as
//!   `sky_core::task::{TaskError, TaskErrorKind}`) and the [`error::FieldPath`] being built.
//!
//! [`crate::task`] and [`crate::resources`] both build on this module; it imports neither
//! of them.

pub(crate) mod access;
pub(crate) mod emit;
pub(crate) mod error;
pub(crate) mod node;
pub(crate) mod read;
