//! A whole run on this machine: memory queues, a worker pool of processors,
//! the SQLite ledger and local disk, driven by the scheduler driver — the
//! same processor and driver the cloud scenarios run, with embedded adapters.
//!
//! The run's directory `<results>/<run_id>/` holds `manifest.json`,
//! `graph.json`, `ledger.sqlite` and `report.json` beside the results tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::message::Limits;
use dagbench_core::{JobGraph, Scheduler};
use dagbench_runtime::driver::{DriverConfig, Queues, drive};
use dagbench_runtime::ports::{Clock, JobLedger, JobQueue, SystemClock};
use dagbench_runtime::processor::{Processor, ProcessorConfig, WorkMode};
use dagbench_runtime::report::{DomainSummary, ReportContext, RunReport};
use dagbench_runtime::worker::{WorkerConfig, run_worker};
use dagbench_store::RunStore;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::{MemoryMetrics, MemoryQueue, SqliteLedger};

/// How a run was set up: enough to reproduce it or resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: RunId,
    pub test_run_id: String,
    pub created_at: String,
    pub dagbench_version: String,
    /// How the graph was made (`aircraft`, a synthetic shape, or `file`).
    pub workload: String,
    /// Seed of sequences, synthetic shapes and the delay model.
    pub seed: Option<u64>,
    pub samples: Option<u32>,
    pub sequences: Option<u32>,
    pub crew: bool,
    /// The graph file the run executes, relative to the run directory.
    pub graph: String,
    pub source_graph: Option<String>,
    pub workers: usize,
    pub work_mode: String,
}

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub results: PathBuf,
    pub run_id: RunId,
    pub test_run_id: String,
    pub workers: usize,
    pub work_mode: WorkMode,
    pub visibility_timeout: Duration,
    pub max_receive_count: u32,
    pub stall_timeout: Duration,
    pub grace: Duration,
}

