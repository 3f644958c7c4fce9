//! # sky-cloud-azure
//!
//! sky's Azure backend: provisioning through the ARM REST API with tokens from
//! `azure_identity` (no maintained ARM compute crate exists in the Azure SDK's 1.x line).
//! There is no compute emulator, so its tests will run the real HTTP client against a local
//! server that answers with the documented ARM shapes (async operations, `AllocationFailed`,
//! `SkuNotAvailable`).
//!
//! Until that lands, the Azure *catalog* is already served by [`sky_core::catalog`].

/// The cloud this crate provisions on.
pub const CLOUD: sky_core::CloudId = sky_core::CloudId::Azure;
