//! Price catalogs: what each cloud offers, where, and at what hourly price.
//!
//! [`Catalog`] is the pure, synchronous query interface the optimizer uses; [`Catalogs`]
//! holds one catalog per enabled cloud. This module has the interface and its plain types
//! only: the engine that reads SkyPilot's v8 CSV catalogs (AWS, GCP, Azure; where the files
//! come from, downloading them, SkyPilot's selection rules) is the `sky-catalog` crate, so
//! that the optimizer and embedders with catalogs of their own compile none of it.
//!
//! - [`Catalog`], [`Offering`], [`OfferingRef`], [`Feasibility`], [`Region`],
//!   [`AcceleratorFilter`], [`AcceleratorOffer`]: the interface and what it answers.
//! - [`Catalogs`]: the catalogs of the enabled clouds (`sky_catalog::load` fills one from
//!   SkyPilot's files; [`Catalogs::insert`] adds a catalog of your own).
//! - [`CatalogError`]: why a catalog could not be loaded or a place is unknown.
//! - [`egress_cost`]: the tiered internet egress price model.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cloud::CloudId;
use crate::resources::Resources;

mod egress;
mod error;

pub use egress::egress_cost;
pub use error::CatalogError;

/// An accelerator attached to an instance: a device name and a count per node.
#[derive(Clone, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Accelerator {
    /// Canonical device name (`V100`, `A100-80GB`, `tpu-v3-8`).
    pub name: String,
    /// Devices per node; may be fractional (`A10:0.5`).
    pub count: f64,
}

/// One launchable: an instance type in a region (and zone) on one market, with its price.
///
/// This is what the optimizer chooses among and what a provisioner is asked to launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    /// The cloud.
    pub cloud: CloudId,
    /// The instance type (for GCP GPU requests, the N1 host the accelerator attaches to).
    pub instance_type: String,
    /// The accelerator, if any.
    pub accelerator: Option<Accelerator>,
    /// vCPUs per node.
    pub vcpus: f64,
    /// Memory per node in GiB.
    pub memory_gib: f64,
    /// The region.
    pub region: String,
    /// The zone, for clouds with zones.
    pub zone: Option<String>,
    /// Spot (preemptible) market.
    pub spot: bool,
    /// Hourly price of one node in USD: the host plus any separately priced accelerator.
    pub hourly_price: f64,
    /// The part of [`Offering::hourly_price`] that is the separately priced accelerator
    /// (GCP GPUs and TPUs; 0 where the accelerator is bundled in the instance price).
    pub accelerator_hourly_price: f64,
}

impl Offering {
    /// A total order key: (cloud, region, zone, instance type, spot). Used to make results
    /// independent of input order.
    pub fn key(&self) -> (&CloudId, &str, Option<&str>, &str, bool) {
        (
            &self.cloud,
            &self.region,
            self.zone.as_deref(),
            &self.instance_type,
            self.spot,
        )
    }
}

impl Offering {
    /// A borrowed view of this offering.
    pub fn as_view(&self) -> OfferingRef<'_> {
        OfferingRef {
            cloud: &self.cloud,
            instance_type: &self.instance_type,
            accelerator: self
                .accelerator
                .as_ref()
                .map(|a| (a.name.as_str(), a.count)),
            vcpus: self.vcpus,
            memory_gib: self.memory_gib,
            region: &self.region,
            zone: self.zone.as_deref(),
            spot: self.spot,
            hourly_price: self.hourly_price,
            accelerator_hourly_price: self.accelerator_hourly_price,
        }
    }
}

/// A borrowed [`Offering`], as [`Catalog::visit_offerings`] hands them out: scanning a
/// large answer this way allocates nothing per offering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OfferingRef<'a> {
    /// The cloud.
    pub cloud: &'a CloudId,
    /// The instance type.
    pub instance_type: &'a str,
    /// The accelerator's name and count, if any.
    pub accelerator: Option<(&'a str, f64)>,
    /// vCPUs per node.
    pub vcpus: f64,
    /// Memory per node in GiB.
    pub memory_gib: f64,
    /// The region.
    pub region: &'a str,
    /// The zone, for clouds with zones.
    pub zone: Option<&'a str>,
    /// Spot (preemptible) market.
    pub spot: bool,
    /// Hourly price of one node in USD (see [`Offering::hourly_price`]).
    pub hourly_price: f64,
    /// The separately priced accelerator's part of the price.
    pub accelerator_hourly_price: f64,
}

