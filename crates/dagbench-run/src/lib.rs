//! A whole dagbench run as a library: every run path — `dagbench run`
//! locally or against a deployed scenario, the benches, the tests — goes
//! through [`prepare`] and [`Prepared::execute`]:
//!
//! 1. resolve the [`Target`] (local, or a deployed stack),
//! 2. prepare the workload (new run: build it, write the manifest and the
//!    graph, store the processors' inputs; resume: read them back and
//!    restore what the target's ledger says is done),
//! 3. drive the scheduler against the target,
//! 4. finish: the merged results, `report.json`, `deployment.json`.
//!
//! Pricing and the HTML page come after, from `dagbench-report`.
//!
//! # Layout
//! - [`workload`]: aircraft, synthetic shapes, graph files, in-memory graphs.
//! - [`target`]: the [`Target`] trait, [`LocalTarget`], [`StackTarget`].
//! - [`stack`]: finding a deployed scenario's stack.
//! - [`manifest`]: the run directory and its files, written atomically.

pub mod manifest;
pub mod stack;
pub mod target;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dagbench_core::{JobGraph, RunId, Scenario, Scheduler};
use dagbench_flight::aircraft::merge_job_id;
use dagbench_runtime::report::{DomainSummary, ReportContext, RunReport};
use tokio::sync::watch;

pub use manifest::{Manifest, RunDir};
pub use stack::StackSpec;
pub use target::{LocalOptions, LocalTarget, RunContext, StackTarget, Target};
pub use workload::{AircraftWorkload, Workload};

/// Why a run could not be prepared, run or finished.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The request cannot be carried out as given.
    #[error("{0}")]
    Setup(String),
    /// The workload cannot be built.
    #[error("{0}")]
    Workload(String),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] dagbench_store::StoreError),
    #[error(transparent)]
    Ledger(#[from] dagbench_runtime::ports::LedgerError),
    #[error(transparent)]
    Deploy(#[from] dagbench_deploy::DeployError),
    #[error("cannot open the stack's bucket: {0}")]
    Bucket(#[from] object_store::Error),
}

/// How a run starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new run of `workload`; its id defaults to `local-<UTC time>` (or
    /// the scenario's name for cloud runs).
    New {
        run_id: Option<RunId>,
        test_run_id: String,
        workload: Workload,
    },
    /// Continue the run in `<results>/<run_id>`: completed jobs are not run
    /// again.
    Resume { run_id: RunId },
}

/// Where the jobs run.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    Local(LocalOptions),
    Stack(StackSpec),
}

/// Everything a run needs to be prepared.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The results root: `<results>/<run_id>/` is the run directory.
    pub results: PathBuf,
    pub start: Start,
    pub target: TargetSpec,
    /// End the run as stalled when jobs are in flight but nothing moves
    /// for this long.
    pub stall_timeout: Duration,
    /// After a stop request, how long jobs in flight may still report.
    pub grace: Duration,
}

/// A run ready to go: its target resolved, its graph built or read back,
/// its inputs stored.
#[derive(Debug)]
pub struct Prepared {
    pub run_id: RunId,
    pub graph: Arc<JobGraph>,
    pub manifest: Manifest,
    /// Whether this continues an earlier run.
    pub resumed: bool,
    /// Completed jobs restored from the target's ledger.
    pub restored: u64,
    /// Lines worth telling the user (the stack found, warnings).
    pub notes: Vec<String>,
    context: RunContext,
    target: Box<dyn Target>,
    scheduler: Scheduler,
}

/// What a finished run leaves.
#[derive(Debug)]
pub struct Finished {
    pub report: RunReport,
    pub run_dir: PathBuf,
    pub report_path: PathBuf,
    /// Completed jobs restored from the ledger instead of recomputed.
    pub restored: u64,
    /// Lines worth telling the user (results that could not be read).
    pub notes: Vec<String>,
}

