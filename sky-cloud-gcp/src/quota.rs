//! Which quota a Compute Engine quota error names, and what that quota covers
//! ([`QuotaCover`]): the failover blocks exactly that, not only the machine type that failed.
//!
//! # Where Compute Engine names the quota
//! "If you exceed a quota for Compute Engine, Google Cloud typically returns an HTTP 403
//! QUOTA_EXCEEDED status code, whether it was from API, HTTP/REST, or gRPC" (Google Cloud,
//! *Troubleshoot quota errors*). The quota is named in up to four places, read in this order:
//!
//! | shape | where the name is |
//! | --- | --- |
//! | failed operation, `error.errors[].code: QUOTA_EXCEEDED` with `errorDetails[].quotaInfo` | `quotaInfo.metricName` (`compute.googleapis.com/n2_cpus`), else `limitName` (`N2-CPUS-per-project-region`); `dimensions.region` |
//! | HTTP 403 with `details` | `google.rpc.ErrorInfo.metadata` `quotaMetric` / `quota_metric` / `limitName` / `quotaLimit`; `google.rpc.QuotaFailure.violations[]` `quotaMetric` / `quotaId` / `quotaDimensions` |
//! | failed operation without details, HTTP 403 `errors[].reason: quotaExceeded` | the message: `Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1.` / `Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 1.0 globally.` |
//!
//! - Operation `errorDetails`: "An optional list of messages that contain the error details
//!   ... For example, QuotaExceededInfo will have details when the error code is
//!   QUOTA_EXCEEDED" (Compute Engine API reference, `Operation.error.errors[].errorDetails`).
//!   `QuotaExceededInfo`: "metricName: The Compute Engine quota metric name. limitName: The
//!   name of the quota limit. dimensions: The map holding related quota dimensions. limit:
//!   Current effective quota limit." (API reference, `QuotaExceededInfo`).
//! - `ErrorInfo` for a resource quota: "the consumer's resource quota usage has reached the
//!   maximum value set for the quota limit "VMsPerProject" on the quota metric
//!   "compute.googleapis.com/vms"", with metadata `quota_metric` and `quota_limit`
//!   (`google.rpc.ErrorReason.RESOURCE_QUOTA_EXCEEDED`); Compute Engine's own `ErrorInfo`
//!   spells them `quotaMetric` / `quotaLimit` (Compute Engine, *API rate limits*).
//! - The message forms are the ones SkyPilot parses (`_update_blocklist_on_gcp_error`:
//!   "Global quota. All regions in GCP will fail. Ex: Quota 'GPUS_ALL_REGIONS' exceeded.
//!   Limit: 1.0 globally." / "Per region. Ex: Quota 'CPUS' exceeded. Limit: 24.0 in region
//!   us-west1.").
//!
//! # What each quota covers
//! The metric names are those of the Compute Engine `Quota.metric` enum (`CPUS`,
//! `CPUS_ALL_REGIONS`, `GPUS_ALL_REGIONS`, `N2_CPUS`, `N2D_CPUS`, `C2_CPUS`, `A2_CPUS`, ...,
//! `PREEMPTIBLE_CPUS`, `NVIDIA_T4_GPUS`, `PREEMPTIBLE_NVIDIA_T4_GPUS`, ...); Compute Engine's
//! *Allocation quotas* page lists them as regional quotas, except the `_ALL_REGIONS` ones,
//! which hold for the whole project. Spot VMs draw on the `PREEMPTIBLE_` quotas when the
//! project has them ("Consider requesting dedicated Preemptible GPU quota to use for GPUs on
//! Spot VMs", *About GPUs*).
//!
//! | quota | cover |
//! | --- | --- |
//! | `CPUS`, `INSTANCES`, `IN_USE_ADDRESSES` (every node has one external IP) | every machine type of the region |
//! | `<FAMILY>_CPUS` (`N2_CPUS`, `N2D_CPUS`, `C2_CPUS`, `A2_CPUS`, `C3_CPUS`, `E2_CPUS`, ...) | machine types `<family>-*` of the region |
//! | `NVIDIA_<GPU>_GPUS` (`T4`, `V100`, `A100`, `A100_80GB` → `A100-80GB`, `L4`, `H100` ...) | offerings with that accelerator in the region (N1 hosts with attached GPUs and the a2/a3/g2 families alike) |
//! | `PREEMPTIBLE_` + any of the above | the same, spot only |
//! | `CPUS_ALL_REGIONS` | the whole cloud |
//! | `GPUS_ALL_REGIONS` | every GPU offering of the cloud |
//! | anything else (`COMMITTED_*`, `SSD_TOTAL_GB`, ...) | no cover: the launchable that failed, in the region (or the cloud for `_ALL_REGIONS` / "globally") |

