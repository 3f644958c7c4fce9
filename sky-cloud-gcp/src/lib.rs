//! # sky-cloud-gcp
//!
//! sky's GCP backend: provisioning on Compute Engine through the official
//! `google-cloud-compute-v1` crate. There is no Compute Engine emulator, so its tests will run
//! the real client against a local HTTP server that answers with the documented API shapes
//! (operations, `ZONE_RESOURCE_POOL_EXHAUSTED` errors, label filters).
//!
//! Until that lands, the GCP *catalog* is already served by [`sky_core::catalog`].

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Gcp;
