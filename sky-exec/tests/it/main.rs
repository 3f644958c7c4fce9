//! sky-exec integration tests: the same gang scenarios on local nodes and on network-namespace
//! hosts running sshd (those need root; see `common::ssh_fixture`).

mod common;
mod keys;
mod local;
mod scenarios;
mod ssh;
