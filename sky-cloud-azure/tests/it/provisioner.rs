//! Provisioner tests.
