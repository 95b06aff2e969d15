//! `dagbench run`: the main job. Parses the flags into a run request and
//! hands it to the run library (`dagbench-run`), which prepares the
//! workload, drives it locally or against a deployed stack and writes the
//! run's files; then prices it, writes `report.html` and prints the summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use dagbench_core::Scenario;
use dagbench_core::graph::shapes::ShapeSpec;
use dagbench_core::ids::RunId;
use dagbench_report::pricing::cost_lines;
use dagbench_run::{AircraftWorkload, Preparation, RunRequest, Settings, Start, Workload};
use dagbench_runtime::driver::RunStatus;
use dagbench_runtime::processor::WorkMode;

use crate::flight_cmd::GeneratorArgs;
use crate::graph_cmd::{ShapeName, synthetic_shape};
use crate::output::thousands;
use crate::progress::ProgressDisplay;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WorkArg {
    /// Sleep for work_duration_ms.
    Sleep,
    /// Burn CPU for work_duration_ms.
    Cpu,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where jobs run: `local`, or a deployed stack, `1` (Lambda), `2`
    /// (Fargate) or `3` (Step Functions). The stack's queues, bucket and
    /// table come from the CloudFormation outputs of `scenario-N-{env}`,
    /// or, for stacks made elsewhere, from INCOMING_QUEUE_URL,
    /// OUTGOING_QUEUE_URL, DLQ_URL, BUCKET_NAME and TABLE_NAME when
    /// INCOMING_QUEUE_URL is set (Scenario 3: and STATE_MACHINE_ARN). AWS
    /// credentials and region come from the standard AWS environment.
    /// [default: local]
    #[arg(long, value_parser = parse_scenario)]
    scenario: Option<Scenario>,
    /// With --scenario 1|2|3: the environment of the deployed stack
    /// [default: ENV, else dev].
    #[arg(long, env = "ENV")]
    env: Option<String>,
    #[command(flatten)]
    prices: crate::report_cmd::PriceArgs,
    /// Aircraft daily sequences of the default workload.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_SEQUENCES)), conflicts_with_all = ["resume", "messages", "graph"])]
    sequences: u32,
    /// Monte Carlo samples per leg, 1 to 1,000,000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(dagbench_flight::aircraft::MAX_SAMPLES)), conflicts_with_all = ["resume", "messages", "graph"])]
    samples: u32,
    /// Seed of the sequences, the delay model and synthetic shapes.
    #[arg(long, default_value_t = 1, conflicts_with_all = ["resume", "graph"])]
    seed: u64,
    /// Add crew connections between aircraft.
    #[arg(long, conflicts_with_all = ["resume", "messages", "graph"])]
    crew: bool,
    /// Probability of accepting each candidate crew connection (with --crew).
    #[arg(long = "crew-probability", default_value_t = AircraftWorkload::DEFAULT_CREW_PROBABILITY, value_parser = crate::bounds::fraction, requires = "crew")]
    crew_probability: f64,
    #[command(flatten)]
    generator: GeneratorArgs,
    /// Run this graph file instead of the aircraft workload.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["messages", "resume"])]
    graph: Option<PathBuf>,
    /// Run a synthetic graph of N jobs instead (see --shape).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_JOBS)), conflicts_with = "resume")]
    messages: Option<u32>,
    /// Shape of the synthetic graph of --messages.
    #[arg(
        long,
        value_enum,
        default_value = "independent",
        requires = "messages",
        conflicts_with = "resume"
    )]
    shape: ShapeName,
    /// Layer width (layered; default √N) or fan width (fan; default 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "messages")]
    width: Option<u32>,
    /// Jobs per chain (chains) [default: 10].
    #[arg(long = "chain-length", value_parser = clap::value_parser!(u32).range(1..), requires = "messages")]
    chain_length: Option<u32>,
    /// Most dependencies per job (layered) [default: 3].
    #[arg(long = "max-deps", value_parser = clap::value_parser!(u32).range(1..), requires = "messages")]
    max_deps: Option<u32>,
    /// Simulated work per synthetic job, ms.
    #[arg(
        long = "work-ms",
        default_value_t = 0,
        requires = "messages",
        conflicts_with = "resume"
    )]
    work_ms: u32,
    /// Output object size per synthetic job, KiB.
    #[arg(
        long = "data-kb",
        default_value_t = 0,
        requires = "messages",
        conflicts_with = "resume"
    )]
    data_kb: u32,
    /// How simulated work is done [default: sleep].
    #[arg(long, value_enum)]
    work: Option<WorkArg>,
    /// Concurrent processors [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_WORKERS)))]
    workers: Option<u32>,
    /// Run id: the run's folder under --results [default: local-<UTC time>].
    #[arg(long = "run-id", conflicts_with = "resume")]
    run_id: Option<RunId>,
    /// Tag of the run's completions and metrics (cost tracking in the
    /// cloud) [default: TEST_RUN_ID, else `default`; a resumed run keeps
    /// its own].
    #[arg(long = "test-run-id", env = "TEST_RUN_ID")]
    test_run_id: Option<String>,
    /// Where results, ledgers and reports go.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Continue an interrupted run — local or on its stack — with the
    /// settings it was started with; completed jobs are not recomputed, and
    /// a run that already completed is left as it is.
    #[arg(long, value_name = "RUN_ID")]
    resume: Option<RunId>,
    /// With --scenario 1|2|3: take the stack even though another scheduler
    /// holds its lease (after that scheduler crashed; a lease also expires
    /// by itself a minute after its holder stops renewing it).
    #[arg(long = "take-over")]
    take_over: bool,
    /// End the run as stalled when nothing completes for this many seconds.
    #[arg(long = "stall-timeout", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    stall_timeout: u64,
    /// Seconds a delivered job stays invisible before redelivery (local
    /// runs) [default: 60].
    #[arg(long = "visibility-timeout", value_parser = clap::value_parser!(u64).range(1..=43_200))]
    visibility_timeout: Option<u64>,
    /// Deliveries before a job goes to the dead-letter queue (local runs)
    /// [default: 3].
    #[arg(long = "max-receive-count", value_parser = clap::value_parser!(u32).range(1..=1000))]
    max_receive_count: Option<u32>,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    json: bool,
}

