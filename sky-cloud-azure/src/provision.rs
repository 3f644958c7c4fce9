//! [`AzureProvisioner`]: sky's [`Provisioner`] on Azure Resource Manager.
//!
//! Layout: one resource group per cluster and region, `sky-<cluster>-<region>`, created first
//! and tagged, holding a virtual network `sky-vnet` with subnet `default`, a network security
//! group `sky-nsg` (SSH plus the task's ports) on that subnet, and per node of rank `r` a
//! public IP `<cluster>-<r>-ip`, a NIC `<cluster>-<r>-nic` and a VM `<cluster>-<r>` tagged
//! `sky-cluster` and `sky-rank`. Deleting the resource group deletes everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
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

/// The NSG's security rules: SSH at priority 1000, then one rule per port range.
pub fn nsg_rules(ports: &BTreeSet<PortRange>) -> Vec<Value> {
    let mut rules = vec![rule("sky-ssh", 1000, "22")];
    for (i, p) in ports
        .iter()
        .filter(|p| !(p.start == 22 && p.end == 22))
        .enumerate()
    {
        let range = if p.start == p.end {
            p.start.to_string()
        } else {
            format!("{}-{}", p.start, p.end)
        };
        rules.push(rule(&format!("sky-port-{range}"), 1001 + i as u32, &range));
    }
    rules
}

fn rule(name: &str, priority: u32, range: &str) -> Value {
    json!({
        "name": name,
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": range,
            "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": priority,
            "direction": "Inbound"
        }
    })
}

fn parse_range(s: &str) -> Option<PortRange> {
    match s.split_once('-') {
        Some((a, b)) => Some(PortRange {
            start: a.trim().parse().ok()?,
            end: b.trim().parse().ok()?,
        }),
        None => {
            let p = s.trim().parse().ok()?;
            Some(PortRange { start: p, end: p })
        }
    }
}

// ---- ARM shapes (only the fields sky reads) ----

#[derive(Deserialize, Default)]
struct List<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
}

