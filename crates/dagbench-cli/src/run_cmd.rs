//! `dagbench run`: the main job. Builds (or loads) a job graph, runs it on
//! this machine with the embedded backends, shows progress, and ends with a
//! summary and the paths of the results and of `report.json`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use dagbench_aws::env::ProcessorEnv;
use dagbench_aws::s3::{S3Location, run_store};
use dagbench_core::JobGraph;
use dagbench_core::Scheduler;
use dagbench_core::graph::shapes::{self, Shape, ShapeSpec};
use dagbench_core::ids::RunId;
use dagbench_core::scheduler::Progress;
use dagbench_flight::aircraft::{AircraftRun, build_aircraft_graph};
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};
use dagbench_local::run::{LocalConfig, Manifest, read_run_files, run_local, write_run_files};
use dagbench_runtime::driver::{DriverConfig, RunStatus, drive};
use dagbench_runtime::ports::{Clock as _, SystemClock};
use dagbench_runtime::processor::WorkMode;
use dagbench_runtime::report::RunReport;
use dagbench_runtime::report::{DomainSummary, ReportContext};
use dagbench_store::RunStore;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;

use crate::graph_cmd::{ShapeName, read_graph};
use crate::output::thousands;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WorkArg {
    /// Sleep for work_duration_ms.
    Sleep,
    /// Burn CPU for work_duration_ms.
    Cpu,
}

/// Where the jobs are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// This machine: embedded queue, SQLite ledger, local disk.
    Local,
    /// SQS → Lambda → S3 (+ DynamoDB).
    #[value(name = "1")]
    Lambda,
    /// SQS → ECS Fargate workers → S3 (+ DynamoDB).
    #[value(name = "2")]
    Fargate,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where jobs run: `local`, or a deployed stack, `1` (Lambda) or `2`
    /// (Fargate). The stack's queues, bucket and table come from the
    /// CloudFormation outputs of `scenario-N-{env}`, or, for stacks made
    /// elsewhere, from INCOMING_QUEUE_URL, OUTGOING_QUEUE_URL, DLQ_URL,
    /// BUCKET_NAME and TABLE_NAME when INCOMING_QUEUE_URL is set. AWS
    /// credentials and region come from the standard AWS environment.
    #[arg(long, value_enum, default_value = "local")]
    scenario: Scenario,
    /// With --scenario 1|2: the environment of the deployed stack.
    #[arg(long, env = "ENV", default_value = "dev")]
    env: String,
    #[command(flatten)]
    prices: crate::report_cmd::PriceArgs,
    /// Aircraft daily sequences of the default workload.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    sequences: u32,
    /// Monte Carlo samples per leg.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    samples: u32,
    /// Seed of the sequences, the delay model and synthetic shapes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Add crew connections between aircraft.
    #[arg(long)]
    crew: bool,
    /// Run this graph file instead of the aircraft workload.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["messages", "resume"])]
    graph: Option<PathBuf>,
    /// Run a synthetic graph of N jobs instead (see --shape).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "resume")]
    messages: Option<u32>,
    /// Shape of the synthetic graph of --messages.
    #[arg(long, value_enum, default_value = "independent", requires = "messages")]
    shape: ShapeName,
    /// Simulated work per synthetic job, ms.
    #[arg(long = "work-ms", default_value_t = 0)]
    work_ms: u32,
    /// Output object size per synthetic job, KiB.
    #[arg(long = "data-kb", default_value_t = 0)]
    data_kb: u32,
    /// How simulated work is done.
    #[arg(long, value_enum, default_value = "sleep")]
    work: WorkArg,
    /// Concurrent processors [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    workers: Option<u32>,
    /// Run id: the run's folder under --results [default: local-<UTC time>].
    #[arg(long = "run-id")]
    run_id: Option<RunId>,
    /// Tag of the run's completions and metrics (cost tracking in the cloud).
    #[arg(long = "test-run-id", env = "TEST_RUN_ID", default_value = "default")]
    test_run_id: String,
    /// Where results, ledgers and reports go.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Continue an interrupted run from its ledger; completed jobs are not recomputed.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<RunId>,
    /// End the run as stalled when nothing completes for this many seconds.
    #[arg(long = "stall-timeout", default_value_t = 120)]
    stall_timeout: u64,
    /// Seconds a delivered job stays invisible before redelivery.
    #[arg(long = "visibility-timeout", default_value_t = 60)]
    visibility_timeout: u64,
    /// Deliveries before a job goes to the dead-letter queue.
    #[arg(long = "max-receive-count", default_value_t = 3)]
    max_receive_count: u32,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    json: bool,
}

