//! The embedded backends of dagbench's ports: what `dagbench run` uses by
//! default, with nothing to install or deploy.
//!
//! # Layout
//! - [`memory_queue`]: `MemoryQueue`, SQS semantics in memory.
//! - [`sqlite_ledger`]: `SqliteLedger`, the job ledger in a SQLite file.
//! - [`metrics`]: `MemoryMetrics`, the metrics sink.
//! - [`latency`]: `LatencyQueue`, any queue slowed to a remote queue's
//!   latency (the scheduler benchmark's).
//! - [`cluster`]: `LocalCluster`, the embedded queues and a pool of
//!   processors: what Lambda or a Fargate service is to a stack.

pub mod cluster;
pub mod latency;
pub mod memory_queue;
pub mod metrics;
pub mod sqlite_ledger;

pub use cluster::{ClusterConfig, LocalCluster};
pub use memory_queue::MemoryQueue;
pub use metrics::MemoryMetrics;
pub use sqlite_ledger::SqliteLedger;
