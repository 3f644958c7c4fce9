//! What differs between SkyPilot's clouds, as one [`CloudRules`] value per cloud (`aws.rs`,
//! `gcp.rs`, `azure.rs`), and the defaults they share.
//!
//! The query engine (`query`) is one code path for every cloud: where SkyPilot's clouds
//! differ, it reads a plain value or calls a function pointer of its catalog's rules, resolved
//! once per query, never per row, and never through a trait object.

use std::collections::HashMap;

use sky_core::CloudId;

use crate::query::{Cand, Core, Req};
use crate::table::Sym;

/// Default vCPUs per node for CPU-only requests that give neither cpus nor memory (`8+`).
pub(crate) const DEFAULT_VCPUS: f64 = 8.0;

/// Default GiB of memory per vCPU for CPU-only requests without a memory spec (`4x`), and the
/// minimum memory per vCPU of GCP's N1 GPU hosts.
pub(crate) const DEFAULT_MEMORY_PER_VCPU: f64 = 4.0;

/// Host rows per zone (show-gpus' index of the hosts accelerators attach to).
pub(crate) type HostsByZone = HashMap<Sym, Vec<u32>>;

/// [`SplitPricing::attach_hosts`]: `(catalog, accelerator candidates, request, accelerator,
/// count, "NAME:COUNT" for hints)`.
pub(crate) type AttachHosts =
    fn(&Core, Vec<Cand>, &Req<'_>, Sym, f64, &str) -> Result<Vec<Cand>, String>;

/// [`SplitPricing::default_host`]: `(catalog, hosts per zone, accelerator, count, zone)`.
pub(crate) type DefaultHost = fn(&Core, &HostsByZone, &str, f64, Sym) -> Option<u32>;

/// One cloud's rules (SkyPilot hard-codes them next to its catalogs,
/// `sky/catalog/{aws,gcp,azure}_catalog.py`).
#[derive(Debug)]
pub(crate) struct CloudRules {
    /// The cloud.
    pub cloud: CloudId,
    /// Whether the cloud has zones: its file has an `AvailabilityZone` column. Without zones
    /// (Azure), a zone in a request is rejected and offerings list none.
    pub zones: bool,
    /// The optional per-instance-type column kept as the row's extra string (AWS `Arch`,
    /// Azure `Generation`).
    pub extra_column: Option<&'static str>,
    /// Whether an instance type is in the cloud's default CPU families.
    pub is_default: fn(&str) -> bool,
    /// Whether prices and failover are per zone ([`sky_core::catalog::Catalog::optimize_by_zone`]).
    pub optimize_by_zone: bool,
    /// Appended to a "no zone matches" hint when the catalog's zones look like zone ids
    /// (`-az` in the name; AWS before the account's zone names are known).
    pub zone_id_note: Option<&'static str>,
    /// Accelerators priced apart from the host they attach to (GCP); `None` where the
    /// accelerator is bundled in the instance price (AWS, Azure).
    pub split: Option<SplitPricing>,
}

/// The rules of a cloud whose accelerators are rows of their own, priced apart from the host
/// VM they attach to (GCP).
#[derive(Debug)]
pub(crate) struct SplitPricing {
    /// The instance type of accelerators that need no host row (GCP's `TPU-VM`).
    pub hostless_instance: &'static str,
    /// The hint when a request names [`SplitPricing::hostless_instance`] without such an
    /// accelerator.
    pub hostless_hint: &'static str,
    /// Whether an accelerator needs no host row (GCP TPUs).
    pub is_hostless: fn(&str) -> bool,
    /// The accelerator a host type is sold with (GCP's A2/A3/A4/G2), if any.
    pub accelerator_of_host: fn(&str) -> Option<(&'static str, f64)>,
    /// Whether a host type takes attachable accelerators (GCP's N1 hosts); indexed per zone
    /// once per catalog.
    pub is_attach_host: fn(&str) -> bool,
    /// Pairs accelerator candidates with the host rows of their zone that the request and
    /// the cloud's host rules allow; `Err(hint)` when none is left.
    pub attach_hosts: AttachHosts,
    /// The host show-gpus lists for `acc:count` in a zone, from the given hosts per zone.
    pub default_host: DefaultHost,
}
