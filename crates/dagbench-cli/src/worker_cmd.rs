//! `dagbench worker`: the Scenario 2 processor (an ECS Fargate task), one
//! call of `dagbench_aws::worker::serve` with the binary's shutdown signal:
//! on SIGTERM/SIGINT no new receives, the jobs in hand get
//! `--shutdown-grace` seconds, the rest are released for other tasks, exit 0.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::worker::{WorkerOptions, serve};

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Jobs processed at once (each a polling loop).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// The incoming queue's visibility timeout, seconds: running jobs are
    /// extended by this much every half of it.
    #[arg(long = "visibility-timeout", default_value_t = 360, value_parser = clap::value_parser!(u64).range(1..=43_200))]
    visibility_timeout: u64,
    /// Seconds the jobs in hand may run after SIGTERM (ECS waits 30).
    #[arg(long = "shutdown-grace", default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    shutdown_grace: u64,
    /// Longest simulated work accepted, ms.
    #[arg(long = "max-work-ms", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=43_200_000))]
    max_work_ms: u64,
}

pub(crate) fn run(args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let env = ProcessorEnv::from_env()?;
    env.receive_batch()?;
    dagbench_runtime::logs::init_json_logs();
    let options = WorkerOptions {
        concurrency: args.concurrency as usize,
        visibility_timeout: Duration::from_secs(args.visibility_timeout),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        max_work_ms: args.max_work_ms,
        name: std::env::var("HOSTNAME")
            .unwrap_or_else(|_| format!("worker-{}", std::process::id())),
    };
    let stats = crate::rt::run_multi_thread(serve(&env, &options, crate::rt::shutdown_signal()))??;
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
