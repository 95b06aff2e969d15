//! `dagbench bench scheduler-io`: the real scheduler driver and state
//! machine against in-memory queues that answer every call only after a
//! given latency (SQS is 10–20 ms a call), with the processors replaced by
//! an instant echo on the far side of the queues — so only the scheduler is
//! measured. The baseline, run in the same process, is the same driver
//! with one call of each kind in flight (a serial loop's shape).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use dagbench_core::graph::shapes::{self, Shape, ShapeSpec};
use dagbench_core::key::ObjectKey;
use dagbench_core::message::{Completion, JobMessage, Limits, Outcome};
use dagbench_core::{RunId, Scheduler};
use dagbench_local::MemoryQueue;
use dagbench_local::latency::{CallGauge, LatencyQueue};
use dagbench_runtime::driver::{Concurrency, DriverConfig, Queues, RunStatus, drive};
use dagbench_runtime::ports::{Clock as _, JobQueue, MAX_BATCH, SystemClock};
use serde::Serialize;
use tokio::sync::watch;

use crate::output::thousands;

#[derive(Debug, Args)]
pub(crate) struct IoArgs {
    /// Latency of every queue call, ms.
    #[arg(long = "latency-ms", default_value_t = 15.0, value_parser = crate::bounds::latency_ms)]
    latency_ms: f64,
    /// Extra latency per call, uniform in 0..=this, ms.
    #[arg(long = "jitter-ms", default_value_t = 0.0, value_parser = crate::bounds::latency_ms)]
    jitter_ms: f64,
    /// Independent jobs run through the driver.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    jobs: u32,
    /// Jobs of the serial baseline (it is slow by design) [default: enough
    /// for about 10 s at the latency given, 200..=20,000].
    #[arg(long = "baseline-jobs", value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    baseline_jobs: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct IoReport {
    bench: &'static str,
    jobs: u64,
    latency_ms: f64,
    jitter_ms: f64,
    /// Jobs per second through the scheduler (first send to last completion).
    per_sec: f64,
    /// The most queue calls in flight at once.
    peak_in_flight_calls: usize,
    /// Queue calls made.
    calls: u64,
    /// CPU time of the whole process (driver, echo and queues), seconds.
    cpu_seconds: Option<f64>,
    cpu_us_per_job: Option<f64>,
    baseline: String,
    baseline_jobs: u64,
    baseline_per_sec: f64,
    ratio: f64,
}

/// What one driver run measured.
struct Measured {
    per_sec: f64,
    peak: usize,
    calls: u64,
    cpu_seconds: Option<f64>,
}

pub(crate) fn run(args: &IoArgs) -> anyhow::Result<ExitCode> {
    if !(args.latency_ms.is_finite() && args.latency_ms >= 0.0 && args.latency_ms <= 10_000.0) {
        anyhow::bail!(
            "--latency-ms must be within 0..=10000, got {}",
            args.latency_ms
        );
    }
    if !(args.jitter_ms.is_finite() && args.jitter_ms >= 0.0 && args.jitter_ms <= 10_000.0) {
        anyhow::bail!(
            "--jitter-ms must be within 0..=10000, got {}",
            args.jitter_ms
        );
    }
    let latency = Duration::from_secs_f64(args.latency_ms / 1e3);
    let jitter = Duration::from_secs_f64(args.jitter_ms / 1e3);
    // A serial loop gets ~10 jobs per three calls' latency: size it to ~10 s.
    let baseline_jobs = args.baseline_jobs.unwrap_or_else(|| {
        let per_sec = 10.0 / (3.0 * (args.latency_ms + args.jitter_ms / 2.0).max(0.05) / 1e3);
        ((per_sec * 10.0) as u32).clamp(200, 20_000)
    });
    let say = |msg: String| {
        if !args.json {
            errln!("{msg}");
        }
    };
    let runtime = crate::rt::multi_thread()?;
    say(format!(
        "driving {} jobs through queues of {} ms a call (+ up to {} ms jitter)…",
        thousands(u64::from(args.jobs)),
        args.latency_ms,
        args.jitter_ms
    ));
    let ours = runtime.block_on(measure(args.jobs, latency, jitter, Concurrency::REMOTE))?;
    say(format!(
        "baseline: {} jobs with one call of each kind in flight…",
        thousands(u64::from(baseline_jobs))
    ));
    let serial = runtime.block_on(measure(baseline_jobs, latency, jitter, Concurrency::SERIAL))?;
    let report = IoReport {
        bench: "scheduler-io",
        jobs: u64::from(args.jobs),
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        per_sec: ours.per_sec,
        peak_in_flight_calls: ours.peak,
        calls: ours.calls,
        cpu_seconds: ours.cpu_seconds,
        cpu_us_per_job: ours.cpu_seconds.map(|s| s * 1e6 / f64::from(args.jobs)),
        baseline: "the same driver with one send, one receive and one delete in flight".into(),
        baseline_jobs: u64::from(baseline_jobs),
        baseline_per_sec: serial.per_sec,
        ratio: ours.per_sec / serial.per_sec.max(f64::MIN_POSITIVE),
    };
    if args.json {
        outln!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "bench scheduler-io: {} jobs, {} ms per queue call",
        thousands(report.jobs),
        report.latency_ms
    );
    outln!(
        "  driver        {} jobs/s  (peak {} calls in flight, {} calls)",
        thousands(report.per_sec.round() as u64),
        report.peak_in_flight_calls,
        thousands(report.calls)
    );
    if let (Some(cpu), Some(per_job)) = (report.cpu_seconds, report.cpu_us_per_job) {
        outln!("  cpu           {cpu:.2} s ({per_job:.1} µs per job, echo and queues included)");
    }
    outln!(
        "  serial        {} jobs/s  ({} jobs, one call of each kind in flight)",
        thousands(report.baseline_per_sec.round() as u64),
        thousands(report.baseline_jobs)
    );
    outln!("  ratio         {:.1}×", report.ratio);
    Ok(ExitCode::SUCCESS)
}

