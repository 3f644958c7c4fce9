//! Broker integration tests: provisioning on FakeCloud (deterministic, no credentials), and
//! the job queue on FakeCloud, the local backend and an SSH node pool of network-namespace
//! hosts (those need root; see `jobs::fixture`).

mod chaos;
mod common;
mod concurrency;
mod failover;
mod jobs;
mod lifecycle;
mod precheck;
mod quota;
mod saga;
