//! The fake cloud's price catalog: a small embedded table, or any rows a test supplies.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    Region,
};
use crate::cloud::CloudId;
use crate::resources::{AcceleratorSpec, CpuSpec, ImageId, MemorySpec, Resources};
use crate::suggest;

/// A catalog held in memory: one [`Offering`] row per (instance type, region, zone, market).
///
/// [`FakeCatalog::embedded`] is the table [`crate::fake::FakeCloud`] uses by default; tests
/// that need other prices build their own with [`FakeCatalog::from_offerings`].
///
/// The embedded table has three regions, `fake-east-1` (zones `a`, `b`, `c`), `fake-west-1`
/// (`a`, `b`) and `fake-eu-1` (`a`); CPU types `fake.cpu2`, `fake.cpu4`, `fake.cpu8`
/// (8 vCPU, 32 GiB), `fake.cpu16`, `fake.mem8` (8 vCPU, 64 GiB); GPU types
/// `fake.gpu.t4x1` (T4:1), `fake.gpu.t4x4` (T4:4), `fake.gpu.v100x1` (V100:1),
/// `fake.gpu.v100x4` (V100:4) and `fake.gpu.a100x8` (A100:8). CPUs are cheapest in
/// `fake-east-1`, GPUs in `fake-west-1`; on-demand prices rise from zone `a` to `c`, spot
/// prices are cheapest in zone `b`. Not every type is everywhere (no V100 in `fake-eu-1`,
/// A100 spot only in `fake-west-1b`). Egress costs a flat 0.02 USD/GB.
///
/// ```
/// use sky_core::catalog::Catalog;
/// use sky_core::fake::FakeCatalog;
/// use sky_core::resources::{AcceleratorSpec, Resources};
///
/// let cat = FakeCatalog::embedded();
/// let mut req = Resources::new();
/// req.accelerators = Some(AcceleratorSpec::named("V100", 1.0));
/// let best = &cat.offerings(&req).offerings[0];
/// assert_eq!(best.instance_type, "fake.gpu.v100x1");
/// assert_eq!(best.region, "fake-west-1");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FakeCatalog {
    cloud: CloudId,
    rows: Vec<Offering>,
    regions: Vec<Region>,
    device_memory: BTreeMap<String, f64>,
    egress_per_gb: f64,
}

/// (region, zone suffixes, CPU price factor, GPU price factor)
const REGIONS: [(&str, &[&str], f64, f64); 3] = [
    ("fake-east-1", &["a", "b", "c"], 1.00, 1.00),
    ("fake-west-1", &["a", "b"], 1.10, 0.95),
    ("fake-eu-1", &["a"], 1.25, 1.20),
];
/// On-demand and spot price factors of the zones `a`, `b`, `c`.
const ZONE_FACTOR: [f64; 3] = [1.00, 1.02, 1.04];
const SPOT_FACTOR: [f64; 3] = [0.40, 0.30, 0.35];

/// Where a type is offered: `None` = every zone; otherwise these zones (full names).
type Places = Option<&'static [&'static str]>;

