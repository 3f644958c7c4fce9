//! The public catalog type of each cloud (`AwsCatalog`, `GcpCatalog`, `AzureCatalog`): one
//! macro, invoked in the cloud's own file with the cloud's [`CloudRules`](crate::rules::CloudRules),
//! so that the three types have the same loaders, accessors and [`Catalog`] implementation.
//!
//! [`Catalog`]: sky_core::catalog::Catalog

/// Defines `$name`, a SkyPilot `vms.csv` catalog under the rules `$rules`
/// (a `&'static CloudRules`).
macro_rules! csv_catalog {
    ($(#[$doc:meta])* $name:ident, $rules:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            core: $crate::query::Core,
        }

        impl $name {
            /// Loads the cloud's `vms.csv` from `source` (downloading or refreshing it first if
            /// `source` is a managed cache).
            pub fn load(source: &$crate::CatalogSource) -> Result<Self, ::sky_core::catalog::CatalogError> {
                Self::from_path(source.vms_csv(&$rules.cloud)?)
            }

            /// Reads a `vms.csv` file in SkyPilot's v8 layout for this cloud.
            pub fn from_path(path: impl AsRef<::std::path::Path>) -> Result<Self, ::sky_core::catalog::CatalogError> {
                let table = $crate::table::Table::from_path(path.as_ref(), $rules)?;
                Ok(Self { core: $crate::query::Core::new($rules, table) })
            }

            /// Reads `vms.csv` content; `label` names it in error messages.
            pub fn from_reader(reader: impl ::std::io::Read, label: impl AsRef<::std::path::Path>) -> Result<Self, ::sky_core::catalog::CatalogError> {
                let table = $crate::table::Table::from_reader(reader, label.as_ref(), $rules)?;
                Ok(Self { core: $crate::query::Core::new($rules, table) })
            }

            /// The file this catalog was read from.
            pub fn path(&self) -> &::std::path::Path {
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
            pub fn instance_accelerator(&self, instance_type: &str) -> Option<::sky_core::catalog::Accelerator> {
                if let Some(split) = &self.core.rules.split {
                    return (split.accelerator_of_host)(instance_type).map(|(name, count)| {
                        ::sky_core::catalog::Accelerator { name: name.to_string(), count }
                    });
                }
                let t = &self.core.t;
                let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
                (row.acc != $crate::table::NONE).then(|| ::sky_core::catalog::Accelerator {
                    name: t.s(row.acc).to_string(),
                    count: row.acc_count,
                })
            }
        }

        impl ::sky_core::catalog::Catalog for $name {
            fn cloud(&self) -> ::sky_core::CloudId {
                self.core.cloud.clone()
            }
            fn offerings(&self, req: &::sky_core::resources::Resources) -> ::sky_core::catalog::Feasibility {
                self.core.offerings(req)
            }
            fn visit_offerings(
                &self,
                req: &::sky_core::resources::Resources,
                visit: &mut dyn FnMut(::sky_core::catalog::OfferingRef<'_>),
            ) -> ::sky_core::catalog::Feasibility {
                self.core.visit_offerings(req, visit)
            }
            fn optimize_by_zone(&self) -> bool {
                self.core.rules.optimize_by_zone
            }
            fn zones_for(&self, offering: &::sky_core::catalog::Offering) -> Vec<String> {
                self.core.zones_for(offering)
            }
            fn regions(&self) -> Vec<::sky_core::catalog::Region> {
                self.core.regions()
            }
            fn validate_region_zone(
                &self,
                region: Option<&str>,
                zone: Option<&str>,
            ) -> Result<(), ::sky_core::catalog::CatalogError> {
                self.core.validate_region_zone(region, zone)
            }
            fn hourly_cost(
                &self,
                instance_type: &str,
                accelerator: Option<&::sky_core::catalog::Accelerator>,
                spot: bool,
                region: Option<&str>,
                zone: Option<&str>,
            ) -> Option<f64> {
                self.core.hourly_cost(instance_type, accelerator, spot, region, zone)
            }
            fn accelerators(&self, filter: &::sky_core::catalog::AcceleratorFilter) -> Vec<::sky_core::catalog::AcceleratorOffer> {
                self.core.accelerators(filter)
            }
            fn accelerator_names(&self) -> Vec<String> {
                self.core.accelerator_names()
            }
            fn egress_cost(&self, gb: f64) -> f64 {
                ::sky_core::catalog::egress_cost(&self.core.cloud, gb).unwrap_or(0.0)
            }
        }
    };
}

pub(crate) use csv_catalog;
