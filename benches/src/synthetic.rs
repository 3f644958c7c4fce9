//! A synthetic price catalog of realistic size, for benchmarks that must not depend on the
//! real catalog files: 24 regions per cloud (3 zones each where the cloud has zones), CPU and
//! GPU instance types, prices that vary by region and zone.

use std::sync::Arc;

use sky_core::CloudId;
use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Catalogs, Feasibility,
    Offering, Region,
};
use sky_core::resources::{AcceleratorSpec, CpuSpec, MemorySpec, Resources};

/// (name, accelerator, vCPUs, GiB, base $/h)
type InstanceType = (&'static str, Option<(&'static str, f64)>, f64, f64, f64);

/// One cloud's synthetic catalog.
#[derive(Debug)]
pub struct SyntheticCatalog {
    cloud: CloudId,
    by_zone: bool,
    rows: Vec<Offering>,
}

/// A small deterministic hash for price noise.
fn noise(a: u64, b: u64) -> f64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 31;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z >> 11) % 1000) as f64 / 1000.0
}

impl SyntheticCatalog {
    /// A catalog for `cloud`; `by_zone` gives it zones and per-zone prices (like GCP).
    pub fn new(cloud: CloudId, by_zone: bool, seed: u64) -> Self {
        let types: Vec<InstanceType> = vec![
            ("cpu-4", None, 4.0, 16.0, 0.19),
            ("cpu-8", None, 8.0, 32.0, 0.38),
            ("cpu-16", None, 16.0, 64.0, 0.77),
            ("cpu-32", None, 32.0, 128.0, 1.54),
            ("mem-8", None, 8.0, 64.0, 0.50),
            ("mem-16", None, 16.0, 128.0, 1.01),
            ("v100-1", Some(("V100", 1.0)), 8.0, 52.0, 2.95),
            ("v100-4", Some(("V100", 4.0)), 32.0, 208.0, 11.8),
            ("t4-1", Some(("T4", 1.0)), 4.0, 16.0, 0.53),
            ("t4-4", Some(("T4", 4.0)), 48.0, 192.0, 3.9),
            ("a100-8", Some(("A100", 8.0)), 96.0, 680.0, 29.4),
        ];
        let mut rows = Vec::new();
        let cloud_factor = 1.0 + 0.05 * noise(seed, 7);
        for region in 0..24u64 {
            let rname = format!("{}-region{region:02}", cloud.as_str());
            let rfactor = 1.0 + 0.3 * noise(seed, region);
            for (ti, &(name, acc, vcpus, mem, base)) in types.iter().enumerate() {
                // Not every type is offered everywhere.
                if noise(seed ^ 0xABCD, region * 31 + ti as u64) < 0.3 {
                    continue;
                }
                let zones: Vec<Option<String>> = if by_zone {
                    (0..3)
                        .map(|z| Some(format!("{rname}-{}", ['a', 'b', 'c'][z])))
                        .collect()
                } else {
                    vec![None]
                };
                for (zi, zone) in zones.into_iter().enumerate() {
                    for spot in [false, true] {
                        let zfactor = if by_zone || spot {
                            1.0 + 0.1 * noise(seed ^ 0x55, region * 97 + ti as u64 * 7 + zi as u64)
                        } else {
                            1.0
                        };
                        let market = if spot { 0.3 } else { 1.0 };
                        let price =
                            (base * cloud_factor * rfactor * zfactor * market * 1e5).round() / 1e5;
                        rows.push(Offering {
                            cloud: cloud.clone(),
                            instance_type: name.to_string(),
                            accelerator: acc.map(|(n, c)| Accelerator {
                                name: n.to_string(),
                                count: c,
                            }),
                            vcpus,
                            memory_gib: mem,
                            region: rname.clone(),
                            zone: zone.clone(),
                            spot,
                            hourly_price: price,
                            accelerator_hourly_price: 0.0,
                        });
                    }
                }
            }
        }
        SyntheticCatalog {
            cloud,
            by_zone,
            rows,
        }
    }

