//! The cluster's network security group: SSH plus the task's ports.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sky_core::error::Result;
use sky_core::provision::ClusterRef;
use sky_core::resources::PortRange;

use super::wire::Nsg;
use super::{AzureProvisioner, NSG, TAG_CLUSTER};
use crate::arm::api;

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

impl AzureProvisioner {
    pub(super) async fn put_nsg(
        &self,
        cluster: &ClusterRef,
        ports: &BTreeSet<PortRange>,
    ) -> Result<()> {
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
    pub(super) async fn nsg_ports(
        &self,
        cluster: &ClusterRef,
    ) -> Result<Option<BTreeSet<PortRange>>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
