//! [`GcpProvisioner`]: sky's provisioning operations on Compute Engine.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use google_cloud_compute_v1::client::{Firewalls, Instances, Projects};
use google_cloud_compute_v1::model::{
    AcceleratorConfig, AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Firewall,
    Instance, Metadata, NetworkInterface, Operation, Scheduling, Tags, access_config, firewall,
    instance, metadata, scheduling,
};
use google_cloud_lro::Poller;
use sky_core::CloudId;
use sky_core::error::{Error, ErrorKind, Placement, Result};
use sky_core::provision::{
    Capabilities, ClusterInfo, ClusterRef, InstanceInfo, InstanceState, LaunchRequest, Provisioner,
    all_in_state, wait_timeout,
};
use sky_core::resources::PortRange;

use crate::CLOUD;
use crate::builder::GcpBuilder;
use crate::error::{GceFault, from_gax};
use crate::naming::{
    LABEL_CLUSTER, LABEL_RANK, cluster_label, firewall_name, instance_name, label_key, label_value,
    last_segment, network_tag, ports_firewall_name,
};

/// sky's provisioner on Compute Engine (see the crate docs); made by [`GcpBuilder::build`].
#[derive(Clone, Debug)]
pub struct GcpProvisioner {
    cfg: GcpBuilder,
    project: String,
    instances: Instances,
    firewalls: Firewalls,
    pub(crate) projects: Projects,
}

/// The Compute Engine accelerator type of a catalog accelerator name, for N1 hosts
/// (`V100` → `nvidia-tesla-v100`), as SkyPilot names them; `None` for TPUs, which are not VMs
/// with attached GPUs.
pub fn accelerator_type(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("tpu") {
        return None;
    }
    Some(match lower.as_str() {
        "l4" => "nvidia-l4".into(),
        "a100-80gb" => "nvidia-a100-80gb".into(),
        "h100" => "nvidia-h100-80gb".into(),
        "h100-mega" => "nvidia-h100-mega-80gb".into(),
        "h200" => "nvidia-h200-141gb".into(),
        "b200" => "nvidia-b200".into(),
        other => format!("nvidia-tesla-{other}"),
    })
}

/// Whether GPUs attach to `instance_type` as `guestAccelerators` (N1 hosts); the a2, a3, a4
/// and g2 families come with their GPUs built in.
pub fn attaches_accelerators(instance_type: &str) -> bool {
    instance_type.starts_with("n1-")
}

/// The boot disk type a machine family supports: the newer families (n4, c4, a4, c3 metal...)
/// only take Hyperdisk.
fn disk_type(instance_type: &str) -> &'static str {
    const HYPERDISK_ONLY: [&str; 5] = ["n4-", "c4-", "c4a-", "c4d-", "a4-"];
    if HYPERDISK_ONLY.iter().any(|p| instance_type.starts_with(p)) {
        "hyperdisk-balanced"
    } else {
        "pd-balanced"
    }
}

fn state_of(status: Option<&instance::Status>) -> InstanceState {
    match status {
        Some(instance::Status::Running) => InstanceState::Running,
        Some(instance::Status::Stopping)
        | Some(instance::Status::Suspending)
        | Some(instance::Status::PendingStop) => InstanceState::Stopping,
        Some(instance::Status::Terminated)
        | Some(instance::Status::Stopped)
        | Some(instance::Status::Suspended) => InstanceState::Stopped,
        Some(instance::Status::Deprovisioning) => InstanceState::ShuttingDown,
        _ => InstanceState::Pending,
    }
}

fn ports_of(ports: &[PortRange]) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for p in ports {
        out.insert(if p.start == p.end {
            p.start.to_string()
        } else {
            format!("{}-{}", p.start, p.end)
        });
    }
    out.into_iter().collect()
}

impl GcpProvisioner {
    pub(crate) fn new(
        cfg: GcpBuilder,
        project: String,
        instances: Instances,
        firewalls: Firewalls,
        projects: Projects,
    ) -> Self {
        GcpProvisioner {
            cfg,
            project,
            instances,
            firewalls,
            projects,
        }
    }

