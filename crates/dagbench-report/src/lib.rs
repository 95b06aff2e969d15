//! What a user reads after a run.
//!
//! - [`run`]: a run directory read back (`report.json`, manifest, merged
//!   percentiles, deployment), the terminal summary, what the run measured.
//! - [`html`]: the self-contained `report.html`.
//! - [`svg`]: the inline charts it draws.
//! - [`cost`]: estimates from a dated price table.
//! - [`compare`]: runs side by side, with a results check and thresholds.

pub mod compare;
pub mod cost;
pub mod html;
pub mod run;
pub mod svg;
