//! sky-cloud-aws integration tests, against the moto EC2 emulator
//! (`SKY_TEST_MOTO_ENDPOINT`, see the crate docs).

mod common;

mod broker;
mod check;
mod conformance;
mod ec2;
mod failover;
