//! The catalogs of AWS, GCP and Azure: SkyPilot's v8 `vms.csv` files with each cloud's rules.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::query::Core;
use crate::source::CatalogSource;
use crate::table::{Layout, Table};
use sky_core::catalog::{
    Accelerator, AcceleratorFilter, AcceleratorOffer, Catalog, CatalogError, Feasibility, Offering,
    OfferingRef, Region,
};
use sky_core::CloudId;
use sky_core::resources::Resources;

macro_rules! csv_catalog {
    ($(#[$doc:meta])* $name:ident, $layout:expr, $cloud:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            core: Core,
        }

        impl $name {
            /// Loads the cloud's `vms.csv` from `source` (downloading or refreshing it first if
            /// `source` is a managed cache).
            pub fn load(source: &CatalogSource) -> Result<Self, CatalogError> {
                Self::from_path(source.vms_csv(&$cloud)?)
            }

            /// Reads a `vms.csv` file in SkyPilot's v8 layout for this cloud.
            pub fn from_path(path: impl AsRef<Path>) -> Result<Self, CatalogError> {
                let table = Table::from_path(path.as_ref(), $layout)?;
                Ok(Self { core: Core::new($layout, table) })
            }

            /// Reads `vms.csv` content; `label` names it in error messages.
            pub fn from_reader(reader: impl Read, label: impl AsRef<Path>) -> Result<Self, CatalogError> {
                let table = Table::from_reader(reader, label.as_ref(), $layout)?;
                Ok(Self { core: Core::new($layout, table) })
            }

            /// The file this catalog was read from.
            pub fn path(&self) -> &Path {
                &self.core.t.path
            }

            /// The number of rows (after dropping duplicates).
            pub fn len(&self) -> usize {
                self.core.t.rows.len()
            }

            /// Whether the catalog has no rows.
            pub fn is_empty(&self) -> bool {
                self.core.t.rows.is_empty()
            }

            /// The instance types, sorted.
            pub fn instance_types(&self) -> Vec<String> {
                let t = &self.core.t;
                t.instance_types.iter().map(|s| t.s(*s).to_string()).collect()
            }

            /// vCPUs and memory (GiB) of an instance type.
            pub fn instance_shape(&self, instance_type: &str) -> Option<(f64, f64)> {
                let t = &self.core.t;
                let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
                Some((row.vcpus, row.memory))
            }

            /// The accelerator that comes with an instance type (for GCP's A2/A3/A4/G2 hosts,
            /// the GPUs they are sold with).
            pub fn instance_accelerator(&self, instance_type: &str) -> Option<Accelerator> {
                if self.core.layout == Layout::Gcp {
                    return crate::rules::gcp_accelerator_of_host(instance_type).map(|(name, count)| {
                        Accelerator { name: name.to_string(), count }
                    });
                }
                let t = &self.core.t;
                let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
                (row.acc != crate::table::NONE).then(|| Accelerator {
                    name: t.s(row.acc).to_string(),
                    count: row.acc_count,
                })
            }
        }

        impl Catalog for $name {
            fn cloud(&self) -> CloudId {
                self.core.cloud.clone()
            }
            fn offerings(&self, req: &Resources) -> Feasibility {
                self.core.offerings(req)
            }
            fn visit_offerings(
                &self,
                req: &Resources,
                visit: &mut dyn FnMut(OfferingRef<'_>),
            ) -> Feasibility {
                self.core.visit_offerings(req, visit)
            }
            fn optimize_by_zone(&self) -> bool {
                self.core.layout == Layout::Gcp
            }
            fn zones_for(&self, offering: &Offering) -> Vec<String> {
                self.core.zones_for(offering)
            }
            fn regions(&self) -> Vec<Region> {
                self.core.regions()
            }
            fn validate_region_zone(
                &self,
                region: Option<&str>,
                zone: Option<&str>,
            ) -> Result<(), CatalogError> {
                self.core.validate_region_zone(region, zone)
            }
            fn hourly_cost(
                &self,
                instance_type: &str,
                accelerator: Option<&Accelerator>,
                spot: bool,
                region: Option<&str>,
                zone: Option<&str>,
            ) -> Option<f64> {
                self.core.hourly_cost(instance_type, accelerator, spot, region, zone)
            }
            fn accelerators(&self, filter: &AcceleratorFilter) -> Vec<AcceleratorOffer> {
                self.core.accelerators(filter)
            }
            fn accelerator_names(&self) -> Vec<String> {
                self.core.accelerator_names()
            }
            fn egress_cost(&self, gb: f64) -> f64 {
                sky_core::catalog::egress_cost(&self.core.cloud, gb).unwrap_or(0.0)
            }
        }
    };
}

csv_catalog!(
    /// AWS's catalog (`aws/vms.csv`: one row per instance type and availability zone).
    ///
    /// Zones are the file's zone **ids** (`use1-az1`), which name the same physical zone in
    /// every account; the zone *names* (`us-east-1a`) differ per account. A backend with
    /// credentials maps them with [`AwsCatalog::with_zone_names`]. Accelerators are bundled in
    /// the instance price. Not zone-optimised ([`Catalog::optimize_by_zone`] is false).
    AwsCatalog,
    Layout::Aws,
    CloudId::Aws
);

csv_catalog!(
    /// GCP's catalog (`gcp/vms.csv`).
    ///
    /// Host VMs and accelerators are priced separately: GPU and TPU rows have an empty
    /// `InstanceType`, and an offering's price is the host's plus the accelerator's in the same
    /// zone. A100/A100-80GB/L4/H100/H100-MEGA/H200/B200 come with fixed host types
    /// (`a2-highgpu-8g` for `A100:8`); other GPUs attach to N1 hosts (by default with
    /// SkyPilot's vCPUs per GPU and at least 4 GiB per vCPU, within Compute Engine's per-GPU
    /// host limits); TPUs run on `TPU-VM` hosts that cost nothing extra (their offerings show 0
    /// vCPUs and 0 GiB, which the catalog does not give, and ignore `cpus`/`memory`). Prices
    /// and failover are per zone ([`Catalog::optimize_by_zone`] is true).
    GcpCatalog,
    Layout::Gcp,
    CloudId::Gcp
);

csv_catalog!(
    /// Azure's catalog (`azure/vms.csv`): no zones (a zone in a request is rejected), GPUs
    /// bundled in the instance price, and a `Generation` column (`V1`, `V2`) that selects the
    /// image.
    AzureCatalog,
    Layout::Azure,
    CloudId::Azure
);

impl AwsCatalog {
    /// Maps zone ids to this account's zone names (`use1-az1` → `us-east-1c`), as SkyPilot does
    /// once it knows the account: rows whose zone id is not in `zone_names` are dropped (the
    /// account does not have that zone or region).
    pub fn with_zone_names(self, zone_names: &BTreeMap<String, String>) -> Self {
        let table = self.core.t.map_zones(|id| zone_names.get(id).cloned());
        AwsCatalog {
            core: Core::new(Layout::Aws, table),
        }
    }

    /// The CPU architecture of an instance type (`x86_64`, `arm64`), from the `Arch` column.
    pub fn arch(&self, instance_type: &str) -> Option<&str> {
        let t = &self.core.t;
        let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
        let s = t.s(row.extra);
        (!s.is_empty()).then_some(s)
    }
}

impl AzureCatalog {
    /// The Hyper-V generations an instance type supports (`V1`, `V2` or `V1,V2`).
    pub fn generation(&self, instance_type: &str) -> Option<&str> {
        let t = &self.core.t;
        let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
        let s = t.s(row.extra);
        (!s.is_empty()).then_some(s)
    }
}
