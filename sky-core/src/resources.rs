//! Resource requirements: what one node of a task needs.
//!
//! [`Resources`] mirrors SkyPilot's `resources:` section field by field (see the README's
//! "Task YAML" section); [`ResourceSet`] is what a task asks for once `any_of`, `ordered`
//! and accelerator sets/lists are expanded: alternatives that the optimizer chooses among.
//!
//! The string forms (`"V100:4"`, `"4+"`, `"32GB+"`, `"8000-8010"`, `"gcp/us-central1"`) are
//! parsed by the `FromStr` impls in this module's `parse` submodule; the YAML loader
//! ([`crate::task`]) uses them and adds the field name and line to every error.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudId;

mod builder;
mod fields;
mod infra;
pub(crate) mod names;
mod parse;
pub(crate) mod read;
pub(crate) mod write;

pub use infra::Infra;
pub use parse::{
    MAX_ACCELERATORS, MAX_CPUS, MAX_MEMORY_GIB, ParseValueError, normalize_ports,
    parse_disk_size_gb, parse_duration_secs, parse_idle_minutes, parse_memory_gib,
};

/// A requested accelerator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
#[non_exhaustive]
pub enum AcceleratorSpec {
    /// A device by name, e.g. `V100:4` or `A10G:0.5` (fractional counts are allowed).
    ///
    /// Names are matched case-insensitively against the catalogs; the YAML loader, given
    /// catalogs, canonicalises them to the catalogs' spelling (`v100` → `V100`).
    Name {
        /// The device name (`V100`, `tpu-v3-8`, ...).
        name: String,
        /// Devices per node; may be fractional.
        count: f64,
    },
    /// Any device with (at least) this much memory, e.g. `80GB+` or `nvidia:48GB:2`.
    Memory {
        /// Optional vendor filter (`nvidia`, `amd`, `google`).
        vendor: Option<String>,
        /// Device memory in GiB.
        memory_gib: f64,
        /// `true` for `80GB+` (at least), `false` for `80GB` (exactly).
        or_more: bool,
        /// Devices per node.
        count: f64,
    },
}

impl AcceleratorSpec {
    /// A named accelerator request.
    pub fn named(name: impl Into<String>, count: f64) -> Self {
        AcceleratorSpec::Name {
            name: name.into(),
            count,
        }
    }

    /// The requested device count per node.
    pub fn count(&self) -> f64 {
        match self {
            AcceleratorSpec::Name { count, .. } | AcceleratorSpec::Memory { count, .. } => *count,
        }
    }
}

/// A vCPU requirement: `4` (exactly) or `4+` (at least).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CpuSpec {
    /// The number of vCPUs.
    pub count: f64,
    /// `true` for "at least".
    pub or_more: bool,
}

/// A memory requirement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySpec {
    /// An amount in GiB: exactly (`16`) or at least (`16+`). Units KB..PB are converted.
    Gib {
        /// The amount in GiB.
        gib: f64,
        /// `true` for "at least".
        or_more: bool,
    },
    /// At least this many GiB per vCPU (`4x`); used by the CPU-only defaults.
    PerVcpu(f64),
}

/// Disk performance tier. Ordered: `Low < Medium < High < Ultra < Best`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskTier {
    /// About 1,000 IOPS.
    Low,
    /// The default.
    Medium,
    /// Faster SSDs.
    High,
    /// The fastest tier (not on Azure).
    Ultra,
    /// The cloud's best tier.
    Best,
}

/// Network tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkTier {
    /// The default network.
    Standard,
    /// The cloud's best interconnect (GPUDirect-TCPX, InfiniBand).
    Best,
}

/// An inclusive range of TCP ports, `start..=end`, within 1..=65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port (equal to `start` for a single port).
    pub end: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// The image to boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageId {
    /// One image everywhere. A `docker:<image>` value runs the task in that container.
    Any(String),
    /// One image per region; restricts placement to these regions.
    PerRegion(BTreeMap<String, String>),
}

impl ImageId {
    /// The image to boot in `region`: the one image, or that region's entry of a per-region
    /// map (`None` when the map has no entry for it).
    pub fn for_region(&self, region: &str) -> Option<&str> {
        match self {
            ImageId::Any(s) => Some(s),
            ImageId::PerRegion(m) => m.get(region).map(String::as_str),
        }
    }
}

