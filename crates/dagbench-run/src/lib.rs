//! A whole dagbench run as a library: every run path — `dagbench run`
//! locally or against a deployed scenario, the benches, the tests — goes
//! through [`prepare`] and [`Prepared::execute`]:
//!
//! 1. lock the run directory (one process per run), resolve the [`Target`]
//!    (local, or a deployed stack, leased: one run per stack),
//! 2. prepare the workload (new run: build it, write the manifest and the
//!    graph, store the processors' inputs; resume: read them back with the
//!    run's own settings and restore what the target's ledger says is done),
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
//! - [`lock`]: one process per run directory.

pub mod lock;
pub mod manifest;
pub mod orchestrated;
pub mod stack;
pub mod target;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dagbench_core::message::{graph_job_id, wire_job_id};
use dagbench_core::{JobGraph, JobIndex, RunId, Scenario, Scheduler};
use dagbench_flight::aircraft::merge_job_id;
use dagbench_runtime::processor::WorkMode;
use dagbench_runtime::report::{DomainSummary, ReportContext, RunReport};
use tokio::sync::watch;

pub use lock::RunLock;
pub use manifest::{Manifest, RunDir};
pub use stack::StackSpec;
use target::Lease;
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
    /// Another process or scheduler holds the run or the stack.
    #[error("{0}")]
    Busy(String),
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error(transparent)]
    Store(#[from] dagbench_store::StoreError),
    #[error(transparent)]
    Ledger(#[from] dagbench_runtime::ports::LedgerError),
    #[error(transparent)]
    Deploy(#[from] dagbench_deploy::DeployError),
    /// Its message holds the store's (not a separate cause, so a chain
    /// of causes prints it once).
    #[error("cannot open the stack's bucket: {0}")]
    Bucket(object_store::Error),
    /// The run ended, but its files could not be written (a full disk):
    /// how it ended is still told, and the ledger keeps it resumable.
    #[error(
        "run {run_id} {status}{reason}, but its report could not be written ({error}); `run --resume {run_id}` writes it once there is room"
    )]
    Unreported {
        run_id: RunId,
        status: &'static str,
        /// `: why`, or empty.
        reason: String,
        error: Box<RunError>,
    },
}

impl From<object_store::Error> for RunError {
    fn from(e: object_store::Error) -> Self {
        RunError::Bucket(e)
    }
}

/// How a run starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new run of `workload`; its id defaults to `local-<UTC time>`.
    New {
        run_id: Option<RunId>,
        test_run_id: String,
        workload: Workload,
    },
    /// Continue the run in `<results>/<run_id>` with its own settings:
    /// completed jobs are not run again.
    Resume { run_id: RunId },
}

/// How a run is set up. A new run fills what is not given with defaults; a
/// resumed run restores every setting from its manifest, and each one given
/// here must agree with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Where the jobs run [default: local].
    pub scenario: Option<Scenario>,
    /// The stack's environment, for a cloud scenario [default: `dev`].
    pub env: Option<String>,
    /// Concurrent processors [default: cores, locally; unknown, in the cloud].
    pub workers: Option<usize>,
    /// How local processors simulate work [default: sleep].
    pub work_mode: Option<WorkMode>,
    /// Local visibility timeout [default: 60 s].
    pub visibility_timeout: Option<Duration>,
    /// Local deliveries before the DLQ [default: 3].
    pub max_receive_count: Option<u32>,
    /// The `PerfTestRun` tag of completions and metrics (a resumed run
    /// keeps its own).
    pub test_run_id: Option<String>,
}

