//! `dagbench bench simulate`: the simulator against the runs it predicts.
//!
//! - **Validation**: for each shape, real local runs at several worker
//!   counts (after a warm-up run; the faster of two runs per size); the
//!   first is the profile (`simulate --profile`), the others are predicted
//!   from it and compared with what they measured.
//! - **Speed**: a 200,000-job graph simulated (fastest of three) against
//!   the real local run of the same graph (the baseline; the ratio is how
//!   many times faster the prediction is than the run it predicts).
//! - **Memory**: a 1,000,000-job graph simulated: wall time and the peak
//!   resident memory it added.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use dagbench_core::graph::shapes::{self, Shape, ShapeSpec};
use dagbench_core::{JobGraph, RunId, Scenario};
use dagbench_report::run::RunFiles;
use dagbench_report::simulate::{Profile, Request, predict};
use dagbench_run::workload::AircraftWorkload;
use dagbench_run::{RunRequest, Settings, Start, Workload};
use dagbench_runtime::processor::WorkMode;
use serde::Serialize;
use tokio::sync::watch;

use crate::output::thousands;

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Small sizes (under a minute; for tests): 80-job shapes, a
    /// 20,000-job speed graph, no million-job graph.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One prediction checked against its run.
#[derive(Debug, Serialize)]
struct Check {
    shape: String,
    workers: u64,
    /// The run the profile came from (its prediction is its calibration).
    profile: bool,
    measured_ms: f64,
    predicted_ms: f64,
    error: f64,
}

#[derive(Debug, Serialize)]
struct SimReport {
    bench: &'static str,
    checks: Vec<Check>,
    /// Largest |error| over the predicted (not profiled) runs.
    max_abs_error: f64,
    speed_jobs: u64,
    /// Jobs simulated per second.
    per_sec: f64,
    baseline: String,
    baseline_per_sec: f64,
    /// How many times faster the prediction is than the run.
    ratio: f64,
    sim_ms: f64,
    run_ms: f64,
    million_sim_s: Option<f64>,
    million_added_rss_bytes: Option<u64>,
}

pub(crate) fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    crate::rt::run_multi_thread(run_async(args))?
}

/// Runs `graph` locally with `workers` (sleep work) in a scratch directory.
async fn real_run(
    graph: &Arc<JobGraph>,
    workload: Workload,
    workers: u64,
    id: &str,
) -> anyhow::Result<RunFiles> {
    let shm = std::path::Path::new("/dev/shm");
    let dir = crate::bench::tempdir_in(shm.is_dir().then_some(shm))?;
    let mut request = RunRequest::new(dir.path().join("results"), workload.clone());
    request.start = Start::New {
        run_id: Some(RunId::new(id)?),
        test_run_id: "bench".into(),
        workload,
    };
    request.settings = Settings {
        workers: Some(usize::try_from(workers)?),
        work_mode: Some(WorkMode::Sleep),
        visibility_timeout: Some(Duration::from_secs(300)),
        ..Settings::default()
    };
    let prepared = dagbench_run::prepare(request).await?.ready()?;
    let (_stop, stop_rx) = watch::channel(false);
    let run = prepared.execute(stop_rx, &mut |_| {}).await?;
    if run.report.counts.completed != graph.len() as u64 {
        anyhow::bail!(
            "the {id} run completed {} of {} jobs",
            run.report.counts.completed,
            graph.len()
        );
    }
    // Read back while the directory exists (it goes with `dir`).
    let mut files = RunFiles::with_report(&run.run_dir, run.report.clone())?;
    files.dir = std::path::PathBuf::new();
    Ok(files)
}

fn request<'a>(
    graph: &Arc<JobGraph>,
    workers: u64,
    profile: Option<&'a Profile>,
    config: &'a dagbench_infra::Config,
    table: &'a dagbench_report::cost::PriceTable,
) -> Request<'a> {
    Request {
        graph: Arc::clone(graph),
        scenarios: vec![Scenario::Local],
        workers: vec![workers],
        profile,
        profiled: profile.map(|_| Scenario::Local),
        seed: 1,
        cores: crate::simulate_cmd::cores(),
        config,
        region: "us-east-1",
        table,
    }
}

