//! What to optimize and how: [`Objective`], [`EgressModel`], [`Solver`] and [`Options`].

use std::fmt;

use serde::{Deserialize, Serialize};
use sky_core::CloudId;

/// What the optimizer minimizes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Total dollars: every task's compute cost plus the egress of every DAG edge and input.
    #[default]
    Cost,
    /// The finish time of the last task (the makespan), then — among the plans that finish
    /// equally early — the total cost. Lexicographic: time first, cost breaks ties.
    Time,
}

impl Objective {
    /// `"cost"` or `"time"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Cost => "cost",
            Objective::Time => "time",
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How moving data between tasks (and from a source task's inputs) is priced.
///
/// Both models move data at [`Options::bandwidth_gbps`] (10 Gbps by default, SkyPilot's
/// constant), so `gb` gigabytes take `gb * 8 / 10` seconds whenever they are charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EgressModel {
    /// SkyPilot's model: data moving between two clouds costs the source cloud's
    /// [`egress_cost`](sky_core::catalog::Catalog::egress_cost) and takes transfer time;
    /// anything inside one cloud is free and instant, whatever the regions.
    #[default]
    CrossCloud,
    /// SkyPilot's model plus a charge for crossing regions inside one cloud:
    /// [`Options::inter_region_usd_per_gb`] per GB (0.02 $/GB by default, the common
    /// inter-region list price of the three big clouds inside one continent) and the same
    /// transfer time. Data that stays in one region is free and instant.
    InterRegion,
}

/// Which algorithm solves the placement problem.
///
/// Whatever the choice, the result is optimal; the choice only affects speed and which of
/// several equally good plans is returned (see the crate docs on determinism).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Dynamic programming where it is exact (cost on forests of trees, time on chains),
    /// otherwise the MILP with **microlp**. The HiGHS feature never changes this choice, so
    /// plans do not depend on which features other crates in the build turned on.
    #[default]
    Auto,
    /// Always the MILP, with microlp (pure Rust).
    Microlp,
    /// Always the MILP, with HiGHS. Needs the `highs` cargo feature; without it
    /// [`optimize`](crate::optimize) returns [`OptimizeError::SolverUnavailable`](crate::OptimizeError::SolverUnavailable).
    Highs,
}

/// Knobs of one [`optimize`](crate::optimize) call. `Options::default()` reproduces
/// SkyPilot's optimizer (all enabled clouds, cross-cloud egress only, 10 Gbps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Options {
    /// Restrict the search to these clouds (`None`: every cloud in the [`Catalogs`](sky_core::catalog::Catalogs)).
    pub clouds: Option<Vec<CloudId>>,
    /// The egress model.
    pub egress: EgressModel,
    /// Price of moving one GB between regions of one cloud under [`EgressModel::InterRegion`].
    pub inter_region_usd_per_gb: f64,
    /// Bandwidth of every transfer, in gigabits per second.
    pub bandwidth_gbps: f64,
    /// The solver.
    pub solver: Solver,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clouds: None,
            egress: EgressModel::CrossCloud,
            inter_region_usd_per_gb: 0.02,
            bandwidth_gbps: 10.0,
            solver: Solver::Auto,
        }
    }
}

impl Options {
    /// SkyPilot's defaults (see [`Options`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only consider these clouds.
    pub fn with_clouds(mut self, clouds: impl IntoIterator<Item = CloudId>) -> Self {
        self.clouds = Some(clouds.into_iter().collect());
        self
    }

    /// Use this egress model.
    pub fn with_egress(mut self, egress: EgressModel) -> Self {
        self.egress = egress;
        self
    }

    /// Set the inter-region price per GB (used by [`EgressModel::InterRegion`]).
    pub fn with_inter_region_usd_per_gb(mut self, usd_per_gb: f64) -> Self {
        self.inter_region_usd_per_gb = usd_per_gb;
        self
    }

    /// Set the transfer bandwidth in Gbps.
    pub fn with_bandwidth_gbps(mut self, gbps: f64) -> Self {
        self.bandwidth_gbps = gbps;
        self
    }

    /// Use this solver.
    pub fn with_solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }
}
