//! Failover decisions: what to do when a provider call fails.
//!
//! The broker classifies nothing itself: each backend maps its provider's codes to an
//! [`ErrorKind`](sky_core::error::ErrorKind) and a [`Scope`](sky_core::error::Scope) (see [`sky_core::error`]), and a [`FailoverPolicy`] turns that
//! into a [`Decision`]. The default, [`DefaultPolicy`], follows SkyPilot's
//! `FailoverCloudErrorHandlerV2`; a custom scheduler can supply its own.
//!
//! - [`FailoverPolicy`] (with [`DefaultPolicy`]) decides what a provider error means: retry
//!   here, block a zone, region or cloud, or abort. [`FailoverHistory`] keeps every failed
//!   attempt for the error a launch returns.
//! - The loop itself (optimize, try the zones of the chosen region, block, re-optimize) is a
//!   crate-private type that [`Broker::provision`](crate::Broker::provision) runs.

mod policy;
mod run;

pub use policy::*;
pub use run::MAX_RETRIES_PER_ZONE;
pub(crate) use run::{Failover, terminate_with_retries};
