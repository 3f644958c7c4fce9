//! The egress model: what moving a task's data between locations costs and how long it takes.

use sky_core::CloudId;
use sky_core::catalog::Catalogs;

use crate::options::{EgressModel, Options};

/// The cloud a data URI lives in, from its scheme: `s3://` → AWS, `gs://` → GCP, `az://` and
/// `https://<account>.blob.core.windows.net/...` → Azure. `None` for anything else (local
/// paths, `r2://`, plain web URLs), which the optimizer treats as free to read.
///
/// ```
/// use sky_core::CloudId;
/// assert_eq!(sky_optimizer::cloud_of_uri("s3://bucket/train"), Some(CloudId::Aws));
/// assert_eq!(sky_optimizer::cloud_of_uri("gs://b/x"), Some(CloudId::Gcp));
/// assert_eq!(
///     sky_optimizer::cloud_of_uri("https://acct.blob.core.windows.net/c/x"),
///     Some(CloudId::Azure)
/// );
/// assert_eq!(sky_optimizer::cloud_of_uri("/data/local"), None);
/// ```
pub fn cloud_of_uri(uri: &str) -> Option<CloudId> {
    let uri = uri.trim();
    let (scheme, rest) = uri.split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "s3" => Some(CloudId::Aws),
        "gs" => Some(CloudId::Gcp),
        "az" => Some(CloudId::Azure),
        "https" | "http" => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
            host.ends_with(".blob.core.windows.net")
                .then_some(CloudId::Azure)
        }
        _ => None,
    }
}

/// Egress out of a cloud whose catalog is not enabled (only needed for a source task's
/// inputs, e.g. reading `s3://` data while AWS is disabled): SkyPilot's list prices, with
/// the tiers applied marginally so that the cost is monotone in `gb` (SkyPilot's own
/// arithmetic drops tiers above 50 TB and is non-monotone for GCP). Unknown clouds: 0.
pub(crate) fn fallback_egress_cost(cloud: &CloudId, gb: f64) -> f64 {
    // (upper bound of the tier in GB, $/GB within the tier)
    const AWS: &[(f64, f64)] = &[
        (1.0, 0.0),
        (10_240.0, 0.09),
        (51_200.0, 0.085),
        (153_600.0, 0.07),
        (f64::INFINITY, 0.05),
    ];
    const AZURE: &[(f64, f64)] = &[
        (1.0, 0.0),
        (10_240.0, 0.0875),
        (51_200.0, 0.083),
        (153_600.0, 0.07),
        (f64::INFINITY, 0.05),
    ];
    const GCP: &[(f64, f64)] = &[(1_024.0, 0.12), (10_240.0, 0.11), (f64::INFINITY, 0.08)];
    let tiers = match cloud {
        CloudId::Aws => AWS,
        CloudId::Azure => AZURE,
        CloudId::Gcp => GCP,
        _ => return 0.0,
    };
    let mut cost = 0.0;
    let mut lower = 0.0;
    for &(upper, rate) in tiers {
        if gb <= lower {
            break;
        }
        cost += (gb.min(upper) - lower) * rate;
        lower = upper;
    }
    cost
}

/// Prices transfers for one optimize call.
#[derive(Debug)]
pub(crate) struct Pricer<'a> {
    catalogs: &'a Catalogs,
    model: EgressModel,
    inter_region_usd_per_gb: f64,
    bandwidth_gbps: f64,
}

impl<'a> Pricer<'a> {
    pub(crate) fn new(catalogs: &'a Catalogs, options: &Options) -> Self {
        Pricer {
            catalogs,
            model: options.egress,
            inter_region_usd_per_gb: options.inter_region_usd_per_gb,
            bandwidth_gbps: options.bandwidth_gbps,
        }
    }

    pub(crate) fn model(&self) -> EgressModel {
        self.model
    }

    /// Cost of sending `gb` out of `cloud` to another cloud.
    pub(crate) fn cross_cloud(&self, cloud: &CloudId, gb: f64) -> f64 {
        if gb <= 0.0 {
            return 0.0;
        }
        match self.catalogs.get(cloud) {
            Some(c) => c.egress_cost(gb),
            None => fallback_egress_cost(cloud, gb),
        }
    }

    /// Cost of sending `gb` between two regions of one cloud.
    pub(crate) fn inter_region(&self, gb: f64) -> f64 {
        match self.model {
            EgressModel::CrossCloud => 0.0,
            EgressModel::InterRegion => gb.max(0.0) * self.inter_region_usd_per_gb,
        }
    }

    /// Seconds to move `gb` when the transfer is charged.
    pub(crate) fn transfer_time(&self, gb: f64) -> f64 {
        gb.max(0.0) * 8.0 / self.bandwidth_gbps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_schemes() {
        assert_eq!(cloud_of_uri("S3://b/k"), Some(CloudId::Aws));
        assert_eq!(cloud_of_uri("az://container/x"), Some(CloudId::Azure));
        assert_eq!(
            cloud_of_uri("https://u@acct.blob.core.windows.net:443/c"),
            Some(CloudId::Azure)
        );
        assert_eq!(
            cloud_of_uri("https://example.com/blob.core.windows.net"),
            None
        );
        assert_eq!(cloud_of_uri("r2://bucket"), None);
        assert_eq!(cloud_of_uri("gs:/missing-slash"), None);
    }

    #[test]
    fn fallback_tiers_match_skypilot_below_50tb_and_stay_monotone() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // Appendix B of the reference: 100 GB.
        assert!(close(fallback_egress_cost(&CloudId::Aws, 100.0), 8.91));
        assert!(close(fallback_egress_cost(&CloudId::Gcp, 100.0), 12.0));
        assert!(close(fallback_egress_cost(&CloudId::Azure, 100.0), 8.6625));
        assert!(close(fallback_egress_cost(&CloudId::Aws, 0.5), 0.0));
        // Where SkyPilot's GCP brackets jump down (10 240 → 10 241 GB), ours keep rising.
        for cloud in [CloudId::Aws, CloudId::Gcp, CloudId::Azure] {
            let mut prev = 0.0;
            for gb in [
                1.0, 1024.0, 1025.0, 10_240.0, 10_241.0, 51_200.0, 61_440.0, 2e5,
            ] {
                let c = fallback_egress_cost(&cloud, gb);
                assert!(c >= prev, "{cloud} {gb}");
                prev = c;
            }
        }
        // 60 TB out of AWS: every tier counts (SkyPilot's code says $716.80).
        let aws60 = fallback_egress_cost(&CloudId::Aws, 61_440.0);
        assert!(close(
            aws60,
            10_239.0 * 0.09 + 40_960.0 * 0.085 + 10_240.0 * 0.07
        ));
        assert_eq!(fallback_egress_cost(&CloudId::Fake, 100.0), 0.0);
    }
}
