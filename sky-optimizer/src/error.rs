//! Why no plan could be made.

/// Why [`optimize`](crate::optimize) returned no plan.
///
/// [`OptimizeError::kind`] gives its [`OptimizeErrorKind`], whose
/// [`as_str`](OptimizeErrorKind::as_str) is a stable machine-readable name for CLIs and logs
/// (`{"error": {"kind": "resources_unavailable", "message": "..."}}`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizeError {
    /// The DAG has no task.
    #[error("the DAG has no task to place")]
    EmptyDag,
    /// No cloud is enabled (no catalog, or [`Options::clouds`](crate::Options::clouds) left none).
    #[error("no cloud is enabled: {message}")]
    NoCloudEnabled {
        /// What was enabled and what was asked for.
        message: String,
    },
    /// A task cannot run anywhere: every alternative was excluded.
    #[error("{message}")]
    ResourcesUnavailable {
        /// The task's name.
        task: String,
        /// The whole explanation, one line per excluded alternative and cloud.
        message: String,
        /// The individual reasons (e.g. `"gcp: no V100:3 offering; gcp has V100:1, 2, 4, 8"`,
        /// `"12 candidates blocked"`).
        reasons: Vec<String>,
        /// Accelerators the user may have meant, as `Name:count`.
        suggestions: Vec<String>,
    },
    /// A task's description is inconsistent (no alternatives, zero nodes, negative sizes).
    #[error("invalid task {task:?}: {message}")]
    InvalidTask {
        /// The task's name.
        task: String,
        /// What is wrong.
        message: String,
    },
    /// The options are unusable (non-positive bandwidth, negative prices).
    #[error("invalid optimizer options: {message}")]
    InvalidOptions {
        /// What is wrong.
        message: String,
    },
    /// The requested solver is not compiled in.
    #[error("solver {solver} is not available: {message}")]
    SolverUnavailable {
        /// The solver asked for.
        solver: String,
        /// How to get it.
        message: String,
    },
    /// The MILP solver failed (should not happen: the model is always feasible).
    #[error("the {solver} solver failed: {message}")]
    SolverFailed {
        /// The solver.
        solver: String,
        /// Its message.
        message: String,
    },
}

impl OptimizeError {
    /// What kind of error this is, for callers that branch on it (a CLI's exit code) and
    /// for machine-readable output ([`OptimizeErrorKind::as_str`]).
    pub fn kind(&self) -> OptimizeErrorKind {
        match self {
            OptimizeError::EmptyDag => OptimizeErrorKind::EmptyDag,
            OptimizeError::NoCloudEnabled { .. } => OptimizeErrorKind::NoCloudEnabled,
            OptimizeError::ResourcesUnavailable { .. } => OptimizeErrorKind::ResourcesUnavailable,
            OptimizeError::InvalidTask { .. } => OptimizeErrorKind::InvalidTask,
            OptimizeError::InvalidOptions { .. } => OptimizeErrorKind::InvalidOptions,
            OptimizeError::SolverUnavailable { .. } => OptimizeErrorKind::SolverUnavailable,
            OptimizeError::SolverFailed { .. } => OptimizeErrorKind::SolverFailed,
        }
    }
}

/// The kind of an [`OptimizeError`], without its details: one variant per variant of the
/// error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptimizeErrorKind {
    /// [`OptimizeError::EmptyDag`].
    EmptyDag,
    /// [`OptimizeError::NoCloudEnabled`].
    NoCloudEnabled,
    /// [`OptimizeError::ResourcesUnavailable`].
    ResourcesUnavailable,
    /// [`OptimizeError::InvalidTask`].
    InvalidTask,
    /// [`OptimizeError::InvalidOptions`].
    InvalidOptions,
    /// [`OptimizeError::SolverUnavailable`].
    SolverUnavailable,
    /// [`OptimizeError::SolverFailed`].
    SolverFailed,
}

impl OptimizeErrorKind {
    /// A stable snake_case name of the kind: `empty_dag`, `no_cloud_enabled`,
    /// `resources_unavailable`, `invalid_task`, `invalid_options`, `solver_unavailable`,
    /// `solver_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizeErrorKind::EmptyDag => "empty_dag",
            OptimizeErrorKind::NoCloudEnabled => "no_cloud_enabled",
            OptimizeErrorKind::ResourcesUnavailable => "resources_unavailable",
            OptimizeErrorKind::InvalidTask => "invalid_task",
            OptimizeErrorKind::InvalidOptions => "invalid_options",
            OptimizeErrorKind::SolverUnavailable => "solver_unavailable",
            OptimizeErrorKind::SolverFailed => "solver_failed",
        }
    }
}

impl std::fmt::Display for OptimizeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