    /// The project instances are launched in.
    pub fn project(&self) -> &str {
        &self.project
    }

    fn at(&self, cluster: &ClusterRef, instance_type: Option<&str>) -> Placement {
        Placement {
            cloud: Some(CLOUD),
            region: Some(cluster.region.clone()),
            zone: cluster.zone.clone(),
            instance_type: instance_type.map(str::to_string),
        }
    }

    fn zone<'a>(&self, cluster: &'a ClusterRef) -> Result<&'a str> {
        cluster.zone.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "GCP clusters live in a zone, but cluster {} names none in {}",
                    cluster.name, cluster.region
                ),
            )
            .with_placement(self.at(cluster, None))
        })
    }

    /// Fails if a finished operation carries an error.
    /// Stop or start: runs `op(name, zone)` on every node not already in `target`, all at
    /// once, each polled to completion and checked.
    async fn power<F, Fut>(&self, cluster: &ClusterRef, target: InstanceState, op: F) -> Result<()>
    where
        F: Fn(String, String) -> Fut,
        Fut: std::future::Future<
                Output = std::result::Result<Operation, google_cloud_gax::error::Error>,
            >,
    {
        let at = self.at(cluster, None);
        let nodes = self.targets(cluster, |s| s != target).await?;
        let calls = nodes.into_iter().map(|(name, zone)| {
            let at = &at;
            let call = op(name, zone);
            async move {
                let done = call.await.map_err(|e| from_gax(&e, at.clone()))?;
                self.check_op(&done, at)
            }
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()?;
        Ok(())
    }

    fn check_op(&self, op: &Operation, at: &Placement) -> Result<()> {
        match GceFault::from_operation(op) {
            Some(f) => Err(f.into_error(at.clone())),
            None => Ok(()),
        }
    }

    /// The cluster's instances (every status), by rank: in its zone, or, for a cluster without
    /// one, in every zone of its region (an aggregated list).
    async fn list(&self, cluster: &ClusterRef) -> Result<Vec<Instance>> {
        let at = self.at(cluster, None);
        let want = cluster_label(&cluster.name);
        // SkyPilot's proven form: `(labels.<key> = <value>)`.
        let filter = format!("(labels.{LABEL_CLUSTER} = {want})");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let next = match cluster.zone.as_deref() {
                Some(zone) => {
                    let mut call = self
                        .instances
                        .list()
                        .set_project(&self.project)
                        .set_zone(zone)
                        .set_filter(&filter);
                    if let Some(t) = &token {
                        call = call.set_page_token(t);
                    }
                    let page = call.send().await.map_err(|e| from_gax(&e, at.clone()))?;
                    out.extend(page.items);
                    page.next_page_token
                }
                None => {
                    let mut call = self
                        .instances
                        .aggregated_list()
                        .set_project(&self.project)
                        .set_filter(&filter);
                    if let Some(t) = &token {
                        call = call.set_page_token(t);
                    }
                    let page = call.send().await.map_err(|e| from_gax(&e, at.clone()))?;
                    let prefix = format!("{}-", cluster.region);
                    for (scope, scoped) in page.items {
                        if last_segment(&scope).starts_with(&prefix) {
                            out.extend(scoped.instances);
                        }
                    }
                    page.next_page_token
                }
            };
            match next.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.retain(|i| i.labels.get(LABEL_CLUSTER) == Some(&want));
        out.sort_by(|a, b| (rank_of(a), &a.name).cmp(&(rank_of(b), &b.name)));
        Ok(out)
    }

    /// The zone an instance lives in: its own `zone`, else the cluster's.
    fn zone_of(&self, cluster: &ClusterRef, i: &Instance) -> Result<String> {
        match i.zone.as_deref() {
            Some(z) => Ok(last_segment(z).to_string()),
            None => self.zone(cluster).map(str::to_string),
        }
    }

    /// (name, zone) of the instances of `cluster` that `keep` selects.
    async fn targets(
        &self,
        cluster: &ClusterRef,
        keep: impl Fn(InstanceState) -> bool,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for i in self.list(cluster).await? {
            if let Some(name) = i.name.clone()
                && keep(state_of(i.status.as_ref()))
            {
                out.push((name, self.zone_of(cluster, &i)?));
            }
        }
        Ok(out)
    }

    fn info(&self, cluster: &ClusterRef, i: &Instance) -> InstanceInfo {
        let nic = i.network_interfaces.first();
        let scheduling = i.scheduling.as_ref();
        InstanceInfo {
            id: i.name.clone().unwrap_or_default(),
            rank: rank_of(i),
            state: state_of(i.status.as_ref()),
            private_ip: nic.and_then(|n| n.network_ip.clone()),
            public_ip: nic
                .and_then(|n| n.access_configs.first())
                .and_then(|a| a.nat_ip.clone()),
            zone: i
                .zone
                .as_deref()
                .map(|z| last_segment(z).to_string())
                .or_else(|| cluster.zone.clone()),
            instance_type: i
                .machine_type
                .as_deref()
                .map(|m| last_segment(m).to_string())
                .unwrap_or_default(),
            spot: scheduling.is_some_and(|s| {
                s.provisioning_model == Some(scheduling::ProvisioningModel::Spot)
                    || s.preemptible == Some(true)
            }),
        }
    }

    fn image_for(&self, req: &LaunchRequest) -> String {
        match &req.image_id {
            Some(id) if id.contains('/') => id.clone(),
            Some(id) => format!("projects/{}/global/images/{id}", self.project),
            None if req.accelerator.is_some() => self.cfg.gpu_image.clone(),
            None => self.cfg.cpu_image.clone(),
        }
    }

    /// The insert body of node `rank`.
    fn instance_body(&self, req: &LaunchRequest, zone: &str, rank: u32) -> Result<Instance> {
        let cluster = &req.cluster;
        let mut labels: BTreeMap<String, String> = req
            .labels
            .iter()
            .map(|(k, v)| (label_key(k), label_value(v)))
            .collect();
        labels.insert(LABEL_CLUSTER.into(), cluster_label(&cluster.name));
        labels.insert(LABEL_RANK.into(), rank.to_string());

        let mut sched = Scheduling::new();
        if req.spot {
            sched = sched
                .set_provisioning_model(scheduling::ProvisioningModel::Spot)
                .set_instance_termination_action(scheduling::InstanceTerminationAction::Stop)
                .set_automatic_restart(false)
                .set_on_host_maintenance(scheduling::OnHostMaintenance::Terminate);
        }
        let mut guest = Vec::new();
        if let Some(acc) = &req.accelerator {
            // "VMs with GPUs cannot live migrate": they must stop for host maintenance.
            sched = sched.set_on_host_maintenance(scheduling::OnHostMaintenance::Terminate);
            if attaches_accelerators(&req.instance_type) {
                let ty = accelerator_type(&acc.name).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        format!("{} is a TPU: sky's GCP backend launches VMs only", acc.name),
                    )
                    .with_placement(self.at(cluster, Some(&req.instance_type)))
                })?;
                guest.push(
                    AcceleratorConfig::new()
                        .set_accelerator_type(format!(
                            "projects/{}/zones/{zone}/acceleratorTypes/{ty}",
                            self.project
                        ))
                        .set_accelerator_count(acc.count.ceil().max(1.0) as i32),
                );
            }
        }
        let mut items = vec![
            metadata::Items::new()
                .set_key("enable-oslogin")
                .set_value("FALSE"),
        ];
        if let Some(key) = &req.ssh_public_key {
            items.push(
                metadata::Items::new()
                    .set_key("ssh-keys")
                    .set_value(format!("{}:{}", self.cfg.ssh_user, key.trim())),
            );
        }
        let disk = AttachedDisk::new()
            .set_boot(true)
            .set_auto_delete(true)
            .set_initialize_params(
                AttachedDiskInitializeParams::new()
                    .set_disk_size_gb(i64::try_from(req.disk_size_gb).unwrap_or(i64::MAX))
                    .set_disk_type(format!(
                        "zones/{zone}/diskTypes/{}",
                        disk_type(&req.instance_type)
                    ))
                    .set_source_image(self.image_for(req)),
            );
        let nic = NetworkInterface::new()
            .set_network(format!(
                "projects/{}/global/networks/{}",
                self.project, self.cfg.network
            ))
            .set_access_configs([AccessConfig::new()
                .set_name("External NAT")
                .set_type(access_config::Type::OneToOneNat)]);
        Ok(Instance::new()
            .set_name(instance_name(&cluster.name, rank))
            .set_machine_type(format!("zones/{zone}/machineTypes/{}", req.instance_type))
            .set_labels(labels)
            .set_tags(Tags::new().set_items([network_tag(&cluster.name)]))
            .set_disks([disk])
            .set_network_interfaces([nic])
            .set_guest_accelerators(guest)
            .set_scheduling(sched)
            .set_metadata(Metadata::new().set_items(items)))
    }

    async fn insert(&self, req: &LaunchRequest, zone: &str, rank: u32) -> Result<()> {
        let at = self.at(&req.cluster, Some(&req.instance_type));
        let body = self.instance_body(req, zone, rank)?;
        tracing::info!(
            project = %self.project,
            zone,
            instance = body.name.as_deref().unwrap_or_default(),
            machine_type = %req.instance_type,
            spot = req.spot,
            "inserting a Compute Engine instance"
        );
        let op = self
            .instances
            .insert()
            .set_project(&self.project)
            .set_zone(zone)
            .set_body(body)
            .poller()
            .until_done()
            .await;
        match op {
            Ok(op) => self.check_op(&op, &at),
            // The node's name is its rank: a concurrent launch of the same cluster made it.
            Err(e) if e.http_status_code() == Some(409) => Ok(()),
            Err(e) => Err(from_gax(&e, at)),
        }
    }

    /// Creates or updates the ingress rule `name`: TCP `ports` to the cluster's network tag.
    async fn ensure_firewall(
        &self,
        cluster: &ClusterRef,
        name: &str,
        ports: Vec<String>,
    ) -> Result<()> {
        let at = self.at(cluster, None);
        let body = Firewall::new()
            .set_name(name)
            .set_description(format!("sky: ports of cluster {}", cluster.name))
            .set_network(format!(
                "projects/{}/global/networks/{}",
                self.project, self.cfg.network
            ))
            .set_direction(firewall::Direction::Ingress)
            .set_priority(1000)
            .set_source_ranges(["0.0.0.0/0"])
            .set_target_tags([network_tag(&cluster.name)])
            .set_allowed([firewall::Allowed::new()
                .set_ip_protocol("tcp")
                .set_ports(ports.clone())]);
        let existing = self
            .firewalls
            .get()
            .set_project(&self.project)
            .set_firewall(name)
            .send()
            .await;
        let op = match existing {
            Ok(fw) => {
                let have: BTreeSet<&String> = fw.allowed.iter().flat_map(|a| &a.ports).collect();
                if have == ports.iter().collect() {
                    return Ok(());
                }
                self.firewalls
                    .update()
                    .set_project(&self.project)
                    .set_firewall(name)
                    .set_body(body)
                    .poller()
                    .until_done()
                    .await
            }
            Err(e) if e.http_status_code() == Some(404) => {
                self.firewalls
                    .insert()
                    .set_project(&self.project)
                    .set_body(body)
                    .poller()
                    .until_done()
                    .await
            }
            Err(e) => return Err(from_gax(&e, at)),
        };
        let op = match op {
            // A concurrent launch made it first.
            Err(e) if e.http_status_code() == Some(409) => return Ok(()),
            other => other.map_err(|e| from_gax(&e, at.clone()))?,
        };
        match GceFault::from_operation(&op) {
            // A concurrent launch made it first.
            Some(f) if f.codes.iter().any(|c| c == "RESOURCE_ALREADY_EXISTS") => Ok(()),
            Some(f) => Err(f.into_error(at)),
            None => Ok(()),
        }
    }

    async fn delete_firewall(&self, cluster: &ClusterRef, name: &str) -> Result<()> {
        let polled = self
            .firewalls
            .delete()
            .set_project(&self.project)
            .set_firewall(name)
            .poller()
            .until_done()
            .await;
        deleted(polled, self.at(cluster, None))
    }

    async fn infos(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        Ok(self
            .list(cluster)
            .await?
            .iter()
            .map(|i| self.info(cluster, i))
            .collect())
    }
}