impl Settings {
    /// These settings with every gap filled by its default.
    fn resolved(&self) -> (Scenario, String, LocalOptions) {
        let defaults = LocalOptions::default();
        (
            self.scenario.unwrap_or(Scenario::Local),
            self.env.clone().unwrap_or_else(|| "dev".to_owned()),
            LocalOptions {
                workers: self.workers.unwrap_or(defaults.workers).max(1),
                work_mode: self.work_mode.unwrap_or(defaults.work_mode),
                visibility_timeout: self
                    .visibility_timeout
                    .unwrap_or(defaults.visibility_timeout),
                max_receive_count: self.max_receive_count.unwrap_or(defaults.max_receive_count),
            },
        )
    }

    /// A run's own settings, from its manifest.
    fn of(manifest: &Manifest) -> Result<Self, RunError> {
        let work_mode = match manifest.work_mode.as_str() {
            "sleep" => WorkMode::Sleep,
            "cpu" => WorkMode::Cpu,
            other => {
                return Err(RunError::Resume(format!(
                    "the manifest's work_mode {other:?} is neither sleep nor cpu"
                )));
            }
        };
        Ok(Self {
            scenario: Some(manifest.scenario),
            env: manifest.env.clone(),
            workers: Some(manifest.workers),
            work_mode: Some(work_mode),
            visibility_timeout: manifest.visibility_timeout_s.map(Duration::from_secs),
            max_receive_count: manifest.max_receive_count,
            test_run_id: Some(manifest.test_run_id.clone()),
        })
    }

    /// Every setting given in `self` that differs from the run's own.
    fn conflicts(&self, own: &Settings) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |given: Option<String>, own: Option<String>, flag: &str| {
            if let Some(g) = given
                && own.as_ref() != Some(&g)
            {
                out.push(format!(
                    "{flag} {g} (the run has {})",
                    own.unwrap_or_else(|| "the default".into())
                ));
            }
        };
        check(
            self.scenario.map(|s| s.flag().to_owned()),
            own.scenario.map(|s| s.flag().to_owned()),
            "--scenario",
        );
        check(self.env.clone(), own.env.clone(), "--env");
        check(
            self.workers.map(|w| w.to_string()),
            own.workers.map(|w| w.to_string()),
            "--workers",
        );
        let mode = |m: WorkMode| format!("{m:?}").to_lowercase();
        check(self.work_mode.map(mode), own.work_mode.map(mode), "--work");
        check(
            self.visibility_timeout.map(|v| v.as_secs().to_string()),
            own.visibility_timeout.map(|v| v.as_secs().to_string()),
            "--visibility-timeout",
        );
        check(
            self.max_receive_count.map(|n| n.to_string()),
            own.max_receive_count.map(|n| n.to_string()),
            "--max-receive-count",
        );
        check(
            self.test_run_id.clone(),
            own.test_run_id.clone(),
            "--test-run-id",
        );
        out
    }
}

/// Everything a run needs to be prepared.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The results root: `<results>/<run_id>/` is the run directory.
    pub results: PathBuf,
    pub start: Start,
    pub settings: Settings,
    /// The deployment configuration: how a stack is configured when its own
    /// record cannot be read (cost estimates).
    pub config: dagbench_infra::Config,
    /// End the run as stalled when nothing moves for this long.
    pub stall_timeout: Duration,
    /// After a stop request, how long jobs in flight may still report.
    pub grace: Duration,
    /// Take a stack another scheduler holds (after it crashed).
    pub take_over: bool,
}

impl RunRequest {
    /// A request with the defaults: a new run of `workload` under `results`.
    pub fn new(results: impl Into<PathBuf>, workload: Workload) -> Self {
        Self {
            results: results.into(),
            start: Start::New {
                run_id: None,
                test_run_id: "default".into(),
                workload,
            },
            settings: Settings::default(),
            config: dagbench_infra::Config::default(),
            stall_timeout: Duration::from_secs(120),
            grace: Duration::from_secs(5),
            take_over: false,
        }
    }
}

/// What [`prepare`] found.
#[derive(Debug)]
pub enum Preparation {
    /// A run ready to execute.
    Ready(Box<Prepared>),
    /// `--resume` of a run whose every job has completed: nothing to do,
    /// and nothing of it was touched.
    AlreadyCompleted { run_id: RunId, run_dir: PathBuf },
}

