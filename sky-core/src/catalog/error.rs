//! Catalog errors.

use std::path::PathBuf;

/// Why a catalog could not be loaded or a query was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A catalog file could not be read.
    #[error("cannot read catalog file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A catalog file is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A region that the catalog does not have.
    #[error("{cloud} has no region {region:?}{}", suggestion_text(suggestion))]
    UnknownRegion {
        /// The cloud.
        cloud: String,
        /// The region asked for.
        region: String,
        /// A near name, if any.
        suggestion: Option<String>,
    },
    /// A zone that the catalog does not have (or that is not in the given region).
    #[error("{cloud} has no zone {zone:?}{}", suggestion_text(suggestion))]
    UnknownZone {
        /// The cloud.
        cloud: String,
        /// The zone asked for.
        zone: String,
        /// A near name, if any.
        suggestion: Option<String>,
    },
    /// The cloud has no zones (Azure).
    #[error("{cloud} does not support zones")]
    ZonesUnsupported {
        /// The cloud.
        cloud: String,
    },
    /// No cached catalog and no way to download one.
    #[error(
        "no catalog for {cloud} in {dir} and it could not be downloaded ({reason}); \
         set SKY_CATALOG_DIR or --catalog-dir to a directory with SkyPilot's v8 catalogs"
    )]
    Offline {
        /// The cloud.
        cloud: String,
        /// The cache directory.
        dir: PathBuf,
        /// Why the download failed.
        reason: String,
    },
}

fn suggestion_text(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!("; did you mean {s:?}?"))
        .unwrap_or_default()
}
