//! The Lambda `bootstrap` (provided.al2023): wires the processor from the
//! function's environment once per cold start, then serves SQS events.
//! Logs are JSON lines; metrics are EMF lines on standard output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::metrics::EmfSink;
use dagbench_aws::{config, wiring};
use dagbench_core::message::Limits;
use dagbench_runtime::ports::{Clock, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    dagbench_runtime::logs::init_json_logs();
    let env = ProcessorEnv::from_env()?;
    let sdk = config::from_env().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The function's timeout bounds the simulated work (minus a margin).
    let timeout_ms = std::env::var("FUNCTION_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let worker = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "lambda".into());
    let wired = Arc::new(wiring::wire(
        &sdk,
        &env,
        worker,
        Limits::for_timeout_ms(timeout_ms),
        Arc::new(EmfSink::stdout(Arc::clone(&clock))),
        clock,
    )?);
    tracing::info!(
        event = "cold_start",
        init_ms = started.elapsed().as_secs_f64() * 1e3,
        test_run_id = env.test_run_id.as_str()
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let wired = Arc::clone(&wired);
        async move {
            let records = event.payload.records.len();
            // Jobs are claimed for what is left of the invocation (the
            // configured timeout where the deadline says nothing sensible).
            let now = SystemClock.now().unix_millis();
            let left = u64::try_from(event.context.deadline as i64 - now)
                .ok()
                .filter(|&ms| ms > 0 && ms <= 900_000)
                .unwrap_or(timeout_ms);
            let (response, outcome): (SqsBatchResponse, _) =
                dagbench_lambda::handle(&wired, event.payload, Duration::from_millis(left)).await;
            tracing::info!(
                event = "invocation",
                request_id = event.context.request_id.as_str(),
                records,
                completed = outcome.completed,
                failed = outcome.failed,
                retried = outcome.retried,
                poison = outcome.poison
            );
            Ok::<_, Error>(response)
        }
    }))
    .await
}
