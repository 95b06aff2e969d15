//! Which estimates a run gets: a cloud run is priced on its own deployment
//! and region (`deployment.json`); a local run — or a cloud run without its
//! deployment record — on the scenarios the configuration describes, with
//! as many processors as the run had workers. Also where those estimates
//! end up: the summary's cost lines and `report.html`.

use std::path::{Path, PathBuf};

use dagbench_core::Scenario;

use crate::cost::{self, CostError, Estimate, PriceTable};
use crate::run::{self, RunFiles};

/// A price table, the configuration that prices runs without a deployment
/// record, and the region whose prices apply to local runs.
#[derive(Debug, Clone)]
pub struct Pricing {
    pub table: PriceTable,
    pub config: dagbench_infra::Config,
    pub region: String,
    /// Seconds each Fargate task was billed, when the user knows (else the
    /// makespan is assumed).
    pub fargate_task_s: Option<f64>,
}

/// Why a price table or a page could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error(transparent)]
    Cost(#[from] CostError),
    #[error("cannot read the price table {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

impl Pricing {
    /// The bundled table (or the table in `prices`), `config`, `region`.
    ///
    /// # Errors
    /// When the table cannot be read or parsed, or lacks `region`.
    pub fn load(
        prices: Option<&Path>,
        config: dagbench_infra::Config,
        region: &str,
    ) -> Result<Self, PricingError> {
        let table = match prices {
            None => PriceTable::bundled(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| PricingError::Read {
                    path: path.display().to_string(),
                    error,
                })?;
                PriceTable::from_json(&text, &path.display().to_string())?
            }
        };
        // A region the table lacks is an error now, not after a run.
        table.region(region)?;
        Ok(Self {
            table,
            config,
            region: region.to_owned(),
            fargate_task_s: None,
        })
    }

    /// The estimates of `run`: on its own deployment for a cloud run; on
    /// each cloud scenario for a local run.
    ///
    /// # Errors
    /// When the table lacks the region to price.
    pub fn estimates(&self, run: &RunFiles) -> Result<Vec<Estimate>, CostError> {
        let mut measured = run::measured(&run.report);
        measured.fargate_task_s = self.fargate_task_s;
        if let Some(d) = &run.deployment {
            return Ok(vec![cost::estimate(
                &measured,
                &d.setup,
                &d.region,
                &self.table,
            )?]);
        }
        let workers = u32::try_from(run.report.workers.max(1)).unwrap_or(u32::MAX);
        let scenarios = match run.report.scenario {
            Scenario::Local => Scenario::CLOUD.to_vec(),
            // Priced on its own scenario, as the configuration says.
            own => vec![own],
        };
        scenarios
            .into_iter()
            .filter_map(|s| self.config.setup_for(s, workers))
            .map(|setup| cost::estimate(&measured, &setup, &self.region, &self.table))
            .collect()
    }

    /// The estimates of the run in `files`, and its `report.html` written
    /// to `out` (default: the run directory). Returns both.
    ///
    /// # Errors
    /// When pricing fails or the page cannot be written.
    pub fn publish(
        &self,
        files: &RunFiles,
        out: Option<&Path>,
    ) -> Result<(Vec<Estimate>, PathBuf), PricingError> {
        let estimates = self.estimates(files)?;
        let html = write_html(files, &estimates, out)?;
        Ok((estimates, html))
    }
}

/// Writes `report.html` for `run` (to `out`, default the run directory);
/// returns its path.
///
/// # Errors
/// When the file cannot be written.
pub fn write_html(
    run: &RunFiles,
    estimates: &[Estimate],
    out: Option<&Path>,
) -> Result<PathBuf, PricingError> {
    let path = out.map_or_else(|| run.dir.join("report.html"), Path::to_path_buf);
    dagbench_runtime::files::write_atomic(&path, crate::html::render(run, estimates).as_bytes())
        .map_err(|error| PricingError::Write {
            path: path.display().to_string(),
            error,
        })?;
    Ok(path)
}

/// The estimate lines `dagbench run` and `dagbench report` print.
#[must_use]
pub fn cost_lines(estimates: &[Estimate]) -> String {
    let mut out = String::new();
    for e in estimates {
        out.push_str(&format!(
            "  estimated cost {}: ${:.6} (${:.6} per 1,000 jobs; {} prices {}; between runs ${:.4}/h)\n",
            e.setup.describe(),
            e.total,
            e.per_1000_jobs,
            e.region,
            e.prices,
            e.standing_per_hour
        ));
    }
    out
}
