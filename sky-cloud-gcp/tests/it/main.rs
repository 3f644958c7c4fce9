//! sky-cloud-gcp against a local Compute Engine API server (no emulator exists): the real
//! `google-cloud-compute-v1` client, the conformance suite, and the broker's failover.

mod broker;
mod conformance;
mod fake_gce;
mod paging;
mod provisioning;
mod quota;
mod support;
