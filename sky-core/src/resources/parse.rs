//! String forms of resource fields.

/// A resource value string that could not be parsed (e.g. `"V100:x"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseValueError {
    /// What is wrong, and what was expected.
    pub message: String,
}
