//! What a job needs to start on its nodes: the cluster it runs on, its resolved spec, and
//! SkyPilot's environment variables per node.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::resources::AcceleratorSpec;
use sky_core::task::{Secret, Task};

use super::{Phase, REMOTE_WORKDIR};
use crate::error::{ExecError, Result};
use crate::runner::ExecEnv;

/// What a job needs to know about its cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMeta {
    /// The cluster's name.
    pub name: String,
    /// Its cloud.
    pub cloud: CloudId,
    /// Its region.
    pub region: Option<String>,
    /// Its zone.
    pub zone: Option<String>,
    /// GPUs (accelerators) per node.
    pub gpus_per_node: u32,
}

impl ClusterMeta {
    /// A cluster without region, zone or accelerators.
    pub fn new(name: impl Into<String>, cloud: CloudId) -> Self {
        ClusterMeta {
            name: name.into(),
            cloud,
            region: None,
            zone: None,
            gpus_per_node: 0,
        }
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

    /// Sets the GPUs per node from the launched accelerators (count rounded up).
    pub fn with_accelerators(mut self, acc: Option<&AcceleratorSpec>) -> Self {
        self.gpus_per_node = gpus_per_node(acc);
        self
    }

    /// `SKYPILOT_CLUSTER_INFO`: `{"cloud", "cluster_name", "region", "zone"}`, with SkyPilot's
    /// cloud names (`AWS`, `GCP`, `Azure`; other clouds by their sky name).
    pub fn info_json(&self) -> String {
        let cloud = match self.cloud {
            CloudId::Aws => "AWS",
            CloudId::Gcp => "GCP",
            CloudId::Azure => "Azure",
            ref other => other.as_str(),
        };
        serde_json::json!({
            "cluster_name": self.name,
            "cloud": cloud,
            "region": self.region,
            "zone": self.zone,
        })
        .to_string()
    }
}

/// `SKYPILOT_NUM_GPUS_PER_NODE`: the accelerator count rounded up, 0 without accelerators.
pub fn gpus_per_node(acc: Option<&AcceleratorSpec>) -> u32 {
    acc.map_or(0, |a| {
        let c = a.count();
        if c.is_finite() && c > 0.0 {
            c.ceil().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    })
}

/// SkyPilot's run timestamp, `sky-YYYY-MM-DD-HH-MM-SS-ffffff` (UTC).
pub fn run_timestamp(at: SystemTime) -> String {
    let rfc = humantime::format_rfc3339_micros(at).to_string();
    let digits: String = rfc
        .trim_end_matches('Z')
        .chars()
        .map(|c| if c.is_ascii_digit() { c } else { '-' })
        .collect();
    format!("sky-{digits}")
}

/// `SKYPILOT_TASK_ID`: `<run timestamp>_<cluster>_<job id>`.
pub fn task_id(run_timestamp: &str, cluster: &str, job_id: u64) -> String {
    format!("{run_timestamp}_{cluster}_{job_id}")
}

/// Everything needed to start a job's phases on its nodes, resolved from a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// `SKYPILOT_TASK_ID`.
    pub task_id: String,
    /// The cluster.
    pub cluster: ClusterMeta,
    /// Task envs, all with values.
    pub envs: BTreeMap<String, String>,
    /// Task secrets.
    pub secrets: BTreeMap<String, Secret>,
    /// The setup script.
    pub setup: Option<String>,
    /// The run script.
    pub run: Option<String>,
    /// Where the scripts run: [`REMOTE_WORKDIR`] when the task has a workdir, else the home.
    pub cwd: Option<String>,
}

impl JobSpec {
    /// The spec of `task` as job `job_id` on `cluster`, started at `run_timestamp` (see
    /// [`run_timestamp`]).
    ///
    /// Fails with [`ExecError::MissingEnv`] for an env declared without a value,
    /// [`ExecError::MissingSecret`] for such a secret, and
    /// [`ExecError::InvalidEnv`] for a name a shell cannot export.
    pub fn from_task(
        task: &Task,
        job_id: u64,
        cluster: ClusterMeta,
        run_timestamp: &str,
    ) -> Result<Self> {
        let mut envs = BTreeMap::new();
        for (k, v) in &task.envs {
            let v = v.clone().ok_or_else(|| ExecError::MissingEnv(k.clone()))?;
            if !crate::shell::valid_env_name(k) {
                return Err(ExecError::InvalidEnv(k.clone()));
            }
            envs.insert(k.clone(), v);
        }
        let mut secrets = BTreeMap::new();
        for (k, v) in &task.secrets {
            let v = v
                .clone()
                .ok_or_else(|| ExecError::MissingSecret(k.clone()))?;
            if !crate::shell::valid_env_name(k) {
                return Err(ExecError::InvalidEnv(k.clone()));
            }
            secrets.insert(k.clone(), v);
        }
        Ok(JobSpec {
            task_id: task_id(run_timestamp, &cluster.name, job_id),
            cluster,
            envs,
            secrets,
            setup: task.setup.clone(),
            run: task.run.clone(),
            cwd: task.workdir.as_ref().map(|_| REMOTE_WORKDIR.to_string()),
        })
    }