/// One run of `jobs` independent jobs through the driver with `concurrency`.
async fn measure(
    jobs: u32,
    latency: Duration,
    jitter: Duration,
    concurrency: Concurrency,
) -> anyhow::Result<Measured> {
    let visibility = Duration::from_secs(300);
    let raw_incoming = Arc::new(MemoryQueue::new("incoming", visibility));
    let raw_outgoing = Arc::new(MemoryQueue::new("outgoing", visibility));
    let gauge = Arc::new(CallGauge::default());
    let slow = |q: Arc<MemoryQueue>| -> Arc<dyn JobQueue> {
        Arc::new(LatencyQueue::new(q, latency, jitter, Arc::clone(&gauge)))
    };
    let queues = Queues {
        incoming: slow(raw_incoming.clone()),
        outgoing: slow(raw_outgoing.clone()),
        dlq: slow(Arc::new(MemoryQueue::new("dlq", visibility))),
    };
    let (stop_echo, echo_stop) = watch::channel(false);
    let echoes: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(echo(
                raw_incoming.clone(),
                raw_outgoing.clone(),
                echo_stop.clone(),
            ))
        })
        .collect();
    let graph = Arc::new(shapes::generate(&ShapeSpec {
        shape: Shape::Independent,
        jobs,
        seed: 1,
        work_duration_ms: 0,
        data_size_kb: 0,
    }));
    let mut config = DriverConfig::new(RunId::new("scheduler-io")?);
    config.concurrency = concurrency;
    config.stall_timeout = Duration::from_secs(60);
    let (_stop, stop_rx) = watch::channel(false);
    let cpu_before = cpu_seconds();
    let outcome = drive(
        Scheduler::new(graph),
        &queues,
        Arc::new(SystemClock),
        &config,
        stop_rx,
        &mut |_| {},
    )
    .await;
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let _ = stop_echo.send(true);
    for e in echoes {
        let _ = e.await;
    }
    if outcome.status != RunStatus::Completed {
        anyhow::bail!(
            "the driver ended {} with {:?}",
            outcome.status.as_str(),
            outcome.progress
        );
    }
    let last = outcome
        .timeline
        .observed
        .iter()
        .copied()
        .max()
        .unwrap_or(outcome.ended_at);
    let makespan_s = ((last - outcome.started_at) as f64 / 1e3).max(1e-3);
    Ok(Measured {
        per_sec: f64::from(jobs) / makespan_s,
        peak: gauge.peak(),
        calls: gauge.calls(),
        cpu_seconds: cpu,
    })
}

/// The far side of the queues, without latency: every job message is
/// answered with its completion at once.
async fn echo(
    incoming: Arc<MemoryQueue>,
    outgoing: Arc<MemoryQueue>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = Limits::default();
    let clock = SystemClock;
    loop {
        let got = tokio::select! {
            r = incoming.receive(MAX_BATCH, Duration::from_millis(200)) => r,
            _ = stop.changed() => return,
        };
        let Ok(messages) = got else { continue };
        if messages.is_empty() {
            if *stop.borrow() {
                return;
            }
            continue;
        }
        let now = clock.now();
        let completions: Vec<String> = messages
            .iter()
            .filter_map(|m| JobMessage::parse(m.body.as_bytes(), &limits).ok())
            .map(|job| {
                Completion {
                    outcome: Outcome::Completed {
                        output_key: ObjectKey::new(format!("output/{}.json", job.job_id))
                            .expect("a valid key"),
                    },
                    job_id: job.job_id,
                    processing_time_ms: 0.0,
                    completed_at: now,
                    test_run_id: "scheduler-io".into(),
                    started_at: Some(now),
                    worker: None,
                    attempt: Some(1),
                    run_id: job.run_id,
                    fatal: false,
                    calls: dagbench_core::calls::Calls::default(),
                    released_at: None,
                }
                .to_json()
            })
            .collect();
        let _ = outgoing.send_batch(&completions).await;
        let receipts: Vec<String> = messages.into_iter().map(|m| m.receipt).collect();
        let _ = incoming.delete_batch(&receipts).await;
    }
}

/// User + system CPU time of this process, seconds (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}
