//! Blocked resources: launchables the optimizer must not choose (after a failed launch, or by
//! policy).

use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::catalog::{Accelerator, Offering, OfferingRef};
use sky_core::error::Placement;

/// A pattern of launchables to exclude. Every field that is set must match; unset fields are
/// wildcards (SkyPilot's `Resources.should_be_blocked_by`).
///
/// `Block::cloud(aws)` excludes all of AWS; `Block::region(gcp, "us-central1")` a region;
/// `Block::zone(gcp, "us-central1", "us-central1-a")` one zone (a region-level candidate of
/// that region keeps its other zones). Names compare case-insensitively; accelerator counts
/// within 0.01.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Block {
    /// The cloud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudId>,
    /// The region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The instance type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// The accelerator (name and count per node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerators: Option<Accelerator>,
    /// The market: `true` blocks spot only, `false` on-demand only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_spot: Option<bool>,
    /// Instance types starting with this (an instance family, e.g. `n2-`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type_prefix: Option<String>,
    /// Offerings with this accelerator, any count; `""` for any accelerator at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator_name: Option<String>,
}

impl Block {
    /// Blocks a whole cloud.
    pub fn cloud(cloud: CloudId) -> Self {
        Block {
            cloud: Some(cloud),
            ..Block::default()
        }
    }

    /// Blocks one region of a cloud.
    pub fn region(cloud: CloudId, region: impl Into<String>) -> Self {
        Block {
            region: Some(region.into()),
            ..Block::cloud(cloud)
        }
    }

    /// Blocks one zone of a region.
    pub fn zone(cloud: CloudId, region: impl Into<String>, zone: impl Into<String>) -> Self {
        Block {
            zone: Some(zone.into()),
            ..Block::region(cloud, region)
        }
    }

    /// Narrows the block to one instance type.
    pub fn with_instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.instance_type = Some(instance_type.into());
        self
    }

    /// Narrows the block to one accelerator.
    pub fn with_accelerators(mut self, accelerator: Accelerator) -> Self {
        self.accelerators = Some(accelerator);
        self
    }

    /// Narrows the block to one market.
    pub fn with_spot(mut self, use_spot: bool) -> Self {
        self.use_spot = Some(use_spot);
        self
    }

    /// Narrows the block to instance types starting with `prefix`.
    pub fn with_instance_type_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.instance_type_prefix = Some(prefix.into());
        self
    }

    /// Narrows the block to offerings with accelerator `name`, any count (`""`: any
    /// accelerator).
    pub fn with_accelerator_name(mut self, name: impl Into<String>) -> Self {
        self.accelerator_name = Some(name.into());
        self
    }

    /// Whether this block excludes `offering`.
    pub fn matches(&self, offering: &Offering) -> bool {
        self.matches_view(&offering.as_view())
    }

    /// Whether this block excludes the borrowed `offering`.
    pub fn matches_view(&self, offering: &OfferingRef<'_>) -> bool {
        fn eq(a: &Option<String>, b: &str) -> bool {
            a.as_deref().is_none_or(|a| a.eq_ignore_ascii_case(b))
        }
        self.cloud.as_ref().is_none_or(|c| c == offering.cloud)
            && eq(&self.region, offering.region)
            && self
                .zone
                .as_deref()
                .is_none_or(|z| offering.zone.is_some_and(|oz| oz.eq_ignore_ascii_case(z)))
            && eq(&self.instance_type, offering.instance_type)
            && self.use_spot.is_none_or(|s| s == offering.spot)
            && self.instance_type_prefix.as_deref().is_none_or(|p| {
                offering
                    .instance_type
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
            && self.accelerator_name.as_deref().is_none_or(|want| {
                offering
                    .accelerator
                    .is_some_and(|(name, _)| want.is_empty() || name.eq_ignore_ascii_case(want))
            })
            && self.accelerators.as_ref().is_none_or(|a| {
                offering.accelerator.is_some_and(|(name, count)| {
                    name.eq_ignore_ascii_case(&a.name) && (count - a.count).abs() <= 0.01
                })
            })
    }
}

impl From<&Placement> for Block {
    /// The block matching where a provider call failed (cloud, region, zone, instance type as
    /// far as they are known).
    fn from(p: &Placement) -> Self {
        Block {
            cloud: p.cloud.clone(),
            region: p.region.clone(),
            zone: p.zone.clone(),
            instance_type: p.instance_type.clone(),
            ..Block::default()
        }
    }
}

/// A list of [`Block`]s; a launchable is excluded when any of them matches.
///
/// Serializes as a plain JSON/YAML list so the broker can persist and print it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlockList {
    blocks: Vec<Block>,
}

