//! The pure core of dagbench: what a job is, what goes on the wire, what a
//! job graph is and how a run of one is scheduled. Nothing here performs I/O,
//! reads a clock or spawns a task: time and randomness are inputs, which is
//! what makes every piece testable with literal data and property tests.
//!
//! # Layout
//! - [`calls`]: counts of the billed API calls a run makes.
//! - [`ids`]: validated `JobId`, `RunId`, `SequenceId` (safe as path segments).
//! - [`key`]: validated relative object keys (`input_key`).
//! - [`keys`]: the one place that spells every object key of the results tree.
//! - [`time`]: RFC 3339 millisecond timestamps as plain values.
//! - [`message`]: the incoming job message and the outgoing completion.
//! - [`graph`]: the compact job graph, its file format, analysis and
//!   synthetic shapes.
//! - [`scheduler`]: the scheduling state machine.
//! - [`sim`]: a discrete-event simulation of a run through the scheduler.
//! - [`tracker`]: the scheduler driver's bookkeeping (timeline, anomalies)
//!   as events in, batches out.
//! - [`plan`]: how Scenario 3's static state machine runs a graph (chains
//!   or levels).
//! - [`scenario`]: where a run's jobs are processed (local, Scenarios 1–3).
//! - [`rng`]: SplitMix64, the counter-based generator the workload is keyed on.

pub mod calls;
pub mod graph;
pub mod ids;
pub mod key;
pub mod keys;
pub mod message;
pub mod plan;
pub mod rng;
pub mod scenario;
pub mod scheduler;
pub mod sim;
pub mod time;
pub mod tracker;

pub use graph::{GraphError, JobGraph, JobIndex};
pub use ids::{JobId, RunId, SequenceId};
pub use scenario::Scenario;
pub use scheduler::Scheduler;
