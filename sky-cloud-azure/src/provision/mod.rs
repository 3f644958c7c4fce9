//! [`AzureProvisioner`]: sky's [`Provisioner`] on Azure Resource Manager.
//!
//! Layout: one resource group per cluster and region, `sky-<cluster>-<region>`, created first
//! and tagged, holding a virtual network `sky-vnet` with subnet `default`, a network security
//! group `sky-nsg` (SSH plus the task's ports) on that subnet, and per node of rank `r` a
//! public IP `<cluster>-<r>-ip`, a NIC `<cluster>-<r>-nic` and a VM `<cluster>-<r>` tagged
//! `sky-cluster` and `sky-rank`. Deleting the resource group deletes everything.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sky_catalog::AzureCatalog;
use sky_core::CloudId;
use sky_core::error::{Error, ErrorKind, Placement, Result, Scope};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
    all_in_state, wait_timeout,
};
use sky_core::resources::PortRange;
use tokio::time::Instant;

use crate::CLOUD;
use crate::arm::{Arm, api};

mod instances;
mod network;
mod quota;
mod wire;

use instances::{power_state, vm_path_of};

pub use network::nsg_rules;

/// The tag holding the cluster name.
pub const TAG_CLUSTER: &str = "sky-cluster";
/// The tag holding the node rank.
pub const TAG_RANK: &str = "sky-rank";
/// The admin user of every VM (as SkyPilot's `azureuser`).
pub const SSH_USER: &str = "azureuser";

/// The default image for Hyper-V generation 2 sizes: Canonical's Ubuntu 22.04 LTS (gen2).
pub const DEFAULT_IMAGE_GEN2: &str = "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest";
/// The default image for generation-1-only sizes: Canonical's Ubuntu 22.04 LTS (gen1).
pub const DEFAULT_IMAGE_GEN1: &str = "Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest";

const NSG: &str = "sky-nsg";
const VNET: &str = "sky-vnet";
const SUBNET: &str = "default";

/// sky's provisioner on Azure. Build it with [`crate::AzureBuilder`].
#[derive(Clone, Debug)]
pub struct AzureProvisioner {
    arm: Arm,
    catalog: Option<Arc<AzureCatalog>>,
}

/// The resource group of a cluster.
pub fn resource_group(cluster: &ClusterRef) -> String {
    format!("sky-{}-{}", cluster.name, cluster.region)
}

/// The VM name of rank `rank`.
pub fn vm_name(cluster: &ClusterRef, rank: u32) -> String {
    format!("{}-{rank}", cluster.name)
}

/// The `imageReference` for an image id: a resource id (`/subscriptions/...`) as `id`, a
/// `publisher:offer:sku:version` URN as its four fields.
pub fn image_reference(image: &str) -> Result<Value> {
    if image.starts_with('/') {
        return Ok(json!({ "id": image }));
    }
    let parts: Vec<&str> = image.split(':').collect();
    match parts.as_slice() {
        [publisher, offer, sku, version] if parts.iter().all(|p| !p.is_empty()) => Ok(json!({
            "publisher": publisher, "offer": offer, "sku": sku, "version": version
        })),
        _ => Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "Azure image_id `{image}` is neither `publisher:offer:sku:version` nor an image resource id (/subscriptions/...)"
            ),
        )
        .with_scope(Scope::Cloud)
        .with_placement(Placement::cloud(CLOUD))),
    }
}

/// The default image for a size's Hyper-V generations (`V1`, `V2`, `V1,V2`): gen2 unless the
/// size supports only V1.
pub fn default_image(generations: Option<&str>) -> &'static str {
    match generations {
        Some(g)
            if !g.to_ascii_uppercase().contains("V2") && g.to_ascii_uppercase().contains("V1") =>
        {
            DEFAULT_IMAGE_GEN1
        }
        _ => DEFAULT_IMAGE_GEN2,
    }
}

impl AzureProvisioner {
    pub(crate) fn new(arm: Arm, catalog: Option<Arc<AzureCatalog>>) -> Self {
        AzureProvisioner { arm, catalog }
    }

    /// The subscription this provisioner launches in.
    pub fn subscription(&self) -> &str {
        &self.arm.subscription
    }