fn rank_of(i: &Instance) -> u32 {
    i.labels
        .get(LABEL_RANK)
        .and_then(|r| r.parse().ok())
        .unwrap_or(u32::MAX)
}

#[async_trait]
impl Provisioner for GcpProvisioner {
    fn cloud(&self) -> CloudId {
        CLOUD
    }

    fn catalog(&self) -> Option<std::sync::Arc<dyn sky_core::catalog::Catalog>> {
        self.cfg
            .catalog
            .clone()
            .map(|c| c as std::sync::Arc<dyn sky_core::catalog::Catalog>)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    /// Creates the cluster's firewall rule: SSH (22) and the task's ports, to the cluster's
    /// network tag only.
    async fn bootstrap(&self, req: &LaunchRequest) -> Result<()> {
        let mut ports = vec![PortRange { start: 22, end: 22 }];
        ports.extend(req.ports.iter().copied());
        self.ensure_firewall(
            &req.cluster,
            &firewall_name(&req.cluster.name),
            ports_of(&ports),
        )
        .await
    }

    async fn run_instances(&self, req: &LaunchRequest) -> Result<Vec<InstanceInfo>> {
        let zone = self.zone(&req.cluster)?;
        let existing: BTreeSet<u32> = self.list(&req.cluster).await?.iter().map(rank_of).collect();
        let missing: Vec<u32> = (0..req.num_nodes)
            .filter(|r| !existing.contains(r))
            .collect();
        let results = futures_util::future::join_all(
            missing.iter().map(|&rank| self.insert(req, zone, rank)),
        )
        .await;
        // Nodes created before a failure stay labelled: the caller terminates them.
        if let Some(e) = results.into_iter().find_map(|r| r.err()) {
            return Err(e);
        }
        self.infos(&req.cluster).await
    }

    async fn wait_instances(
        &self,
        cluster: &ClusterRef,
        state: InstanceState,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let nodes = self.infos(cluster).await?;
            if all_in_state(&nodes, state) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(wait_timeout(cluster, state, timeout, &nodes)
                    .with_placement(self.at(cluster, None)));
            }
            tokio::time::sleep(self.cfg.status_poll).await;
        }
    }

    async fn query_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.infos(cluster).await
    }

    async fn cluster_info(&self, cluster: &ClusterRef) -> Result<ClusterInfo> {
        Ok(ClusterInfo {
            cluster: cluster.clone(),
            instances: self.infos(cluster).await?,
            ssh_user: self.cfg.ssh_user.clone(),
            ssh_port: 22,
        })
    }

    async fn stop_instances(&self, cluster: &ClusterRef) -> Result<()> {
        self.power(cluster, InstanceState::Stopped, |name, zone| {
            self.instances
                .stop()
                .set_project(&self.project)
                .set_zone(zone)
                .set_instance(name)
                .poller()
                .until_done()
        })
        .await
    }

    async fn start_instances(&self, cluster: &ClusterRef) -> Result<Vec<InstanceInfo>> {
        self.power(cluster, InstanceState::Running, |name, zone| {
            self.instances
                .start()
                .set_project(&self.project)
                .set_zone(zone)
                .set_instance(name)
                .poller()
                .until_done()
        })
        .await?;
        self.infos(cluster).await
    }

    /// Deletes every node, then the cluster's firewall rules, and checks that no node is
    /// listed any more. A missing cluster (or node) is not an error.
    async fn terminate_instances(&self, cluster: &ClusterRef) -> Result<()> {
        let at = self.at(cluster, None);
        let nodes = self.targets(cluster, |_| true).await?;
        tracing::info!(cluster = %cluster.name, nodes = nodes.len(), "deleting Compute Engine instances");
        let deletes = nodes.into_iter().map(|(name, zone)| {
            let at = at.clone();
            async move {
                let polled = self
                    .instances
                    .delete()
                    .set_project(&self.project)
                    .set_zone(&zone)
                    .set_instance(name)
                    .poller()
                    .until_done()
                    .await;
                deleted(polled, at)
            }
        });
        futures_util::future::join_all(deletes)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()?;
        self.delete_firewall(cluster, &firewall_name(&cluster.name))
            .await?;
        self.delete_firewall(cluster, &ports_firewall_name(&cluster.name))
            .await?;
        let left = self.list(cluster).await?;
        if !left.is_empty() {
            return Err(Error::new(
                ErrorKind::Transient,
                format!(
                    "after deleting cluster {}, {} node(s) are still listed",
                    cluster.name,
                    left.len()
                ),
            )
            .with_placement(at));
        }
        Ok(())
    }

    async fn open_ports(&self, cluster: &ClusterRef, ports: &[PortRange]) -> Result<()> {
        self.ensure_firewall(
            cluster,
            &ports_firewall_name(&cluster.name),
            ports_of(ports),
        )
        .await
    }
}

