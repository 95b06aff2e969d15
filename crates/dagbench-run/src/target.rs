//! Where a run's jobs are processed. A [`Target`] knows its processors'
//! store, what its ledger says is done, and how to drive a scheduler
//! against its queues; everything else about a run — workload, files,
//! report — is the same for every target. A new scenario is a new
//! implementation of this trait (see ARCHITECTURE.md, "Adding a scenario").

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::lease::StackLease;
use dagbench_aws::wiring::SchedulerSide;
use dagbench_core::scheduler::Progress;
use dagbench_core::{JobId, RunId, Scenario, Scheduler};
use dagbench_infra::Deployment;
use dagbench_local::cluster::Shared;
use dagbench_local::{ClusterConfig, LocalCluster, MemoryMetrics, SqliteLedger};
use dagbench_runtime::driver::{Concurrency, DriverConfig, DriverOutcome, drive};
use dagbench_runtime::ports::{Clock, JobLedger, SystemClock};
use dagbench_runtime::processor::WorkMode;
use dagbench_store::RunStore;
use tokio::sync::watch;

use crate::RunError;

/// Called with the run's counts as it goes.
pub type ProgressFn<'a> = dyn for<'p> FnMut(&'p Progress) + Send + 'a;

/// One run, as a target needs to know it.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: RunId,
    pub test_run_id: String,
    /// `<results>/<run_id>`.
    pub run_dir: PathBuf,
    /// End the run as stalled when nothing moves for this long.
    pub stall_timeout: Duration,
    /// After a stop request, how long jobs in flight may still report.
    pub grace: Duration,
}

impl RunContext {
    /// The driver's configuration for this run.
    pub fn driver_config(&self) -> DriverConfig {
        let mut config = DriverConfig::new(self.run_id.clone());
        config.stall_timeout = self.stall_timeout;
        config.grace = self.grace;
        config
    }
}

/// A claim on a target shared between runs (a deployed stack): renewed
/// while the run goes on, given back at its end.
#[async_trait]
pub trait Lease: Send + Sync + std::fmt::Debug {
    /// How often to renew it.
    fn renew_every(&self) -> Duration;
    /// Extends it; `Err` says why it was lost.
    async fn renew(&self) -> Result<(), String>;
    /// Gives it back.
    async fn release(&self);
}

/// Where the jobs are processed.
#[async_trait]
pub trait Target: Send + Sync + std::fmt::Debug {
    fn scenario(&self) -> Scenario;
    /// The store the processors read inputs from and write results to.
    fn store(&self) -> &RunStore;
    /// Concurrent processors, as the report states them (0 = unknown).
    fn workers(&self) -> u64;
    /// The longest simulated work a job may ask for here, in ms, and the
    /// flag that sets it, when the target knows (else its processors check
    /// each job as it arrives).
    fn max_work(&self) -> Option<(u64, String)> {
        None
    }
    /// Whether the target can run `graph` at all (checked before anything
    /// of the run is written).
    fn check_graph(&self, graph: &Arc<dagbench_core::JobGraph>) -> Result<(), String> {
        let _ = graph;
        Ok(())
    }
    /// How an orchestrator ran the last session's jobs (Scenario 3).
    fn orchestration(&self) -> Option<dagbench_runtime::report::Orchestration> {
        None
    }
    /// How a cloud target is deployed (for its cost estimate).
    fn deployment(&self) -> Option<&Deployment> {
        None
    }
    /// Takes the target for `run` when runs share it (one run at a time per
    /// stack); `take_over` breaks another run's claim.
    async fn lease(
        &self,
        run: &RunContext,
        take_over: bool,
    ) -> Result<Option<Box<dyn Lease>>, RunError> {
        let _ = (run, take_over);
        Ok(None)
    }
    /// Jobs of `run` its ledger records as completed (for resume).
    async fn completed_jobs(&self, run: &RunContext) -> Result<Vec<JobId>, RunError>;
    /// Drives `scheduler` against the target's queues to the run's end.
    async fn drive(
        &self,
        scheduler: Scheduler,
        run: &RunContext,
        stop: watch::Receiver<bool>,
        on_progress: &mut ProgressFn<'_>,
    ) -> Result<DriverOutcome, RunError>;
}

/// How the local fleet runs.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub workers: usize,
    pub work_mode: WorkMode,
    /// A job's delivery stays invisible this long (also the longest
    /// simulated work a job may ask for).
    pub visibility_timeout: Duration,
    /// Deliveries before a job goes to the dead-letter queue.
    pub max_receive_count: u32,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            work_mode: WorkMode::Sleep,
            visibility_timeout: Duration::from_secs(60),
            max_receive_count: 3,
        }
    }
}

/// This machine: embedded queues, a pool of processors, a SQLite ledger in
/// the run directory, results under the results root.
#[derive(Debug)]
pub struct LocalTarget {
    store: RunStore,
    options: LocalOptions,
}

impl LocalTarget {
    /// Results go under `results`.
    ///
    /// # Errors
    /// When the results root cannot be created.
    pub fn new(results: &std::path::Path, options: LocalOptions) -> Result<Self, RunError> {
        Ok(Self {
            store: RunStore::local(results)?,
            options,
        })
    }

    fn ledger(run: &RunContext) -> Result<SqliteLedger, RunError> {
        Ok(SqliteLedger::open(&run.run_dir.join("ledger.sqlite"))?)
    }
}

/// A local job may work as long as its delivery stays invisible: the
/// visibility timeout, which `--visibility-timeout` sets.
#[must_use]
pub fn local_max_work(visibility_timeout: Duration) -> (u64, String) {
    (
        visibility_timeout.as_millis() as u64,
        format!(
            "--visibility-timeout {} (a local job works at most as long as its delivery stays invisible)",
            visibility_timeout.as_secs()
        ),
    )
}