impl LocalConfig {
    pub fn run_dir(&self) -> PathBuf {
        self.results.join(self.run_id.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalRunError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Ledger(#[from] dagbench_runtime::ports::LedgerError),
    #[error(transparent)]
    Store(#[from] dagbench_store::StoreError),
    #[error("cannot resume: {0}")]
    Resume(String),
}

/// What a local run leaves: its report (also written as `report.json`).
#[derive(Debug)]
pub struct LocalRun {
    pub report: RunReport,
    pub run_dir: PathBuf,
    pub report_path: PathBuf,
    /// Completed jobs restored from the ledger instead of recomputed.
    pub restored: u64,
}

/// Writes the manifest and the graph file into the run directory.
pub fn write_run_files(
    run_dir: &Path,
    manifest: &Manifest,
    graph: &JobGraph,
) -> Result<(), LocalRunError> {
    let setup = |e: std::io::Error, what: &Path| {
        LocalRunError::Setup(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(run_dir).map_err(|e| setup(e, run_dir))?;
    let graph_path = run_dir.join(&manifest.graph);
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&graph_path).map_err(|e| setup(e, &graph_path))?,
    );
    graph
        .write_json(&mut file)
        .map_err(|e| setup(e, &graph_path))?;
    std::io::Write::flush(&mut file).map_err(|e| setup(e, &graph_path))?;
    let manifest_path = run_dir.join("manifest.json");
    let text = serde_json::to_string_pretty(manifest).expect("manifests serialize") + "\n";
    std::fs::write(&manifest_path, text).map_err(|e| setup(e, &manifest_path))?;
    Ok(())
}

/// Reads a run's manifest and graph, for `--resume`.
pub fn read_run_files(run_dir: &Path) -> Result<(Manifest, JobGraph), LocalRunError> {
    let manifest_path = run_dir.join("manifest.json");
    let text = std::fs::read(&manifest_path)
        .map_err(|e| LocalRunError::Resume(format!("no run at {} ({e})", run_dir.display())))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        LocalRunError::Resume(format!(
            "{} is not a run manifest: {e}",
            manifest_path.display()
        ))
    })?;
    let graph_path = run_dir.join(&manifest.graph);
    let bytes = std::fs::read(&graph_path)
        .map_err(|e| LocalRunError::Resume(format!("cannot read {}: {e}", graph_path.display())))?;
    let graph = JobGraph::from_json_slice(&bytes)
        .map_err(|e| LocalRunError::Resume(format!("{}: {e}", graph_path.display())))?;
    Ok((manifest, graph))
}

/// Runs `graph` to its end with a local worker pool. With `resume`, the
/// jobs the ledger records as completed are not run again.
pub async fn run_local(
    graph: Arc<JobGraph>,
    config: &LocalConfig,
    resume: bool,
    stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&dagbench_core::scheduler::Progress) + Send),
) -> Result<LocalRun, LocalRunError> {
    let run_dir = config.run_dir();
    let store = RunStore::local(&config.results)?;
    let ledger: Arc<SqliteLedger> = Arc::new(SqliteLedger::open(&run_dir.join("ledger.sqlite"))?);
    let mut scheduler = Scheduler::new(Arc::clone(&graph));
    let mut restored = 0;
    if resume {
        let done = ledger.completed_jobs(&config.run_id).await?;
        let indices: Vec<_> = done
            .iter()
            .filter_map(|id| graph.find(id.as_str()))
            .collect();
        restored = scheduler
            .restore(indices)
            .map_err(|e| LocalRunError::Resume(e.to_string()))?;
    }

    let dlq = Arc::new(MemoryQueue::new("dlq", config.visibility_timeout));
    let incoming = Arc::new(
        MemoryQueue::new("incoming", config.visibility_timeout)
            .with_dead_letter_queue(Arc::clone(&dlq), config.max_receive_count),
    );
    let outgoing = Arc::new(MemoryQueue::new("outgoing", config.visibility_timeout));
    let queues = Queues {
        incoming: incoming.clone(),
        outgoing: outgoing.clone(),
        dlq: dlq.clone(),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(MemoryMetrics::new());
    let (stop_workers, workers_stop) = watch::channel(false);
    let mut workers = Vec::with_capacity(config.workers);
    for w in 0..config.workers.max(1) {
        let processor = Arc::new(Processor {
            store: store.clone(),
            ledger: ledger.clone(),
            metrics: metrics.clone(),
            clock: Arc::clone(&clock),
            completions: outgoing.clone(),
            config: ProcessorConfig {
                test_run_id: config.test_run_id.clone(),
                run_id: config.run_id.clone(),
                worker: format!("local-{w}"),
                limits: Limits {
                    max_work_duration_ms: config.visibility_timeout.as_millis() as u64,
                    ..Limits::default()
                },
                work_mode: config.work_mode,
            },
        });
        workers.push(tokio::spawn(run_worker(
            processor,
            incoming.clone() as Arc<dyn JobQueue>,
            Some(dlq.clone() as Arc<dyn JobQueue>),
            WorkerConfig {
                batch_size: 1,
                wait: Duration::from_millis(500),
                visibility_extension: Some(config.visibility_timeout),
                shutdown_grace: config.grace,
                log_jobs: false,
            },
            workers_stop.clone(),
        )));
    }
    let mut driver_config = DriverConfig::new(config.run_id.clone());
    driver_config.stall_timeout = config.stall_timeout;
    driver_config.grace = config.grace;
    let outcome = drive(
        &mut scheduler,
        &queues,
        Arc::clone(&clock),
        &driver_config,
        stop,
        on_progress,
    )
    .await;
    let _ = stop_workers.send(true);
    for w in workers {
        let _ = w.await;
    }

    let domain = if graph.find("merge").is_some() {
        store
            .get_merged_percentiles(&config.run_id)
            .await
            .ok()
            .flatten()
            .map(|m| DomainSummary::from_merged(&m))
    } else {
        None
    };
    let ctx = ReportContext {
        run_id: config.run_id.to_string(),
        test_run_id: config.test_run_id.clone(),
        scenario: "local".into(),
        workers: config.workers as u64,
    };
    let report = RunReport::build(&graph, &outcome, &ctx, domain);
    let report_path = run_dir.join("report.json");
    std::fs::write(
        &report_path,
        serde_json::to_vec(&report).expect("reports serialize"),
    )
    .map_err(|e| LocalRunError::Setup(format!("cannot write {}: {e}", report_path.display())))?;
    Ok(LocalRun {
        report,
        run_dir,
        report_path,
        restored,
    })
}
