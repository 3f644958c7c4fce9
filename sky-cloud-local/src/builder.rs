//! How a [`LocalCloud`] is made: its node directories under the broker's state directory,
//! and the machine its catalog offers.

use std::path::Path;

use crate::{LocalCloud, Machine};

impl LocalCloud {
    /// Nodes under `<state_dir>/local`, describing this machine ([`Machine::detect`]).
    pub fn new(state_dir: &Path) -> Self {
        LocalCloud::with_machine(state_dir, Machine::detect())
    }

    /// Nodes under `<state_dir>/local`, offering `machine` (for tests that need fixed sizes).
    pub fn with_machine(state_dir: &Path, machine: Machine) -> Self {
        LocalCloud {
            base: state_dir.join("local"),
            machine,
        }
    }
}