/// The outcome of a polled delete: done, or already gone (a 404, or an operation that
/// failed with `RESOURCE_NOT_FOUND`), is success; deletes are idempotent.
fn deleted(
    polled: std::result::Result<
        google_cloud_compute_v1::model::Operation,
        google_cloud_gax::error::Error,
    >,
    at: Placement,
) -> Result<()> {
    match polled {
        Ok(op) => match GceFault::from_operation(&op) {
            Some(f) if f.codes.iter().any(|c| c == "RESOURCE_NOT_FOUND") => Ok(()),
            Some(f) => Err(f.into_error(at)),
            None => Ok(()),
        },
        Err(e) if e.http_status_code() == Some(404) => Ok(()),
        Err(e) => Err(from_gax(&e, at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerator_names_follow_compute_engine() {
        assert_eq!(
            accelerator_type("V100").as_deref(),
            Some("nvidia-tesla-v100")
        );
        assert_eq!(accelerator_type("T4").as_deref(), Some("nvidia-tesla-t4"));
        assert_eq!(
            accelerator_type("P100").as_deref(),
            Some("nvidia-tesla-p100")
        );
        assert_eq!(accelerator_type("L4").as_deref(), Some("nvidia-l4"));
        assert_eq!(
            accelerator_type("A100-80GB").as_deref(),
            Some("nvidia-a100-80gb")
        );
        assert_eq!(accelerator_type("tpu-v3-8"), None);
        assert!(attaches_accelerators("n1-standard-8"));
        assert!(!attaches_accelerators("a2-highgpu-1g"));
        assert!(!attaches_accelerators("g2-standard-4"));
        assert_eq!(disk_type("n4-standard-8"), "hyperdisk-balanced");
        assert_eq!(disk_type("n2-standard-8"), "pd-balanced");
    }

    #[test]
    fn ports_are_deduplicated_and_sorted() {
        let p = |start, end| PortRange { start, end };
        assert_eq!(
            ports_of(&[p(22, 22), p(9000, 9010), p(22, 22), p(8080, 8080)]),
            ["22", "8080", "9000-9010"]
        );
    }
}
