//! The builder API of [`Task`] for Rust callers.

use std::path::PathBuf;
use std::time::Duration;

use super::{DataSpec, FileMount, Secret, Task, Workdir};
use crate::resources::ResourceSet;

impl Task {
    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the `run` commands.
    pub fn with_run(mut self, run: impl Into<String>) -> Self {
        self.run = Some(run.into());
        self
    }

    /// Sets the `setup` commands.
    pub fn with_setup(mut self, setup: impl Into<String>) -> Self {
        self.setup = Some(setup.into());
        self
    }

    /// Sets the working directory to a local path.
    pub fn with_workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = Some(Workdir::Path(dir.into()));
        self
    }

    /// Sets the working directory to a git repository (`git_ref`: branch, tag or commit).
    pub fn with_git_workdir(mut self, url: impl Into<String>, git_ref: Option<String>) -> Self {
        self.workdir = Some(Workdir::Git {
            url: url.into(),
            git_ref,
        });
        self
    }

    /// Sets the number of nodes (head included).
    pub fn with_num_nodes(mut self, n: u32) -> Self {
        self.num_nodes = n;
        self
    }

    /// Sets the resource alternatives (a [`crate::resources::Resources`] converts into one
    /// alternative).
    pub fn with_resources(mut self, resources: impl Into<ResourceSet>) -> Self {
        self.resources = resources.into();
        self
    }

    /// Sets an environment variable.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.insert(key.into(), Some(value.into()));
        self
    }

    /// Declares an environment variable whose value the caller must supply at launch.
    pub fn with_env_unset(mut self, key: impl Into<String>) -> Self {
        self.envs.insert(key.into(), None);
        self
    }

    /// Sets a secret environment variable.
    pub fn with_secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(key.into(), Some(Secret::new(value)));
        self
    }

    /// Mounts `source` at `remote_path` on every node.
    pub fn with_file_mount(mut self, remote_path: impl Into<String>, source: FileMount) -> Self {
        self.file_mounts.insert(remote_path.into(), source);
        self
    }

    /// Declares the input data and its estimated size in GB.
    pub fn with_inputs(mut self, uri: impl Into<String>, size_gb: f64) -> Self {
        self.inputs = Some(DataSpec {
            uri: uri.into(),
            size_gb,
        });
        self
    }

    /// Declares the output data and its estimated size in GB.
    pub fn with_outputs(mut self, uri: impl Into<String>, size_gb: f64) -> Self {
        self.outputs = Some(DataSpec {
            uri: uri.into(),
            size_gb,
        });
        self
    }

    /// Sets per-task config overrides.
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets SkyPilot's `event_callback`.
    pub fn with_event_callback(mut self, callback: impl Into<String>) -> Self {
        self.event_callback = Some(callback.into());
        self
    }

    /// Sets the estimated runtime (sky's extension; the optimizer's time model).
    pub fn with_estimated_runtime(mut self, runtime: Duration) -> Self {
        self.estimated_runtime = Some(runtime);
        self
    }
}