impl OfferingRef<'_> {
    /// The owned offering.
    pub fn to_offering(&self) -> Offering {
        Offering {
            cloud: self.cloud.clone(),
            instance_type: self.instance_type.to_string(),
            accelerator: self.accelerator.map(|(name, count)| Accelerator {
                name: name.to_string(),
                count,
            }),
            vcpus: self.vcpus,
            memory_gib: self.memory_gib,
            region: self.region.to_string(),
            zone: self.zone.map(str::to_string),
            spot: self.spot,
            hourly_price: self.hourly_price,
            accelerator_hourly_price: self.accelerator_hourly_price,
        }
    }

    /// Overwrites `out` with this offering, reusing its string buffers: keeping a running
    /// best while scanning thousands of rows then allocates only when a string outgrows
    /// its buffer.
    pub fn write_into(&self, out: &mut Offering) {
        fn set(s: &mut String, v: &str) {
            s.clear();
            s.push_str(v);
        }
        if out.cloud != *self.cloud {
            out.cloud = self.cloud.clone();
        }
        set(&mut out.instance_type, self.instance_type);
        match (self.accelerator, &mut out.accelerator) {
            (Some((name, count)), Some(a)) => {
                set(&mut a.name, name);
                a.count = count;
            }
            (acc, slot) => {
                *slot = acc.map(|(name, count)| Accelerator {
                    name: name.to_string(),
                    count,
                });
            }
        }
        set(&mut out.region, self.region);
        match (self.zone, &mut out.zone) {
            (Some(z), Some(slot)) => set(slot, z),
            (zone, slot) => *slot = zone.map(str::to_string),
        }
        out.vcpus = self.vcpus;
        out.memory_gib = self.memory_gib;
        out.spot = self.spot;
        out.hourly_price = self.hourly_price;
        out.accelerator_hourly_price = self.accelerator_hourly_price;
    }

    /// The same total order key as [`Offering::key`].
    pub fn key(&self) -> (&CloudId, &str, Option<&str>, &str, bool) {
        (
            self.cloud,
            self.region,
            self.zone,
            self.instance_type,
            self.spot,
        )
    }
}

/// The result of a feasibility query ([`Catalog::offerings`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Feasibility {
    /// Every feasible launchable, cheapest first (ties: region, zone, instance type).
    pub offerings: Vec<Offering>,
    /// When nothing matched: accelerators the user may have meant, as `Name:count`.
    pub suggestions: Vec<String>,
    /// When nothing matched: which constraint excluded what, for the error message.
    pub hint: Option<String>,
}

/// A region and its zones (empty for clouds without zones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Region name.
    pub name: String,
    /// Zone names, sorted.
    pub zones: Vec<String>,
}

/// A filter for [`Catalog::accelerators`] (what `sky show-gpus` lists).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AcceleratorFilter {
    /// Case-insensitive substring of the accelerator name.
    pub name: Option<String>,
    /// Exact device count.
    pub count: Option<f64>,
    /// Case-insensitive substring of the region name.
    pub region: Option<String>,
    /// One row per region (otherwise only the cheapest region per instance type and count).
    pub all_regions: bool,
}

/// One row of an accelerator listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcceleratorOffer {
    /// The cloud.
    pub cloud: CloudId,
    /// The accelerator.
    pub accelerator: Accelerator,
    /// Instance type (empty for GCP accelerators that attach to an N1 host of your choice).
    pub instance_type: String,
    /// Device memory in GiB, when the catalog knows it.
    pub device_memory_gib: Option<f64>,
    /// vCPUs of the instance, when known.
    pub vcpus: Option<f64>,
    /// Host memory in GiB, when known.
    pub host_memory_gib: Option<f64>,
    /// On-demand hourly price.
    pub hourly_price: Option<f64>,
    /// Spot hourly price.
    pub hourly_spot_price: Option<f64>,
    /// Region of the price shown.
    pub region: String,
}

/// A cloud's price catalog: pure and synchronous, loaded once, no I/O per query.
pub trait Catalog: Send + Sync + Debug {
    /// The cloud this catalog describes.
    fn cloud(&self) -> CloudId;