/// `local`, `1` / `scenario-1`, `2` / `scenario-2`, `3` / `scenario-3`.
pub(crate) fn parse_scenario(s: &str) -> Result<Scenario, String> {
    s.parse()
        .map_err(|e: dagbench_core::scenario::UnknownScenario| e.to_string())
}

impl RunArgs {
    /// What the flags ask to run.
    fn workload(&self) -> anyhow::Result<Workload> {
        let other = match (&self.graph, self.messages) {
            (Some(_), _) => Some("--graph"),
            (None, Some(_)) => Some("--messages"),
            (None, None) => None,
        };
        if let (Some(other), Some(flag)) = (other, self.generator.given()) {
            usage!(
                "{flag} cannot be combined with {other}: it shapes the aircraft workload, which {other} replaces"
            );
        }
        if let Some(path) = &self.graph {
            if self.work_ms != 0 || self.data_kb != 0 {
                usage!(
                    "--work-ms and --data-kb apply to --messages graphs; a graph file sets work_duration_ms and data_size_kb per job"
                );
            }
            crate::bounds::input_file(path, "--graph", crate::bounds::MAX_GRAPH_BYTES)?;
            return Ok(Workload::File(path.clone()));
        }
        if let Some(jobs) = self.messages {
            crate::bounds::check_memory(
                dagbench_run::workload::bytes_per_job() * u64::from(jobs),
                &format!("--messages {jobs}"),
            )?;
            let shape = synthetic_shape(
                self.shape,
                jobs,
                self.width,
                self.chain_length,
                self.max_deps,
            )?;
            return Ok(Workload::Synthetic(ShapeSpec {
                shape,
                jobs,
                seed: self.seed,
                work_duration_ms: self.work_ms,
                data_size_kb: self.data_kb,
            }));
        }
        crate::bounds::check_memory(
            dagbench_run::workload::bytes_per_sequence() * u64::from(self.sequences),
            &format!("--sequences {}", self.sequences),
        )?;
        Ok(Workload::Aircraft(AircraftWorkload {
            sequences: self.sequences,
            samples: self.samples,
            seed: self.seed,
            crew_probability: self.crew.then_some(self.crew_probability),
            airports: self.generator.airports()?,
            generator: self.generator.options(),
        }))
    }