fn default_run_id(results: &std::path::Path) -> anyhow::Result<RunId> {
    let now = SystemClock.now().to_string(); // 2026-11-28T17:51:15.123Z
    let stamp: String = now[..19].chars().filter(char::is_ascii_digit).collect();
    let base = format!("local-{}-{}", &stamp[..8], &stamp[8..]);
    let mut candidate = base.clone();
    let mut n = 2;
    while results.join(&candidate).exists() {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    Ok(RunId::new(candidate)?)
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(2))
        .max_blocking_threads(blocking_threads())
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, cores))
}

async fn run_async(args: RunArgs, cores: usize) -> anyhow::Result<ExitCode> {
    let workers = args.workers.map_or(cores, |w| w as usize);
    let cloud = match args.scenario {
        Scenario::Local => None,
        Scenario::Lambda | Scenario::Fargate => {
            if args.resume.is_some() {
                bail!("--resume continues local runs only");
            }
            Some(stack_env(args.scenario, &args.env).await?)
        }
    };
    let (manifest, graph, resume) = match &args.resume {
        Some(run_id) => {
            let run_dir = args.results.join(run_id.as_str());
            let (mut manifest, graph) = read_run_files(&run_dir)?;
            manifest.workers = workers;
            (manifest, graph, true)
        }
        None => {
            let run_id = match &args.run_id {
                Some(id) => id.clone(),
                None => default_run_id(&args.results)?,
            };
            if args
                .results
                .join(run_id.as_str())
                .join("manifest.json")
                .exists()
            {
                bail!(
                    "run {run_id} already exists under {}; pick another --run-id or continue it with --resume {run_id}",
                    args.results.display()
                );
            }
            let store = match cloud.as_ref().map(|c| &c.0) {
                None => RunStore::local(&args.results)?,
                Some(env) => cloud_store(env).await?,
            };
            let (graph, manifest) = build_workload(&args, run_id, workers, &store).await?;
            write_run_files(
                &args.results.join(manifest.run_id.as_str()),
                &manifest,
                &graph,
            )?;
            (manifest, graph, false)
        }
    };
    let config = LocalConfig {
        results: args.results.clone(),
        run_id: manifest.run_id.clone(),
        test_run_id: if resume {
            manifest.test_run_id.clone()
        } else {
            args.test_run_id.clone()
        },
        workers,
        work_mode: match args.work {
            WorkArg::Sleep => WorkMode::Sleep,
            WorkArg::Cpu => WorkMode::Cpu,
        },
        visibility_timeout: Duration::from_secs(args.visibility_timeout.max(1)),
        max_receive_count: args.max_receive_count.max(1),
        stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
        grace: Duration::from_secs(5),
    };
    let graph = Arc::new(graph);
    if !args.json {
        eprintln!(
            "{} run {}: {} jobs, {} edges, {} workers",
            if resume { "resuming" } else { "starting" },
            config.run_id,
            thousands(graph.len() as u64),
            thousands(graph.edge_count() as u64),
            workers
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let quiet = args.json;
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if !quiet {
                eprintln!(
                    "\nstopping: no new jobs are dispatched; in-flight jobs get a few seconds (Ctrl-C again to quit now)"
                );
            }
            let _ = stop_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let mut display = ProgressDisplay::new(graph.len() as u64, args.json);
    let result = match cloud.as_ref().map(|c| &c.0) {
        None => {
            run_local(Arc::clone(&graph), &config, resume, stop_rx, &mut |p| {
                display.update(p)
            })
            .await?
        }
        Some(env) => {
            let scenario = if args.scenario == Scenario::Lambda {
                "scenario-1"
            } else {
                "scenario-2"
            };
            let workers = args.workers.map_or(0, u64::from);
            run_cloud(
                Arc::clone(&graph),
                &config,
                env,
                scenario,
                workers,
                stop_rx,
                &mut |p| display.update(p),
            )
            .await?
        }
    };
    display.finish();
    if let Some((_, Some(deployment))) = &cloud {
        let path = result.run_dir.join("deployment.json");
        std::fs::write(&path, serde_json::to_vec_pretty(deployment)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }

    // The cost estimate and the HTML page, from what was just written.
    let files =
        dagbench_report::run::RunFiles::with_report(&result.run_dir, result.report.clone())?;
    let estimates = args.prices.load()?.estimates(&files)?;
    let html = crate::report_cmd::write_html(&files, &estimates, None)?;
    let report = &result.report;
    if args.json {
        let mut summary = json_summary(report, &result);
        summary["estimates"] = serde_json::to_value(&estimates)?;
        summary["html"] = serde_json::to_value(&html)?;
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(report, &result, &estimates, &html);
    }
    match report.status {
        RunStatus::Completed => Ok(ExitCode::SUCCESS),
        status => {
            eprintln!("error: {}", failure_line(report, status));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Threads for blocking work — local file writes (object_store) and `--work
/// cpu` burns: one per core. Tokio's default (512) lets 64 workers' writes
/// spread over dozens of threads that mostly wake each other up; one per
/// core doubled `bench local`'s throughput on 2 cores, and a CPU burn gets
/// a whole core while it runs.
pub(crate) fn blocking_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .max(2)
}

/// The deployed stack's queues, bucket and table: from the environment when
/// INCOMING_QUEUE_URL is set (a stack made elsewhere), else from the
/// CloudFormation outputs of `scenario-N-{env}`.
async fn stack_env(
    scenario: Scenario,
    env: &str,
) -> anyhow::Result<(ProcessorEnv, Option<serde_json::Value>)> {
    if std::env::var_os("INCOMING_QUEUE_URL").is_some() {
        return Ok((ProcessorEnv::from_env()?, None));
    }
    let kind = if scenario == Scenario::Lambda {
        dagbench_infra::StackKind::Scenario1
    } else {
        dagbench_infra::StackKind::Scenario2
    };
    let aws = dagbench_deploy::Aws::from_env().await?;
    let found = dagbench_deploy::lifecycle::discover(&aws, kind, env).await?;
    eprintln!(
        "stack {} in {}: jobs to {}",
        kind.stack_name(env),
        aws.region(),
        found.incoming_queue_url
    );
    let config = dagbench_infra::Config {
        env: env.to_owned(),
        ..dagbench_infra::Config::default()
    };
    // For the cost estimate only: a scheduler without ECS or CloudFormation
    // read rights still runs, priced as dagbench.toml says.
    let deployment = match dagbench_deploy::lifecycle::deployment(&aws, &config, kind).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "warning: cannot read how {} is configured ({e}); its cost estimate uses dagbench.toml",
                kind.stack_name(env)
            );
            None
        }
    };
    Ok((found, deployment))
}

/// The stack's bucket, as its processors see it.
async fn cloud_store(env: &ProcessorEnv) -> anyhow::Result<RunStore> {
    let sdk = dagbench_aws::config::from_env().await;
    Ok(run_store(&S3Location {
        bucket: env.bucket_name.clone(),
        prefix: env.results_prefix.clone(),
        endpoint: env.endpoint_url.clone(),
        region: sdk.region().map(ToString::to_string),
        credentials: sdk.credentials_provider(),
    })?)
}

/// The scheduler driver against a deployed stack's queues; the report is
/// written locally as for a local run.
async fn run_cloud(
    graph: Arc<JobGraph>,
    config: &LocalConfig,
    env: &ProcessorEnv,
    scenario: &str,
    workers: u64,
    stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> anyhow::Result<dagbench_local::run::LocalRun> {
    let sdk = dagbench_aws::config::from_env().await;
    let queues = dagbench_aws::wiring::scheduler_queues(&aws_sdk_sqs::Client::new(&sdk), env);
    let mut scheduler = Scheduler::new(Arc::clone(&graph));
    let mut driver = DriverConfig::new(config.run_id.clone());
    driver.stall_timeout = config.stall_timeout;
    let outcome = drive(
        &mut scheduler,
        &queues,
        Arc::new(SystemClock),
        &driver,
        stop,
        on_progress,
    )
    .await;
    let store = cloud_store(env).await?;
    let merged = match graph.find("merge") {
        Some(_) => store.get_merged_percentiles(&config.run_id).await?,
        None => None,
    };
    // A local copy of the merged results, beside the report, for `dagbench
    // report` and `dagbench compare`.
    if let Some(m) = &merged {
        let dir = config.run_dir().join("merged_percentiles");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("merged_percentiles.json"), serde_json::to_vec(m)?)?;
    }
    let domain = merged.as_ref().map(DomainSummary::from_merged);
    let ctx = ReportContext {
        run_id: config.run_id.to_string(),
        test_run_id: config.test_run_id.clone(),
        scenario: scenario.to_owned(),
        workers,
    };
    let report = RunReport::build(&graph, &outcome, &ctx, domain);
    let run_dir = config.run_dir();
    let report_path = run_dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_vec(&report)?)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    Ok(dagbench_local::run::LocalRun {
        report,
        run_dir,
        report_path,
        restored: 0,
    })
}

/// The graph and manifest of a new run; job details and sequences go to `store`.
async fn build_workload(
    args: &RunArgs,
    run_id: RunId,
    workers: usize,
    store: &RunStore,
) -> anyhow::Result<(JobGraph, Manifest)> {
    let mut manifest = Manifest {
        run_id: run_id.clone(),
        test_run_id: args.test_run_id.clone(),
        created_at: SystemClock.now().to_string(),
        dagbench_version: env!("CARGO_PKG_VERSION").to_owned(),
        workload: String::new(),
        seed: Some(args.seed),
        samples: None,
        sequences: None,
        crew: false,
        graph: "graph.json".into(),
        source_graph: None,
        workers,
        work_mode: format!("{:?}", args.work).to_lowercase(),
    };
    if let Some(path) = &args.graph {
        manifest.workload = "file".into();
        manifest.seed = None;
        manifest.source_graph = Some(path.display().to_string());
        return Ok((read_graph(path)?, manifest));
    }
    if let Some(n) = args.messages {
        let Some(shape) = Shape::named(args.shape.as_str(), n) else {
            bail!(
                "--shape {} cannot be combined with --messages; use independent, chains, layered or fan",
                args.shape.as_str()
            );
        };
        manifest.workload = args.shape.as_str().into();
        let graph = shapes::generate(&ShapeSpec {
            shape,
            jobs: n,
            seed: args.seed,
            work_duration_ms: args.work_ms,
            data_size_kb: args.data_kb,
        });
        return Ok((graph, manifest));
    }
    // The default: the aircraft workload, its sequences and job details
    // kept in the store so the run can be reproduced and checked.
    manifest.workload = "aircraft".into();
    manifest.samples = Some(args.samples);
    manifest.sequences = Some(args.sequences);
    manifest.crew = args.crew;
    let airports = Airports::embedded();
    let sequences = generate_aircraft_daily_sequences(
        args.sequences,
        args.seed,
        &airports,
        &GeneratorOptions::default(),
    )?;
    let run = AircraftRun {
        run_id,
        run_seed: args.seed,
        samples: args.samples,
        crew_probability: args.crew.then_some(0.3),
    };
    let built = build_aircraft_graph(&sequences, &run);
    for seq in &sequences {
        store
            .put_sequence(seq)
            .await
            .context("cannot store the sequences")?;
    }
    for (job, details) in &built.details {
        store
            .put_job_details(&run.run_id, job, details)
            .await
            .context("cannot store the job details")?;
    }
    Ok((built.graph, manifest))
}

/// A progress bar on a terminal, plain lines otherwise.
struct ProgressDisplay {
    bar: Option<ProgressBar>,
    plain: bool,
    started: Instant,
    last_line: Instant,
}

impl ProgressDisplay {
    fn new(total: u64, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} jobs  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        Self {
            bar,
            plain: !quiet && !terminal,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, p: &Progress) {
        let done = p.done();
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!(
                "in flight {}  failed {}  blocked {}",
                p.dispatched, p.failed, p.blocked
            ));
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(2) {
            self.last_line = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = done as f64 / secs.max(1e-9);
            let eta = if rate > 0.0 {
                (p.total - done) as f64 / rate
            } else {
                f64::NAN
            };
            eprintln!(
                "{done}/{} jobs  {rate:.0} jobs/s  ETA {eta:.0} s  in flight {}  failed {}  blocked {}",
                p.total, p.dispatched, p.failed, p.blocked
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn failure_line(report: &RunReport, status: RunStatus) -> String {
    let c = &report.counts;
    match status {
        RunStatus::Completed => String::new(),
        RunStatus::Failed => {
            let first = report
                .failed
                .first()
                .map(|f| format!(" (first: {}: {})", f.job_id, f.reason))
                .unwrap_or_default();
            format!(
                "run {} finished with {} failed and {} blocked jobs{first}",
                report.run_id, c.failed, c.blocked
            )
        }
        RunStatus::Stalled => format!(
            "run {} stalled: {} jobs in flight made no progress; resume it with --resume {}",
            report.run_id, c.dispatched, report.run_id
        ),
        RunStatus::Interrupted => format!(
            "run {} interrupted with {} of {} jobs done; resume it with --resume {}",
            report.run_id,
            c.done(),
            c.total,
            report.run_id
        ),
    }
}

fn print_summary(
    report: &RunReport,
    result: &dagbench_local::run::LocalRun,
    estimates: &[dagbench_report::cost::Estimate],
    html: &Path,
) {
    let summary = dagbench_report::run::summary(report);
    let mut lines = summary.lines();
    if let Some(first) = lines.next() {
        println!("{first}");
    }
    if result.restored > 0 {
        println!(
            "  restored from the ledger: {} completed jobs (not recomputed)",
            thousands(result.restored)
        );
    }
    for line in lines {
        println!("{line}");
    }
    print!("{}", crate::report_cmd::cost_lines(estimates));
    println!("  results: {}", result.run_dir.display());
    println!("  report:  {}", result.report_path.display());
    println!("  html:    {}", html.display());
}

fn json_summary(report: &RunReport, result: &dagbench_local::run::LocalRun) -> serde_json::Value {
    serde_json::json!({
        "run_id": report.run_id,
        "status": report.status,
        "counts": report.counts,
        "makespan_ms": report.makespan_ms,
        "throughput_jobs_per_s": report.throughput_jobs_per_s,
        "efficiency": report.efficiency,
        "stages": report.stages,
        "failed": report.failed,
        "domain": report.domain,
        "restored": result.restored,
        "results": result.run_dir,
        "report": result.report_path,
    })
}
