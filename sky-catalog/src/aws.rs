//! AWS: SkyPilot's `aws/vms.csv` (one row per instance type and availability zone id), its
//! default CPU families, and [`AwsCatalog`].

use std::collections::BTreeMap;

use sky_core::CloudId;

use crate::csv_catalog::csv_catalog;
use crate::query::Core;
use crate::rules::CloudRules;

/// AWS's rules: zones are zone ids until the account's names are known, accelerators are
/// bundled in the instance price, and failover is per region.
pub(crate) static RULES: CloudRules = CloudRules {
    cloud: CloudId::Aws,
    zones: true,
    extra_column: Some("Arch"),
    is_default,
    optimize_by_zone: false,
    zone_id_note: Some(
        " (this AWS catalog names zones by zone id, e.g. use1-az1, until the \
         account's zone names are known)",
    ),
    split: None,
};

/// AWS default CPU families (`m6i.2xlarge` is in `m6i`); `d` = local NVMe.
const AWS_DEFAULT_FAMILIES: &[&str] = &[
    "m6i", "m6id", "m7i", "r6i", "r6id", "r7i", "c6i", "c6id", "c7i",
];

/// Whether `instance` belongs to one of the AWS default families.
fn is_default(instance: &str) -> bool {
    instance
        .split_once('.')
        .is_some_and(|(family, _)| AWS_DEFAULT_FAMILIES.contains(&family))
}

csv_catalog!(
    /// AWS's catalog (`aws/vms.csv`: one row per instance type and availability zone).
    ///
    /// Zones are the file's zone **ids** (`use1-az1`), which name the same physical zone in
    /// every account; the zone *names* (`us-east-1a`) differ per account. A backend with
    /// credentials maps them with [`AwsCatalog::with_zone_names`]. Accelerators are bundled in
    /// the instance price. Not zone-optimised
    /// ([`Catalog::optimize_by_zone`](sky_core::catalog::Catalog::optimize_by_zone) is false).
    AwsCatalog,
    &RULES
);

impl AwsCatalog {
    /// Maps zone ids to this account's zone names (`use1-az1` → `us-east-1c`), as SkyPilot does
    /// once it knows the account: rows whose zone id is not in `zone_names` are dropped (the
    /// account does not have that zone or region).
    pub fn with_zone_names(self, zone_names: &BTreeMap<String, String>) -> Self {
        let table = self.core.t.map_zones(|id| zone_names.get(id).cloned());
        AwsCatalog {
            core: Core::new(&RULES, table),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_families() {
        assert!(is_default("m6i.2xlarge"));
        assert!(is_default("c6id.large"));
        assert!(!is_default("m6a.2xlarge"));
        assert!(!is_default("p3.2xlarge"));
    }
}