#[async_trait]
impl Target for LocalTarget {
    fn scenario(&self) -> Scenario {
        Scenario::Local
    }

    fn store(&self) -> &RunStore {
        &self.store
    }

    fn workers(&self) -> u64 {
        self.options.workers as u64
    }

    fn max_work(&self) -> Option<(u64, String)> {
        Some(local_max_work(self.options.visibility_timeout))
    }

    async fn completed_jobs(&self, run: &RunContext) -> Result<Vec<JobId>, RunError> {
        Ok(Self::ledger(run)?.completed_jobs(&run.run_id).await?)
    }

    async fn drive(
        &self,
        scheduler: Scheduler,
        run: &RunContext,
        stop: watch::Receiver<bool>,
        on_progress: &mut ProgressFn<'_>,
    ) -> Result<DriverOutcome, RunError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ledger = Self::ledger(run)?;
        // This run holds its directory's lock: claims left in its ledger are
        // those of a session that died, not of anyone still working.
        ledger.release_all_claims(&run.run_id).await?;
        let cluster = LocalCluster::start(
            &ClusterConfig {
                run_id: run.run_id.clone(),
                test_run_id: run.test_run_id.clone(),
                workers: self.options.workers,
                work_mode: self.options.work_mode,
                visibility_timeout: self.options.visibility_timeout,
                max_receive_count: self.options.max_receive_count,
                grace: run.grace,
            },
            &Shared {
                store: self.store.clone(),
                ledger: Arc::new(ledger),
                metrics: Arc::new(MemoryMetrics::new()),
                clock: Arc::clone(&clock),
            },
        );
        let mut config = run.driver_config();
        // The queues are in this process: a few calls in flight suffice.
        config.concurrency = Concurrency::LOCAL;
        let outcome = drive(
            scheduler,
            cluster.queues(),
            clock,
            &config,
            stop,
            on_progress,
        )
        .await;
        cluster.shutdown().await;
        Ok(outcome)
    }
}

/// How long a stack's lease lasts unless renewed: a crashed scheduler locks
/// its stack this long at most.
pub const STACK_LEASE: Duration = Duration::from_secs(60);

/// A stack's lease, held by this run.
#[derive(Debug)]
struct HeldStack(StackLease);

#[async_trait]
impl Lease for HeldStack {
    fn renew_every(&self) -> Duration {
        self.0.period() / 3
    }

    async fn renew(&self) -> Result<(), String> {
        self.0
            .renew(SystemClock.now())
            .await
            .map_err(|e| e.to_string())
    }

    async fn release(&self) {
        let _ = self.0.release().await;
    }
}

/// A deployed stack's queues, bucket and table (Scenarios 1 and 2: the
/// processors are the stack's Lambda function or Fargate tasks).
#[derive(Debug)]
pub struct StackTarget {
    scenario: Scenario,
    /// What the user calls it (`stack scenario-2-dev`, or the queue URL).
    stack: String,
    env: ProcessorEnv,
    side: SchedulerSide,
    deployment: Option<Deployment>,
    workers: u64,
}

impl StackTarget {
    /// The stack of `scenario` described by `env`, as the scheduler sees
    /// it from here; `workers` as the report should state it (0 unknown).
    ///
    /// # Errors
    /// When the bucket's store cannot be built.
    pub async fn new(
        scenario: Scenario,
        stack: String,
        env: ProcessorEnv,
        deployment: Option<Deployment>,
        workers: u64,
    ) -> Result<Self, RunError> {
        let sdk = dagbench_aws::config::from_env().await;
        let side = dagbench_aws::wiring::scheduler_side(&sdk, &env)?;
        Ok(Self {
            scenario,
            stack,
            env,
            side,
            deployment,
            workers,
        })
    }

    /// The processor environment of the stack.
    pub fn env(&self) -> &ProcessorEnv {
        &self.env
    }

    /// Its queues, table and bucket, as the scheduler uses them.
    pub(crate) fn side(&self) -> &SchedulerSide {
        &self.side
    }
}

#[async_trait]
impl Target for StackTarget {
    fn scenario(&self) -> Scenario {
        self.scenario
    }

    fn store(&self) -> &RunStore {
        &self.side.store
    }

    fn workers(&self) -> u64 {
        self.workers
    }

    fn deployment(&self) -> Option<&Deployment> {
        self.deployment.as_ref()
    }

    async fn lease(
        &self,
        run: &RunContext,
        take_over: bool,
    ) -> Result<Option<Box<dyn Lease>>, RunError> {
        let lease = self
            .side
            .lease(
                &run.run_id,
                &crate::lock::holder(),
                STACK_LEASE,
                SystemClock.now(),
                take_over,
            )
            .await
            .map_err(|e| RunError::Busy(format!("{}: {e}", self.stack)))?;
        Ok(Some(Box::new(HeldStack(lease))))
    }

    async fn completed_jobs(&self, run: &RunContext) -> Result<Vec<JobId>, RunError> {
        Ok(self.side.ledger.completed_jobs(&run.run_id).await?)
    }

    async fn drive(
        &self,
        scheduler: Scheduler,
        run: &RunContext,
        stop: watch::Receiver<bool>,
        on_progress: &mut ProgressFn<'_>,
    ) -> Result<DriverOutcome, RunError> {
        Ok(drive(
            scheduler,
            &self.side.queues,
            Arc::new(SystemClock),
            &run.driver_config(),
            stop,
            on_progress,
        )
        .await)
    }
}