    /// Number of rows (offerings on both markets).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn matches(req: &Resources, o: &Offering) -> bool {
    let acc_ok = match &req.accelerators {
        Some(AcceleratorSpec::Name { name, count }) => o
            .accelerator
            .as_ref()
            .is_some_and(|a| a.name.eq_ignore_ascii_case(name) && (a.count - count).abs() <= 0.01),
        Some(_) => false,
        None => o.accelerator.is_none() || req.instance_type.is_some(),
    };
    let cpu_ok = match req.cpus {
        Some(CpuSpec { count, or_more }) => {
            if or_more {
                o.vcpus >= count
            } else {
                o.vcpus == count
            }
        }
        None => req.accelerators.is_some() || o.vcpus >= 8.0,
    };
    let mem_ok = match req.memory {
        Some(MemorySpec::Gib { gib, or_more }) => {
            if or_more {
                o.memory_gib >= gib
            } else {
                o.memory_gib == gib
            }
        }
        Some(MemorySpec::PerVcpu(x)) => o.memory_gib >= x * o.vcpus,
        None => true,
    };
    acc_ok
        && cpu_ok
        && mem_ok
        && o.spot == req.spot()
        && req.region.as_deref().is_none_or(|r| r == o.region)
        && req
            .zone
            .as_deref()
            .is_none_or(|z| Some(z) == o.zone.as_deref())
        && req
            .instance_type
            .as_deref()
            .is_none_or(|t| t == o.instance_type)
}

impl Catalog for SyntheticCatalog {
    fn cloud(&self) -> CloudId {
        self.cloud.clone()
    }

    fn offerings(&self, req: &Resources) -> Feasibility {
        if req.cloud.as_ref().is_some_and(|c| *c != self.cloud) {
            return Feasibility::default();
        }
        let mut offerings: Vec<Offering> = self
            .rows
            .iter()
            .filter(|o| matches(req, o))
            .cloned()
            .collect();
        offerings.sort_by(|a, b| {
            a.hourly_price
                .total_cmp(&b.hourly_price)
                .then_with(|| a.key().cmp(&b.key()))
        });
        Feasibility {
            offerings,
            ..Feasibility::default()
        }
    }

    fn optimize_by_zone(&self) -> bool {
        self.by_zone
    }

    fn zones_for(&self, offering: &Offering) -> Vec<String> {
        self.rows
            .iter()
            .filter(|o| {
                o.region == offering.region
                    && o.instance_type == offering.instance_type
                    && o.spot == offering.spot
            })
            .filter_map(|o| o.zone.clone())
            .collect()
    }

    fn regions(&self) -> Vec<Region> {
        let mut out: Vec<Region> = Vec::new();
        for o in &self.rows {
            if out.last().is_none_or(|r| r.name != o.region) {
                out.push(Region {
                    name: o.region.clone(),
                    zones: Vec::new(),
                });
            }
            if let (Some(z), Some(r)) = (&o.zone, out.last_mut())
                && !r.zones.contains(z)
            {
                r.zones.push(z.clone());
            }
        }
        out
    }

    fn validate_region_zone(
        &self,
        _region: Option<&str>,
        _zone: Option<&str>,
    ) -> Result<(), CatalogError> {
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
        self.rows
            .iter()
            .filter(|o| o.instance_type == instance_type && o.spot == spot)
            .filter(|o| region.is_none_or(|r| r == o.region))
            .filter(|o| zone.is_none_or(|z| Some(z) == o.zone.as_deref()))
            .map(|o| o.hourly_price)
            .min_by(f64::total_cmp)
    }

    fn accelerators(&self, _filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        Vec::new()
    }

    fn accelerator_names(&self) -> Vec<String> {
        vec!["A100".into(), "T4".into(), "V100".into()]
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        match self.cloud {
            CloudId::Gcp => gb.max(0.0) * 0.12,
            _ => (gb - 1.0).max(0.0) * 0.0875,
        }
    }
}

/// Synthetic GCP-like (zones) and Azure-like (no zones) catalogs.
pub fn catalogs() -> Catalogs {
    Catalogs::new()
        .with(Arc::new(SyntheticCatalog::new(CloudId::Gcp, true, 1)))
        .with(Arc::new(SyntheticCatalog::new(CloudId::Azure, false, 2)))
}