async fn run_async(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let say = |msg: String| {
        if !args.json {
            errln!("{msg}");
        }
    };
    let config = dagbench_infra::Config::default();
    let table = dagbench_report::cost::PriceTable::bundled();
    let (jobs, sequences) = if args.quick { (80, 10) } else { (400, 100) };
    let synthetic = |shape: Shape| ShapeSpec {
        shape,
        jobs,
        seed: 1,
        work_duration_ms: 20,
        data_size_kb: 0,
    };
    let shapes: Vec<(String, Workload, Vec<u64>)> = vec![
        (
            format!("layered, {jobs} jobs of 20 ms"),
            Workload::Synthetic(synthetic(Shape::named("layered", jobs).expect("a shape"))),
            vec![4, 8, 16, 32],
        ),
        (
            format!("chains of 10, {jobs} jobs of 20 ms"),
            Workload::Synthetic(synthetic(Shape::Chains { length: 10 })),
            vec![4, 8, 16, 32],
        ),
        (
            format!("aircraft, {sequences} sequences (CPU-bound)"),
            Workload::Aircraft(AircraftWorkload {
                sequences,
                ..AircraftWorkload::default()
            }),
            vec![1, 2, 4],
        ),
    ];
    // The million-job simulation first: the peak it adds is its own.
    let (million_sim_s, million_added_rss_bytes) = if args.quick {
        (None, None)
    } else {
        say("simulating a 1,000,000-job layered graph…".into());
        let before = crate::bench::peak_resident_bytes();
        let graph = Arc::new(shapes::generate(&ShapeSpec {
            shape: Shape::named("layered", 1_000_000).expect("a shape"),
            jobs: 1_000_000,
            seed: 1,
            work_duration_ms: 10,
            data_size_kb: 0,
        }));
        let started = Instant::now();
        predict(&request(&graph, 64, None, &config, &table))?;
        let s = started.elapsed().as_secs_f64();
        let after = crate::bench::peak_resident_bytes();
        (Some(s), after.zip(before).map(|(a, b)| a.saturating_sub(b)))
    };
    let mut checks = Vec::new();
    for (name, workload, workers) in shapes {
        let graph = workload.build(&RunId::new("bench")?)?.graph;
        let mut profile = None;
        // A first run warms caches and the allocator up; not measured.
        real_run(&graph, workload.clone(), workers[0], "warm-up").await?;
        for &w in &workers {
            say(format!(
                "{name}: running with {w} workers (twice; the faster counts)…"
            ));
            let a = real_run(&graph, workload.clone(), w, &format!("w{w}a")).await?;
            let b = real_run(&graph, workload.clone(), w, &format!("w{w}b")).await?;
            let run = if a.report.makespan_ms <= b.report.makespan_ms {
                a
            } else {
                b
            };
            if profile.is_none() {
                profile = Some(
                    Profile::from_run(&run, &graph, crate::simulate_cmd::cores())
                        .map_err(anyhow::Error::msg)?,
                );
            }
            let predicted = predict(&request(&graph, w, profile.as_ref(), &config, &table))?;
            let predicted_ms = predicted.first().map_or(0.0, |p| p.makespan_ms);
            let measured_ms = run.report.makespan_ms;
            checks.push(Check {
                shape: name.clone(),
                workers: w,
                profile: w == workers[0],
                measured_ms,
                predicted_ms,
                error: predicted_ms / measured_ms - 1.0,
            });
        }
    }
    let speed_jobs: u32 = if args.quick { 20_000 } else { 200_000 };
    say(format!(
        "speed: simulating, then running, {} independent jobs with 64 workers…",
        thousands(u64::from(speed_jobs))
    ));
    let spec = ShapeSpec {
        shape: Shape::Independent,
        jobs: speed_jobs,
        seed: 1,
        work_duration_ms: 0,
        data_size_kb: 0,
    };
    let graph = Arc::new(shapes::generate(&spec));
    // Three timed simulations; the fastest counts (as in `bench scheduler`).
    let mut sim_ms = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        predict(&request(&graph, 64, None, &config, &table))?;
        sim_ms = sim_ms.min(started.elapsed().as_secs_f64() * 1e3);
    }
    let started = Instant::now();
    real_run(&graph, Workload::Synthetic(spec), 64, "speed").await?;
    let run_ms = started.elapsed().as_secs_f64() * 1e3;
    let max_abs_error = checks
        .iter()
        .filter(|c| !c.profile)
        .map(|c| c.error.abs())
        .fold(0.0, f64::max);
    let out = SimReport {
        bench: "simulate",
        max_abs_error,
        speed_jobs: u64::from(speed_jobs),
        per_sec: f64::from(speed_jobs) / (sim_ms / 1e3),
        baseline: format!(
            "the local run of the same {} jobs (64 workers)",
            thousands(u64::from(speed_jobs))
        ),
        baseline_per_sec: f64::from(speed_jobs) / (run_ms / 1e3),
        ratio: run_ms / sim_ms,
        sim_ms,
        run_ms,
        million_sim_s,
        million_added_rss_bytes,
        checks,
    };
    if args.json {
        outln!("{}", serde_json::to_string(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("bench simulate: predictions of local runs, calibrated on the first size of each shape");
    outln!(
        "  {:<36} {:>7} {:>12} {:>12} {:>8}",
        "shape",
        "workers",
        "measured",
        "predicted",
        "error"
    );
    for c in &out.checks {
        outln!(
            "  {:<36} {:>7} {:>9.0} ms {:>9.0} ms {:>+7.1}%{}",
            c.shape,
            c.workers,
            c.measured_ms,
            c.predicted_ms,
            c.error * 100.0,
            if c.profile { "  (profile)" } else { "" }
        );
    }
    outln!(
        "  largest error of a prediction: {:.1} %",
        out.max_abs_error * 100.0
    );
    outln!(
        "  speed: {} jobs simulated in {:.0} ms, run in {:.0} ms: {:.0}× faster than the run",
        thousands(out.speed_jobs),
        out.sim_ms,
        out.run_ms,
        out.ratio
    );
    if let Some(s) = out.million_sim_s {
        outln!(
            "  1,000,000 jobs simulated in {s:.1} s, adding {} to the peak resident memory",
            out.million_added_rss_bytes
                .map_or("an unknown amount".to_owned(), |b| format!(
                    "{:.0} MB",
                    b as f64 / 1e6
                ))
        );
    }
    Ok(ExitCode::SUCCESS)
}