impl Preparation {
    /// The run to execute; an already completed one is an error here.
    ///
    /// # Errors
    /// [`RunError::Resume`] for a run that already completed.
    pub fn ready(self) -> Result<Prepared, RunError> {
        match self {
            Preparation::Ready(p) => Ok(*p),
            Preparation::AlreadyCompleted { run_id, .. } => {
                Err(RunError::Resume(format!("run {run_id} already completed")))
            }
        }
    }
}

/// A run ready to go: its directory locked, its target resolved (and
/// leased), its graph built or read back, its inputs stored.
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
    lock: RunLock,
    lease: Option<Box<dyn Lease>>,
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
    /// The run directory stays locked until this is dropped.
    pub lock: RunLock,
}

/// Creates `results/local-YYYYMMDD-HHMMSS` (UTC), or with a `-N` suffix
/// when taken (by any process: creating the directory is the claim).
fn default_run_dir(results: &Path, now: &str) -> Result<RunId, RunError> {
    let stamp: String = now[..19].chars().filter(char::is_ascii_digit).collect();
    let base = format!("local-{}-{}", &stamp[..8], &stamp[8..]);
    create_dir(results, results)?;
    for n in 1.. {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        match std::fs::create_dir(results.join(&candidate)) {
            Ok(()) => return RunId::new(candidate).map_err(|e| RunError::Setup(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(RunError::Io {
                    path: results.join(&candidate).display().to_string(),
                    error: e,
                });
            }
        }
    }
    unreachable!("some suffix is free")
}

fn create_dir(path: &Path, shown: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(path).map_err(|e| RunError::Io {
        path: shown.display().to_string(),
        error: e,
    })
}

/// Every job's id on the wire (`<run>.<job>`) must be a valid job id: at
/// most 128 characters.
/// The longest job id of `graph`: the one that leaves the least room for
/// a run id on the wire.
#[must_use]
pub fn longest_job_id(graph: &JobGraph) -> &str {
    graph
        .jobs()
        .map(|j| j.job_id)
        .max_by_key(|id| id.len())
        .expect("a graph has jobs")
}

fn check_wire_ids(run: &RunId, graph: &JobGraph) -> Result<(), RunError> {
    let longest = longest_job_id(graph);
    wire_job_id(run, longest)
        .map(|_| ())
        .map_err(|_| RunError::Setup(wire_id_problem(run.as_str().len(), longest)))
}

/// Why job `job` cannot run under a run id of `run_len` characters: on the
/// wire a job goes by `<run id>.<job id>`, at most 128 characters.
#[must_use]
pub fn wire_id_problem(run_len: usize, job: &str) -> String {
    let room = 127usize.saturating_sub(job.len());
    if room == 0 {
        format!(
            "job id {job:?} has {} characters: on the wire a job goes by <run id>.<job id>, at most 128 characters, so a job id may have at most 126; shorten it",
            job.len()
        )
    } else {
        format!(
            "a run id of {run_len} characters is too long for job {job:?} ({} characters): on the wire a job goes by <run id>.<job id>, at most 128 characters; choose a run id (--run-id) of at most {room} characters",
            job.len()
        )
    }
}

/// Checks every job of `graph` against what a processor accepts before any
/// of it runs: output sizes against the processors' fixed limit, and, when
/// the target knows it (`max_work`: the limit in ms and the flag that sets
/// it), simulated work. Names the first offending job, how many more there
/// are, and what would let them run.
///
/// # Errors
/// The message above, when a job is over a limit.
pub fn check_job_limits(graph: &JobGraph, max_work: Option<&(u64, String)>) -> Result<(), String> {
    let max_kb = dagbench_core::message::Limits::default().max_data_size_kb;
    let mut problems = Vec::new();
    let too_big = graph.jobs().filter(|j| u64::from(j.data_size_kb) > max_kb);
    if let Some((first, more)) = first_and_count(too_big) {
        problems.push(format!(
            "job {} asks for an output of {} KiB (data_size_kb){more}; processors write at most {max_kb} KiB",
            first.job_id, first.data_size_kb
        ));
    }
    if let Some((limit, flag)) = max_work {
        let too_long = graph
            .jobs()
            .filter(|j| u64::from(j.work_duration_ms) > *limit);
        if let Some((first, more)) = first_and_count(too_long) {
            let longest = graph.jobs().map(|j| j.work_duration_ms).max().unwrap_or(0);
            problems.push(format!(
                "job {} asks for {} ms of work (work_duration_ms){more}, above the {limit} ms set by {flag}; the longest job needs {}",
                first.job_id,
                first.work_duration_ms,
                flag.split(' ').next().map_or(String::new(), |f| format!(
                    "{f} {} or more",
                    u64::from(longest).div_ceil(1000)
                ))
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn first_and_count<'g>(
    mut jobs: impl Iterator<Item = dagbench_core::graph::JobView<'g>>,
) -> Option<(dagbench_core::graph::JobView<'g>, String)> {
    let first = jobs.next()?;
    let more = jobs.count();
    let more = match more {
        0 => String::new(),
        1 => " (and 1 more job)".to_owned(),
        n => format!(" (and {n} more jobs)"),
    };
    Some((first, more))
}

/// Removes a run directory this process created, when preparing the run
/// failed before it was started: a mistake leaves nothing behind.
/// The results root too, when this process created it and it is empty.
struct Cleanup(Option<PathBuf>, Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
            if let Some(root) = self.1.take() {
                // Fails, as it should, when anything else is in it.
                let _ = std::fs::remove_dir(root);
            }
        }
    }
}

/// Locks the run directory, resolves the target and prepares the workload
/// of `request`.
///
/// # Errors
/// A run id already taken or in use, a stack in use by another run, a
/// workload that cannot be built, a stack not found, a resume whose
/// settings, files or ledger do not fit.
pub async fn prepare(request: RunRequest) -> Result<Preparation, RunError> {
    use dagbench_runtime::ports::{Clock as _, SystemClock};

    let now = SystemClock.now().to_string();
    if request.results.exists() && !request.results.is_dir() {
        return Err(RunError::Setup(format!(
            "--results {} is not a directory: runs go in a directory (created when missing)",
            request.results.display()
        )));
    }
    let mut cleanup = Cleanup(
        None,
        (!request.results.exists()).then(|| request.results.clone()),
    );
    let (run_id, new) = match &request.start {
        Start::New { run_id: None, .. } => {
            let id = default_run_dir(&request.results, &now)?;
            cleanup.0 = Some(request.results.join(id.as_str()));
            (id, true)
        }
        Start::New {
            run_id: Some(id), ..
        } => {
            let path = request.results.join(id.as_str());
            if !path.exists() {
                cleanup.0 = Some(path.clone());
            }
            create_dir(&path, &path)?;
            (id.clone(), true)
        }
        Start::Resume { run_id } => (run_id.clone(), false),
    };
    let dir = RunDir::new(&request.results, &run_id);
    if !new && !dir.path().is_dir() {
        return Err(RunError::Resume(format!(
            "no run {run_id} under {}",
            request.results.display()
        )));
    }
    let lock = RunLock::acquire(dir.path(), run_id.as_str(), &now)?;
    let (settings, earlier) = if new {
        if dir.exists() {
            return Err(RunError::Setup(format!(
                "run {run_id} already exists under {}; pick another --run-id or continue it with --resume {run_id}",
                request.results.display()
            )));
        }
        (request.settings.clone(), None)
    } else {
        let (manifest, graph) = dir.read_start()?;
        if manifest.run_id != run_id {
            return Err(RunError::Resume(format!(
                "{} holds run {} (its manifest.json), not run {run_id}: resume it by its own id, or give the directory its name back",
                dir.path().display(),
                manifest.run_id
            )));
        }
        let own = Settings::of(&manifest)?;
        let conflicts = request.settings.conflicts(&own);
        if !conflicts.is_empty() {
            return Err(RunError::Resume(format!(
                "run {run_id} was started with other settings than {}; --resume restores the run's own settings from its manifest.json (leave those flags out)",
                conflicts.join(", ")
            )));
        }
        (own, Some((manifest, graph)))
    };
    let (scenario, env, local) = settings.resolved();
    let (target, notes): (Box<dyn Target>, Vec<String>) = match scenario {
        Scenario::Local => (
            Box::new(LocalTarget::new(&request.results, local.clone())?),
            Vec::new(),
        ),
        cloud => {
            let spec = StackSpec {
                scenario: cloud,
                env: env.clone(),
                config: request.config.clone(),
                workers: settings.workers.map(|w| w as u32),
            };
            stack::resolve(&spec).await?
        }
    };
    let context = |test_run_id: &str| RunContext {
        run_id: run_id.clone(),
        test_run_id: test_run_id.to_owned(),
        run_dir: dir.path().to_path_buf(),
        stall_timeout: request.stall_timeout,
        grace: request.grace,
    };
    let (manifest, graph, context, scheduler, restored, lease) = match earlier {
        Some((manifest, graph)) => {
            let graph = Arc::new(graph);
            let context = context(&manifest.test_run_id);
            let mut scheduler = Scheduler::new(Arc::clone(&graph));
            // The ledger knows jobs by their ids on the wire (`<run>.<job>`).
            let done: Vec<JobIndex> = target
                .completed_jobs(&context)
                .await?
                .iter()
                .filter_map(|wire| graph_job_id(&run_id, wire.as_str()))
                .filter_map(|id| graph.find(id))
                .collect();
            let restored = scheduler
                .restore(done)
                .map_err(|e| RunError::Resume(e.to_string()))?;
            // Every job done and the report says so: nothing to do. Done
            // without a report (killed before it was written): the run goes
            // through, processes nothing and writes its report.
            if restored == graph.len() as u64 && dir.completed_report() {
                return Ok(Preparation::AlreadyCompleted {
                    run_id,
                    run_dir: dir.path().to_path_buf(),
                });
            }
            let lease = target.lease(&context, request.take_over).await?;
            (manifest, graph, context, scheduler, restored, lease)
        }
        None => {
            let Start::New {
                test_run_id,
                workload,
                ..
            } = &request.start
            else {
                unreachable!("a new run starts new")
            };
            let context = context(test_run_id);
            // Take the stack before anything is written to it.
            let lease = target.lease(&context, request.take_over).await?;
            let built = workload.build(&run_id)?;
            check_wire_ids(&run_id, &built.graph)?;
            check_job_limits(&built.graph, target.max_work().as_ref()).map_err(RunError::Setup)?;
            target.check_graph(&built.graph).map_err(RunError::Setup)?;
            let d = workload.describe();
            let manifest = Manifest {
                run_id: run_id.clone(),
                test_run_id: test_run_id.clone(),
                created_at: now.clone(),
                dagbench_version: env!("CARGO_PKG_VERSION").to_owned(),
                workload: d.workload,
                seed: d.seed,
                samples: d.samples,
                sequences: d.sequences,
                crew: d.crew_probability.is_some(),
                crew_probability: d.crew_probability,
                graph: "graph.json".into(),
                source_graph: d.source_graph,
                workers: match scenario {
                    Scenario::Local => local.workers,
                    _ => settings.workers.unwrap_or(0),
                },
                work_mode: format!("{:?}", local.work_mode).to_lowercase(),
                scenario,
                env: scenario.is_cloud().then(|| env.clone()),
                visibility_timeout_s: Some(local.visibility_timeout.as_secs().max(1)),
                max_receive_count: Some(local.max_receive_count),
            };
            // The processors' inputs first: a run whose files exist can be
            // resumed, so they must not exist before its inputs do.
            built.upload(target.store(), &run_id).await?;
            dir.write_start(&manifest, &built.graph)?;
            let scheduler = Scheduler::new(Arc::clone(&built.graph));
            (manifest, built.graph, context, scheduler, 0, lease)
        }
    };
    cleanup.0 = None;
    Ok(Preparation::Ready(Box::new(Prepared {
        run_id,
        graph,
        manifest,
        resumed: !new,
        restored,
        notes,
        context,
        target,
        scheduler,
        lock,
        lease,
    })))
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
        mut stop: watch::Receiver<bool>,
        on_progress: &mut target::ProgressFn<'_>,
    ) -> Result<Finished, RunError> {
        // The driver stops on the caller's request or when the stack's
        // lease is lost to another scheduler.
        let (inner_stop, inner_rx) = watch::channel(*stop.borrow());
        let lease: Option<Arc<dyn Lease>> = self.lease.map(Arc::from);
        let lost: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let watcher = {
            let lease = lease.clone();
            let lost = Arc::clone(&lost);
            tokio::spawn(async move {
                let every = lease
                    .as_ref()
                    .map_or(Duration::from_secs(3600), |l| l.renew_every());
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    tokio::select! {
                        changed = stop.changed() => {
                            if changed.is_err() {
                                // The caller can no longer ask: keep renewing.
                                std::future::pending::<()>().await;
                            }
                            if *stop.borrow() {
                                let _ = inner_stop.send(true);
                            }
                        }
                        _ = tick.tick(), if lease.is_some() => {
                            if let Some(l) = &lease
                                && let Err(e) = l.renew().await
                            {
                                *lost.lock().expect("lease lock") = Some(e);
                                let _ = inner_stop.send(true);
                            }
                        }
                    }
                }
            })
        };
        let driven = self
            .target
            .drive(self.scheduler, &self.context, inner_rx, on_progress)
            .await;
        watcher.abort();
        if let Some(l) = &lease {
            l.release().await;
        }
        let mut outcome = driven?;
        if let Some(e) = lost.lock().expect("lease lock").take() {
            outcome.status = dagbench_runtime::driver::RunStatus::Aborted;
            outcome.error = Some(e);
        }
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
        // A resumed run keeps the account of its earlier sessions.
        let earlier = if self.resumed {
            std::fs::read(dir.path().join("report.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<RunReport>(&bytes).ok())
        } else {
            None
        };
        let mut report = RunReport::build(
            &self.graph,
            &outcome,
            &ctx,
            merged.as_ref().map(DomainSummary::from_merged),
        );
        report.orchestration = self.target.orchestration();
        // The run's own calls: its inputs uploaded, its results read back.
        if let Some(calls) = report.calls.as_mut() {
            calls.setup = self.target.store().calls().snapshot();
        }
        let report = report.after(earlier);
        let report_path =
            dir.write_json("report.json", &report)
                .map_err(|e| RunError::Unreported {
                    run_id: self.run_id.clone(),
                    status: report.status.as_str(),
                    reason: report
                        .error
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                    error: Box::new(e),
                })?;
        Ok(Finished {
            report,
            run_dir: dir.path().to_path_buf(),
            report_path,
            restored: self.restored,
            notes,
            lock: self.lock,
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
        let first = default_run_dir(dir.path(), now).unwrap();
        assert_eq!(first.as_str(), "local-20261128-175115");
        assert!(
            dir.path().join(first.as_str()).is_dir(),
            "claimed by creating it"
        );
        assert_eq!(
            default_run_dir(dir.path(), now).unwrap().as_str(),
            "local-20261128-175115-2"
        );
    }
}