use std::collections::BTreeMap;

use sky_core::error::QuotaCover;

/// What a quota error says about the quota, as read from its structured details.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaFacts {
    /// The quota metric: `compute.googleapis.com/n2_cpus` or `N2_CPUS`.
    pub metric: Option<String>,
    /// The quota limit: `N2-CPUS-per-project-region`.
    pub limit: Option<String>,
    /// The quota's dimensions (`region` → `us-central1`).
    pub dimensions: BTreeMap<String, String>,
}

impl QuotaFacts {
    /// Whether anything was read.
    pub fn is_empty(&self) -> bool {
        self.metric.is_none() && self.limit.is_none() && self.dimensions.is_empty()
    }

    /// Fills what is still missing from `other`.
    pub(crate) fn merge(&mut self, other: QuotaFacts) {
        if self.metric.is_none() {
            self.metric = other.metric;
        }
        if self.limit.is_none() {
            self.limit = other.limit;
        }
        for (k, v) in other.dimensions {
            self.dimensions.entry(k).or_insert(v);
        }
    }

    /// Facts from a map of string metadata (`google.rpc.ErrorInfo.metadata`).
    pub(crate) fn from_metadata<'a>(
        meta: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> QuotaFacts {
        let mut f = QuotaFacts::default();
        for (k, v) in meta {
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "quotaMetric" | "quota_metric" | "metricName" => f.metric = Some(v.clone()),
                "quotaLimit" | "quota_limit" | "limitName" => f.limit = Some(v.clone()),
                "region" | "location" => {
                    f.dimensions.insert("region".into(), v.clone());
                }
                _ => {}
            }
        }
        f
    }
}

/// The quota's name in the form of the `Quota.metric` enum (`N2_CPUS`): from the metric
/// (`compute.googleapis.com/n2_cpus`), else the limit (`N2-CPUS-per-project-region`), else the
/// message (`Quota 'N2_CPUS' exceeded...`).
pub fn quota_name(facts: Option<&QuotaFacts>, message: &str) -> Option<String> {
    let from_metric = facts
        .and_then(|f| f.metric.as_deref())
        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string());
    let from_limit = || {
        let l = facts?.limit.as_deref()?;
        let cut = l.to_ascii_lowercase().find("-per-").unwrap_or(l.len());
        Some(l[..cut].replace('-', "_"))
    };
    let from_message = || {
        let start = message.find("Quota '")? + "Quota '".len();
        let len = message[start..].find('\'')?;
        Some(message[start..start + len].to_string())
    };
    from_metric
        .or_else(from_limit)
        .or_else(from_message)
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Whether the quota spans every region: an `_ALL_REGIONS` quota, or one the message says
/// holds "globally".
pub fn is_global(name: Option<&str>, message: &str) -> bool {
    name.is_some_and(|n| n.ends_with("_ALL_REGIONS"))
        || message.to_ascii_lowercase().contains("globally")
}

/// sky's name of the GPU in a `NVIDIA_<GPU>_GPUS` quota: `A100_80GB` → `A100-80GB`,
/// `P4_VWS` (virtual workstation) → `P4`.
fn accelerator_of(gpu: &str) -> String {
    gpu.strip_suffix("_VWS").unwrap_or(gpu).replace('_', "-")
}

