//! A small in-memory catalog and task builders for the optimizer tests.

use std::sync::Arc;

use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Catalogs, Feasibility,
    Offering, Region,
};
use sky_core::resources::{AcceleratorSpec, CpuSpec, MemorySpec, ResourceSet, Resources};
use sky_core::task::{DataSpec, Task};
use sky_core::{CloudId, Dag};

/// One catalog row: an instance type in a region/zone, with on-demand and spot prices.
#[derive(Clone, Debug)]
pub struct Row {
    pub instance_type: &'static str,
    pub acc: Option<(&'static str, f64)>,
    pub vcpus: f64,
    pub memory_gib: f64,
    pub region: &'static str,
    pub zone: Option<&'static str>,
    pub price: f64,
    pub spot_price: Option<f64>,
}

/// A `Vec<Row>`-backed catalog with SkyPilot's egress rates.
#[derive(Clone, Debug)]
pub struct VecCatalog {
    pub cloud: CloudId,
    pub by_zone: bool,
    pub rows: Vec<Row>,
}

fn acc_matches(spec: &AcceleratorSpec, acc: Option<(&str, f64)>) -> bool {
    match (spec, acc) {
        (AcceleratorSpec::Name { name, count }, Some((n, c))) => {
            n.eq_ignore_ascii_case(name) && (c - count).abs() <= 0.01
        }
        _ => false,
    }
}

impl VecCatalog {
    fn offering(&self, r: &Row, spot: bool) -> Option<Offering> {
        let price = if spot { r.spot_price? } else { r.price };
        Some(Offering {
            cloud: self.cloud.clone(),
            instance_type: r.instance_type.to_string(),
            accelerator: r.acc.map(|(name, count)| Accelerator {
                name: name.to_string(),
                count,
            }),
            vcpus: r.vcpus,
            memory_gib: r.memory_gib,
            region: r.region.to_string(),
            zone: r.zone.map(str::to_string),
            spot,
            hourly_price: price,
            accelerator_hourly_price: 0.0,
        })
    }
}

impl Catalog for VecCatalog {
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
            .filter(|r| req.region.as_deref().is_none_or(|x| x == r.region))
            .filter(|r| req.zone.as_deref().is_none_or(|x| Some(x) == r.zone))
            .filter(|r| {
                req.instance_type
                    .as_deref()
                    .is_none_or(|x| x == r.instance_type)
            })
            .filter(|r| match &req.accelerators {
                Some(spec) => acc_matches(spec, r.acc),
                None => r.acc.is_none() || req.instance_type.is_some(),
            })
            .filter(|r| match req.cpus {
                Some(CpuSpec { count, or_more }) => {
                    if or_more {
                        r.vcpus >= count
                    } else {
                        r.vcpus == count
                    }
                }
                None => true,
            })
            .filter(|r| match req.memory {
                Some(MemorySpec::Gib { gib, or_more }) => {
                    if or_more {
                        r.memory_gib >= gib
                    } else {
                        r.memory_gib == gib
                    }
                }
                _ => true,
            })
            .filter_map(|r| self.offering(r, req.spot()))
            .collect();
        offerings.sort_by(|a, b| {
            a.hourly_price
                .total_cmp(&b.hourly_price)
                .then_with(|| a.key().cmp(&b.key()))
        });
        let mut f = Feasibility {
            offerings,
            ..Feasibility::default()
        };
        if f.offerings.is_empty()
            && let Some(AcceleratorSpec::Name { name, count }) = &req.accelerators
        {
            let mut names: Vec<String> = self
                .rows
                .iter()
                .filter_map(|r| r.acc)
                .filter(|(n, _)| n.to_ascii_lowercase().contains(&name.to_ascii_lowercase()))
                .map(|(n, c)| format!("{n}:{c}"))
                .collect();
            names.sort();
            names.dedup();
            f.hint = Some(format!("{} has no {name}:{count}", self.cloud));
            f.suggestions = names;
        }
        f
    }

    fn optimize_by_zone(&self) -> bool {
        self.by_zone
    }

