//! A job phase's state over its nodes, aggregated from each node's process status.

use serde::{Deserialize, Serialize};

use crate::runner::ProcessStatus;

/// The aggregate state of a job phase over its nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum GangState {
    /// No node has a record of the phase.
    NotStarted,
    /// At least one node still runs and none failed.
    Running,
    /// Every node exited with 0.
    Succeeded,
    /// A node exited non-zero: the lowest such rank and its code.
    Failed {
        /// The rank.
        rank: u32,
        /// Its exit code.
        code: i32,
    },
    /// A node's process is gone without an exit code, or has no record while others do.
    Lost {
        /// The rank.
        rank: u32,
    },
}

impl GangState {
    /// Whether nothing is running any more (or never was).
    pub fn is_finished(&self) -> bool {
        !matches!(self, GangState::Running)
    }

    /// Aggregates per-node statuses (in rank order): a failure wins, then a vanished process,
    /// then a running one; all exited 0 is success.
    pub fn aggregate(nodes: &[NodeStatus]) -> GangState {
        if let Some((rank, code)) = nodes.iter().find_map(|n| match n.status {
            ProcessStatus::Exited { code } if code != 0 => Some((n.rank, code)),
            _ => None,
        }) {
            return GangState::Failed { rank, code };
        }
        if let Some(n) = nodes
            .iter()
            .find(|n| matches!(n.status, ProcessStatus::Vanished { .. }))
        {
            return GangState::Lost { rank: n.rank };
        }
        if nodes.iter().any(|n| n.status.is_running()) {
            return GangState::Running;
        }
        if nodes.iter().all(|n| n.status == ProcessStatus::NotFound) {
            return GangState::NotStarted;
        }
        match nodes.iter().find(|n| n.status == ProcessStatus::NotFound) {
            Some(n) => GangState::Lost { rank: n.rank },
            None => GangState::Succeeded,
        }
    }
}

/// One node's status in a [`GangStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The rank.
    pub rank: u32,
    /// Its process status.
    pub status: ProcessStatus,
}

/// A job phase's aggregate state and every node's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GangStatus {
    /// The aggregate.
    pub state: GangState,
    /// Per node, in rank order.
    pub nodes: Vec<NodeStatus>,
}

impl GangStatus {
    pub(super) fn new(nodes: Vec<NodeStatus>) -> Self {
        GangStatus {
            state: GangState::aggregate(&nodes),
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(rank: u32, status: ProcessStatus) -> NodeStatus {
        NodeStatus { rank, status }
    }

    #[test]
    fn aggregate_rules() {
        use ProcessStatus::*;
        let ok = Exited { code: 0 };
        assert_eq!(
            GangState::aggregate(&[st(0, ok), st(1, ok)]),
            GangState::Succeeded
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, Exited { code: 7 })]),
            GangState::Failed { rank: 1, code: 7 }
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, ok)]),
            GangState::Running
        );
        assert_eq!(
            GangState::aggregate(&[st(0, Running { pid: 1 }), st(1, Vanished { pid: 2 })]),
            GangState::Lost { rank: 1 }
        );
        assert_eq!(
            GangState::aggregate(&[st(0, NotFound), st(1, NotFound)]),
            GangState::NotStarted
        );
        assert_eq!(
            GangState::aggregate(&[st(0, ok), st(1, NotFound)]),
            GangState::Lost { rank: 1 }
        );
    }
}
