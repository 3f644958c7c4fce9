//! Internet egress prices: what it costs to move data out of a cloud.
//!
//! # The model
//! Each cloud's price list is a sequence of **cumulative tiers**: the first `t₁` GB cost `r₁`
//! per GB, the next GB up to `t₂` cost `r₂`, and so on. The cost of `n` GB is the sum over tiers
//! of `rate × (GB of n that fall in the tier)`. This is how the clouds bill, and it makes the
//! cost continuous and monotone (non-decreasing) in `n`. 1 TB = 1024 GB.
//!
//! | cloud | tiers (per GB) |
//! |---|---|
//! | AWS (from US East) | first 1 GB free; up to 10 TB $0.09; next 40 TB $0.085; next 100 TB $0.07; above 150 TB $0.05 |
//! | Azure (from US East) | first 1 GB free; up to 10 TB $0.0875; next 40 TB $0.083; next 100 TB $0.07; above 150 TB $0.05 |
//! | GCP (worldwide excl. China, Australia) | up to 1 TB $0.12; 1–10 TB $0.11; above 10 TB $0.08 |
//!
//! Worked examples: 100 GB costs $8.91 from AWS (99 × 0.09), $8.6625 from Azure and $12.00 from
//! GCP; 60 TB (61,440 GB) from AWS costs 10,239 × 0.09 + 40,960 × 0.085 + 10,240 × 0.07 =
//! $5,119.91.
//!
//! SkyPilot uses the same rates, but its AWS/Azure code drops the lower tiers once a transfer
//! passes 50 TB (so 60 TB "costs" $716.80) and its GCP code applies one flat rate to the whole
//! transfer (so 10,241 GB costs less than 10,240 GB). Monthly accumulation across transfers is
//! not modelled by either.

use crate::cloud::CloudId;

const TB: f64 = 1024.0;

/// (upper bound of the tier in GB, price per GB within the tier); the last bound is infinite.
type Tiers = &'static [(f64, f64)];

const AWS: Tiers = &[
    (1.0, 0.0),
    (10.0 * TB, 0.09),
    (50.0 * TB, 0.085),
    (150.0 * TB, 0.07),
    (f64::INFINITY, 0.05),
];

const AZURE: Tiers = &[
    (1.0, 0.0),
    (10.0 * TB, 0.0875),
    (50.0 * TB, 0.083),
    (150.0 * TB, 0.07),
    (f64::INFINITY, 0.05),
];

const GCP: Tiers = &[(TB, 0.12), (10.0 * TB, 0.11), (f64::INFINITY, 0.08)];

fn tiered(tiers: Tiers, gb: f64) -> f64 {
    if gb.is_nan() || gb <= 0.0 {
        return 0.0;
    }
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

/// The cost in USD of sending `gb` gigabytes from `cloud` to the internet or another cloud,
/// under the tiered model above; `None` for clouds without a price list here. Zero or negative
/// (and NaN) amounts cost nothing.
pub fn egress_cost(cloud: &CloudId, gb: f64) -> Option<f64> {
    let tiers = match cloud {
        CloudId::Aws => AWS,
        CloudId::Azure => AZURE,
        CloudId::Gcp => GCP,
        _ => return None,
    };
    Some(tiered(tiers, gb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cost(c: CloudId, gb: f64) -> f64 {
        egress_cost(&c, gb).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn worked_examples() {
        assert!(close(cost(CloudId::Aws, 100.0), 8.91));
        assert!(close(cost(CloudId::Azure, 100.0), 8.6625));
        assert!(close(cost(CloudId::Gcp, 100.0), 12.0));
        assert!(close(cost(CloudId::Aws, 1.0), 0.0));
        assert!(close(cost(CloudId::Aws, 0.0), 0.0));
        assert!(close(cost(CloudId::Aws, -3.0), 0.0));
        let sixty_tb = 60.0 * 1024.0;
        let expected = 10239.0 * 0.09 + 40960.0 * 0.085 + 10240.0 * 0.07;
        assert!(close(cost(CloudId::Aws, sixty_tb), expected));
        assert!(
            cost(CloudId::Aws, sixty_tb) > 5000.0,
            "not SkyPilot's $716.80"
        );
        // GCP is continuous at the 10 TB boundary (SkyPilot's flat brackets are not).
        let at = cost(CloudId::Gcp, 10240.0);
        assert!(close(at, 1024.0 * 0.12 + 9216.0 * 0.11));
        assert!(cost(CloudId::Gcp, 10241.0) > at);
        assert_eq!(egress_cost(&CloudId::Fake, 10.0), None);
    }

    proptest! {
        #[test]
        fn monotone_and_continuous(a in 0.0f64..400_000.0, d in 0.0f64..5_000.0) {
            for c in [CloudId::Aws, CloudId::Azure, CloudId::Gcp] {
                let lo = cost(c.clone(), a);
                let hi = cost(c.clone(), a + d);
                prop_assert!(hi >= lo, "{c}: cost({}) = {hi} < cost({a}) = {lo}", a + d);
                // The marginal rate never exceeds the highest tier rate (0.12 $/GB): continuity.
                prop_assert!(hi - lo <= d * 0.12 + 1e-6);
            }
        }
    }
}