    fn zones_for(&self, offering: &Offering) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| r.region == offering.region && r.instance_type == offering.instance_type)
            .filter_map(|r| r.zone.map(str::to_string))
            .collect()
    }

    fn regions(&self) -> Vec<Region> {
        let mut names: Vec<&str> = self.rows.iter().map(|r| r.region).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                let mut zones: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.region == n)
                    .filter_map(|r| r.zone.map(str::to_string))
                    .collect();
                zones.sort();
                zones.dedup();
                Region {
                    name: n.to_string(),
                    zones,
                }
            })
            .collect()
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
            .filter(|r| r.instance_type == instance_type)
            .filter(|r| {
                region.is_none_or(|x| x == r.region) && zone.is_none_or(|x| Some(x) == r.zone)
            })
            .filter_map(|r| if spot { r.spot_price } else { Some(r.price) })
            .min_by(f64::total_cmp)
    }

    fn accelerators(&self, _filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
        Vec::new()
    }

    fn accelerator_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| r.acc.map(|(n, _)| n.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn egress_cost(&self, gb: f64) -> f64 {
        // SkyPilot's first tiers (all the tests stay below 10 TB).
        match self.cloud {
            CloudId::Aws => (gb - 1.0).max(0.0) * 0.09,
            CloudId::Azure => (gb - 1.0).max(0.0) * 0.0875,
            _ => gb * 0.12,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn row(
    instance_type: &'static str,
    acc: Option<(&'static str, f64)>,
    vcpus: f64,
    memory_gib: f64,
    region: &'static str,
    zone: Option<&'static str>,
    price: f64,
    spot_price: Option<f64>,
) -> Row {
    Row {
        instance_type,
        acc,
        vcpus,
        memory_gib,
        region,
        zone,
        price,
        spot_price,
    }
}

/// GCP (priced by zone): V100 hosts in two US zones and one EU zone, CPU VMs.
pub fn gcp() -> VecCatalog {
    let v100 = Some(("V100", 1.0));
    VecCatalog {
        cloud: CloudId::Gcp,
        by_zone: true,
        rows: vec![
            row(
                "n1-highmem-8",
                v100,
                8.0,
                52.0,
                "us-central1",
                Some("us-central1-b"),
                2.95321,
                Some(0.9),
            ),
            row(
                "n1-highmem-8",
                v100,
                8.0,
                52.0,
                "us-central1",
                Some("us-central1-a"),
                2.95321,
                Some(0.95),
            ),
            row(
                "n1-highmem-8",
                v100,
                8.0,
                52.0,
                "europe-west4",
                Some("europe-west4-a"),
                3.10,
                Some(0.8),
            ),
            row(
                "n1-standard-4",
                Some(("T4", 1.0)),
                4.0,
                15.0,
                "us-central1",
                Some("us-central1-a"),
                0.54,
                Some(0.2),
            ),
            row(
                "n2-standard-8",
                None,
                8.0,
                32.0,
                "us-central1",
                Some("us-central1-a"),
                0.39,
                Some(0.1),
            ),
            row(
                "n2-standard-8",
                None,
                8.0,
                32.0,
                "europe-west4",
                Some("europe-west4-a"),
                0.42,
                Some(0.11),
            ),
        ],
    }
}

/// AWS (priced by region on-demand): V100 in two regions, a CPU type.
pub fn aws() -> VecCatalog {
    let v100 = Some(("V100", 1.0));
    VecCatalog {
        cloud: CloudId::Aws,
        by_zone: false,
        rows: vec![
            row(
                "p3.2xlarge",
                v100,
                8.0,
                61.0,
                "us-east-1",
                Some("us-east-1b"),
                3.06,
                Some(1.1),
            ),
            row(
                "p3.2xlarge",
                v100,
                8.0,
                61.0,
                "us-east-1",
                Some("us-east-1a"),
                3.06,
                Some(0.92),
            ),
            row(
                "p3.2xlarge",
                v100,
                8.0,
                61.0,
                "us-west-2",
                Some("us-west-2a"),
                3.06,
                Some(0.95),
            ),
            row(
                "m6i.2xlarge",
                None,
                8.0,
                32.0,
                "us-east-1",
                Some("us-east-1a"),
                0.384,
                Some(0.15),
            ),
            row(
                "m6i.2xlarge",
                None,
                8.0,
                32.0,
                "us-east-1",
                Some("us-east-1b"),
                0.384,
                Some(0.16),
            ),
        ],
    }
}

/// Azure (no zones).
pub fn azure() -> VecCatalog {
    VecCatalog {
        cloud: CloudId::Azure,
        by_zone: false,
        rows: vec![
            row(
                "Standard_NC6s_v3",
                Some(("V100", 1.0)),
                6.0,
                112.0,
                "eastus",
                None,
                3.06,
                Some(0.6),
            ),
            row(
                "Standard_NC6s_v3",
                Some(("V100", 1.0)),
                6.0,
                112.0,
                "westeurope",
                None,
                3.37,
                None,
            ),
            row(
                "Standard_D8s_v5",
                None,
                8.0,
                32.0,
                "eastus",
                None,
                0.40,
                Some(0.08),
            ),
        ],
    }
}

pub fn catalogs(list: impl IntoIterator<Item = VecCatalog>) -> Catalogs {
    let mut c = Catalogs::new();
    for k in list {
        c.insert(Arc::new(k));
    }
    c
}

pub fn all_three() -> Catalogs {
    catalogs([gcp(), aws(), azure()])
}

/// Resources requesting `name:count` accelerators.
pub fn gpu(name: &str, count: f64) -> Resources {
    let mut r = Resources::new();
    r.accelerators = Some(AcceleratorSpec::named(name, count));
    r
}

/// Resources requesting at least `n` vCPUs.
pub fn cpus(n: f64) -> Resources {
    let mut r = Resources::new();
    r.cpus = Some(CpuSpec {
        count: n,
        or_more: true,
    });
    r
}

pub fn on(mut r: Resources, cloud: CloudId) -> Resources {
    r.cloud = Some(cloud);
    r
}

pub fn in_region(mut r: Resources, region: &str) -> Resources {
    r.region = Some(region.to_string());
    r
}

pub fn spot(mut r: Resources) -> Resources {
    r.use_spot = Some(true);
    r
}

pub fn task(name: &str, r: Resources) -> Task {
    task_set(name, ResourceSet::one(r))
}

pub fn task_set(name: &str, set: ResourceSet) -> Task {
    let mut t = Task::new();
    t.name = Some(name.to_string());
    t.resources = set;
    t
}

pub fn with_outputs(mut t: Task, gb: f64) -> Task {
    t.outputs = Some(DataSpec {
        uri: format!("gs://bucket/{}", t.name.clone().unwrap_or_default()),
        size_gb: gb,
    });
    t
}

pub fn with_inputs(mut t: Task, uri: &str, gb: f64) -> Task {
    t.inputs = Some(DataSpec {
        uri: uri.to_string(),
        size_gb: gb,
    });
    t
}

/// A DAG from tasks and edges by index.
pub fn dag(tasks: Vec<Task>, edges: &[(usize, usize)]) -> Dag {
    let mut d = Dag::new();
    for t in tasks {
        d.add_task(t);
    }
    for &(a, b) in edges {
        d.add_edge(a, b).expect("valid edge");
    }
    d
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}
