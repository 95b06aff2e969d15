//! The embedded backends of dagbench's ports: what `dagbench run` uses by
//! default, with nothing to install or deploy.
//!
//! # Layout
//! - [`memory_queue`]: `MemoryQueue`, SQS semantics in memory.
//! - [`sqlite_ledger`]: `SqliteLedger`, the job ledger in a SQLite file.
//! - [`metrics`]: `MemoryMetrics`, the metrics sink.
//! - [`run`]: `run_local`, a whole run on this machine.

pub mod memory_queue;
pub mod metrics;
pub mod run;
pub mod sqlite_ledger;

pub use memory_queue::MemoryQueue;
pub use metrics::MemoryMetrics;
pub use sqlite_ledger::SqliteLedger;
