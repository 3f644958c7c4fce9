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
        // A source task's inputs may live in a cloud whose catalog is not loaded: then
        // sky-core's list prices apply (unknown clouds: free).
        match self.catalogs.get(cloud) {
            Some(c) => c.egress_cost(gb),
            None => sky_core::catalog::egress_cost(cloud, gb).unwrap_or(0.0),
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
}
