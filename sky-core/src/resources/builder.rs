//! The builder API of [`Resources`] for Rust callers.

use std::collections::BTreeMap;

use super::infra::Infra;
use super::parse::normalize_ports;
use super::{
    AcceleratorSpec, Autostop, CpuSpec, DiskTier, ImageId, JobRecovery, MemorySpec, NetworkTier,
    ParseValueError, PortRange, ResourceSet, Resources,
};
use crate::cloud::CloudId;

impl Resources {
    /// Sets the cloud.
    pub fn with_cloud(mut self, cloud: CloudId) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// Sets the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the zone.
    pub fn with_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    /// Sets cloud, region and zone from an `infra` string (`aws/us-east-1`, `*/us-east-1`);
    /// parts that are absent or `*` are cleared.
    pub fn with_infra(mut self, infra: &str) -> Result<Self, ParseValueError> {
        let i: Infra = infra.parse()?;
        self.cloud = i.cloud;
        self.region = i.region;
        self.zone = i.zone;
        Ok(self)
    }

    /// The `infra` string for this resource's cloud, region and zone (`*` when none is set).
    pub fn infra(&self) -> Infra {
        Infra {
            cloud: self.cloud.clone(),
            region: self.region.clone(),
            zone: self.zone.clone(),
        }
    }

    /// Sets the instance type.
    pub fn with_instance_type(mut self, instance_type: impl Into<String>) -> Self {
        self.instance_type = Some(instance_type.into());
        self
    }

    /// Sets the vCPU requirement.
    pub fn with_cpus(mut self, cpus: CpuSpec) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Sets the vCPU requirement from its string form (`4`, `4+`).
    pub fn with_cpus_str(self, cpus: &str) -> Result<Self, ParseValueError> {
        Ok(self.with_cpus(cpus.parse()?))
    }

    /// Sets the memory requirement.
    pub fn with_memory(mut self, memory: MemorySpec) -> Self {
        self.memory = Some(memory);
        self
    }

    /// Sets the memory requirement from its string form (`16`, `32GB+`, `4x`).
    pub fn with_memory_str(self, memory: &str) -> Result<Self, ParseValueError> {
        Ok(self.with_memory(memory.parse()?))
    }

    /// Sets the accelerator from its string form: `V100`, `V100:4`, `A10G:0.5`, `80GB+`,
    /// `nvidia:48GB:2`.
    pub fn with_accelerators(self, spec: &str) -> Result<Self, ParseValueError> {
        Ok(self.with_accelerator(spec.parse()?))
    }

    /// Sets the accelerator.
    pub fn with_accelerator(mut self, spec: AcceleratorSpec) -> Self {
        self.accelerators = Some(spec);
        self
    }

    /// Sets TPU accelerator arguments (`runtime_version`, `tpu_name`, `tpu_vm`, ...).
    pub fn with_accelerator_args(mut self, args: BTreeMap<String, serde_json::Value>) -> Self {
        self.accelerator_args = Some(args);
        self
    }

    /// Requests spot (`true`) or on-demand (`false`) instances.
    pub fn with_use_spot(mut self, spot: bool) -> Self {
        self.use_spot = Some(spot);
        self
    }

    /// Sets the managed-job recovery strategy.
    pub fn with_job_recovery(mut self, recovery: JobRecovery) -> Self {
        self.job_recovery = Some(recovery);
        self
    }

    /// Sets the OS disk size in GB.
    pub fn with_disk_size_gb(mut self, gb: u64) -> Self {
        self.disk_size_gb = Some(gb);
        self
    }

    /// Sets the disk tier.
    pub fn with_disk_tier(mut self, tier: DiskTier) -> Self {
        self.disk_tier = Some(tier);
        self
    }

    /// Sets the network tier.
    pub fn with_network_tier(mut self, tier: NetworkTier) -> Self {
        self.network_tier = Some(tier);
        self
    }

    /// Adds ports to open; the list stays normalised (sorted, merged).
    pub fn with_ports(mut self, ports: impl IntoIterator<Item = PortRange>) -> Self {
        self.ports.extend(ports);
        self.ports = normalize_ports(std::mem::take(&mut self.ports));
        self
    }

    /// Adds ports from their string forms (`8080`, `10052-10100`).
    pub fn with_ports_str<'a>(
        self,
        ports: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ParseValueError> {
        let parsed = ports
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<PortRange>, _>>()?;
        Ok(self.with_ports(parsed))
    }

    /// Adds a label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the image.
    pub fn with_image_id(mut self, image: ImageId) -> Self {
        self.image_id = Some(image);
        self
    }

    /// Sets autostop.
    pub fn with_autostop(mut self, autostop: Autostop) -> Self {
        self.autostop = Some(autostop);
        self
    }

    /// Sets the scheduling priority.
    pub fn with_priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Sets the upper bound on the hourly price of one node.
    pub fn with_max_hourly_cost(mut self, usd: f64) -> Self {
        self.max_hourly_cost = Some(usd);
        self
    }

    /// Sets the instance-store disk filter.
    pub fn with_local_disk(mut self, local_disk: impl Into<String>) -> Self {
        self.local_disk = Some(local_disk.into());
        self
    }
}

impl Autostop {
    /// Stop after `minutes` idle minutes.
    pub fn after_minutes(minutes: u32) -> Self {
        Autostop {
            enabled: true,
            idle_minutes: minutes,
            down: false,
            wait_for: None,
            hook: None,
            hook_timeout: None,
        }
    }

    /// Autostop turned off (`autostop: false`).
    pub fn disabled() -> Self {
        Autostop {
            enabled: false,
            ..Autostop::after_minutes(DEFAULT_IDLE_MINUTES)
        }
    }

    /// Tear down instead of stopping.
    pub fn with_down(mut self, down: bool) -> Self {
        self.down = down;
        self
    }
}

/// Idle minutes of `autostop: true`.
pub(crate) const DEFAULT_IDLE_MINUTES: u32 = 5;

impl JobRecovery {
    /// Whether recovery is switched off (`job_recovery: none`).
    pub fn is_disabled(&self) -> bool {
        self.strategy.as_deref() == Some("NONE")
    }

    /// A strategy by name (`FAILOVER`, `EAGER_NEXT_REGION`; upper-cased), with no restarts on
    /// user-code errors.
    pub fn strategy(name: &str) -> Self {
        JobRecovery {
            strategy: Some(name.trim().to_ascii_uppercase()),
            ..JobRecovery::default()
        }
    }
}

impl From<Resources> for ResourceSet {
    fn from(r: Resources) -> Self {
        ResourceSet::one(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_fields() {
        let r = Resources::new()
            .with_accelerators("V100:4")
            .unwrap()
            .with_infra("aws/us-east-1")
            .unwrap()
            .with_cpus_str("8+")
            .unwrap()
            .with_ports_str(["3", "1-2", "5-6", "7"])
            .unwrap()
            .with_use_spot(true)
            .with_label("team", "ml");
        assert_eq!(r.accelerators, Some(AcceleratorSpec::named("V100", 4.0)));
        assert_eq!(r.cloud, Some(CloudId::Aws));
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.infra().to_string(), "aws/us-east-1");
        assert_eq!(
            r.ports,
            vec![
                PortRange { start: 1, end: 3 },
                PortRange { start: 5, end: 7 }
            ]
        );
        assert!(r.spot());
        assert!(Resources::new().with_accelerators("V100:zero").is_err());
    }
}