    fn request(&self, config: &dagbench_infra::Config) -> anyhow::Result<RunRequest> {
        let local = self.scenario.is_none_or(|s| s == Scenario::Local);
        if local && self.resume.is_none() {
            if self.env.is_some() && std::env::var_os("ENV").is_none() {
                usage!("--env applies to --scenario 1|2|3 (a deployed stack), not to a local run");
            }
            if self.take_over {
                usage!(
                    "--take-over applies to --scenario 1|2|3 (a stack's lease), not to a local run"
                );
            }
        }
        let start = match &self.resume {
            Some(run_id) => {
                if let Some(flag) = self.generator.given() {
                    usage!(
                        "{flag} cannot be combined with --resume: a resumed run keeps the workload in its graph.json"
                    );
                }
                Start::Resume {
                    run_id: run_id.clone(),
                }
            }
            None => Start::New {
                run_id: self.run_id.clone(),
                test_run_id: self.test_run_id.clone().unwrap_or_else(|| "default".into()),
                workload: self.workload()?,
            },
        };
        Ok(RunRequest {
            results: self.results.clone(),
            start,
            settings: Settings {
                scenario: self.scenario,
                env: self.env.clone(),
                workers: self.workers.map(|w| w as usize),
                work_mode: self.work.map(|w| match w {
                    WorkArg::Sleep => WorkMode::Sleep,
                    WorkArg::Cpu => WorkMode::Cpu,
                }),
                visibility_timeout: self.visibility_timeout.map(Duration::from_secs),
                max_receive_count: self.max_receive_count,
                test_run_id: self.resume.as_ref().and(self.test_run_id.clone()),
            },
            config: config.clone(),
            stall_timeout: Duration::from_secs(self.stall_timeout),
            grace: Duration::from_secs(5),
            take_over: self.take_over,
        })
    }
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    // Checked before any job runs: prices, region and configuration.
    let pricing = args.prices.load()?;
    let request = args.request(&pricing.config)?;
    crate::rt::run_multi_thread(run_async(args, request, &pricing))?
}

async fn run_async(
    args: &RunArgs,
    request: RunRequest,
    pricing: &dagbench_report::pricing::Pricing,
) -> anyhow::Result<ExitCode> {
    let say = |line: &str| {
        if !args.json {
            errln!("{line}");
        }
    };
    // Listen for Ctrl-C before anything is set up: a stop asked for during
    // setup (deploy checks, writing the graph) ends the run before its first
    // dispatch, with its report, instead of killing the process half-way.
    let stop_rx = crate::rt::stop_switch(
        "stopping: no new jobs are dispatched; in-flight jobs get a few seconds (Ctrl-C again to quit now)",
        args.json,
    );
    let prepared = match dagbench_run::prepare(request).await? {
        Preparation::Ready(p) => *p,
        Preparation::AlreadyCompleted { run_id, run_dir } => {
            // Nothing to do, and nothing of the run is touched.
            let dir = run_dir.display();
            outln!(
                "{}",
                if args.json {
                    serde_json::json!({"run_id": run_id, "status": "completed", "already_completed": true, "results": run_dir}).to_string()
                } else {
                    format!("run {run_id} already completed: nothing to resume ({dir})")
                }
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    // Notes go to standard error even with --json (stdout stays one object).
    for note in &prepared.notes {
        errln!("{note}");
    }
    say(&format!(
        "{} run {}: {} jobs, {} edges, {} workers",
        ["starting", "resuming"][usize::from(prepared.resumed)],
        prepared.run_id,
        thousands(prepared.graph.len() as u64),
        thousands(prepared.graph.edge_count() as u64),
        prepared.workers()
    ));

    let mut display =
        ProgressDisplay::new(prepared.graph.len() as u64, prepared.restored, args.json);
    let finished = prepared
        .execute(stop_rx, &mut |p| display.update(p))
        .await?;
    display.finish();
    for note in &finished.notes {
        errln!("{note}");
    }

    let files =
        dagbench_report::run::RunFiles::with_report(&finished.run_dir, finished.report.clone())?;
    let (estimates, html) = pricing.publish(&files, None)?;
    let report = &finished.report;
    if args.json {
        let mut summary = dagbench_report::run::summary_json(report, &estimates);
        summary["results"] = serde_json::json!(finished.run_dir);
        summary["report"] = serde_json::json!(finished.report_path);
        summary["html"] = serde_json::json!(html);
        outln!("{summary}");
    } else {
        out!("{}", dagbench_report::run::summary(report));
        out!("{}", cost_lines(&estimates));
        outln!("  results: {}", finished.run_dir.display());
        outln!("  report:  {}", finished.report_path.display());
        outln!("  html:    {}", html.display());
    }
    match report.status {
        RunStatus::Completed => Ok(ExitCode::SUCCESS),
        _ => {
            errln!("error: {}", dagbench_report::run::failure_line(report));
            Ok(ExitCode::FAILURE)
        }
    }
}
