//! `dagbench bench local|efficiency|scale`: the local runtime measured
//! against baselines run in the same process.
//!
//! - `local`: synthetic independent jobs, 0 ms work, 1 KiB outputs, all
//!   persisted (queue, ledger, output object, completion), against a raw
//!   loop that only writes the same output objects and ledger rows with the
//!   same concurrency.
//! - `efficiency`: a layered graph of 50 ms jobs, makespan against the
//!   lower bound `max(critical path, work / workers)`.
//! - `scale`: a million-job graph end to end: wall time and peak RSS.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use dagbench_core::graph::shapes::{self, Shape, ShapeSpec};
use dagbench_core::ids::{JobId, RunId};
use dagbench_local::SqliteLedger;
use dagbench_run::{RunRequest, Settings, Start, Workload};
use dagbench_runtime::ports::{Clock as _, Finished, JobLedger, SystemClock};
use dagbench_runtime::processor::{WorkMode, output_object};
use dagbench_store::RunStore;
use serde::Serialize;
use tokio::sync::watch;

use crate::output::{rate, thousands};

#[derive(Debug, Args)]
pub(crate) struct LocalArgs {
    /// Jobs of the synthetic graph [default: 100,000; efficiency 1,000; scale 1,000,000].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_JOBS)))]
    jobs: Option<u32>,
    /// Concurrent processors [default: 64; scale 128].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_WORKERS)))]
    workers: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Where the run's files go [default: /dev/shm when it is a tmpfs, so
    /// the figure measures the runtime rather than this disk; else the
    /// system temp dir].
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct LocalReport {
    bench: &'static str,
    jobs: u64,
    workers: u64,
    per_sec: f64,
    baseline: String,
    baseline_per_sec: Option<f64>,
    ratio: Option<f64>,
    wall_s: f64,
    makespan_ms: f64,
    lower_bound_ms: f64,
    efficiency: Option<f64>,
    peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Profile {
    Throughput,
    Efficiency,
    Scale,
}

pub(crate) fn run(args: &LocalArgs, profile: Profile) -> anyhow::Result<ExitCode> {
    // The runtime `dagbench run` uses.
    crate::rt::run_multi_thread(run_async(args, profile))?
}

async fn run_async(args: &LocalArgs, profile: Profile) -> anyhow::Result<ExitCode> {
    let (jobs, workers, shape, work_ms, data_kb) = match profile {
        Profile::Throughput => (
            args.jobs.unwrap_or(100_000),
            args.workers.unwrap_or(64),
            "independent",
            0,
            1,
        ),
        Profile::Efficiency => (
            args.jobs.unwrap_or(1_000),
            args.workers.unwrap_or(64),
            "layered",
            50,
            0,
        ),
        Profile::Scale => (
            args.jobs.unwrap_or(1_000_000),
            args.workers.unwrap_or(128),
            "layered",
            0,
            0,
        ),
    };
    crate::bounds::check_memory(
        dagbench_run::workload::bytes_per_job() * u64::from(jobs),
        &format!("--jobs {jobs}"),
    )?;
    let say = |msg: String| {
        if !args.json {
            errln!("{msg}");
        }
    };
    let spec = ShapeSpec {
        shape: Shape::named(shape, jobs).expect("a synthetic shape"),
        jobs,
        seed: 1,
        work_duration_ms: work_ms,
        data_size_kb: data_kb,
    };
    let graph = Arc::new(shapes::generate(&spec));
    let shm = std::path::Path::new("/dev/shm");
    let base = args
        .dir
        .clone()
        .or_else(|| shm.is_dir().then(|| shm.to_path_buf()));
    let dir = crate::bench::tempdir_in(base.as_deref())?;
    let mut request = RunRequest::new(
        dir.path().join("results"),
        Workload::Graph(Arc::clone(&graph)),
    );
    request.start = Start::New {
        run_id: Some(RunId::new("bench")?),
        test_run_id: "bench".into(),
        workload: Workload::Graph(Arc::clone(&graph)),
    };
    request.settings = Settings {
        workers: Some(workers as usize),
        work_mode: Some(WorkMode::Sleep),
        visibility_timeout: Some(Duration::from_secs(300)),
        max_receive_count: Some(3),
        ..Settings::default()
    };
    say(format!(
        "running {} {shape} jobs ({work_ms} ms work, {data_kb} KiB output) with {workers} workers in {}…",
        thousands(u64::from(jobs)),
        dir.path().display()
    ));
    let prepared = dagbench_run::prepare(request).await?.ready()?;
    let (_stop, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let run = prepared.execute(stop_rx, &mut |_| {}).await?;
    let wall = started.elapsed();
    let report = &run.report;
    if report.counts.completed != u64::from(jobs) {
        anyhow::bail!(
            "the run completed {} of {jobs} jobs ({:?})",
            report.counts.completed,
            report.status
        );
    }
    let per_sec = f64::from(jobs) / wall.as_secs_f64();
    let (baseline, baseline_per_sec) = match profile {
        Profile::Throughput => {
            say(
                "running the raw loop (the same output objects and ledger rows, nothing else)…"
                    .into(),
            );
            let raw = raw_loop(&dir.path().join("raw"), jobs, workers as usize, data_kb).await?;
            (
                "raw loop: output object + ledger row per job, same concurrency".to_owned(),
                Some(raw),
            )
        }
        Profile::Efficiency => (
            "lower bound max(critical path, total work / workers)".to_owned(),
            Some(report.lower_bound_ms),
        ),
        Profile::Scale => ("none".to_owned(), None),
    };
    let ratio = match profile {
        Profile::Throughput => baseline_per_sec.map(|b| per_sec / b),
        Profile::Efficiency => report.efficiency,
        Profile::Scale => None,
    };
    let out = LocalReport {
        bench: match profile {
            Profile::Throughput => "local",
            Profile::Efficiency => "efficiency",
            Profile::Scale => "scale",
        },
        jobs: u64::from(jobs),
        workers: u64::from(workers),
        per_sec,
        baseline,
        baseline_per_sec,
        ratio,
        wall_s: wall.as_secs_f64(),
        makespan_ms: report.makespan_ms,
        lower_bound_ms: report.lower_bound_ms,
        efficiency: report.efficiency,
        peak_rss_bytes: crate::bench::peak_resident_bytes(),
    };
    if args.json {
        outln!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "bench {}: {} {shape} jobs, {workers} workers, wall {:.2} s",
        out.bench,
        thousands(out.jobs),
        out.wall_s
    );
    outln!("  throughput    {} jobs", rate(per_sec));
    match profile {
        Profile::Throughput => {
            if let (Some(b), Some(r)) = (baseline_per_sec, ratio) {
                outln!(
                    "  raw loop      {} jobs (objects + ledger rows only)",
                    rate(b)
                );
                outln!("  ratio         {:.0} % of the raw loop", r * 100.0);
            }
        }
        Profile::Efficiency => outln!(
            "  makespan      {:.0} ms against a lower bound of {:.0} ms: efficiency {:.3}",
            out.makespan_ms,
            out.lower_bound_ms,
            out.efficiency.unwrap_or(0.0)
        ),
        Profile::Scale => {}
    }
    if let Some(rss) = out.peak_rss_bytes {
        outln!("  peak RSS      {:.0} MB", rss as f64 / 1e6);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `jobs` output objects and ledger rows with `workers` concurrent
/// tasks, nothing else; returns jobs per second.
async fn raw_loop(
    root: &std::path::Path,
    jobs: u32,
    workers: usize,
    data_kb: u32,
) -> anyhow::Result<f64> {
    let store = RunStore::local(root)?;
    let ledger = Arc::new(SqliteLedger::open(&root.join("ledger.sqlite"))?);
    let run = RunId::new("raw")?;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (store, ledger, run, next) = (
            store.clone(),
            Arc::clone(&ledger),
            run.clone(),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= u64::from(jobs) {
                    return anyhow::Ok(());
                }
                let job = JobId::new(format!("j{i}"))?;
                let at = SystemClock.now();
                let key = store
                    .put_output(&job, at, output_object(&job, u64::from(data_kb), None))
                    .await?;
                let finished = Finished {
                    completed_at: at,
                    processing_time_ms: 0.0,
                    worker: "raw".into(),
                    outcome: Ok(key.to_string()),
                };
                ledger.record_finished(&run, &job, &finished).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(f64::from(jobs) / started.elapsed().as_secs_f64())
}
