//! The provisioner conformance suite (feature `conformance`).