#[derive(Deserialize, Default)]
struct Vm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: VmProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VmProps {
    #[serde(default)]
    provisioning_state: String,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    hardware_profile: HardwareProfile,
    #[serde(default)]
    network_profile: NetworkProfile,
    #[serde(default)]
    instance_view: Option<InstanceView>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HardwareProfile {
    #[serde(default)]
    vm_size: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NetworkProfile {
    #[serde(default)]
    network_interfaces: Vec<IdRef>,
}

#[derive(Deserialize, Default, Clone)]
struct IdRef {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize, Default)]
struct InstanceView {
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize, Default)]
struct Nic {
    #[serde(default)]
    id: String,
    #[serde(default)]
    properties: NicProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NicProps {
    #[serde(default)]
    ip_configurations: Vec<IpConfig>,
}

#[derive(Deserialize, Default)]
struct IpConfig {
    #[serde(default)]
    properties: IpConfigProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct IpConfigProps {
    #[serde(default, rename = "privateIPAddress")]
    private_ip_address: Option<String>,
    #[serde(default, rename = "publicIPAddress")]
    public_ip_address: Option<IdRef>,
}

#[derive(Deserialize, Default)]
struct PublicIp {
    #[serde(default)]
    id: String,
    #[serde(default)]
    properties: PublicIpProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PublicIpProps {
    #[serde(default)]
    ip_address: Option<String>,
}

#[derive(Deserialize, Default)]
struct Nsg {
    #[serde(default)]
    properties: NsgProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NsgProps {
    #[serde(default)]
    security_rules: Vec<NsgRule>,
}

#[derive(Deserialize, Default)]
struct NsgRule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    properties: NsgRuleProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NsgRuleProps {
    #[serde(default)]
    destination_port_range: Option<String>,
}

#[derive(Deserialize)]
struct Sku {
    #[serde(default, rename = "resourceType")]
    resource_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    capabilities: Vec<SkuCapability>,
}

#[derive(Deserialize)]
struct SkuCapability {
    name: String,
    value: String,
}

/// What the resource SKUs API says about a VM size in a region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SkuInfo {
    pub family: Option<String>,
    pub vcpus: Option<u64>,
    pub generations: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    name: UsageName,
    #[serde(default)]
    current_value: i64,
    #[serde(default)]
    limit: i64,
}

#[derive(Deserialize)]
struct UsageName {
    value: String,
}

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

fn power_state(vm: &Vm) -> InstanceState {
    let power = vm.properties.instance_view.as_ref().and_then(|iv| {
        iv.statuses
            .iter()
            .find_map(|s| s.code.strip_prefix("PowerState/").map(str::to_string))
    });
    match vm.properties.provisioning_state.as_str() {
        "Deleting" => return InstanceState::ShuttingDown,
        "Creating" => return InstanceState::Pending,
        _ => {}
    }
    match power.as_deref() {
        Some("running") => InstanceState::Running,
        Some("starting") => InstanceState::Pending,
        Some("stopping" | "deallocating") => InstanceState::Stopping,
        Some("stopped" | "deallocated") => InstanceState::Stopped,
        _ => InstanceState::Pending,
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

    fn at(&self, cluster: &ClusterRef) -> Placement {
        Placement {
            cloud: Some(CloudId::Azure),
            region: Some(cluster.region.clone()),
            zone: None,
            instance_type: None,
        }
    }

    fn rg_path(&self, cluster: &ClusterRef) -> String {
        self.arm
            .sub_path(&format!("/resourceGroups/{}", resource_group(cluster)))
    }

    fn res_path(&self, cluster: &ClusterRef, provider: &str, name: &str) -> String {
        format!("{}/providers/{provider}/{name}", self.rg_path(cluster))
    }

    fn no_zones(cluster: &ClusterRef) -> Result<()> {
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

    /// The resource SKU of `size` in `region`, or `None` if the API is unavailable.
    async fn sku(&self, region: &str, size: &str, at: &Placement) -> Option<SkuInfo> {
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
    async fn quota_precheck(
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

    async fn put_nsg(&self, cluster: &ClusterRef, ports: &BTreeSet<PortRange>) -> Result<()> {
        let at = self.at(cluster);
        let body = json!({
            "location": cluster.region,
            "tags": { TAG_CLUSTER: cluster.name },
            "properties": { "securityRules": nsg_rules(ports) }
        });
        self.arm
            .put(
                &self.res_path(
                    cluster,
                    "Microsoft.Network",
                    &format!("networkSecurityGroups/{NSG}"),
                ),
                api::NETWORK,
                &body,
                &at,
            )
            .await
            .map(drop)
    }

    /// The ports the NSG opens now (besides SSH).
    async fn nsg_ports(&self, cluster: &ClusterRef) -> Result<Option<BTreeSet<PortRange>>> {
        let at = self.at(cluster);
        let nsg: Option<Nsg> = self
            .arm
            .get(
                &self.res_path(
                    cluster,
                    "Microsoft.Network",
                    &format!("networkSecurityGroups/{NSG}"),
                ),
                api::NETWORK,
                &at,
            )
            .await?;
        Ok(nsg.map(|n| {
            n.properties
                .security_rules
                .iter()
                .filter(|r| r.name.starts_with("sky-port-"))
                .filter_map(|r| {
                    r.properties
                        .destination_port_range
                        .as_deref()
                        .and_then(parse_range)
                })
                .collect()
        }))
    }

    async fn create_node(&self, req: &LaunchRequest, rank: u32, image: &Value) -> Result<()> {
        let c = &req.cluster;
        let at = self.at(c);
        let name = vm_name(c, rank);
        let mut tags: BTreeMap<String, String> = req.labels.clone();
        tags.insert(TAG_CLUSTER.into(), c.name.clone());
        tags.insert(TAG_RANK.into(), rank.to_string());
        let ip_path = self.res_path(
            c,
            "Microsoft.Network",
            &format!("publicIPAddresses/{name}-ip"),
        );
        let pip = json!({
            "location": c.region,
            "tags": tags,
            "sku": { "name": "Standard" },
            "properties": { "publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4" }
        });
        self.arm.put(&ip_path, api::NETWORK, &pip, &at).await?;
        let subnet_id = format!(
            "{}/subnets/{SUBNET}",
            self.res_path(c, "Microsoft.Network", &format!("virtualNetworks/{VNET}"))
        );
        let nic_path = self.res_path(
            c,
            "Microsoft.Network",
            &format!("networkInterfaces/{name}-nic"),
        );
        let nic = json!({
            "location": c.region,
            "tags": tags,
            "properties": { "ipConfigurations": [{
                "name": "ipconfig1",
                "properties": {
                    "subnet": { "id": subnet_id },
                    "privateIPAllocationMethod": "Dynamic",
                    "publicIPAddress": { "id": ip_path }
                }
            }]}
        });
        self.arm.put(&nic_path, api::NETWORK, &nic, &at).await?;
        let mut linux = json!({ "disablePasswordAuthentication": true });
        if let Some(key) = &req.ssh_public_key {
            linux["ssh"] = json!({ "publicKeys": [{
                "path": format!("/home/{SSH_USER}/.ssh/authorized_keys"),
                "keyData": key.trim()
            }]});
        }
        let mut props = json!({
            "hardwareProfile": { "vmSize": req.instance_type },
            "storageProfile": {
                "imageReference": image,
                "osDisk": {
                    "createOption": "FromImage",
                    "diskSizeGB": req.disk_size_gb,
                    "deleteOption": "Delete",
                    "managedDisk": { "storageAccountType": "StandardSSD_LRS" }
                }
            },
            "osProfile": {
                "computerName": name,
                "adminUsername": SSH_USER,
                "linuxConfiguration": linux
            },
            "networkProfile": { "networkInterfaces": [{
                "id": nic_path, "properties": { "primary": true, "deleteOption": "Delete" }
            }]}
        });
        if req.spot {
            props["priority"] = json!("Spot");
            props["evictionPolicy"] = json!("Deallocate");
            props["billingProfile"] = json!({ "maxPrice": -1 });
        } else {
            props["priority"] = json!("Regular");
        }
        let vm = json!({ "location": c.region, "tags": tags, "properties": props });
        let mut vm_at = at;
        vm_at.instance_type = Some(req.instance_type.clone());
        self.arm
            .put(
                &self.res_path(c, "Microsoft.Compute", &format!("virtualMachines/{name}")),
                api::COMPUTE,
                &vm,
                &vm_at,
            )
            .await
            .map(drop)
    }

    async fn vms(&self, cluster: &ClusterRef) -> Result<Vec<Vm>> {
        let at = self.at(cluster);
        let list: Option<List<Vm>> = self
            .arm
            .get(
                &format!(
                    "{}/providers/Microsoft.Compute/virtualMachines",
                    self.rg_path(cluster)
                ),
                api::COMPUTE,
                &at,
            )
            .await?;
        let mut vms: Vec<Vm> = list
            .map(|l| l.value)
            .unwrap_or_default()
            .into_iter()
            .filter(|v| v.tags.get(TAG_CLUSTER) == Some(&cluster.name))
            .collect();
        for vm in &mut vms {
            let path = format!("{}/instanceView", vm_path_of(vm, self, cluster));
            if let Some(iv) = self
                .arm
                .get::<InstanceView>(&path, api::COMPUTE, &at)
                .await?
            {
                vm.properties.instance_view = Some(iv);
            }
        }
        Ok(vms)
    }
}

impl AzureProvisioner {
    /// The cluster's instances, and the names of VMs whose deployment failed.
    async fn snapshot(&self, cluster: &ClusterRef) -> Result<(Vec<InstanceInfo>, Vec<String>)> {
        let at = self.at(cluster);
        let vms = self.vms(cluster).await?;
        if vms.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let failed: Vec<String> = vms
            .iter()
            .filter(|vm| vm.properties.provisioning_state == "Failed")
            .map(|vm| vm.name.clone())
            .collect();
        let base = self.rg_path(cluster);
        let nics: Vec<Nic> = self
            .arm
            .get::<List<Nic>>(
                &format!("{base}/providers/Microsoft.Network/networkInterfaces"),
                api::NETWORK,
                &at,
            )
            .await?
            .map(|l| l.value)
            .unwrap_or_default();
        let pips: Vec<PublicIp> = self
            .arm
            .get::<List<PublicIp>>(
                &format!("{base}/providers/Microsoft.Network/publicIPAddresses"),
                api::NETWORK,
                &at,
            )
            .await?
            .map(|l| l.value)
            .unwrap_or_default();
        let mut out = Vec::new();
        for vm in &vms {
            let Some(rank) = vm.tags.get(TAG_RANK).and_then(|r| r.parse::<u32>().ok()) else {
                continue;
            };
            let state = power_state(vm);
            let nic = vm
                .properties
                .network_profile
                .network_interfaces
                .first()
                .and_then(|r| nics.iter().find(|n| n.id.eq_ignore_ascii_case(&r.id)));
            let ipc = nic.and_then(|n| n.properties.ip_configurations.first());
            let private_ip = ipc.and_then(|c| c.properties.private_ip_address.clone());
            let public_ip = ipc
                .and_then(|c| c.properties.public_ip_address.as_ref())
                .and_then(|r| pips.iter().find(|p| p.id.eq_ignore_ascii_case(&r.id)))
                .and_then(|p| p.properties.ip_address.clone());
            out.push(InstanceInfo {
                id: if vm.id.is_empty() {
                    vm.name.clone()
                } else {
                    vm.id.clone()
                },
                rank,
                state,
                private_ip,
                public_ip,
                zone: None,
                instance_type: vm.properties.hardware_profile.vm_size.clone(),
                spot: vm.properties.priority.as_deref() == Some("Spot"),
            });
        }
        out.sort_by_key(|i| i.rank);
        Ok((out, failed))
    }
}

fn vm_path_of(vm: &Vm, p: &AzureProvisioner, cluster: &ClusterRef) -> String {
    if vm.id.starts_with("/subscriptions/") {
        vm.id.clone()
    } else {
        p.res_path(
            cluster,
            "Microsoft.Compute",
            &format!("virtualMachines/{}", vm.name),
        )
    }
}

#[async_trait]
impl Provisioner for AzureProvisioner {
    fn cloud(&self) -> CloudId {
        CloudId::Azure
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::all();
        c.zones = false;
        c
    }

    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        let c = &req.cluster;
        Self::no_zones(c)?;
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
        // A VM whose creation failed (provisioning state `Failed`) is created again: a
        // second PUT of the same VM retries its deployment.
        let have: BTreeSet<u32> = self
            .vms(c)
            .await?
            .iter()
            .filter(|vm| vm.properties.provisioning_state != "Failed")
            .filter_map(|vm| vm.tags.get(TAG_RANK).and_then(|r| r.parse().ok()))
            .collect();
        let missing: Vec<u32> = (0..req.num_nodes).filter(|r| !have.contains(r)).collect();
        if !missing.is_empty() {
            let at = self.at(c);
            let sku = self.sku(&c.region, &req.instance_type, &at).await;
            self.quota_precheck(req, sku.as_ref(), missing.len() as u32)
                .await?;
            let image = match &req.image_id {
                Some(id) => image_reference(id)?,
                None => {
                    let gen_from_catalog = self
                        .catalog
                        .as_ref()
                        .and_then(|cat| cat.generation(&req.instance_type).map(str::to_string));
                    let generations = gen_from_catalog
                        .or_else(|| sku.as_ref().and_then(|s| s.generations.clone()));
                    image_reference(default_image(generations.as_deref()))?
                }
            };
            let results = futures_util::future::join_all(
                missing.iter().map(|&r| self.create_node(req, r, &image)),
            )
            .await;
            if let Some(e) = results.into_iter().find_map(|r| r.err()) {
                return Err(e);
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

    #[test]
    fn nsg_opens_ssh_and_only_the_given_ports() {
        let ports: BTreeSet<PortRange> = [
            PortRange {
                start: 8080,
                end: 8080,
            },
            PortRange {
                start: 9000,
                end: 9010,
            },
        ]
        .into_iter()
        .collect();
        let rules = nsg_rules(&ports);
        let ranges: Vec<&str> = rules
            .iter()
            .map(|r| r["properties"]["destinationPortRange"].as_str().unwrap())
            .collect();
        assert_eq!(ranges, ["22", "8080", "9000-9010"]);
        let prios: BTreeSet<u64> = rules
            .iter()
            .map(|r| r["properties"]["priority"].as_u64().unwrap())
            .collect();
        assert_eq!(prios.len(), 3, "priorities are unique");
        assert_eq!(
            parse_range("9000-9010"),
            Some(PortRange {
                start: 9000,
                end: 9010
            })
        );
    }

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

    #[test]
    fn power_states_map_to_sky_states() {
        let vm = |prov: &str, code: &str| Vm {
            properties: VmProps {
                provisioning_state: prov.into(),
                instance_view: Some(InstanceView {
                    statuses: vec![
                        Status {
                            code: format!("ProvisioningState/{}", prov.to_lowercase()),
                        },
                        Status { code: code.into() },
                    ],
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            power_state(&vm("Succeeded", "PowerState/running")),
            InstanceState::Running
        );
        assert_eq!(
            power_state(&vm("Succeeded", "PowerState/deallocated")),
            InstanceState::Stopped
        );
        assert_eq!(
            power_state(&vm("Updating", "PowerState/deallocating")),
            InstanceState::Stopping
        );
        assert_eq!(
            power_state(&vm("Creating", "PowerState/running")),
            InstanceState::Pending
        );
        assert_eq!(
            power_state(&vm("Deleting", "PowerState/running")),
            InstanceState::ShuttingDown
        );
    }
}
