//! What dagbench's tests share — a dev-dependency only: no production
//! crate links it.
//!
//! # Layout
//! - [`conformance`]: the suites every adapter of a port runs, applied
//!   whole by one macro per port.
//! - [`moto`]: the moto server the AWS tests start on loopback, and a
//!   scenario stack's queues, bucket and table created on it.
//! - [`fixtures`]: scratch directories, and aircraft workloads seeded into
//!   a store with the reference their results must equal.

use std::path::PathBuf;

pub mod conformance;
pub mod fixtures;
pub mod moto;

pub use fixtures::{Aircraft, scratch};

/// The repository's root directory (for `.venv`, `results`, …).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}