    /// The environment of `phase` on the node of `rank`, given every node's IP in rank order.
    pub fn node_env(&self, phase: Phase, rank: u32, ips: &[String]) -> ExecEnv {
        let mut vars = self.envs.clone();
        let ip_list = ips.join("\n");
        let (rank_var, ips_var) = match phase {
            Phase::Setup => ("SKYPILOT_SETUP_NODE_RANK", "SKYPILOT_SETUP_NODE_IPS"),
            Phase::Run => ("SKYPILOT_NODE_RANK", "SKYPILOT_NODE_IPS"),
        };
        vars.insert(rank_var.to_string(), rank.to_string());
        vars.insert(ips_var.to_string(), ip_list);
        vars.insert("SKYPILOT_NUM_NODES".to_string(), ips.len().to_string());
        vars.insert(
            "SKYPILOT_NUM_GPUS_PER_NODE".to_string(),
            self.cluster.gpus_per_node.to_string(),
        );
        vars.insert("SKYPILOT_TASK_ID".to_string(), self.task_id.clone());
        vars.insert(
            "SKYPILOT_CLUSTER_INFO".to_string(),
            self.cluster.info_json(),
        );
        ExecEnv {
            vars,
            secrets: self.secrets.clone(),
        }
    }

    /// The script of a phase.
    pub fn script(&self, phase: Phase) -> Option<&str> {
        match phase {
            Phase::Setup => self.setup.as_deref(),
            Phase::Run => self.run.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sky_core::task::Workdir;

    use super::*;

    #[test]
    fn env_per_node() {
        let mut task = Task::new();
        task.envs.insert("A".into(), Some("1".into()));
        task.envs
            .insert("SKYPILOT_NODE_RANK".into(), Some("overridden".into()));
        task.secrets.insert("TOKEN".into(), Some(Secret::new("t")));
        task.workdir = Some(Workdir::Path("/tmp".into()));
        let cluster = ClusterMeta::new("c1", CloudId::Gcp)
            .with_region("us-central1")
            .with_accelerators(Some(&AcceleratorSpec::named("A100", 0.5)));
        let spec = JobSpec::from_task(&task, 4, cluster, "sky-2024-01-02-03-04-05-000006").unwrap();
        assert_eq!(spec.task_id, "sky-2024-01-02-03-04-05-000006_c1_4");
        assert_eq!(spec.cwd.as_deref(), Some(REMOTE_WORKDIR));
        let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        let env = spec.node_env(Phase::Run, 1, &ips);
        assert_eq!(env.vars["SKYPILOT_NODE_RANK"], "1");
        assert_eq!(env.vars["SKYPILOT_NODE_IPS"], "10.0.0.1\n10.0.0.2");
        assert_eq!(env.vars["SKYPILOT_NUM_NODES"], "2");
        assert_eq!(env.vars["SKYPILOT_NUM_GPUS_PER_NODE"], "1");
        assert_eq!(env.vars["A"], "1");
        assert_eq!(env.secrets["TOKEN"].expose(), "t");
        let info: serde_json::Value =
            serde_json::from_str(&env.vars["SKYPILOT_CLUSTER_INFO"]).unwrap();
        assert_eq!(
            info,
            serde_json::json!({"cluster_name": "c1", "cloud": "GCP", "region": "us-central1", "zone": null})
        );
        let setup = spec.node_env(Phase::Setup, 0, &ips);
        assert_eq!(setup.vars["SKYPILOT_SETUP_NODE_RANK"], "0");
        // sky's variables win over task envs only where sky sets them.
        assert_eq!(setup.vars["SKYPILOT_NODE_RANK"], "overridden");
    }

    #[test]
    fn missing_env_and_bad_names() {
        let mut task = Task::new();
        task.envs.insert("HF_TOKEN".into(), None);
        let c = ClusterMeta::new("c", CloudId::Local);
        assert!(matches!(
            JobSpec::from_task(&task, 1, c.clone(), "sky-x"),
            Err(ExecError::MissingEnv(n)) if n == "HF_TOKEN"
        ));
        let mut task = Task::new();
        task.secrets
            .insert("bad name".into(), Some(Secret::new("x")));
        assert!(matches!(
            JobSpec::from_task(&task, 1, c, "sky-x"),
            Err(ExecError::InvalidEnv(_))
        ));
    }

    #[test]
    fn gpus_round_up() {
        assert_eq!(gpus_per_node(None), 0);
        assert_eq!(gpus_per_node(Some(&AcceleratorSpec::named("V100", 4.0))), 4);
        assert_eq!(
            gpus_per_node(Some(&AcceleratorSpec::named("A10G", 0.25))),
            1
        );
    }

    #[test]
    fn timestamp_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        assert_eq!(run_timestamp(t), "sky-2023-11-14-22-13-20-123456");
    }
}