    /// Every feasible launchable for one node of `req`, one per (instance type, region, zone,
    /// market), cheapest first. `req.cloud`, when set, must be this cloud (otherwise the result
    /// is empty). The market is `req.use_spot`.
    ///
    /// # Behavior
    /// - CPU-only requests with no `cpus`/`memory`/`instance_type` use the cloud's default
    ///   families with `8+` vCPUs and `4x` memory, as SkyPilot does.
    /// - Where the cloud prices accelerators separately (GCP), the offering's price is the host
    ///   plus the accelerator.
    /// - When nothing matches, `suggestions` and `hint` say why.
    fn offerings(&self, req: &Resources) -> Feasibility;

    /// The same offerings as [`Catalog::offerings`], handed to `visit` one borrowed offering
    /// at a time and in no particular order (so that a catalog need not sort them); the
    /// returned [`Feasibility`] carries the hint and suggestions with an empty `offerings`
    /// list.
    ///
    /// The optimizer calls this, so catalogs whose answers run into thousands of rows
    /// (SkyPilot's default CPU request) override it to avoid building an [`Offering`] per
    /// row. The default calls [`Catalog::offerings`].
    fn visit_offerings(
        &self,
        req: &Resources,
        visit: &mut dyn FnMut(OfferingRef<'_>),
    ) -> Feasibility {
        let mut answer = self.offerings(req);
        for o in &answer.offerings {
            visit(o.as_view());
        }
        answer.offerings.clear();
        answer
    }

    /// Whether the cloud's price or failover granularity is the zone (GCP), so that the
    /// optimizer keeps one candidate per zone even on-demand.
    fn optimize_by_zone(&self) -> bool;

    /// The zones of `region` where `offering`'s instance type (and accelerator) is offered on
    /// its market, in the order a provisioner should try them (cheapest first).
    fn zones_for(&self, offering: &Offering) -> Vec<String>;

    /// Regions and their zones, sorted by name.
    fn regions(&self) -> Vec<Region>;

    /// Checks that `region` (and `zone`) exist in this catalog; the error suggests near names.
    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError>;

    /// The hourly price of one node of `instance_type` (plus `accelerator` where priced
    /// separately) on the given market, in `region`/`zone` or the cheapest anywhere.
    fn hourly_cost(
        &self,
        instance_type: &str,
        accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64>;

    /// Accelerator listing rows, as `sky show-gpus` prints them.
    fn accelerators(&self, filter: &AcceleratorFilter) -> Vec<AcceleratorOffer>;

    /// The distinct accelerator names in this catalog, sorted.
    fn accelerator_names(&self) -> Vec<String>;

    /// The cost in USD of sending `gb` gigabytes out of this cloud to the internet or another
    /// cloud (monotone in `gb`).
    fn egress_cost(&self, gb: f64) -> f64;
}

/// The catalogs of the enabled clouds, keyed (and iterated) by cloud.
#[derive(Clone, Debug, Default)]
pub struct Catalogs {
    by_cloud: BTreeMap<CloudId, Arc<dyn Catalog>>,
}

impl Catalogs {
    /// No catalogs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the catalog of its cloud.
    pub fn with(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.insert(catalog);
        self
    }

    /// Adds (or replaces) the catalog of its cloud.
    pub fn insert(&mut self, catalog: Arc<dyn Catalog>) {
        self.by_cloud.insert(catalog.cloud(), catalog);
    }

    /// The catalog of `cloud`.
    pub fn get(&self, cloud: &CloudId) -> Option<&Arc<dyn Catalog>> {
        self.by_cloud.get(cloud)
    }

    /// All catalogs, ordered by cloud.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Catalog>> {
        self.by_cloud.values()
    }

    /// The enabled clouds, ordered.
    pub fn clouds(&self) -> Vec<CloudId> {
        self.by_cloud.keys().cloned().collect()
    }

    /// Keeps only the given clouds.
    pub fn retain(&mut self, clouds: &[CloudId]) {
        self.by_cloud.retain(|c, _| clouds.contains(c));
    }

    /// Whether there is no catalog.
    pub fn is_empty(&self) -> bool {
        self.by_cloud.is_empty()
    }
}
