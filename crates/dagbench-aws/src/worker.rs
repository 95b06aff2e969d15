//! The Scenario 2 processor as a library (`dagbench worker` is one call of
//! [`serve`]): the processor wired from the task's environment, batched
//! `PutMetricData`, and a pool of polling loops that runs until `shutdown`
//! resolves, then finishes or releases what it holds and flushes metrics.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::message::Limits;
use dagbench_runtime::ports::{Clock, SystemClock};
use dagbench_runtime::worker::{WorkerConfig, WorkerStats, serve_pool};

use crate::cloudwatch::CloudWatchSink;
use crate::env::ProcessorEnv;
use crate::wiring::{Wired, wire};

/// How a worker runs, beyond its environment.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs processed at once (one polling loop each).
    pub concurrency: usize,
    /// The incoming queue's visibility timeout: a running job's delivery
    /// is extended by this much every half of it.
    pub visibility_timeout: Duration,
    /// How long the jobs in hand may run after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Longest simulated work accepted, ms.
    pub max_work_ms: u64,
    /// Names this worker in completions and the ledger.
    pub name: String,
}

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the data bucket: {0}")]
pub struct ServeError(object_store::Error);

// By hand rather than `#[from]`, which would also make the error its
// source and print its message twice in a chain of causes.
impl From<object_store::Error> for ServeError {
    fn from(e: object_store::Error) -> Self {
        ServeError(e)
    }
}

/// Processes jobs from `env`'s incoming queue until `shutdown` resolves.
///
/// # Errors
/// When the bucket's store cannot be built from the environment.
pub async fn serve(
    env: &ProcessorEnv,
    options: &WorkerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<WorkerStats, ServeError> {
    let sdk = crate::config::from_env().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Batched PutMetricData, flushed every 10 s and at shutdown.
    let (metrics, _flusher) = CloudWatchSink::start(
        aws_sdk_cloudwatch::Client::new(&sdk),
        Duration::from_secs(10),
    );
    let metrics = Arc::new(metrics);
    let limits = Limits {
        max_work_duration_ms: options.max_work_ms,
        ..Limits::default()
    };
    let Wired {
        processor,
        incoming,
        dlq,
    } = wire(
        &sdk,
        env,
        options.name.clone(),
        limits,
        metrics.clone(),
        clock,
    )?;
    let config = WorkerConfig {
        batch_size: env.batch_size,
        wait: Duration::from_secs(20),
        visibility: options.visibility_timeout.max(Duration::from_secs(1)),
        shutdown_grace: options.shutdown_grace,
        log_jobs: true,
    };
    tracing::info!(
        event = "worker_started",
        incoming = env.incoming_queue_url.as_str(),
        concurrency = options.concurrency,
        test_run_id = env.test_run_id.as_str()
    );
    let stats = serve_pool(
        processor,
        incoming,
        Some(dlq),
        config,
        options.concurrency,
        async {
            shutdown.await;
            tracing::info!(event = "stopping", reason = "signal");
        },
    )
    .await;
    metrics.flush_and_wait().await;
    Ok(stats)
}
