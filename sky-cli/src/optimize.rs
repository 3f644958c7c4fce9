//! `sky optimize FILE.yaml`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sky::optimizer::{BlockList, EgressModel, Objective, Options, Solver, optimize};

use crate::{CmdResult, Failure, Global, load};

/// What to minimise.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Minimize {
    /// Total cost (compute and egress).
    Cost,
    /// Finish time of the last task.
    Time,
}

/// The egress model.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Egress {
    /// SkyPilot's: only data crossing clouds is charged.
    CrossCloud,
    /// Also charges transfers between regions of one cloud.
    InterRegion,
}

/// The MILP solver for general DAGs.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SolverArg {
    /// microlp, or HiGHS when built with the `highs` feature.
    Auto,
    /// microlp (pure Rust).
    Microlp,
    /// HiGHS (needs the `highs` feature).
    Highs,
}

/// Arguments of `sky optimize`.
#[derive(Args, Debug)]
pub struct OptimizeArgs {
    /// The task YAML (several documents = a DAG).
    file: PathBuf,
    /// What to minimise.
    #[arg(long, value_enum, default_value = "cost")]
    minimize: Minimize,
    /// Only these clouds (comma-separated). Default: what `sky launch` places on (local,
    /// the SSH node pools, the clouds `sky check` enabled). A cloud provider named here that
    /// `sky check` has not enabled is planned on from its catalog anyway, as a "what if",
    /// with a note that launch would not place there.
    #[arg(long, value_delimiter = ',')]
    clouds: Vec<String>,
    /// The egress model.
    #[arg(long, value_enum, default_value = "cross-cloud")]
    egress: Egress,
    /// The MILP solver.
    #[arg(long, value_enum, default_value = "auto")]
    solver: SolverArg,
    /// Print the plan as a Graphviz DOT graph (each task's placement, the data and egress
    /// cost on each edge) instead of tables; render it with `dot -Tsvg`.
    #[arg(long)]
    dot: bool,
}

/// Prints the optimal plan. No feasible plan exits 1; a malformed file exits 2.
pub fn run(g: &Global, a: &OptimizeArgs) -> CmdResult {
    if a.dot && g.json {
        return Err(Failure::new(
            "invalid_argument",
            "--dot and --json each choose the output; pass one of them",
            2,
        ));
    }
    let clouds = load::parse_clouds(&a.clouds)?;
    let catalogs = load::backends(g, &clouds)?.catalogs;
    let dag = load::dag(&a.file, Some(&catalogs)).map_err(|e| {
        use sky::task::TaskErrorKind as K;
        // A well-formed file asking for what no enabled catalog has is "no feasible plan"
        // (exit 1); anything else is a malformed file (exit 2).
        match e.kind() {
            K::UnknownAccelerator { .. } | K::UnknownRegion { .. } | K::UnknownZone { .. } => {
                Failure::new("resources_unavailable", e.to_string(), 1)
            }
            _ => Failure::new("invalid_task", e.to_string(), 2),
        }
    })?;
    let objective = match a.minimize {
        Minimize::Cost => Objective::Cost,
        Minimize::Time => Objective::Time,
    };
    let mut options = Options::new()
        .with_egress(match a.egress {
            Egress::CrossCloud => EgressModel::CrossCloud,
            Egress::InterRegion => EgressModel::InterRegion,
        })
        .with_solver(match a.solver {
            SolverArg::Auto => Solver::Auto,
            SolverArg::Microlp => Solver::Microlp,
            SolverArg::Highs => Solver::Highs,
        });
    if !clouds.is_empty() {
        options = options.with_clouds(clouds);
    }
    match optimize(&dag, &catalogs, &BlockList::new(), objective, &options) {
        Ok(plan) => {
            if a.dot {
                print!("{}", plan.render_dot(&dag));
            } else if g.json {
                println!("{}", plan.to_json());
            } else {
                anstream::print!("{}", crate::style::chosen_rows(&plan.render_table()));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            use sky::optimizer::OptimizeErrorKind as K;
            let exit = match e.kind() {
                K::InvalidTask | K::InvalidOptions | K::SolverUnavailable | K::EmptyDag => 2,
                _ => 1,
            };
            Err(Failure::new(e.kind().as_str(), e.to_string(), exit))
        }
    }
}
