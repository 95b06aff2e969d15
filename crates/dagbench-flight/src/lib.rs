//! The aircraft delay workload, specified exactly in delay-model.md:
//! airports and flight times, the constructive daily-sequence generator, the
//! delay-propagation kernel and its exact, mergeable percentiles. Pure: no
//! I/O, no clock; the same inputs give the same numbers on every machine.
//!
//! # Layout
//! - [`airports`]: the airports table (embedded or a user CSV) and
//!   `calculate_flight_duration`.
//! - [`sequence`]: one aircraft's day, its canonical JSON and its rules.
//! - [`generator`]: the constructive `generate_aircraft_daily_sequences`.
//! - [`tables`]: the two normative sampling tables, with an exact fast lookup.
//! - [`model`]: the delay-propagation kernel (draws, one leg, a sequence).
//! - [`aircraft`]: the job graph of a run and each job's details.
//! - [`stats`]: histograms, nearest-rank percentiles, per-sequence and
//!   merged percentiles.

pub mod aircraft;
pub mod airports;
pub mod generator;
pub mod model;
pub mod sequence;
pub mod stats;
pub mod tables;

pub use airports::{Airport, Airports, calculate_flight_duration};
pub use generator::{GeneratorOptions, generate_aircraft_daily_sequences};
pub use sequence::{Flight, Sequence};
