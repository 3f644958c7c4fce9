//! The cluster's VMs: creating one node (public IP, NIC, VM), listing them with their
//! instance views, and reading them back as sky's [`InstanceInfo`]s.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sky_core::error::Result;
use sky_core::provision::{ClusterRef, InstanceInfo, InstanceState, LaunchRequest};

use super::wire::{InstanceView, Nic, PublicIp, Vm};
use super::{AzureProvisioner, SSH_USER, SUBNET, TAG_CLUSTER, TAG_RANK, VNET, vm_name};
use crate::arm::api;

pub(super) fn power_state(vm: &Vm) -> InstanceState {
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
    pub(super) async fn create_node(
        &self,
        req: &LaunchRequest,
        rank: u32,
        image: &Value,
    ) -> Result<()> {
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

    pub(super) async fn vms(&self, cluster: &ClusterRef) -> Result<Vec<Vm>> {
        let at = self.at(cluster);
        let list: Option<Vec<Vm>> = self
            .arm
            .list(
                &format!(
                    "{}/providers/Microsoft.Compute/virtualMachines",
                    self.rg_path(cluster)
                ),
                api::COMPUTE,
                &at,
            )
            .await?;
        let mut vms: Vec<Vm> = list
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

    /// The cluster's instances, and the names of VMs whose deployment failed.
    pub(super) async fn snapshot(
        &self,
        cluster: &ClusterRef,
    ) -> Result<(Vec<InstanceInfo>, Vec<String>)> {
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
            .list::<Nic>(
                &format!("{base}/providers/Microsoft.Network/networkInterfaces"),
                api::NETWORK,
                &at,
            )
            .await?
            .unwrap_or_default();
        let pips: Vec<PublicIp> = self
            .arm
            .list::<PublicIp>(
                &format!("{base}/providers/Microsoft.Network/publicIPAddresses"),
                api::NETWORK,
                &at,
            )
            .await?
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

pub(super) fn vm_path_of(vm: &Vm, p: &AzureProvisioner, cluster: &ClusterRef) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::wire::{Status, VmProps};
    use super::*;

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
