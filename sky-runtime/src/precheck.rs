//! Checks before money: everything that can be known from a task alone is checked before the
//! first provider call, so that a task sky cannot honour fails with nothing created.
//!
//! SkyPilot task files may ask for what sky does not implement yet (a container image, a disk
//! tier, most `config:` keys, cloud-URI file mounts). Such a file loads and validates (see
//! [`sky_core::task::Task::notes`]); launching it is refused here, naming the field, rather
//! than running the task without it.

use sky_core::Task;
use sky_core::resources::{DiskTier, ImageId, NetworkTier, Resources, Selection};
use sky_core::task::{is_container_image, refused_config_keys};
use sky_exec::{ClusterMeta, JobSpec};

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::state::AutostopSetting;

/// The `wait_for` mode sky's idle clock implements: a cluster is busy while it has
/// unfinished jobs.
const AUTOSTOP_WAIT_FOR: &str = "jobs";

fn refused(field: String, message: impl Into<String>) -> BrokerError {
    BrokerError::Refused {
        field,
        message: message.into(),
    }
}

/// The YAML path of alternative `i`, as [`sky_core::task::Task::notes`] names it.
fn alternative_path(task: &Task, i: usize) -> String {
    let set = &task.resources;
    match (set.alternatives.len(), set.selection) {
        (1, Selection::AnyOf) => "resources".into(),
        (_, Selection::AnyOf) => format!("resources.any_of[{i}]"),
        (_, Selection::Ordered) => format!("resources.ordered[{i}]"),
    }
}

/// Refuses the resource fields no backend of sky can honour yet.
fn check_alternative(r: &Resources, at: &str) -> Result<(), BrokerError> {
    if let Some(image) = &r.image_id
        && is_container_image(image)
    {
        let shown = match image {
            ImageId::Any(s) => s.clone(),
            ImageId::PerRegion(m) => format!("docker: {}", m["docker"]),
        };
        return Err(refused(
            format!("{at}.image_id"),
            format!(
                "`{shown}` is a container image and sky has no container runtime yet; the task \
                 would run on the host OS. Use a machine image, or no image_id"
            ),
        ));
    }
    if let Some(tier) = r.disk_tier {
        let name = match tier {
            DiskTier::Low => "low",
            DiskTier::Medium => "medium",
            DiskTier::High => "high",
            DiskTier::Ultra => "ultra",
            DiskTier::Best => "best",
        };
        return Err(refused(
            format!("{at}.disk_tier"),
            format!(
                "disk tier `{name}`: sky's backends boot every node on the cloud's default disk \
                 and cannot choose a disk tier yet; remove disk_tier"
            ),
        ));
    }
    if r.network_tier == Some(NetworkTier::Best) {
        return Err(refused(
            format!("{at}.network_tier"),
            "network tier `best` (GPUDirect-TCPX, InfiniBand): sky's backends use the cloud's \
             standard network and cannot set up a faster interconnect yet; remove network_tier",
        ));
    }
    if let Some(a) = &r.autostop {
        if a.hook.is_some() {
            return Err(refused(
                format!("{at}.autostop.hook"),
                "sky's autostop stops or tears down the cluster and cannot run a hook first",
            ));
        }
        if let Some(w) = &a.wait_for
            && !w.eq_ignore_ascii_case(AUTOSTOP_WAIT_FOR)
        {
            return Err(refused(
                format!("{at}.autostop.wait_for"),
                format!("`{w}`: sky's idle clock counts unfinished jobs only (`wait_for: jobs`)"),
            ));
        }
    }
    Ok(())
}

/// The autostop a launch applies: the task's `resources.autostop`, which must be the same in
/// every alternative. `Ok(None)` when the task says nothing; `Ok(Some(None))` for
/// `autostop: false`.
pub(crate) fn task_autostop(task: &Task) -> Result<Option<Option<AutostopSetting>>, BrokerError> {
    let mut alts = task.resources.alternatives.iter();
    let Some(first) = alts.next() else {
        return Ok(None);
    };
    if alts.any(|r| r.autostop != first.autostop) {
        return Err(refused(
            "resources.autostop".into(),
            "autostop differs between the task's alternatives; give it once, outside \
             `any_of`/`ordered`",
        ));
    }
    Ok(first.autostop.as_ref().map(|a| {
        a.enabled.then_some(AutostopSetting {
            idle_minutes: a.idle_minutes,
            down: a.down,
        })
    }))
}

impl Broker {
    /// Checks a task's resources before anything is provisioned: refuses, naming the field,
    /// what no backend of sky can honour yet (`image_id: docker:...`, `disk_tier`,
    /// `network_tier: best`, an autostop hook or `wait_for` other than `jobs`), `config:` keys
    /// for backends sky launches on (see [`sky_core::task::CONFIG_SECTIONS_KEPT`] for those
    /// it keeps unused), and volumes. [`Broker::provision`] runs it first.
    pub fn precheck_resources(&self, task: &Task) -> Result<(), BrokerError> {
        for (i, r) in task.resources.alternatives.iter().enumerate() {
            check_alternative(r, &alternative_path(task, i))?;
        }
        task_autostop(task)?;
        if let Some(key) = refused_config_keys(task).into_iter().next() {
            return Err(refused(
                key,
                "sky does not implement this `config:` key yet; remove it to launch with sky",
            ));
        }
        for k in ["volumes", "volume_mounts"] {
            if task.extra.contains_key(k) {
                return Err(refused(k.into(), "sky cannot create or attach volumes yet"));
            }
        }
        Ok(())
    }

    /// Everything [`Broker::launch`] can check before the first provider call:
    /// [`Broker::precheck_resources`], envs and secrets without a value, and the workdir and
    /// file mounts (local sources must exist; cloud URIs and storage mounts are refused until
    /// sky can copy them). A task that passes can still fail at a provider, never on
    /// something written in it.
    ///
    /// ```
    /// use sky_runtime::{Broker, BrokerError};
    /// use sky_core::Task;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let broker = Broker::builder().state_dir(dir.path())?.build()?;
    /// let task = Task::from_yaml_str("file_mounts:\n  /data: s3://bucket/data\nrun: ls /data\n")?;
    /// assert!(matches!(broker.precheck(&task), Err(BrokerError::Exec { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn precheck(&self, task: &Task) -> Result<(), BrokerError> {
        self.precheck_resources(task)?;
        let meta = ClusterMeta::new("precheck", sky_core::CloudId::Local);
        let exec = |source| BrokerError::Exec {
            cluster: "(not created)".into(),
            source,
        };
        JobSpec::from_task(task, 0, meta, "sky-x").map_err(exec)?;
        sky_exec::gang::check_task_files(task).map_err(exec)?;
        Ok(())
    }
}
