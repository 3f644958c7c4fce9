//! Why no plan could be made.

/// Why [`optimize`](crate::optimize) returned no plan.
///
/// [`OptimizeError::kind`] gives a stable machine-readable name for CLIs and logs
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
    /// A stable snake_case name of the error's kind: `empty_dag`, `no_cloud_enabled`,
    /// `resources_unavailable`, `invalid_task`, `invalid_options`, `solver_unavailable`, `solver_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            OptimizeError::EmptyDag => "empty_dag",
            OptimizeError::NoCloudEnabled { .. } => "no_cloud_enabled",
            OptimizeError::ResourcesUnavailable { .. } => "resources_unavailable",
            OptimizeError::InvalidTask { .. } => "invalid_task",
            OptimizeError::InvalidOptions { .. } => "invalid_options",
            OptimizeError::SolverUnavailable { .. } => "solver_unavailable",
            OptimizeError::SolverFailed { .. } => "solver_failed",
        }
    }
}
