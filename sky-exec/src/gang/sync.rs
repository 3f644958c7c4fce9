//! The files a task copies to its nodes (workdir and local file mounts), checked before
//! anything is copied.

use std::path::{Path, PathBuf};

use sky_core::task::{FileMount, Task, Workdir};

use super::REMOTE_WORKDIR;
use crate::error::{ExecError, Result};
use crate::runner::{SyncFilter, SyncOptions};

/// The rsync transfers of a task, checked before anything is copied.
#[derive(Debug, Default)]
pub(super) struct SyncPlan {
    pub(super) items: Vec<(PathBuf, String, SyncOptions)>,
}

fn expand_local(path: &str) -> PathBuf {
    match path
        .strip_prefix("~/")
        .or(if path == "~" { Some("") } else { None })
    {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}

impl SyncPlan {
    pub(super) fn for_task(task: &Task) -> Result<Self> {
        let mut plan = SyncPlan::default();
        match &task.workdir {
            None => {}
            Some(Workdir::Git { url, .. }) => {
                return Err(ExecError::Unsupported(format!(
                    "git workdirs ({url}) are not supported yet; clone it locally and use the path"
                )));
            }
            Some(Workdir::Path(p)) => {
                let local = expand_local(&p.to_string_lossy());
                if !local.is_dir() {
                    return Err(ExecError::InvalidArgument(format!(
                        "workdir {} is not a directory",
                        local.display()
                    )));
                }
                plan.items.push((
                    local.clone(),
                    REMOTE_WORKDIR.to_string(),
                    SyncOptions {
                        delete: true,
                        filters: ignore_filters(&local),
                    },
                ));
            }
        }
        for (target, mount) in &task.file_mounts {
            match mount {
                FileMount::Local(src) => {
                    let local = expand_local(src);
                    if !local.exists() {
                        return Err(ExecError::InvalidArgument(format!(
                            "file_mounts source {src} (for {target}) does not exist"
                        )));
                    }
                    plan.items
                        .push((local, target.clone(), SyncOptions::default()));
                }
                FileMount::CloudUri(uri) => {
                    return Err(ExecError::Unsupported(format!(
                        "file_mounts {target}: cloud URI {uri} cannot be copied yet \
                         (only local files and directories are)"
                    )));
                }
                FileMount::Storage(_) => {
                    return Err(ExecError::Unsupported(format!(
                        "file_mounts {target}: storage mounts are not supported yet \
                         (only local files and directories are)"
                    )));
                }
            }
        }
        Ok(plan)
    }
}

/// `.skyignore` if present, else the `.gitignore` files, as SkyPilot does.
fn ignore_filters(workdir: &Path) -> Vec<SyncFilter> {
    let skyignore = workdir.join(".skyignore");
    if skyignore.is_file() {
        vec![SyncFilter::ExcludeFrom(skyignore)]
    } else if workdir.join(".gitignore").is_file() {
        vec![SyncFilter::DirMerge(".gitignore".to_string())]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use sky_core::task::StorageMount;

    use super::*;

    #[test]
    fn unsupported_mounts_fail_before_copying() {
        let mut task = Task::new();
        task.file_mounts
            .insert("/data".into(), FileMount::CloudUri("s3://bucket/x".into()));
        let err = SyncPlan::for_task(&task).unwrap_err();
        assert!(matches!(err, ExecError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("s3://bucket/x"));
        let mut task = Task::new();
        task.file_mounts
            .insert("/data".into(), FileMount::Storage(StorageMount::default()));
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::Unsupported(_))
        ));
        let mut task = Task::new();
        task.workdir = Some(Workdir::Git {
            url: "https://example.invalid/r.git".into(),
            git_ref: None,
        });
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::Unsupported(_))
        ));
        let mut task = Task::new();
        task.file_mounts.insert(
            "~/x".into(),
            FileMount::Local("/nonexistent/sky/path".into()),
        );
        assert!(matches!(
            SyncPlan::for_task(&task),
            Err(ExecError::InvalidArgument(_))
        ));
    }
}
