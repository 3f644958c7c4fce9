//! # sky-catalog
//!
//! The engine that reads SkyPilot's v8 CSV price catalogs (`<dir>/<cloud>/vms.csv`) and answers
//! the [`Catalog`] queries of sky, an intercloud broker, over them
//! with SkyPilot's selection rules (default CPU families, GCP's separately priced GPUs and N1
//! host rules, region and zone price order).
//!
//! - [`CatalogSource`]: where the files come from (a directory, [`CATALOG_DIR_ENV`], or
//!   SkyPilot's hosted catalogs cached in `~/.sky/catalogs/v8`, downloaded and refreshed with
//!   the `fetch` feature).
//! - [`AwsCatalog`], [`GcpCatalog`], [`AzureCatalog`]: the [`Catalog`]
//!   of each cloud.
//! - [`load`]: the catalogs of several clouds at once (loaded in parallel), as a
//!   [`Catalogs`].
//!
//! # Layout
//! One query engine (`query`) serves every cloud; what differs between SkyPilot's clouds
//! (zones or none, default CPU families, GCP's separately priced accelerators and host rules)
//! is one `CloudRules` value per cloud, in `aws.rs`, `gcp.rs` and `azure.rs`, read by the
//! engine once per query (plain values and function pointers: no per-row dispatch).
//!
//! # Why a separate crate
//! `sky-core` holds the `Catalog` trait and its plain types; this crate is one implementation
//! of it, with a CSV reader, a hashing download cache and an HTTP client. Keeping it apart means
//! that the optimizer, and embedders who bring catalogs of their own, compile none of that.
//!
//! ```no_run
//! use sky_catalog::CatalogSource;
//! use sky_core::CloudId;
//!
//! // SkyPilot's catalogs in ~/.sky/catalogs/v8, downloaded or refreshed as needed:
//! let catalogs = sky_catalog::load(&CatalogSource::new(), &[CloudId::Aws, CloudId::Gcp])?;
//! // A directory of catalog files, used as is:
//! let gcp = sky_catalog::load(&CatalogSource::new().dir("/data/catalogs"), &[CloudId::Gcp])?;
//! # Ok::<(), sky_core::catalog::CatalogError>(())
//! ```

use std::sync::Arc;

use sky_core::CloudId;
use sky_core::catalog::{Catalog, CatalogError, Catalogs};

mod aws;
mod azure;
mod csv_catalog;
mod gcp;
mod gpu;
mod query;
mod rules;
mod source;
mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use aws::AwsCatalog;
pub use azure::AzureCatalog;
pub use gcp::GcpCatalog;
pub use source::{CATALOG_DIR_ENV, CatalogSource};

/// Loads the SkyPilot catalogs of `clouds` from `source`, one thread per cloud.
///
/// Clouds without a SkyPilot CSV catalog (fake, local, ssh, other) are skipped: their backends
/// bring their own [`Catalog`] ([`Catalogs::insert`]). The first cloud that fails to load fails
/// the whole call.
pub fn load(source: &CatalogSource, clouds: &[CloudId]) -> Result<Catalogs, CatalogError> {
    let mut wanted: Vec<CloudId> = clouds
        .iter()
        .filter(|c| matches!(c, CloudId::Aws | CloudId::Gcp | CloudId::Azure))
        .cloned()
        .collect();
    wanted.sort();
    wanted.dedup();
    let loaded: Vec<Result<Arc<dyn Catalog>, CatalogError>> = std::thread::scope(|s| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|cloud| {
                s.spawn(move || -> Result<Arc<dyn Catalog>, CatalogError> {
                    Ok(match cloud {
                        CloudId::Aws => Arc::new(AwsCatalog::load(source)?),
                        CloudId::Gcp => Arc::new(GcpCatalog::load(source)?),
                        _ => Arc::new(AzureCatalog::load(source)?),
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut catalogs = Catalogs::new();
    for c in loaded {
        catalogs.insert(c?);
    }
    Ok(catalogs)
}
