//! Errors of the SSH node-pool backend.

use std::path::PathBuf;

use sky_core::error::{Error, ErrorKind, Placement};

use crate::CLOUD;

/// Why the pool file or the allocation store cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool file cannot be read.
    #[error("cannot read the SSH node pool file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The pool file is not SkyPilot's format.
    #[error("{origin}{}: {message}", fmt_pos(*.line, *.column))]
    Invalid {
        /// The file (or `ssh_node_pools.yaml` for text).
        origin: String,
        /// The line (1-based) of what is wrong, when known.
        line: Option<u64>,
        /// The column (1-based) of what is wrong, when known.
        column: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// The allocation database failed.
    #[error("SSH node pool allocations {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

/// `:line:column` (or `:line`), as compilers and sky's task loader print positions.
fn fmt_pos(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Self {
        let kind = match e {
            PoolError::Invalid { .. } => ErrorKind::InvalidRequest,
            PoolError::Io { .. } | PoolError::Db { .. } => ErrorKind::Unexpected,
        };
        Error::new(kind, e.to_string())
            .with_placement(Placement::cloud(CLOUD))
            .with_source(e)
    }
}
