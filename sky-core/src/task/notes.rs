//! [`TaskNote`]s: what a valid task asks for that sky will skip, refuse at launch, or keep
//! without using. SkyPilot loads such files, and so does sky; the notes say, before anything
//! is provisioned, what will happen to each part.

use std::fmt;

use serde::Serialize;

use super::{FileMount, Task};
use crate::catalog::Catalogs;
use crate::cloud::CloudId;
use crate::resources::names::LoadCtx;
use crate::resources::{AcceleratorSpec, ImageId, Resources};
use crate::yaml::error::FieldPath;

use super::validate::alternative_path;

/// What will happen to the part of a task a [`TaskNote`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskNoteKind {
    /// A resource alternative no enabled cloud can offer: the optimizer excludes it with
    /// the same reason, and the task fails only if every alternative is excluded.
    Infeasible,
    /// Valid SkyPilot input that sky does not implement: launching the task is refused,
    /// before anything is provisioned, until it changes.
    RefusedAtLaunch,
    /// Kept in the task (and written back by `to_yaml_string`) but not used by a launch,
    /// as SkyPilot ignores it off the place it is for (`config.kubernetes`, `service`).
    Kept,
}

impl TaskNoteKind {
    /// A stable snake_case name: `infeasible`, `refused_at_launch`, `kept`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskNoteKind::Infeasible => "infeasible",
            TaskNoteKind::RefusedAtLaunch => "refused_at_launch",
            TaskNoteKind::Kept => "kept",
        }
    }
}

/// A note on a loaded task: not an error, but something its author should know. Made by
/// [`Task::notes`] and [`crate::dag::Dag::notes`]; `sky validate` prints them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskNote {
    /// What will happen.
    pub kind: TaskNoteKind,
    /// The task of a DAG the note is about (`task `train``), `None` for a single task.
    pub task: Option<String>,
    /// The field path, e.g. `resources.any_of[1].accelerators`.
    pub path: String,
    /// What and why.
    pub message: String,
    /// A name the author may have meant.
    pub suggestion: Option<String>,
}

impl fmt::Display for TaskNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.task {
            write!(f, "{t}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

/// Top-level `config:` sections for places sky does not launch: kept and noted, as SkyPilot
/// ignores them off those places (`ssh` is SkyPilot's Kubernetes-based SSH node pools, whose
/// `pod_config` has no meaning for sky's SSH backend). Every other section (`docker`,
/// `nvidia_gpus`, `aws`, `gcp`, `azure`, `hooks`, ...) concerns a backend sky launches on or
/// its runtime, and is refused at launch until sky implements it.
pub const CONFIG_SECTIONS_KEPT: [&str; 6] = ["kubernetes", "ssh", "slurm", "nebius", "oci", "vast"];

/// `config:` key paths (`config.docker.run_options`) that a launch refuses: every leaf of a
/// section outside [`CONFIG_SECTIONS_KEPT`]. Empty for a task without `config:`.
pub fn refused_config_keys(task: &Task) -> Vec<String> {
    config_keys(task)
        .1
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect()
}

/// `(kept sections, refused key paths)` of the task's `config:`.
fn config_keys(task: &Task) -> (Vec<FieldPath>, Vec<FieldPath>) {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    let Some(serde_json::Value::Object(map)) = &task.config else {
        return (kept, refused);
    };
    for (k, v) in map {
        let path = FieldPath::root().key("config").key(k);
        if CONFIG_SECTIONS_KEPT.contains(&k.as_str()) {
            kept.push(path);
        } else {
            leaves(&path, v, &mut refused);
        }
    }
    (kept, refused)
}

fn leaves(path: &FieldPath, v: &serde_json::Value, out: &mut Vec<FieldPath>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                leaves(&path.key(k), v, out);
            }
        }
        _ => out.push(path.clone()),
    }
}

/// Whether an image names a container image, which sky cannot run yet: `docker:<image>`, or
/// a per-region map with a `docker` entry (SkyPilot's VM image plus container image form).
pub fn is_container_image(image: &ImageId) -> bool {
    match image {
        ImageId::Any(s) => s.trim_start().starts_with("docker:"),
        ImageId::PerRegion(m) => m.contains_key("docker"),
    }
}

