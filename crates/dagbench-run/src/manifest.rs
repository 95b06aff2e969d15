//! A run's directory `<results>/<run_id>/`: `manifest.json` (how the run
//! was set up: enough to reproduce or resume it), `graph.json` (the graph
//! it executes), `report.json`, and, for cloud runs, `deployment.json` and
//! a copy of the merged results. Every file is written whole or not at all
//! (a temporary file renamed into place).

use std::path::{Path, PathBuf};

use dagbench_core::{JobGraph, RunId, Scenario};
use serde::{Deserialize, Serialize};

use crate::RunError;

/// How a run was set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: RunId,
    pub test_run_id: String,
    pub created_at: String,
    pub dagbench_version: String,
    /// How the graph was made (`aircraft`, a synthetic shape, `file`, or
    /// `graph` for one given in memory).
    pub workload: String,
    /// Seed of sequences, synthetic shapes and the delay model.
    pub seed: Option<u64>,
    pub samples: Option<u32>,
    pub sequences: Option<u32>,
    pub crew: bool,
    /// Probability of each candidate crew connection, when `crew`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crew_probability: Option<f64>,
    /// The graph file the run executes, relative to the run directory.
    pub graph: String,
    pub source_graph: Option<String>,
    pub workers: usize,
    pub work_mode: String,
    /// Where the jobs run (manifests before this field: local).
    #[serde(default = "local")]
    pub scenario: Scenario,
    /// The environment of a cloud run's stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Local runs: seconds a delivery stays invisible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_timeout_s: Option<u64>,
    /// Local runs: deliveries before the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<u32>,
}

fn local() -> Scenario {
    Scenario::Local
}

/// [`dagbench_runtime::files::write_atomic`], with the path in the error.
///
/// # Errors
/// The OS error, with the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`dagbench_runtime::files::write_atomic_with`], with the path in the
/// error.
///
/// # Errors
/// The OS error, with the path.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), RunError> {
    dagbench_runtime::files::write_atomic_with(path, write).map_err(|e| RunError::Io {
        path: path.display().to_string(),
        error: e,
    })
}

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// `results/run_id`.
    pub fn new(results: &Path, run_id: &RunId) -> Self {
        Self {
            path: results.join(run_id.as_str()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a run was started here.
    pub fn exists(&self) -> bool {
        self.path.join("manifest.json").exists()
    }

    /// Writes the manifest and the graph file.
    ///
    /// # Errors
    /// The OS error, with the path.
    pub fn write_start(&self, manifest: &Manifest, graph: &JobGraph) -> Result<(), RunError> {
        std::fs::create_dir_all(&self.path).map_err(|e| RunError::Io {
            path: self.path.display().to_string(),
            error: e,
        })?;
        write_atomic_with(&self.path.join(&manifest.graph), |mut w| {
            graph.write_json(&mut w)
        })?;
        let text = serde_json::to_string_pretty(manifest).expect("manifests serialize") + "\n";
        write_atomic(&self.path.join("manifest.json"), text.as_bytes())
    }

    /// The manifest and graph of a run started here, for `--resume`.
    ///
    /// # Errors
    /// [`RunError::Resume`] naming what is missing or broken.
    pub fn read_start(&self) -> Result<(Manifest, JobGraph), RunError> {
        let manifest_path = self.path.join("manifest.json");
        let text = std::fs::read(&manifest_path)
            .map_err(|e| RunError::Resume(format!("no run at {} ({e})", self.path.display())))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
            RunError::Resume(format!(
                "{} is not a run manifest: {e}",
                manifest_path.display()
            ))
        })?;
        let graph_path = self.path.join(&manifest.graph);
        let bytes = std::fs::read(&graph_path)
            .map_err(|e| RunError::Resume(format!("cannot read {}: {e}", graph_path.display())))?;
        let graph = JobGraph::from_json_slice(&bytes)
            .map_err(|e| RunError::Resume(format!("{}: {e}", graph_path.display())))?;
        Ok((manifest, graph))
    }

    /// Whether the run's `report.json` says it completed.
    pub fn completed_report(&self) -> bool {
        std::fs::read(self.path.join("report.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|r| r["status"] == "completed")
    }

    /// Writes `value` as JSON to `name` in the run directory.
    ///
    /// # Errors
    /// The OS error, with the path.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<PathBuf, RunError> {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RunError::Io {
                path: parent.display().to_string(),
                error: e,
            })?;
        }
        write_atomic(&path, &serde_json::to_vec(value).expect("serializes"))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_without_the_newer_fields_are_local_runs() {
        let old = r#"{"run_id":"r","test_run_id":"t","created_at":"x","dagbench_version":"0.1.0",
            "workload":"aircraft","seed":1,"samples":10,"sequences":2,"crew":false,
            "graph":"graph.json","source_graph":null,"workers":2,"work_mode":"sleep"}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(
            (m.scenario, m.env, m.crew_probability),
            (Scenario::Local, None, None)
        );
    }

    #[test]
    fn a_failed_write_names_its_path() {
        let dir = dagbench_testkit::scratch("atomic");
        let err = write_atomic(&dir.path().join("missing/report.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("missing/report.json"), "{err}");
    }
}
