//! The ARM resource bodies the provisioner reads (only the fields sky reads).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(super) struct Vm {
    #[serde(default)]
    pub(super) id: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) tags: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) properties: VmProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct VmProps {
    #[serde(default)]
    pub(super) provisioning_state: String,
    #[serde(default)]
    pub(super) priority: Option<String>,
    #[serde(default)]
    pub(super) hardware_profile: HardwareProfile,
    #[serde(default)]
    pub(super) network_profile: NetworkProfile,
    #[serde(default)]
    pub(super) instance_view: Option<InstanceView>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct HardwareProfile {
    #[serde(default)]
    pub(super) vm_size: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct NetworkProfile {
    #[serde(default)]
    pub(super) network_interfaces: Vec<IdRef>,
}

#[derive(Deserialize, Default, Clone)]
pub(super) struct IdRef {
    #[serde(default)]
    pub(super) id: String,
}

#[derive(Deserialize, Default)]
pub(super) struct InstanceView {
    #[serde(default)]
    pub(super) statuses: Vec<Status>,
}

#[derive(Deserialize, Default)]
pub(super) struct Status {
    #[serde(default)]
    pub(super) code: String,
}

#[derive(Deserialize, Default)]
pub(super) struct Nic {
    #[serde(default)]
    pub(super) id: String,
    #[serde(default)]
    pub(super) properties: NicProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct NicProps {
    #[serde(default)]
    pub(super) ip_configurations: Vec<IpConfig>,
}

#[derive(Deserialize, Default)]
pub(super) struct IpConfig {
    #[serde(default)]
    pub(super) properties: IpConfigProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct IpConfigProps {
    #[serde(default, rename = "privateIPAddress")]
    pub(super) private_ip_address: Option<String>,
    #[serde(default, rename = "publicIPAddress")]
    pub(super) public_ip_address: Option<IdRef>,
}

#[derive(Deserialize, Default)]
pub(super) struct PublicIp {
    #[serde(default)]
    pub(super) id: String,
    #[serde(default)]
    pub(super) properties: PublicIpProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PublicIpProps {
    #[serde(default)]
    pub(super) ip_address: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct Nsg {
    #[serde(default)]
    pub(super) properties: NsgProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct NsgProps {
    #[serde(default)]
    pub(super) security_rules: Vec<NsgRule>,
}

#[derive(Deserialize, Default)]
pub(super) struct NsgRule {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) properties: NsgRuleProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct NsgRuleProps {
    #[serde(default)]
    pub(super) destination_port_range: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Sku {
    #[serde(default, rename = "resourceType")]
    pub(super) resource_type: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) family: Option<String>,
    #[serde(default)]
    pub(super) capabilities: Vec<SkuCapability>,
}

#[derive(Deserialize)]
pub(super) struct SkuCapability {
    pub(super) name: String,
    pub(super) value: String,
}

/// What the resource SKUs API says about a VM size in a region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct SkuInfo {
    pub(super) family: Option<String>,
    pub(super) vcpus: Option<u64>,
    pub(super) generations: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Usage {
    pub(super) name: UsageName,
    #[serde(default)]
    pub(super) current_value: i64,
    #[serde(default)]
    pub(super) limit: i64,
}

#[derive(Deserialize)]
pub(super) struct UsageName {
    pub(super) value: String,
}