/// `local-YYYYMMDD-HHMMSS` (UTC), with a `-N` suffix if taken.
fn default_run_id(results: &Path, now: &str) -> Result<RunId, RunError> {
    let stamp: String = now[..19].chars().filter(char::is_ascii_digit).collect();
    let base = format!("local-{}-{}", &stamp[..8], &stamp[8..]);
    let mut candidate = base.clone();
    let mut n = 2;
    while results.join(&candidate).exists() {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    RunId::new(candidate).map_err(|e| RunError::Setup(e.to_string()))
}

/// Resolves the target and prepares the workload of `request`.
///
/// # Errors
/// A run id already taken, a workload that cannot be built, a stack not
/// found, a resume whose files or ledger do not fit.
pub async fn prepare(request: RunRequest) -> Result<Prepared, RunError> {
    use dagbench_runtime::ports::{Clock as _, SystemClock};

    let (target, mut notes): (Box<dyn Target>, Vec<String>) = match &request.target {
        TargetSpec::Local(options) => (
            Box::new(LocalTarget::new(&request.results, options.clone())?),
            Vec::new(),
        ),
        TargetSpec::Stack(spec) => {
            let (target, notes) = stack::resolve(spec).await?;
            (Box::new(target), notes)
        }
    };
    let (manifest, graph, resumed) = match request.start {
        Start::Resume { run_id } => {
            let dir = RunDir::new(&request.results, &run_id);
            let (manifest, graph) = dir.read_start()?;
            (manifest, Arc::new(graph), true)
        }
        Start::New {
            run_id,
            test_run_id,
            workload,
        } => {
            let now = SystemClock.now().to_string();
            let run_id = match run_id {
                Some(id) => id,
                None => default_run_id(&request.results, &now)?,
            };
            let dir = RunDir::new(&request.results, &run_id);
            if dir.exists() {
                return Err(RunError::Setup(format!(
                    "run {run_id} already exists under {}; pick another --run-id or continue it with --resume {run_id}",
                    request.results.display()
                )));
            }
            let built = workload.build(&run_id)?;
            let d = workload.describe();
            let (work_mode, env) = match &request.target {
                TargetSpec::Local(o) => (format!("{:?}", o.work_mode).to_lowercase(), None),
                TargetSpec::Stack(s) => ("sleep".to_owned(), Some(s.env.clone())),
            };
            let manifest = Manifest {
                run_id: run_id.clone(),
                test_run_id,
                created_at: now,
                dagbench_version: env!("CARGO_PKG_VERSION").to_owned(),
                workload: d.workload,
                seed: d.seed,
                samples: d.samples,
                sequences: d.sequences,
                crew: d.crew_probability.is_some(),
                crew_probability: d.crew_probability,
                graph: "graph.json".into(),
                source_graph: d.source_graph,
                workers: target.workers() as usize,
                work_mode,
                scenario: target.scenario(),
                env,
            };
            // The processors' inputs first: a run whose files exist can be
            // resumed, so they must not exist before its inputs do.
            built.upload(target.store(), &run_id).await?;
            dir.write_start(&manifest, &built.graph)?;
            (manifest, built.graph, false)
        }
    };
    let context = RunContext {
        run_id: manifest.run_id.clone(),
        test_run_id: manifest.test_run_id.clone(),
        run_dir: request.results.join(manifest.run_id.as_str()),
        stall_timeout: request.stall_timeout,
        grace: request.grace,
    };
    let mut scheduler = Scheduler::new(Arc::clone(&graph));
    let mut restored = 0;
    if resumed {
        let done = target.completed_jobs(&context).await?;
        let unknown = done
            .iter()
            .filter(|id| graph.find(id.as_str()).is_none())
            .count();
        if unknown > 0 {
            notes.push(format!(
                "warning: the ledger records {unknown} completed jobs that are not in the graph; ignored"
            ));
        }
        restored = scheduler
            .restore(done.iter().filter_map(|id| graph.find(id.as_str())))
            .map_err(|e| RunError::Resume(e.to_string()))?;
    }
    Ok(Prepared {
        run_id: manifest.run_id.clone(),
        graph,
        manifest,
        resumed,
        restored,
        notes,
        context,
        target,
        scheduler,
    })
}

impl Prepared {
    /// The scenario the jobs run on.
    pub fn scenario(&self) -> Scenario {
        self.target.scenario()
    }

    /// Concurrent processors, as the report states them (0 unknown).
    pub fn workers(&self) -> u64 {
        self.target.workers()
    }

    /// Runs the graph to its end (or a stall, an unusable queue, or
    /// `stop`), then writes the run's files.
    ///
    /// # Errors
    /// When the target cannot run, or a file of the run cannot be written.
    pub async fn execute(
        self,
        stop: watch::Receiver<bool>,
        on_progress: &mut target::ProgressFn<'_>,
    ) -> Result<Finished, RunError> {
        let outcome = self
            .target
            .drive(self.scheduler, &self.context, stop, on_progress)
            .await?;
        let dir = RunDir::new(
            self.context.run_dir.parent().unwrap_or(Path::new(".")),
            &self.run_id,
        );
        let mut notes = Vec::new();
        // The domain results, when the graph computes any.
        let merged = if self.graph.find(merge_job_id().as_str()).is_some() {
            match self
                .target
                .store()
                .get_merged_percentiles(&self.run_id)
                .await
            {
                Ok(m) => m,
                Err(e) => {
                    notes.push(format!(
                        "warning: cannot read the merged results of run {}: {e}",
                        self.run_id
                    ));
                    None
                }
            }
        } else {
            None
        };
        if self.target.scenario().is_cloud() {
            // A local copy beside the report, for `dagbench report` and
            // `dagbench compare`.
            if let Some(m) = &merged {
                dir.write_json("merged_percentiles/merged_percentiles.json", m)?;
            }
            if let Some(d) = self.target.deployment() {
                dir.write_json("deployment.json", d)?;
            }
        }
        let ctx = ReportContext {
            run_id: self.run_id.clone(),
            test_run_id: self.context.test_run_id.clone(),
            scenario: self.target.scenario(),
            workers: self.target.workers(),
        };
        let report = RunReport::build(
            &self.graph,
            &outcome,
            &ctx,
            merged.as_ref().map(DomainSummary::from_merged),
        );
        let report_path = dir.write_json("report.json", &report)?;
        Ok(Finished {
            report,
            run_dir: dir.path().to_path_buf(),
            report_path,
            restored: self.restored,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_run_ids_are_utc_stamps_made_unique() {
        let dir = dagbench_testkit::scratch("run-ids");
        let now = "2026-11-28T17:51:15.123Z";
        let first = default_run_id(dir.path(), now).unwrap();
        assert_eq!(first.as_str(), "local-20261128-175115");
        std::fs::create_dir(dir.path().join(first.as_str())).unwrap();
        assert_eq!(
            default_run_id(dir.path(), now).unwrap().as_str(),
            "local-20261128-175115-2"
        );
    }
}
