//! What runs a job graph, independent of where: the ports (queue, ledger,
//! metrics, clock), the processor every backend runs for each message, the
//! polling worker, and the scheduler driver around the pure state machine.
//!
//! # Layout
//! - [`ports`]: the traits adapters implement (embedded in `dagbench-local`,
//!   AWS in `dagbench-aws`).
//! - [`processor`]: `Processor::process_job`, one message end to end.
//! - [`worker`]: the receive/process/delete loop.
//! - [`logs`]: JSON log lines through `tracing` (one `job` event per job).
//! - [`driver`]: the scheduler loop and the per-job timeline.
//! - [`report`]: `report.json`, built from the driver's outcome.
//! - [`files`]: files written whole or not at all.

pub mod driver;
pub mod files;
pub mod logs;
pub mod ports;
pub mod processor;
pub mod report;
pub mod worker;
