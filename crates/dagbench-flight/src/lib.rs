//! The aircraft delay workload, specified exactly in delay-model.md:
//! airports and flight times, the constructive daily-sequence generator, the
//! delay-propagation kernel and its exact, mergeable percentiles. Pure: no
//! I/O, no clock; the same inputs give the same numbers on every machine.
//!
//! # Layout
//! - [`airports`]: the airports table (embedded or a user CSV) and
//!   `calculate_flight_duration`.
//! - [`sequence`]: one aircraft's day, its canonical JSON and its rules.
//! - [`generator`]: `generate_aircraft_daily_sequences`.

pub mod airports;
pub mod generator;
pub mod sequence;

pub use airports::{Airport, Airports, calculate_flight_duration};
pub use generator::{GeneratorOptions, generate_aircraft_daily_sequences};
pub use sequence::{Flight, Sequence};
