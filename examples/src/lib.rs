//! Examples of using sky as a library, each short enough to copy. Run one with
//! `cargo run -p sky-examples --example NAME`; all but `aws_moto` run offline, on embedded
//! defaults (the local machine, the simulated `fake` cloud), with no cloud account.
//!
//! | example | what it shows |
//! |---|---|
//! | `quickstart` | launch a 2-node task on this machine (`local`), stream its logs, tear down |
//! | `byo_cloud` | bring your own cloud: a `Provisioner` and a `Catalog` of your own (`CloudId::Other("acme")`) on a `Broker`, a task with `infra: acme` |
//! | `custom_policy` | a `FailoverPolicy` of your own, on `FakeCloud` with scripted capacity, throttling and quota faults |
//! | `launch_enabled` | the broker `sky launch` uses (`sky::clouds::Clouds`): launch on the cheapest backend `sky check` enabled |
//! | `aws_moto` | AWS on the moto emulator; needs `--features aws` (builds the AWS SDK) |
//!
//! Each example builds with only the `sky` features it needs: the package depends on `sky`
//! with its default features (`local`, `fetch`), and `aws_moto` requires this package's `aws`
//! feature (`required-features`), so `cargo run -p sky-examples --example quickstart`
//! compiles no cloud SDK. `cargo build -p sky-examples --examples --all-features` builds them
//! all.
