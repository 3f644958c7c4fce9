//! Broker integration tests, all on FakeCloud (deterministic, no credentials).

mod chaos;
mod common;
mod concurrency;
mod failover;
mod lifecycle;
mod saga;
