//! Examples of using sky as a library. Run one with `cargo run --example NAME`; each runs on
//! embedded defaults (FakeCloud, the local machine) and needs no cloud account.