pub(crate) fn task_notes(task: &Task, catalogs: &Catalogs) -> Vec<TaskNote> {
    let ctx = LoadCtx {
        catalogs: Some(catalogs),
        extra_clouds: Vec::new(),
    };
    let mut notes = Vec::new();
    let mut note = |kind, path: &FieldPath, message: String, suggestion: Option<String>| {
        notes.push(TaskNote {
            kind,
            task: None,
            path: path.as_str().to_owned(),
            message,
            suggestion,
        })
    };
    for (i, r) in task.resources.alternatives.iter().enumerate() {
        let at = alternative_path(task, i);
        alternative_notes(&ctx, catalogs, r, &at, &mut note);
    }
    let root = FieldPath::root();
    for (k, v) in &task.envs {
        if v.is_none() {
            note(
                TaskNoteKind::RefusedAtLaunch,
                &root.key("envs").key(k),
                format!("`{k}` has no value; give it one before launch (`--env {k}=VALUE`)"),
                None,
            );
        }
    }
    for (k, v) in &task.secrets {
        if v.is_none() {
            note(
                TaskNoteKind::RefusedAtLaunch,
                &root.key("secrets").key(k),
                format!("`{k}` has no value; give it one before launch (`--secret {k}=VALUE`)"),
                None,
            );
        }
    }
    for (target, mount) in &task.file_mounts {
        let what = match mount {
            FileMount::Local(_) => continue,
            FileMount::CloudUri(uri) => format!("sky cannot copy from cloud URI `{uri}` yet"),
            FileMount::Storage(_) => "sky cannot mount storage objects yet".to_owned(),
        };
        note(
            TaskNoteKind::RefusedAtLaunch,
            &root.key("file_mounts").key(target),
            format!("{what}; launching this task is refused before anything is provisioned"),
            None,
        );
    }
    let (kept, refused) = config_keys(task);
    for path in kept {
        note(
            TaskNoteKind::Kept,
            &path,
            "kept but not used: sky does not launch there".into(),
            None,
        );
    }
    for path in refused {
        note(
            TaskNoteKind::RefusedAtLaunch,
            &path,
            "sky does not implement this `config` key yet; launching this task is refused".into(),
            None,
        );
    }
    for (k, what) in [
        (
            "service",
            "sky does not serve SkyServe services; a launch runs the task once",
        ),
        (
            "pool",
            "sky does not run SkyServe worker pools; a launch runs the task once",
        ),
    ] {
        if task.extra.contains_key(k) {
            note(
                TaskNoteKind::Kept,
                &root.key(k),
                format!("kept: {what}"),
                None,
            );
        }
    }
    for k in ["volumes", "volume_mounts"] {
        if task.extra.contains_key(k) {
            note(
                TaskNoteKind::RefusedAtLaunch,
                &root.key(k),
                "sky cannot attach volumes yet; launching this task is refused".into(),
                None,
            );
        }
    }
    notes
}

fn alternative_notes(
    ctx: &LoadCtx<'_>,
    catalogs: &Catalogs,
    r: &Resources,
    at: &FieldPath,
    note: &mut impl FnMut(TaskNoteKind, &FieldPath, String, Option<String>),
) {
    let skipped = "the optimizer skips this alternative";
    if let Some(cloud) = &r.cloud {
        if cloud.is_skypilot_only() {
            note(
                TaskNoteKind::Infeasible,
                &at.key("infra"),
                format!("sky has no backend for SkyPilot cloud `{cloud}`; {skipped}"),
                None,
            );
        } else if !catalogs.is_empty() && catalogs.get(cloud).is_none() {
            note(
                TaskNoteKind::Infeasible,
                &at.key("infra"),
                format!("cloud `{cloud}` is not enabled; {skipped}"),
                None,
            );
        }
    }
    // On a cloud without a backend the alternative is already skipped for that reason.
    if !r.cloud.as_ref().is_some_and(CloudId::is_skypilot_only)
        && let Some(AcceleratorSpec::Name { name, .. }) = &r.accelerators
        && let Some(e) = ctx.unknown_accelerator(name)
    {
        let mut on: Vec<String> = catalogs.clouds().iter().map(CloudId::to_string).collect();
        on.sort();
        let on = on.join(", ");
        note(
            TaskNoteKind::Infeasible,
            &at.key("accelerators"),
            format!("no enabled catalog ({on}) offers accelerator `{name}`; {skipped}"),
            e.suggestion,
        );
    }
    if let Some(image) = &r.image_id
        && is_container_image(image)
    {
        note(
            TaskNoteKind::RefusedAtLaunch,
            &at.key("image_id"),
            "sky has no container runtime yet (the task would run on the host OS); launching \
             this task is refused"
                .into(),
            None,
        );
    }
}
