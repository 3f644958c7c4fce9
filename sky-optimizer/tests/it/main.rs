//! Integration tests of sky-optimizer (one binary; one module per topic).

mod dependencies;
mod golden;
mod properties;
mod support;