/// What quota `name` covers (see the module docs); `None` for quotas without a known cover.
pub fn cover_of(name: &str, global: bool) -> Option<QuotaCover> {
    let name = name.to_ascii_uppercase();
    let (spot, rest) = match name.strip_prefix("PREEMPTIBLE_") {
        Some(rest) => (true, rest),
        None => (false, name.as_str()),
    };
    let base = || {
        if global || rest.ends_with("_ALL_REGIONS") {
            QuotaCover::global(name.clone())
        } else {
            QuotaCover::region(name.clone())
        }
    };
    let cover = match rest {
        "CPUS" | "INSTANCES" | "IN_USE_ADDRESSES" | "CPUS_ALL_REGIONS" => base(),
        "GPUS_ALL_REGIONS" => base().only_any_accelerator(),
        r if r.starts_with("COMMITTED_") => return None,
        r => {
            if let Some(gpu) = r
                .strip_prefix("NVIDIA_")
                .and_then(|g| g.strip_suffix("_GPUS"))
                .filter(|g| !g.is_empty())
            {
                base().only_accelerator(accelerator_of(gpu))
            } else if let Some(family) = r
                .strip_suffix("_CPUS")
                .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                base().only_instance_type_prefix(format!("{}-", family.to_ascii_lowercase()))
            } else {
                return None;
            }
        }
    };
    Some(if spot { cover.only_spot(true) } else { cover })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::error::Scope;

    #[test]
    fn names_come_from_the_metric_the_limit_or_the_message() {
        let facts = |metric: Option<&str>, limit: Option<&str>| QuotaFacts {
            metric: metric.map(str::to_string),
            limit: limit.map(str::to_string),
            dimensions: BTreeMap::new(),
        };
        let msg = "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1.";
        assert_eq!(quota_name(None, msg).as_deref(), Some("CPUS"));
        // Structured details win over the message.
        let f = facts(Some("compute.googleapis.com/n2_cpus"), None);
        assert_eq!(quota_name(Some(&f), msg).as_deref(), Some("N2_CPUS"));
        let f = facts(None, Some("PREEMPTIBLE-NVIDIA-T4-GPUS-per-project-region"));
        assert_eq!(
            quota_name(Some(&f), "").as_deref(),
            Some("PREEMPTIBLE_NVIDIA_T4_GPUS")
        );
        assert_eq!(quota_name(None, "Rate Limit Exceeded"), None);
        assert!(is_global(Some("GPUS_ALL_REGIONS"), ""));
        assert!(is_global(None, "Quota 'X' exceeded.  Limit: 1.0 globally."));
        assert!(!is_global(Some("CPUS"), msg));
    }

    #[test]
    fn covers() {
        let r = QuotaCover::region;
        assert_eq!(cover_of("CPUS", false), Some(r("CPUS")));
        assert_eq!(
            cover_of("C3D_CPUS", false),
            Some(r("C3D_CPUS").only_instance_type_prefix("c3d-"))
        );
        assert_eq!(
            cover_of("NVIDIA_H100_MEGA_GPUS", false),
            Some(r("NVIDIA_H100_MEGA_GPUS").only_accelerator("H100-MEGA"))
        );
        assert_eq!(
            cover_of("NVIDIA_P4_VWS_GPUS", false),
            Some(r("NVIDIA_P4_VWS_GPUS").only_accelerator("P4"))
        );
        let g = cover_of("GPUS_ALL_REGIONS", false).unwrap();
        assert_eq!(
            (g.scope, g.accelerator.as_deref()),
            (Scope::Cloud, Some(""))
        );
        assert_eq!(cover_of("COMMITTED_N2_CPUS", false), None);
        assert_eq!(cover_of("MEMORY_OPTIMIZED_CPUS", false), None);
        assert_eq!(cover_of("SSD_TOTAL_GB", false), None);
    }
}
