//! The optimizer's answer: where each task runs, what moves where, and what it costs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sky_core::CloudId;
use sky_core::catalog::{Accelerator, Offering};

use crate::options::Objective;

/// A placement plan for a whole DAG. Build one with [`optimize`](crate::optimize).
///
/// Money is in USD, times in seconds; both are rounded to 12 significant digits so that
/// `0.47321 + 2.48` reads `2.95321`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What was minimized.
    pub objective: Objective,
    /// The algorithm that produced the plan: `"dp"`, `"milp-microlp"` or `"milp-highs"`.
    pub solver: String,
    /// Compute cost of every task plus all egress.
    pub total_cost: f64,
    /// The finish time of the last task (runtimes plus charged transfer times on the
    /// critical path).
    pub total_time_s: f64,
    /// One per task, in the DAG's task order.
    pub placements: Vec<TaskPlacement>,
    /// Data movements that carry data (DAG edges with outputs, and source tasks' inputs),
    /// in edge order then task order.
    pub egress: Vec<EgressLeg>,
    /// Per task (DAG order), the cheapest launchable of every (cloud, accelerator, market)
    /// group, like SkyPilot's "Considered resources" table.
    pub considered: Vec<Considered>,
}

/// Where one task runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskPlacement {
    /// The task's name (`task-<index>` when it has none).
    pub task: String,
    /// The task's index in the DAG.
    pub task_index: usize,
    /// Which of the task's resource alternatives this placement satisfies (an index into
    /// `task.resources.alternatives`): the broker launches with that alternative's disk,
    /// image, ports and labels.
    pub resources_index: usize,
    /// The cloud.
    pub cloud: CloudId,
    /// The region.
    pub region: String,
    /// The zone, for zone-level candidates (clouds that price by zone, and spot); `None`
    /// when any zone of the region will do (see [`TaskPlacement::zones`]).
    pub zone: Option<String>,
    /// The zones to try, cheapest first.
    pub zones: Vec<String>,
    /// The instance type.
    pub instance_type: String,
    /// The accelerator per node.
    pub accelerators: Option<Accelerator>,
    /// vCPUs per node.
    pub vcpus: f64,
    /// Memory per node, GiB.
    pub memory_gib: f64,
    /// Spot market.
    pub use_spot: bool,
    /// Nodes.
    pub num_nodes: u32,
    /// Price of one node per hour (host plus separately priced accelerator).
    pub hourly_price: f64,
    /// The separately priced accelerator's part of `hourly_price`.
    pub accelerator_hourly_price: f64,
    /// `hourly_price × runtime / 1 h × num_nodes`.
    pub cost: f64,
    /// The estimated runtime used.
    pub runtime_s: f64,
    /// When the task starts: all its inputs have arrived.
    pub start_s: f64,
    /// When it finishes.
    pub finish_s: f64,
}

impl TaskPlacement {
    /// The placement as a catalog offering (one node), e.g. for a provisioner request.
    pub fn offering(&self) -> Offering {
        Offering {
            cloud: self.cloud.clone(),
            instance_type: self.instance_type.clone(),
            accelerator: self.accelerators.clone(),
            vcpus: self.vcpus,
            memory_gib: self.memory_gib,
            region: self.region.clone(),
            zone: self.zone.clone(),
            spot: self.use_spot,
            hourly_price: self.hourly_price,
            accelerator_hourly_price: self.accelerator_hourly_price,
        }
    }
}

/// Data moved into a task: along a DAG edge, or a source task's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EgressLeg {
    /// The parent task's name, or the input's URI.
    pub from: String,
    /// The receiving task's name.
    pub to: String,
    /// The source's cloud (for an input: the cloud its URI names, if any).
    pub from_cloud: Option<CloudId>,
    /// The destination's cloud.
    pub to_cloud: CloudId,
    /// Gigabytes moved.
    pub gb: f64,
    /// Dollars (0 when no boundary the egress model charges is crossed).
    pub cost: f64,
    /// Seconds (0 when not charged).
    pub time_s: f64,
}

