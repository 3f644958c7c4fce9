//! The quota pre-check: the VM size's vCPU family (from the resource SKUs API) against the
//! region's usages, before anything is created.

use sky_core::error::{Error, ErrorKind, Placement, Result};
use sky_core::provision::LaunchRequest;

use super::AzureProvisioner;
use super::wire::{Sku, SkuInfo, Usage};
use crate::arm::api;
use crate::error::NamedQuota;

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

/// What the resource SKUs list says about `size`.
pub(super) fn sku_info(skus: &[Sku], size: &str) -> Option<SkuInfo> {
    let sku = skus.iter().find(|s| s.name.eq_ignore_ascii_case(size))?;
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

/// The sizes whose SKU `family` is `family`.
fn family_sizes(skus: &[Sku], family: &str) -> Vec<String> {
    let mut v: Vec<String> = skus
        .iter()
        .filter(|s| {
            s.family
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(family))
        })
        .map(|s| s.name.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

impl AzureProvisioner {
    /// The VM sizes of the resource SKUs list in `region`, every page of it.
    pub(super) async fn skus(&self, region: &str, at: &Placement) -> Result<Vec<Sku>> {
        let path = self.arm.sub_path(&format!(
            "/providers/Microsoft.Compute/skus?$filter=location%20eq%20%27{region}%27"
        ));
        let list = self.arm.list::<Sku>(&path, api::SKUS, at).await?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.resource_type == "virtualMachines")
            .collect())
    }

    /// A family quota error from the create call names the family; its cover lists the
    /// family's sizes from the resource SKUs list (the size that failed when the list
    /// cannot be read).
    pub(super) async fn widen_family_quota(&self, err: Error, region: &str) -> Error {
        let Some(family) = err
            .quota()
            .and_then(|q| match NamedQuota::from_usage(&q.name) {
                Some(NamedQuota::Family(f)) => Some(f),
                _ => None,
            })
        else {
            return err;
        };
        match self.skus(region, err.placement()).await {
            Ok(skus) => {
                let mut sizes = family_sizes(&skus, &family);
                sizes.extend(
                    err.quota()
                        .map(|q| q.instance_types.clone())
                        .unwrap_or_default(),
                );
                sizes.sort();
                sizes.dedup();
                let cover = NamedQuota::Family(family).cover(sizes);
                err.with_quota(cover)
            }
            Err(e) => {
                tracing::warn!(error = %e, %family, "resource SKUs unreadable: the family quota blocks only the size that failed");
                err
            }
        }
    }

    /// The quota pre-check, before anything is created: fails with a quota error naming the
    /// quota and what it covers ([`NamedQuota::cover`]) when `nodes` more VMs of the size
    /// would exceed the family's, the regional or the Spot vCPU quota. When the SKU list or
    /// the usages cannot be read, or do not name the size's family and vCPUs, it says so in
    /// a warning and lets the create call decide.
    pub(super) async fn quota_precheck(&self, req: &LaunchRequest, nodes: u32) -> Result<()> {
        if nodes == 0 {
            return Ok(());
        }
        let region = &req.cluster.region;
        let mut at = self.at(&req.cluster);
        at.instance_type = Some(req.instance_type.clone());
        let skus = match self.skus(region, &at).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, %region, "resource SKUs unreadable: quota pre-check skipped, the create call decides");
                return Ok(());
            }
        };
        let Some(SkuInfo {
            family: Some(family),
            vcpus: Some(vcpus),
            ..
        }) = sku_info(&skus, &req.instance_type)
        else {
            tracing::warn!(size = %req.instance_type, %region, "the resource SKUs list gives no vCPU family for the size: quota pre-check skipped, the create call decides");
            return Ok(());
        };
        let path = self.arm.sub_path(&format!(
            "/providers/Microsoft.Compute/locations/{region}/usages"
        ));
        let usages = match self.arm.list::<Usage>(&path, api::COMPUTE, &at).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                tracing::warn!(%region, "no usages for the region: quota pre-check skipped, the create call decides");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(error = %e, %region, "usages unreadable: quota pre-check skipped, the create call decides");
                return Ok(());
            }
        };
        let needed = (vcpus as i64).saturating_mul(i64::from(nodes));
        let Some((name, current, limit)) = quota_shortfall(&usages, &family, req.spot, needed)
        else {
            return Ok(());
        };
        let named = NamedQuota::from_usage(&name).unwrap_or(NamedQuota::Family(name.clone()));
        let cover = named.cover(match &named {
            NamedQuota::Family(f) => family_sizes(&skus, f),
            _ => Vec::new(),
        });
        Err(Error::new(
            ErrorKind::Quota,
            format!(
                "quota pre-check: {nodes} × {} needs {needed} vCPUs of `{name}` in {region}, but {current} of {limit} are in use",
                req.instance_type
            ),
        )
        .with_code("QuotaExceeded")
        .with_placement(at)
        .with_quota(cover))
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
