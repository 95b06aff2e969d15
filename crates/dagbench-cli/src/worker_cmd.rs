//! `dagbench worker`: the Scenario 2 processor (an ECS Fargate task). It
//! long-polls the incoming queue with bounded concurrency, processes each
//! job with the same processor as every other scenario, and stops cleanly on
//! SIGTERM/SIGINT: no new receives, the jobs in hand get `--shutdown-grace`
//! seconds, the rest are released for other tasks, exit 0.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use dagbench_aws::config;
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::metrics::CloudWatchSink;
use dagbench_aws::wiring::{Wired, wire};
use dagbench_core::message::Limits;
use dagbench_runtime::ports::{Clock, SystemClock};
use dagbench_runtime::worker::{WorkerConfig, WorkerStats, run_worker};
use tokio::sync::watch;

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Jobs processed at once (each a polling loop).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// The incoming queue's visibility timeout, seconds: running jobs are
    /// extended by this much every half of it.
    #[arg(long = "visibility-timeout", default_value_t = 360)]
    visibility_timeout: u64,
    /// Seconds the jobs in hand may run after SIGTERM (ECS waits 30).
    #[arg(long = "shutdown-grace", default_value_t = 25)]
    shutdown_grace: u64,
    /// Longest simulated work accepted, ms.
    #[arg(long = "max-work-ms", default_value_t = 300_000)]
    max_work_ms: u64,
}

pub(crate) fn run(args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let env = ProcessorEnv::from_env()?;
    dagbench_runtime::logs::init_json_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stats = runtime.block_on(serve(args, env))?;
    tracing::info!(
        event = "worker_stopped",
        completed = stats.completed,
        failed = stats.failed,
        retried = stats.retried,
        poison = stats.poison,
        released = stats.released
    );
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: &WorkerArgs, env: ProcessorEnv) -> anyhow::Result<WorkerStats> {
    let sdk = config::from_env().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker_name =
        std::env::var("HOSTNAME").unwrap_or_else(|_| format!("worker-{}", std::process::id()));
    let limits = Limits {
        max_work_duration_ms: args.max_work_ms,
        ..Limits::default()
    };
    // Batched PutMetricData, flushed every 10 s and at shutdown.
    let (metrics, _flusher) = CloudWatchSink::start(
        aws_sdk_cloudwatch::Client::new(&sdk),
        Duration::from_secs(10),
    );
    let metrics = Arc::new(metrics);
    let Wired {
        processor,
        incoming,
        dlq,
    } = wire(&sdk, &env, worker_name, limits, metrics.clone(), clock)
        .context("cannot open the data bucket")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated => {}
        }
        tracing::info!(event = "stopping", reason = "signal");
        let _ = stop_tx.send(true);
    });
    let config = WorkerConfig {
        batch_size: env.batch_size,
        wait: Duration::from_secs(20),
        visibility_extension: Some(Duration::from_secs(args.visibility_timeout.max(1))),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        log_jobs: true,
    };
    tracing::info!(
        event = "worker_started",
        incoming = env.incoming_queue_url.as_str(),
        concurrency = args.concurrency,
        test_run_id = env.test_run_id.as_str()
    );
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        tasks.push(tokio::spawn(run_worker(
            Arc::clone(&processor),
            Arc::clone(&incoming),
            Some(Arc::clone(&dlq)),
            config,
            stop_rx.clone(),
        )));
    }
    let mut total = WorkerStats::default();
    let metrics_flush = metrics;
    for t in tasks {
        let s = t.await?;
        total.completed += s.completed;
        total.failed += s.failed;
        total.retried += s.retried;
        total.poison += s.poison;
        total.receive_errors += s.receive_errors;
        total.released += s.released;
    }
    metrics_flush.flush_and_wait().await;
    Ok(total)
}