/// The "Considered resources" of one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Considered {
    /// The task's name.
    pub task: String,
    /// Nodes.
    pub num_nodes: u32,
    /// Cheapest first; the chosen placement is always listed (standing in for its group's
    /// cheapest row when egress made a pricier member of the group the better choice).
    pub rows: Vec<ConsideredRow>,
}

/// One row of a "Considered resources" table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsideredRow {
    /// The cloud.
    pub cloud: CloudId,
    /// The instance type.
    pub instance_type: String,
    /// vCPUs per node.
    pub vcpus: f64,
    /// Memory per node, GiB.
    pub memory_gib: f64,
    /// The accelerator.
    pub accelerators: Option<Accelerator>,
    /// The region.
    pub region: String,
    /// The zone, when zone-level.
    pub zone: Option<String>,
    /// Spot market.
    pub use_spot: bool,
    /// Price of one node per hour.
    pub hourly_price: f64,
    /// The task's compute cost there.
    pub cost: f64,
    /// Whether this is the plan's placement.
    pub chosen: bool,
}

/// Rounds to 12 significant digits (removes float noise such as `2.9532100000000003`).
pub(crate) fn tidy(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

// The exact `to_json` shape, kept separate from the full serde form.
#[derive(Serialize)]
struct JsonPlan<'a> {
    objective: Objective,
    solver: &'a str,
    total_cost: f64,
    total_time_s: f64,
    placements: Vec<JsonPlacement<'a>>,
    egress: Vec<JsonEgress<'a>>,
}

#[derive(Serialize)]
struct JsonPlacement<'a> {
    task: &'a str,
    cloud: &'a CloudId,
    region: &'a str,
    zone: Option<&'a str>,
    instance_type: &'a str,
    accelerators: Option<BTreeMap<&'a str, serde_json::Value>>,
    use_spot: bool,
    num_nodes: u32,
    hourly_price: f64,
    cost: f64,
}

#[derive(Serialize)]
struct JsonEgress<'a> {
    from: &'a str,
    to: &'a str,
    gb: f64,
    cost: f64,
    time_s: f64,
}

/// An accelerator count as JSON: an integer when whole (`{"V100": 1}`), else a float.
fn count_json(count: f64) -> serde_json::Value {
    if count.fract() == 0.0 && count.abs() < 9e15 {
        serde_json::Value::from(count as i64)
    } else {
        serde_json::Value::from(count)
    }
}

impl Plan {
    fn json_shape(&self) -> JsonPlan<'_> {
        JsonPlan {
            objective: self.objective,
            solver: &self.solver,
            total_cost: self.total_cost,
            total_time_s: self.total_time_s,
            placements: self
                .placements
                .iter()
                .map(|p| JsonPlacement {
                    task: &p.task,
                    cloud: &p.cloud,
                    region: &p.region,
                    zone: p.zone.as_deref(),
                    instance_type: &p.instance_type,
                    accelerators: p
                        .accelerators
                        .as_ref()
                        .map(|a| BTreeMap::from([(a.name.as_str(), count_json(a.count))])),
                    use_spot: p.use_spot,
                    num_nodes: p.num_nodes,
                    hourly_price: p.hourly_price,
                    cost: p.cost,
                })
                .collect(),
            egress: self
                .egress
                .iter()
                .map(|e| JsonEgress {
                    from: &e.from,
                    to: &e.to,
                    gb: e.gb,
                    cost: e.cost,
                    time_s: e.time_s,
                })
                .collect(),
        }
    }

    /// The plan as compact JSON in the stable CLI shape:
    /// `{"objective", "solver", "total_cost", "total_time_s", "placements": [{"task",
    /// "cloud", "region", "zone", "instance_type", "accelerators", "use_spot", "num_nodes",
    /// "hourly_price", "cost"}], "egress": [{"from", "to", "gb", "cost", "time_s"}]}`, keys in
    /// that order, `accelerators` `null` or `{"V100": 1}`. The full plan (alternatives,
    /// zones, times) is the serde form of [`Plan`].
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(&self.json_shape()).unwrap_or_default()
    }

    /// [`Plan::to_json`], indented.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json_shape()).unwrap_or_default()
    }

    /// The placement of the task named `task`.
    pub fn placement(&self, task: &str) -> Option<&TaskPlacement> {
        self.placements.iter().find(|p| p.task == task)
    }
}
