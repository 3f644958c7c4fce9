//! # sky-optimizer
//!
//! Chooses where each task of a [`sky_core::Dag`] runs: the cheapest (or fastest) placement the
//! catalogs allow, exactly. Pure and deterministic: no async, no I/O, no clock, no randomness.
