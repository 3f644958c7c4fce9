//! # sky-cloud-local
//!
//! sky's `local` backend, the embedded default: every node of a cluster is a working
//! directory on this machine, `<state dir>/local/<cluster>/node-<rank>`, and every job runs
//! there as local processes (with `HOME` set to the node's directory, so `~/sky_workdir` and
//! the job files land inside it).
//!
//! - [`LocalCloud`] is the whole backend: a [`Catalog`](sky_core::catalog::Catalog) with one
//!   region, `local` (no zones), offering one instance type, [`INSTANCE_TYPE`], that
//!   describes this machine (its cores and memory) at price 0; a
//!   [`Provisioner`](sky_core::provision::Provisioner) that creates and removes node
//!   directories; and a [`NodeConnector`](sky_exec::NodeConnector) that runs commands on
//!   them with [`sky_exec::LocalRunner`].
//! - Node `r` reports the loopback address `127.0.0.<r+1>` (the head is `127.0.0.1`): every
//!   node is this machine, but `SKYPILOT_NODE_IPS` lists distinct addresses, as it does on a
//!   cloud, and Linux routes all of 127.0.0.0/8 to the loopback interface.
//!
//! # Why it exists
//! It is how sky runs with nothing but a Rust toolchain: `cargo run --example quickstart`
//! launches a 2-node task here, and the job queue, logs, cancellation and restarts behave
//! exactly as on a cloud (the same broker code drives them), so it is also the fastest way to
//! test a task before paying for one. Its price is 0, so when it is enabled together with
//! paid clouds, a task that does not name a cloud lands here; tasks say `infra: local` (or
//! another cloud) to choose.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sky_cloud_local::LocalCloud;
//! use sky_runtime::{Broker, LogsOptions, ProvisionOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join("sky-demo");
//! let broker = Broker::builder()
//!     .state_dir(&dir)?
//!     .backend(Arc::new(LocalCloud::new(&dir)))
//!     .build()?;
//! let task = sky_core::Task::from_yaml_str("num_nodes: 2\nrun: echo rank $SKYPILOT_NODE_RANK")?;
//! let launched = broker.launch(&task, "demo", &ProvisionOptions::new()).await?;
//! let job = launched.job_id.expect("the task has a run command");
//! broker
//!     .logs("demo", &LogsOptions::new().job(job).follow(true), &mut |line| println!("{line}"))
//!     .await?;
//! broker.down("demo").await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use sky_core::CloudId;

mod builder;
mod catalog;
mod error;
mod machine;
mod provision;

pub use machine::Machine;

/// The cloud this crate provisions on.
pub const CLOUD: CloudId = CloudId::Local;

/// The one region.
pub const REGION: &str = "local";

/// The one instance type: this machine.
pub const INSTANCE_TYPE: &str = "local";

/// The local backend: catalog, provisioner and node connector in one (see the crate docs).
#[derive(Clone, Debug)]
pub struct LocalCloud {
    base: PathBuf,
    machine: Machine,
}

impl LocalCloud {
    /// The machine the catalog offers.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The directory of node `rank` of the on-cloud cluster `cluster`
    /// (`<state dir>/local/<cluster>/node-<rank>`).
    pub fn node_dir(&self, cluster: &str, rank: u32) -> PathBuf {
        sky_exec::connector::node_dir(&self.base, cluster, rank)
    }
}

/// The loopback address of node `rank`: `127.0.0.<rank+1>` (carrying into the higher
/// octets past 254 nodes).
pub fn node_ip(rank: u32) -> String {
    let n = rank + 1;
    format!("127.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ips_are_distinct_loopback_addresses() {
        assert_eq!(node_ip(0), "127.0.0.1");
        assert_eq!(node_ip(2), "127.0.0.3");
        assert_eq!(node_ip(255), "127.0.1.0");
        let ips: std::collections::BTreeSet<String> = (0..600).map(node_ip).collect();
        assert_eq!(ips.len(), 600);
    }
}
