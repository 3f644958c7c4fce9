//! Integration tests of sky-optimizer (one binary; one module per topic).

mod brute;
mod dependencies;
mod golden;
mod properties;
mod real_catalogs;
mod skypilot_corpus;
mod support;
mod zones;