impl BlockList {
    /// An empty list: nothing is blocked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a block unless an equal one is already there.
    pub fn push(&mut self, block: Block) {
        if !self.blocks.contains(&block) {
            self.blocks.push(block);
        }
    }

    /// Adds a block (builder form of [`BlockList::push`]).
    pub fn with(mut self, block: Block) -> Self {
        self.push(block);
        self
    }

    /// Whether any block excludes `offering`.
    pub fn blocks(&self, offering: &Offering) -> bool {
        self.blocks_view(&offering.as_view())
    }

    /// Whether any block excludes the borrowed `offering`.
    pub fn blocks_view(&self, offering: &OfferingRef<'_>) -> bool {
        self.blocks.iter().any(|b| b.matches_view(offering))
    }

    /// The blocks, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Block> {
        self.blocks.iter()
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether nothing is blocked.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

impl FromIterator<Block> for BlockList {
    fn from_iter<I: IntoIterator<Item = Block>>(iter: I) -> Self {
        let mut list = BlockList::new();
        for b in iter {
            list.push(b);
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(cloud: CloudId, region: &str, zone: Option<&str>, spot: bool) -> Offering {
        Offering {
            cloud,
            instance_type: "n1-highmem-8".into(),
            accelerator: Some(Accelerator {
                name: "V100".into(),
                count: 1.0,
            }),
            vcpus: 8.0,
            memory_gib: 52.0,
            region: region.into(),
            zone: zone.map(str::to_string),
            spot,
            hourly_price: 2.95321,
            accelerator_hourly_price: 2.48,
        }
    }

    #[test]
    fn unset_fields_are_wildcards() {
        let a = offering(CloudId::Gcp, "us-central1", Some("us-central1-a"), false);
        let b = offering(CloudId::Gcp, "us-central1", Some("us-central1-b"), true);
        let c = offering(CloudId::Azure, "eastus", None, false);
        assert!(Block::cloud(CloudId::Gcp).matches(&a));
        assert!(!Block::cloud(CloudId::Gcp).matches(&c));
        assert!(Block::region(CloudId::Gcp, "US-CENTRAL1").matches(&b));
        assert!(Block::zone(CloudId::Gcp, "us-central1", "us-central1-a").matches(&a));
        assert!(!Block::zone(CloudId::Gcp, "us-central1", "us-central1-a").matches(&b));
        assert!(!Block::zone(CloudId::Azure, "eastus", "1").matches(&c));
        assert!(Block::default().with_spot(true).matches(&b));
        assert!(!Block::default().with_spot(true).matches(&a));
        let v100 = Block::default().with_accelerators(Accelerator {
            name: "v100".into(),
            count: 1.0,
        });
        assert!(v100.matches(&a) && v100.matches(&c));
        let v100x2 = Block::default().with_accelerators(Accelerator {
            name: "V100".into(),
            count: 2.0,
        });
        assert!(!v100x2.matches(&a));
        assert!(
            !Block::default()
                .with_instance_type("n1-standard-8")
                .matches(&a)
        );
    }

    #[test]
    fn serializes_as_a_list_and_dedups() {
        let list: BlockList = [
            Block::region(CloudId::Gcp, "us-central1"),
            Block::region(CloudId::Gcp, "us-central1"),
            Block::cloud(CloudId::Aws).with_spot(true),
        ]
        .into_iter()
        .collect();
        assert_eq!(list.len(), 2);
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(
            json,
            r#"[{"cloud":"gcp","region":"us-central1"},{"cloud":"aws","use_spot":true}]"#
        );
        let back: BlockList = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        let from_placement = Block::from(&Placement {
            cloud: Some(CloudId::Gcp),
            region: Some("us-central1".into()),
            zone: Some("us-central1-a".into()),
            instance_type: None,
        });
        assert_eq!(
            from_placement,
            Block::zone(CloudId::Gcp, "us-central1", "us-central1-a")
        );
    }
}
