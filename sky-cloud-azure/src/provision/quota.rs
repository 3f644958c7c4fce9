//! The quota pre-check: the VM size's vCPU family (from the resource SKUs API) against the
//! region's usages, before anything is created.

use sky_core::error::{Error, ErrorKind, Placement, Result, Scope};
use sky_core::provision::LaunchRequest;

use super::AzureProvisioner;
use super::wire::{List, Sku, SkuInfo, Usage};
use crate::arm::api;

/// The vCPU usages to check for `needed` more vCPUs of `family`: the family's quota and the
/// regional total (`cores`) on demand; the regional spot total (`lowPriorityCores`) for spot.
/// Returns the first usage that would be exceeded, as `(name, current, limit)`.
fn quota_shortfall(
    usages: &[Usage],
    family: &str,
    spot: bool,
    needed: i64,
) -> Option<(String, i64, i64)> {
    let names: &[&str] = if spot {
        &["lowPriorityCores"]
    } else {
        &[family, "cores"]
    };
    for n in names {
        if let Some(u) = usages.iter().find(|u| u.name.value.eq_ignore_ascii_case(n))
            && u.current_value + needed > u.limit
        {
            return Some((u.name.value.clone(), u.current_value, u.limit));
        }
    }
    None
}

impl AzureProvisioner {
    /// The resource SKU of `size` in `region`, or `None` if the API is unavailable.
    pub(super) async fn sku(&self, region: &str, size: &str, at: &Placement) -> Option<SkuInfo> {
        let path = self.arm.sub_path(&format!(
            "/providers/Microsoft.Compute/skus?$filter=location%20eq%20%27{region}%27"
        ));
        let list = match self.arm.get::<List<Sku>>(&path, api::SKUS, at).await {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "resource SKUs unavailable");
                return None;
            }
        };
        let sku = list
            .value
            .into_iter()
            .find(|s| s.resource_type == "virtualMachines" && s.name.eq_ignore_ascii_case(size))?;
        let cap = |n: &str| {
            sku.capabilities
                .iter()
                .find(|c| c.name == n)
                .map(|c| c.value.clone())
        };
        Some(SkuInfo {
            family: sku.family.clone(),
            vcpus: cap("vCPUs").and_then(|v| v.parse().ok()),
            generations: cap("HyperVGenerations"),
        })
    }

    /// The quota pre-check: fails with a regional quota error when `nodes` more VMs of the
    /// size would exceed the family's (or the regional, or the spot) vCPU quota. Skipped
    /// (`Ok`) when the family or the usages are unknown: it never blocks a launch on its own
    /// failure.
    pub(super) async fn quota_precheck(
        &self,
        req: &LaunchRequest,
        sku: Option<&SkuInfo>,
        nodes: u32,
    ) -> Result<()> {
        let region = &req.cluster.region;
        let mut at = self.at(&req.cluster);
        at.instance_type = Some(req.instance_type.clone());
        let Some(SkuInfo {
            family: Some(family),
            vcpus: Some(vcpus),
            ..
        }) = sku
        else {
            tracing::debug!(size = %req.instance_type, "no vCPU family known: quota pre-check skipped");
            return Ok(());
        };
        let path = self.arm.sub_path(&format!(
            "/providers/Microsoft.Compute/locations/{region}/usages"
        ));
        let usages = match self.arm.get::<List<Usage>>(&path, api::COMPUTE, &at).await {
            Ok(Some(l)) => l.value,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::debug!(error = %e, "usages unavailable: quota pre-check skipped");
                return Ok(());
            }
        };
        let needed = (*vcpus as i64).saturating_mul(i64::from(nodes));
        match quota_shortfall(&usages, family, req.spot, needed) {
            None => Ok(()),
            Some((name, current, limit)) => Err(Error::new(
                ErrorKind::Quota,
                format!(
                    "quota pre-check: {nodes} × {} needs {needed} vCPUs of `{name}` in {region}, but {current} of {limit} are in use",
                    req.instance_type
                ),
            )
            .with_scope(Scope::Region)
            .with_code("QuotaExceeded")
            .with_placement(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quota_shortfall_checks_family_and_regional_totals() {
        let usages: Vec<Usage> = serde_json::from_value(json!([
            {"name": {"value": "cores"}, "currentValue": 10, "limit": 20},
            {"name": {"value": "standardDSv5Family"}, "currentValue": 0, "limit": 8},
            {"name": {"value": "lowPriorityCores"}, "currentValue": 0, "limit": 3}
        ]))
        .unwrap();
        assert_eq!(
            quota_shortfall(&usages, "standardDSv5Family", false, 8),
            None
        );
        assert_eq!(
            quota_shortfall(&usages, "standardDSv5Family", false, 9).map(|s| s.0),
            Some("standardDSv5Family".to_string())
        );
        assert_eq!(
            quota_shortfall(&usages, "standardDSv6Family", false, 11).map(|s| s.0),
            Some("cores".to_string())
        );
        assert_eq!(
            quota_shortfall(&usages, "standardDSv5Family", true, 4).map(|s| s.0),
            Some("lowPriorityCores".to_string())
        );
    }
}
