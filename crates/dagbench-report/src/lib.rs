//! What a user reads after a run.
//!
//! - [`run`]: a run directory read back (`report.json`, manifest, merged
//!   percentiles, deployment), the terminal summary, what the run measured.
//! - [`html`]: the self-contained `report.html`.
//! - [`svg`]: the inline charts it draws.
//! - [`cost`]: estimates from a dated price table.
//! - [`pricing`]: which estimates a run gets (its deployment, or every
//!   scenario for a local run), the summary's cost lines, the page.
//! - [`compare`]: runs side by side, with a results check and thresholds.
//! - [`simulate`]: predictions of any graph on every scenario and size,
//!   priced, from built-in latencies or a run's profile.

pub mod compare;
pub mod cost;
pub mod html;
pub mod pricing;
pub mod run;
pub mod simulate;
pub mod svg;