struct TypeRow {
    name: &'static str,
    vcpus: f64,
    memory_gib: f64,
    accelerator: Option<(&'static str, f64)>,
    price: f64,
    on_demand: Places,
    spot: Places,
}

const TYPES: [TypeRow; 10] = [
    cpu("fake.cpu2", 2.0, 8.0, 0.10),
    cpu("fake.cpu4", 4.0, 16.0, 0.20),
    cpu("fake.cpu8", 8.0, 32.0, 0.40),
    cpu("fake.cpu16", 16.0, 64.0, 0.80),
    TypeRow {
        on_demand: Some(&EAST_WEST),
        spot: Some(&EAST_WEST),
        ..cpu("fake.mem8", 8.0, 64.0, 0.55)
    },
    gpu("fake.gpu.t4x1", 4.0, 16.0, ("T4", 1.0), 0.53, None, None),
    gpu(
        "fake.gpu.t4x4",
        48.0,
        192.0,
        ("T4", 4.0),
        3.91,
        Some(&["fake-east-1a", "fake-east-1b", "fake-eu-1a"]),
        Some(&["fake-east-1a", "fake-east-1b", "fake-eu-1a"]),
    ),
    gpu(
        "fake.gpu.v100x1",
        8.0,
        61.0,
        ("V100", 1.0),
        3.06,
        Some(&EAST_WEST),
        Some(&EAST_WEST),
    ),
    gpu(
        "fake.gpu.v100x4",
        32.0,
        244.0,
        ("V100", 4.0),
        12.24,
        Some(&["fake-east-1b", "fake-east-1c", "fake-west-1a"]),
        Some(&["fake-east-1b", "fake-east-1c", "fake-west-1a"]),
    ),
    gpu(
        "fake.gpu.a100x8",
        96.0,
        1152.0,
        ("A100", 8.0),
        32.77,
        Some(&[
            "fake-east-1b",
            "fake-east-1c",
            "fake-west-1a",
            "fake-west-1b",
        ]),
        Some(&["fake-west-1b"]),
    ),
];
const EAST_WEST: [&str; 5] = [
    "fake-east-1a",
    "fake-east-1b",
    "fake-east-1c",
    "fake-west-1a",
    "fake-west-1b",
];
const DEVICE_MEMORY: [(&str, f64); 3] = [("A100", 40.0), ("T4", 16.0), ("V100", 16.0)];

const fn cpu(name: &'static str, vcpus: f64, memory_gib: f64, price: f64) -> TypeRow {
    TypeRow {
        name,
        vcpus,
        memory_gib,
        accelerator: None,
        price,
        on_demand: None,
        spot: None,
    }
}

const fn gpu(
    name: &'static str,
    vcpus: f64,
    memory_gib: f64,
    accelerator: (&'static str, f64),
    price: f64,
    on_demand: Places,
    spot: Places,
) -> TypeRow {
    TypeRow {
        name,
        vcpus,
        memory_gib,
        accelerator: Some(accelerator),
        price,
        on_demand,
        spot,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn fmt_acc(name: &str, count: f64) -> String {
    format!("{name}:{count}")
}

fn cpu_ok(spec: &Option<CpuSpec>, vcpus: f64) -> bool {
    spec.is_none_or(|c| {
        if c.or_more {
            vcpus + 1e-9 >= c.count
        } else {
            (vcpus - c.count).abs() < 1e-9
        }
    })
}

fn memory_ok(spec: &Option<MemorySpec>, gib: f64, vcpus: f64) -> bool {
    match spec {
        None => true,
        Some(MemorySpec::Gib { gib: want, or_more }) => {
            if *or_more {
                gib + 1e-9 >= *want
            } else {
                (gib - want).abs() < 1e-9
            }
        }
        Some(MemorySpec::PerVcpu(ratio)) => gib + 1e-9 >= ratio * vcpus,
    }
}

impl FakeCatalog {
    /// The embedded table (see the type's docs).
    pub fn embedded() -> Self {
        let mut rows = Vec::new();
        for t in &TYPES {
            for (region, zones, cpu_factor, gpu_factor) in REGIONS {
                let region_factor = if t.accelerator.is_some() {
                    gpu_factor
                } else {
                    cpu_factor
                };
                for (i, suffix) in zones.iter().enumerate() {
                    let zone = format!("{region}{suffix}");
                    let price = round4(t.price * region_factor * ZONE_FACTOR[i]);
                    for (spot, places, factor) in
                        [(false, t.on_demand, 1.0), (true, t.spot, SPOT_FACTOR[i])]
                    {
                        if places.is_some_and(|p| !p.contains(&zone.as_str())) {
                            continue;
                        }
                        rows.push(Offering {
                            cloud: CloudId::Fake,
                            instance_type: t.name.to_string(),
                            accelerator: t.accelerator.map(|(name, count)| Accelerator {
                                name: name.to_string(),
                                count,
                            }),
                            vcpus: t.vcpus,
                            memory_gib: t.memory_gib,
                            region: region.to_string(),
                            zone: Some(zone.clone()),
                            spot,
                            hourly_price: round4(price * factor),
                            accelerator_hourly_price: 0.0,
                        });
                    }
                }
            }
        }
        let mut cat = FakeCatalog::from_offerings(rows);
        for (name, gib) in DEVICE_MEMORY {
            cat = cat.with_device_memory(name, gib);
        }
        cat
    }

    /// A catalog of exactly these rows (their `cloud` is replaced by [`CloudId::Fake`]; see
    /// [`FakeCatalog::with_cloud`]). Regions and zones are those the rows name. Egress costs
    /// 0.02 USD/GB.
    pub fn from_offerings(rows: impl IntoIterator<Item = Offering>) -> Self {
        let mut rows: Vec<Offering> = rows.into_iter().collect();
        let mut regions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &mut rows {
            r.cloud = CloudId::Fake;
            let zones = regions.entry(r.region.clone()).or_default();
            if let Some(z) = &r.zone {
                zones.insert(z.clone());
            }
        }
        rows.sort_by(|a, b| a.key().cmp(&b.key()));
        FakeCatalog {
            cloud: CloudId::Fake,
            rows,
            regions: regions
                .into_iter()
                .map(|(name, zones)| Region {
                    name,
                    zones: zones.into_iter().collect(),
                })
                .collect(),
            device_memory: BTreeMap::new(),
            egress_per_gb: 0.02,
        }
    }

    /// The same catalog under another cloud id (to simulate several clouds with fakes).
    pub fn with_cloud(mut self, cloud: CloudId) -> Self {
        for r in &mut self.rows {
            r.cloud = cloud.clone();
        }
        self.cloud = cloud;
        self
    }

    /// Sets the egress price in USD per GB.
    pub fn with_egress_per_gb(mut self, usd: f64) -> Self {
        self.egress_per_gb = usd;
        self
    }

    /// Records the device memory of an accelerator (for `80GB+`-style requests and listings).
    pub fn with_device_memory(mut self, accelerator: impl Into<String>, gib: f64) -> Self {
        self.device_memory.insert(accelerator.into(), gib);
        self
    }

    /// Every row, sorted by [`Offering::key`].
    pub fn rows(&self) -> &[Offering] {
        &self.rows
    }

    /// The distinct instance type names, sorted.
    pub fn instance_types(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.rows.iter().map(|r| r.instance_type.as_str()).collect();
        set.into_iter().collect()
    }

    /// The rows of `instance_type` on a market in `region` (and `zone`, when given), cheapest
    /// first (ties by zone).
    pub(crate) fn placements(
        &self,
        instance_type: &str,
        spot: bool,
        region: &str,
        zone: Option<&str>,
    ) -> Vec<&Offering> {
        let mut v: Vec<&Offering> = self
            .rows
            .iter()
            .filter(|r| {
                r.instance_type == instance_type
                    && r.spot == spot
                    && r.region == region
                    && zone.is_none_or(|z| r.zone.as_deref() == Some(z))
            })
            .collect();
        v.sort_by(|a, b| {
            a.hourly_price
                .total_cmp(&b.hourly_price)
                .then_with(|| a.zone.cmp(&b.zone))
        });
        v
    }

    fn suggestions(&self, name: &str, count: f64) -> Vec<String> {
        let lname = name.to_ascii_lowercase();
        let with_acc = || {
            self.rows
                .iter()
                .filter(|r| !r.spot)
                .filter_map(|r| r.accelerator.as_ref().map(|a| (a, r.hourly_price)))
        };
        let mut picked: Vec<(&Accelerator, f64)> = with_acc()
            .filter(|(a, _)| a.name.to_ascii_lowercase().contains(&lname) && a.count >= count)
            .collect();
        if picked.is_empty() {
            let names = self.accelerator_names();
            let close = suggest::closest(name, names.iter().map(String::as_str), 3);
            picked = with_acc()
                .filter(|(a, _)| close.contains(&a.name))
                .collect();
        }
        let mut best: BTreeMap<String, f64> = BTreeMap::new();
        for (a, price) in picked {
            let e = best.entry(fmt_acc(&a.name, a.count)).or_insert(price);
            *e = e.min(price);
        }
        let mut v: Vec<(String, f64)> = best.into_iter().collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(s, _)| s).collect()
    }

    fn acc_spec_ok(&self, spec: &AcceleratorSpec, acc: Option<&Accelerator>) -> bool {
        let Some(acc) = acc else { return false };
        match spec {
            AcceleratorSpec::Name { name, count } => {
                acc.name.eq_ignore_ascii_case(name) && (acc.count - count).abs() <= 0.01
            }
            AcceleratorSpec::Memory {
                vendor,
                memory_gib,
                or_more,
                count,
            } => {
                // Every fake accelerator is an NVIDIA GPU.
                let vendor_ok = vendor
                    .as_deref()
                    .is_none_or(|v| v.eq_ignore_ascii_case("nvidia"));
                let mem_ok = self.device_memory.get(&acc.name).is_some_and(|m| {
                    if *or_more {
                        m + 1e-9 >= *memory_gib
                    } else {
                        (m - memory_gib).abs() < 1e-9
                    }
                });
                vendor_ok && mem_ok && (acc.count - count).abs() <= 0.01
            }
        }
    }
}

/// A listing row per (type, region): a representative row, the cheapest on-demand and spot
/// prices over its zones.
type ListingRow<'a> = (&'a Offering, Option<f64>, Option<f64>);

fn no_match(hint: String, suggestions: Vec<String>) -> Feasibility {
    Feasibility {
        offerings: Vec::new(),
        suggestions,
        hint: Some(hint),
    }
}

impl Catalog for FakeCatalog {
    fn cloud(&self) -> CloudId {
        self.cloud.clone()
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        if req.cloud.as_ref().is_some_and(|c| *c != self.cloud) {
            return Feasibility::default();
        }
        if let Err(e) = self.validate_region_zone(req.region.as_deref(), req.zone.as_deref()) {
            return no_match(e.to_string(), Vec::new());
        }
        let cloud = &self.cloud;
        let mut rows: Vec<&Offering> = self.rows.iter().collect();
        let mut what = String::new();
        if let Some(t) = &req.instance_type {
            rows.retain(|r| r.instance_type == *t);
            if rows.is_empty() {
                let near = suggest::did_you_mean(t, self.instance_types());
                let tail = near.map(|n| format!("; did you mean {n:?}?"));
                return no_match(
                    format!(
                        "{cloud} has no instance type {t:?}{}",
                        tail.unwrap_or_default()
                    ),
                    Vec::new(),
                );
            }
            what = format!("instance type {t}");
        }
        let (mut cpus, mut memory) = (req.cpus, req.memory);
        match &req.accelerators {
            Some(spec) => {
                rows.retain(|r| self.acc_spec_ok(spec, r.accelerator.as_ref()));
                let desc = match spec {
                    AcceleratorSpec::Name { name, count } => fmt_acc(name, *count),
                    AcceleratorSpec::Memory {
                        memory_gib,
                        or_more,
                        count,
                        ..
                    } => format!(
                        "{count} GPU(s) with {memory_gib}GB{}",
                        ["", "+"][*or_more as usize]
                    ),
                };
                if rows.is_empty() {
                    let suggestions = match spec {
                        AcceleratorSpec::Name { name, count } => self.suggestions(name, *count),
                        AcceleratorSpec::Memory { .. } => Vec::new(),
                    };
                    let mut hint = format!("no {cloud} offering has {desc}");
                    if !what.is_empty() {
                        hint.push_str(&format!(" with {what}"));
                    }
                    return no_match(hint, suggestions);
                }
                what = if what.is_empty() {
                    desc
                } else {
                    format!("{what} ({desc})")
                };
            }
            None if req.instance_type.is_none() => {
                // SkyPilot's CPU-only default: 8+ vCPUs when neither cpus nor memory is
                // given, and at least 4 GiB per vCPU when memory is not given.
                rows.retain(|r| r.accelerator.is_none());
                if cpus.is_none() && memory.is_none() {
                    cpus = Some(CpuSpec {
                        count: 8.0,
                        or_more: true,
                    });
                }
                memory = memory.or(Some(MemorySpec::PerVcpu(4.0)));
                what = "a CPU instance".to_string();
            }
            None => {}
        }
        rows.retain(|r| cpu_ok(&cpus, r.vcpus) && memory_ok(&memory, r.memory_gib, r.vcpus));
        if rows.is_empty() {
            return no_match(
                format!("no {cloud} {what} matches cpus={cpus:?} and memory={memory:?}"),
                Vec::new(),
            );
        }
        let spot = req.spot();
        rows.retain(|r| r.spot == spot);
        if rows.is_empty() {
            return no_match(
                format!("{what} is not offered on {cloud}'s spot market"),
                Vec::new(),
            );
        }
        let offered_in: BTreeSet<&str> = rows.iter().map(|r| r.region.as_str()).collect();
        let image_regions = match &req.image_id {
            Some(ImageId::PerRegion(m)) => Some(m),
            _ => None,
        };
        rows.retain(|r| {
            req.region.as_deref().is_none_or(|x| r.region == x)
                && req
                    .zone
                    .as_deref()
                    .is_none_or(|z| r.zone.as_deref() == Some(z))
                && image_regions.is_none_or(|m| m.contains_key(&r.region))
        });
        if rows.is_empty() {
            let at = req
                .zone
                .as_deref()
                .or(req.region.as_deref())
                .unwrap_or("the image's regions");
            let list: Vec<&str> = offered_in.into_iter().collect();
            return no_match(
                format!(
                    "{what} is not offered in {at}; it is offered in {}",
                    list.join(", ")
                ),
                Vec::new(),
            );
        }
        if let Some(max) = req.max_hourly_cost {
            let cheapest = rows
                .iter()
                .map(|r| r.hourly_price)
                .fold(f64::INFINITY, f64::min);
            rows.retain(|r| r.hourly_price <= max);
            if rows.is_empty() {
                return no_match(
                    format!("{what} costs at least ${cheapest}/h, above max_hourly_cost ${max}/h"),
                    Vec::new(),
                );
            }
        }
        let mut offerings: Vec<Offering> = rows.into_iter().cloned().collect();
        offerings.sort_by(|a, b| {
            a.hourly_price
                .total_cmp(&b.hourly_price)
                .then_with(|| a.key().cmp(&b.key()))
        });
        Feasibility {
            offerings,
            suggestions: Vec::new(),
            hint: None,
        }
    }

    fn optimize_by_zone(&self) -> bool {
        true
    }

    fn zones_for(&self, offering: &Offering) -> Vec<String> {
        self.placements(
            &offering.instance_type,
            offering.spot,
            &offering.region,
            None,
        )
        .into_iter()
        .filter_map(|r| r.zone.clone())
        .collect()
    }

    fn regions(&self) -> Vec<Region> {
        self.regions.clone()
    }

    fn validate_region_zone(
        &self,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Result<(), CatalogError> {
        let cloud = self.cloud.to_string();
        let mut scope: Vec<&Region> = self.regions.iter().collect();
        if let Some(r) = region {
            scope.retain(|x| x.name == r);
            if scope.is_empty() {
                return Err(CatalogError::UnknownRegion {
                    cloud,
                    region: r.to_string(),
                    suggestion: suggest::did_you_mean(
                        r,
                        self.regions.iter().map(|x| x.name.as_str()),
                    ),
                });
            }
        }
        if let Some(z) = zone {
            if self.regions.iter().all(|x| x.zones.is_empty()) {
                return Err(CatalogError::ZonesUnsupported { cloud });
            }
            let zones: Vec<&str> = scope
                .iter()
                .flat_map(|x| x.zones.iter().map(String::as_str))
                .collect();
            if !zones.contains(&z) {
                return Err(CatalogError::UnknownZone {
                    cloud,
                    zone: z.to_string(),
                    suggestion: suggest::did_you_mean(z, zones),
                });
            }
        }
        Ok(())
    }

    fn hourly_cost(
        &self,
        instance_type: &str,
        _accelerator: Option<&Accelerator>,
        spot: bool,
        region: Option<&str>,
        zone: Option<&str>,
    ) -> Option<f64> {
        // Accelerators are bundled in the instance price here, as on AWS.
        self.rows
            .iter()
            .filter(|r| {
                r.instance_type == instance_type
                    && r.spot == spot
                    && region.is_none_or(|x| r.region == x)
                    && zone.is_none_or(|z| r.zone.as_deref() == Some(z))
            })
            .map(|r| r.hourly_price)
            .min_by(f64::total_cmp)
    }

    fn accelerators(&self, filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        let name = filter.name.as_ref().map(|n| n.to_ascii_lowercase());
        let region = filter.region.as_ref().map(|r| r.to_ascii_lowercase());
        let mut by_region: BTreeMap<(&str, &str), ListingRow<'_>> = BTreeMap::new();
        for r in &self.rows {
            let Some(acc) = &r.accelerator else { continue };
            if name
                .as_ref()
                .is_some_and(|n| !acc.name.to_ascii_lowercase().contains(n))
                || filter.count.is_some_and(|c| (acc.count - c).abs() > 0.01)
                || region
                    .as_ref()
                    .is_some_and(|x| !r.region.to_ascii_lowercase().contains(x))
            {
                continue;
            }
            let e = by_region
                .entry((&r.instance_type, &r.region))
                .or_insert((r, None, None));
            let slot = if r.spot { &mut e.2 } else { &mut e.1 };
            *slot = Some(slot.map_or(r.hourly_price, |p| p.min(r.hourly_price)));
        }
        let mut rows: Vec<ListingRow<'_>> = by_region.into_values().collect();
        if !filter.all_regions {
            let mut cheapest: BTreeMap<&str, ListingRow<'_>> = BTreeMap::new();
            for row in rows {
                let e = cheapest.entry(&row.0.instance_type).or_insert(row);
                let price = |x: &ListingRow<'_>| x.1.unwrap_or(f64::INFINITY);
                if price(&row) < price(e) {
                    *e = row;
                }
            }
            rows = cheapest.into_values().collect();
        }
        let mut out: Vec<AcceleratorOffer> = rows
            .into_iter()
            .filter_map(|(r, price, spot)| {
                let acc = r.accelerator.clone()?;
                Some(AcceleratorOffer {
                    cloud: self.cloud.clone(),
                    device_memory_gib: self.device_memory.get(&acc.name).copied(),
                    accelerator: acc,
                    instance_type: r.instance_type.clone(),
                    vcpus: Some(r.vcpus),
                    host_memory_gib: Some(r.memory_gib),
                    hourly_price: price,
                    hourly_spot_price: spot,
                    region: r.region.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            a.accelerator
                .name
                .cmp(&b.accelerator.name)
                .then(a.accelerator.count.total_cmp(&b.accelerator.count))
                .then_with(|| (&a.instance_type, &a.region).cmp(&(&b.instance_type, &b.region)))
        });
        out
    }

    fn accelerator_names(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.accelerator.as_ref().map(|a| a.name.as_str()))
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        self.egress_per_gb * gb.max(0.0)
    }
}