/// A managed-job recovery strategy (`job_recovery`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobRecovery {
    /// The upper-cased strategy: `FAILOVER`, `EAGER_NEXT_REGION`, or `NONE` for `none`
    /// (recovery off). `None` when the YAML gives no strategy, e.g. `job_recovery:
    /// {max_restarts_on_errors: 1}`: the managed-job default strategy applies, and the
    /// restart budget is kept.
    pub strategy: Option<String>,
    /// Restarts allowed after user-code failures.
    pub max_restarts_on_errors: u32,
    /// Exit codes that trigger a restart.
    pub recover_on_exit_codes: Vec<u8>,
    /// Other (plugin) keys, round-tripped as given.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Autostop settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autostop {
    /// Whether autostop is on (`autostop: false` turns it off).
    pub enabled: bool,
    /// Idle minutes before stopping (`autostop: true` = 5).
    pub idle_minutes: u32,
    /// Tear down instead of stopping.
    pub down: bool,
    /// What counts as activity (`jobs`, `jobs_and_ssh`, `none`).
    pub wait_for: Option<String>,
    /// A script to run before stopping.
    pub hook: Option<String>,
    /// Seconds the hook may take.
    pub hook_timeout: Option<u32>,
}

/// Requirements for one node of a task, and where it may run.
///
/// Every field is optional; unset means "any". Build one with [`Resources::new`] and the
/// `with_*` methods, or parse a task's YAML with [`crate::task::Task::from_yaml_str`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resources {
    /// The cloud (from `cloud:` or the first part of `infra:`).
    pub cloud: Option<CloudId>,
    /// The region.
    pub region: Option<String>,
    /// The zone.
    pub zone: Option<String>,
    /// A specific instance type.
    pub instance_type: Option<String>,
    /// vCPUs per node.
    pub cpus: Option<CpuSpec>,
    /// Memory per node.
    pub memory: Option<MemorySpec>,
    /// Accelerators per node (one kind; sets and lists become alternatives in a
    /// [`ResourceSet`]).
    pub accelerators: Option<AcceleratorSpec>,
    /// TPU arguments (`runtime_version`, `tpu_name`, `tpu_vm`, ...), round-tripped.
    pub accelerator_args: Option<BTreeMap<String, serde_json::Value>>,
    /// Spot (preemptible) instances; `None` = not specified (on-demand).
    pub use_spot: Option<bool>,
    /// Managed-job recovery strategy.
    pub job_recovery: Option<JobRecovery>,
    /// OS disk size in GB (default 256 when launched).
    pub disk_size_gb: Option<u64>,
    /// Disk tier.
    pub disk_tier: Option<DiskTier>,
    /// Network tier.
    pub network_tier: Option<NetworkTier>,
    /// Ports to open, normalised (sorted, merged).
    pub ports: Vec<PortRange>,
    /// Labels (AWS tags, GCP labels).
    pub labels: BTreeMap<String, String>,
    /// The image.
    pub image_id: Option<ImageId>,
    /// Autostop settings.
    pub autostop: Option<Autostop>,
    /// Scheduling priority.
    pub priority: Option<i64>,
    /// Upper bound on the hourly price of one node.
    pub max_hourly_cost: Option<f64>,
    /// Instance-store disk filter, round-tripped.
    pub local_disk: Option<String>,
}

impl Resources {
    /// Empty requirements: any node anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether spot instances are requested.
    pub fn spot(&self) -> bool {
        self.use_spot.unwrap_or(false)
    }
}

/// How the optimizer treats a task's alternatives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Any alternative may be chosen: the cheapest (or fastest) wins (`any_of`, accelerator
    /// sets, or a single request).
    #[default]
    AnyOf,
    /// Alternatives in preference order: the first with a feasible candidate wins
    /// (`ordered`, accelerator lists).
    Ordered,
}

/// A task's resource alternatives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSet {
    /// How to choose among the alternatives.
    pub selection: Selection,
    /// The alternatives; never empty.
    pub alternatives: Vec<Resources>,
}

impl Default for ResourceSet {
    fn default() -> Self {
        ResourceSet {
            selection: Selection::AnyOf,
            alternatives: vec![Resources::default()],
        }
    }
}

impl ResourceSet {
    /// A single requirement.
    pub fn one(r: Resources) -> Self {
        ResourceSet {
            selection: Selection::AnyOf,
            alternatives: vec![r],
        }
    }

    /// Alternatives the optimizer may choose among freely.
    pub fn any_of(rs: impl IntoIterator<Item = Resources>) -> Self {
        ResourceSet {
            selection: Selection::AnyOf,
            alternatives: rs.into_iter().collect(),
        }
    }

    /// Alternatives in preference order.
    pub fn ordered(rs: impl IntoIterator<Item = Resources>) -> Self {
        ResourceSet {
            selection: Selection::Ordered,
            alternatives: rs.into_iter().collect(),
        }
    }
}