    pub(super) fn at(&self, cluster: &ClusterRef) -> Placement {
        Placement {
            cloud: Some(CloudId::Azure),
            region: Some(cluster.region.clone()),
            zone: None,
            instance_type: None,
        }
    }

    pub(super) fn rg_path(&self, cluster: &ClusterRef) -> String {
        self.arm
            .sub_path(&format!("/resourceGroups/{}", resource_group(cluster)))
    }

    pub(super) fn res_path(&self, cluster: &ClusterRef, provider: &str, name: &str) -> String {
        format!("{}/providers/{provider}/{name}", self.rg_path(cluster))
    }

    /// The ranks without a VM. A VM whose creation failed (provisioning state `Failed`) is
    /// created again: a second PUT of the same VM retries its deployment.
    async fn missing_ranks(&self, req: &LaunchRequest) -> Result<Vec<u32>> {
        let have: BTreeSet<u32> = self
            .vms(&req.cluster)
            .await?
            .iter()
            .filter(|vm| vm.properties.provisioning_state != "Failed")
            .filter_map(|vm| vm.tags.get(TAG_RANK).and_then(|r| r.parse().ok()))
            .collect();
        Ok((0..req.num_nodes).filter(|r| !have.contains(r)).collect())
    }

    pub(super) fn no_zones(cluster: &ClusterRef) -> Result<()> {
        match &cluster.zone {
            Some(z) => Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("Azure does not support zones (asked for zone {z})"),
            )
            .with_scope(Scope::Cloud)
            .with_placement(Placement::cloud(CLOUD))),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Provisioner for AzureProvisioner {
    fn cloud(&self) -> CloudId {
        CloudId::Azure
    }

    fn catalog(&self) -> Option<Arc<dyn sky_core::catalog::Catalog>> {
        self.catalog
            .clone()
            .map(|c| c as Arc<dyn sky_core::catalog::Catalog>)
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::all();
        c.zones = false;
        c
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        let c = &req.cluster;
        Self::no_zones(c)?;
        // The quota pre-check comes first: a region without quota gets no resource at all
        // (no resource group, NSG or VNet made and deleted again).
        let missing = self.missing_ranks(req).await?;
        self.quota_precheck(req, missing.len() as u32).await?;
        let at = self.at(c);
        let rg = json!({ "location": c.region, "tags": { TAG_CLUSTER: c.name } });
        self.arm
            .put(&self.rg_path(c), api::RESOURCES, &rg, &at)
            .await?;
        let mut ports: BTreeSet<PortRange> = self.nsg_ports(c).await?.unwrap_or_default();
        ports.extend(req.ports.iter().copied());
        self.put_nsg(c, &ports).await?;
        let nsg_id = self.res_path(
            c,
            "Microsoft.Network",
            &format!("networkSecurityGroups/{NSG}"),
        );
        let vnet = json!({
            "location": c.region,
            "tags": { TAG_CLUSTER: c.name },
            "properties": {
                "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
                "subnets": [{ "name": SUBNET, "properties": {
                    "addressPrefix": "10.0.0.0/20",
                    "networkSecurityGroup": { "id": nsg_id }
                }}]
            }
        });
        self.arm
            .put(
                &self.res_path(c, "Microsoft.Network", &format!("virtualNetworks/{VNET}")),
                api::NETWORK,
                &vnet,
                &at,
            )
            .await
            .map(drop)
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let c = &req.cluster;
        Self::no_zones(c)?;
        let missing = self.missing_ranks(req).await?;
        if !missing.is_empty() {
            // Again here: bootstrap's check may be stale, and callers may skip it.
            self.quota_precheck(req, missing.len() as u32).await?;
            let at = self.at(c);
            let image = match &req.image_id {
                Some(id) => image_reference(id)?,
                None => {
                    let gen_from_catalog = self
                        .catalog
                        .as_ref()
                        .and_then(|cat| cat.generation(&req.instance_type).map(str::to_string));
                    let generations = match gen_from_catalog {
                        Some(g) => Some(g),
                        None => match self.skus(&c.region, &at).await {
                            Ok(skus) => quota::sku_info(&skus, &req.instance_type)
                                .and_then(|s| s.generations),
                            Err(e) => {
                                tracing::warn!(error = %e, "resource SKUs unreadable: default image for Hyper-V generation 2");
                                None
                            }
                        },
                    };
                    image_reference(default_image(generations.as_deref()))?
                }
            };
            let results = futures_util::future::join_all(
                missing.iter().map(|&r| self.create_node(req, r, &image)),
            )
            .await;
            if let Some(e) = results.into_iter().find_map(|r| r.err()) {
                return Err(self.widen_family_quota(e, &c.region).await);
            }
        }
        self.query_instances(c).await
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let (nodes, failed) = self.snapshot(cluster).await?;
            if state == InstanceState::Running
                && let Some(vm) = failed.first()
            {
                // Waiting will not help: the deployment failed (run_instances re-creates it).
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    format!("VM {vm} is in provisioning state Failed"),
                )
                .with_scope(Scope::Region)
                .with_code("ProvisioningStateFailed")
                .with_placement(self.at(cluster)));
            }
            if all_in_state(&nodes, state) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(wait_timeout(cluster, state, timeout, &nodes)
                    .with_scope(Scope::Region)
                    .with_placement(self.at(cluster)));
            }
            tokio::time::sleep(self.arm.poll).await;
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Ok(self.snapshot(cluster).await?.0)
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        let instances = self.query_instances(cluster).await?;
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances,
            ssh_user: SSH_USER.to_string(),
            ssh_port: 22,
        })
    }

    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let at = self.at(cluster);
        let vms = self.vms(cluster).await?;
        let results = futures_util::future::join_all(vms.iter().map(|vm| {
            let path = format!("{}/deallocate", vm_path_of(vm, self, cluster));
            let at = at.clone();
            async move { self.arm.post(&path, api::COMPUTE, &at).await }
        }))
        .await;
        results.into_iter().collect::<Result<Vec<()>>>().map(drop)
    }

    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        let at = self.at(cluster);
        let vms = self.vms(cluster).await?;
        let results = futures_util::future::join_all(
            vms.iter()
                .filter(|vm| power_state(vm) != InstanceState::Running)
                .map(|vm| {
                    let path = format!("{}/start", vm_path_of(vm, self, cluster));
                    let at = at.clone();
                    async move { self.arm.post(&path, api::COMPUTE, &at).await }
                }),
        )
        .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        self.query_instances(cluster).await
    }

    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let at = self.at(cluster);
        let path = self.rg_path(cluster);
        self.arm.delete(&path, api::RESOURCES, &at).await?;
        // Verify: the resource group must be gone, not merely "Deleting".
        let deadline = Instant::now() + self.arm.lro_timeout;
        loop {
            let rg: Option<Value> = self.arm.get(&path, api::RESOURCES, &at).await?;
            if rg.is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Transient,
                    format!(
                        "resource group {} still exists after delete",
                        resource_group(cluster)
                    ),
                )
                .with_scope(Scope::Region)
                .with_placement(at));
            }
            tokio::time::sleep(self.arm.poll).await;
        }
    }

    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()> {
        let Some(mut have) = self.nsg_ports(cluster).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "cluster {} has no network security group in {}",
                    cluster.name, cluster.region
                ),
            )
            .with_placement(self.at(cluster)));
        };
        let before = have.len();
        have.extend(ports.iter().copied());
        if have.len() == before {
            return Ok(());
        }
        self.put_nsg(cluster, &have).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_by_generation_and_by_id() {
        assert_eq!(default_image(Some("V1")), DEFAULT_IMAGE_GEN1);
        assert_eq!(default_image(Some("V1,V2")), DEFAULT_IMAGE_GEN2);
        assert_eq!(default_image(Some("V2")), DEFAULT_IMAGE_GEN2);
        assert_eq!(default_image(None), DEFAULT_IMAGE_GEN2);
        let r = image_reference(DEFAULT_IMAGE_GEN2).unwrap();
        assert_eq!(r["sku"], "22_04-lts-gen2");
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/i";
        assert_eq!(image_reference(id).unwrap()["id"], id);
        let e = image_reference("ubuntu").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }
}
