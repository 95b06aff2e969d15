//! The Lambda `bootstrap` (provided.al2023): wires the processor from the
//! function's environment once per cold start, then serves SQS events
//! (Scenarios 1 and 3 `sqs`) and direct invocations whose payload is one
//! job message (Scenario 3 `lambda`, answered with the completion).
//! Logs are JSON lines; metrics are EMF lines on standard output.
//!
//! Besides the processor's variables it reads `FUNCTION_TIMEOUT_MS` (the
//! function's timeout, which Lambda does not publish; the template sets
//! it; unset, each invocation's deadline stands for it), `JOB_CONCURRENCY`
//! (jobs one invocation runs at once; default from the memory and the
//! open-file limit, see `dagbench_lambda::default_concurrency`) and
//! Lambda's own `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::metrics::EmfSink;
use dagbench_aws::{config, wiring};
use dagbench_core::message::Limits;
use dagbench_lambda::{Budget, default_concurrency, max_work, time_left};
use dagbench_runtime::ports::{Clock, SystemClock};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};

/// Lambda's longest timeout.
const MAX_TIMEOUT: Duration = Duration::from_secs(900);

fn number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, Error> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            format!("environment variable {name} is {v:?}: not a whole number").into()
        }),
    }
}

/// The soft limit on open files (Lambda's is 1,024), from
/// `/proc/self/limits`; 1,024 where that cannot be read.
fn open_files() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| dagbench_lambda::soft_open_files(&text))
        .unwrap_or(1024)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    dagbench_runtime::logs::init_json_logs();
    let env = ProcessorEnv::from_env()?;
    let sdk = config::from_env().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let configured =
        number::<u64>("FUNCTION_TIMEOUT_MS")?.map(|ms| Duration::from_millis(ms).min(MAX_TIMEOUT));
    let memory_mb = number::<u32>("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")?.unwrap_or(128);
    let open_files = open_files();
    let concurrency = match number::<usize>("JOB_CONCURRENCY")? {
        Some(n) if n >= 1 => n,
        Some(_) => return Err("environment variable JOB_CONCURRENCY must be at least 1".into()),
        None => default_concurrency(memory_mb, open_files),
    };
    let worker = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "lambda".into());
    let limits = Limits {
        max_work_duration_ms: max_work(configured.unwrap_or(MAX_TIMEOUT)).as_millis() as u64,
        ..Limits::default()
    };
    let wired = Arc::new(wiring::wire(
        &sdk,
        &env,
        worker,
        limits,
        Arc::new(EmfSink::stdout(Arc::clone(&clock))),
        clock,
    )?);
    tracing::info!(
        event = "cold_start",
        init_ms = started.elapsed().as_secs_f64() * 1e3,
        test_run_id = env.test_run_id.as_str(),
        timeout_ms = configured.map(|t| t.as_millis() as u64),
        concurrency,
        memory_mb,
        open_files
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let wired = Arc::clone(&wired);
        async move {
            let (payload, context) = event.into_parts();
            let now = SystemClock.now().unix_millis();
            let deadline = i64::try_from(context.deadline).unwrap_or(i64::MAX);
            // Without a configured timeout, the deadline stands for it.
            let timeout = configured.unwrap_or_else(|| {
                Duration::from_millis(deadline.saturating_sub(now).clamp(1, 900_000) as u64)
            });
            let (left, note) = time_left(deadline, now, timeout);
            if let Some(note) = note {
                tracing::warn!(event = "deadline", note);
            }
            let budget = Budget {
                timeout,
                deadline: tokio::time::Instant::now() + left,
                concurrency,
                memory_mb: (memory_mb / 2).max(1),
            };
            // An SQS event from the event source mapping, or one job
            // message from Step Functions' lambda:invoke (Scenario 3).
            if payload.get("Records").is_none() {
                let answer = dagbench_lambda::invoke(&wired, payload, &budget).await;
                tracing::info!(
                    event = "invocation",
                    request_id = context.request_id.as_str(),
                    direct = true,
                    error = answer.as_ref().err().map(|e| e.error_type.as_str()),
                    left_ms = left.as_millis() as u64
                );
                return answer.map_err(|e| Diagnostic {
                    error_type: e.error_type,
                    error_message: e.message,
                });
            }
            let event: SqsEvent = serde_json::from_value(payload).map_err(|e| Diagnostic {
                error_type: "dagbench.InvalidEvent".into(),
                error_message: format!("not an SQS event: {e}"),
            })?;
            let records = event.records.len();
            let (response, outcome): (SqsBatchResponse, _) =
                dagbench_lambda::handle(&wired, event, &budget).await;
            tracing::info!(
                event = "invocation",
                request_id = context.request_id.as_str(),
                records,
                completed = outcome.completed,
                failed = outcome.failed,
                retried = outcome.retried,
                poison = outcome.poison,
                deferred = outcome.deferred,
                abandoned = outcome.abandoned,
                left_ms = left.as_millis() as u64
            );
            Ok::<_, Diagnostic>(serde_json::to_value(response).unwrap_or_default())
        }
    }))
    .await
}
