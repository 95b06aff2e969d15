//! `dagbench simulate`: predicted makespan and cost of a graph on every
//! scenario and size, before paying for any of them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use dagbench_core::graph::shapes::ShapeSpec;
use dagbench_core::{JobGraph, RunId, Scenario};
use dagbench_report::run::{RunFiles, resolve};
use dagbench_report::simulate::{Profile, Request, Simulation, predict_noted};
use dagbench_run::workload::{AircraftWorkload, Workload};

use crate::graph_cmd::{ShapeName, synthetic_shape};
use crate::run_cmd::parse_scenario;

#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Simulate this graph file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["run", "messages"])]
    graph: Option<PathBuf>,
    /// Simulate the graph of this finished run (its graph.json): a
    /// directory, or an id under --results.
    #[arg(long, value_name = "RUN", conflicts_with = "messages")]
    run: Option<String>,
    /// Where runs are.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Aircraft daily sequences (the default workload, as `run` makes it).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_SEQUENCES)), conflicts_with_all = ["graph", "run", "messages"])]
    sequences: u32,
    /// Add crew connections between aircraft.
    #[arg(long, conflicts_with_all = ["graph", "run", "messages"])]
    crew: bool,
    /// Probability of accepting each candidate crew connection (with --crew).
    #[arg(long = "crew-probability", default_value_t = AircraftWorkload::DEFAULT_CREW_PROBABILITY, value_parser = crate::bounds::fraction, requires = "crew")]
    crew_probability: f64,
    /// A synthetic graph of N jobs instead (see --shape).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_JOBS)))]
    messages: Option<u32>,
    /// Shape of the synthetic graph of --messages.
    #[arg(long, value_enum, default_value = "independent", requires = "messages")]
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
    #[arg(long = "work-ms", default_value_t = 0, requires = "messages")]
    work_ms: u32,
    /// Scenarios to predict, comma-separated: local, 1, 2, 3.
    #[arg(long, value_delimiter = ',', value_parser = parse_scenario, default_value = "local,1,2,3")]
    scenario: Vec<Scenario>,
    /// Processors: local workers, concurrent Lambda invocations (each up to
    /// a batch), Fargate polling loops, Scenario 3's processors; capped at
    /// the configuration's limits (Lambda's reserved concurrency, the
    /// Distributed Map's concurrency), with a note [default: the workers of
    /// the --run or --profile run, else the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::bounds::MAX_WORKERS as u64), conflicts_with = "sweep_workers")]
    workers: Option<u64>,
    /// Several sizes, comma-separated (e.g. 2,4,8,16).
    #[arg(long = "sweep-workers", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=crate::bounds::MAX_WORKERS as u64), value_name = "LIST")]
    sweep_workers: Vec<u64>,
    /// Take stage latencies and the processing model from this finished
    /// run (a directory, or an id under --results) instead of the built-in
    /// ones: for its own scenario, and the processing model for all.
    #[arg(long, value_name = "RUN")]
    profile: Option<String>,
    /// Seed of the workload's graph and of the draws from a profile's
    /// observed latencies (built-in profiles have fixed latencies: the same
    /// predictions for every seed of the same graph).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the predictions as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained page: cost against makespan (the Pareto
    /// front) and the table.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    prices: crate::report_cmd::PriceArgs,
}

impl SimulateArgs {
    /// The graph to simulate.
    fn graph(&self) -> anyhow::Result<Arc<JobGraph>> {
        if let Some(path) = &self.graph {
            crate::bounds::input_file(path, "--graph", crate::bounds::MAX_GRAPH_BYTES)?;
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let graph = JobGraph::from_json_slice(&bytes)
                .with_context(|| format!("{} is not a usable graph", path.display()))?;
            return Ok(Arc::new(graph));
        }
        if let Some(run) = &self.run {
            return run_graph(&resolve(run, &self.results));
        }
        let workload = match self.messages {
            Some(jobs) => {
                crate::bounds::check_memory(
                    dagbench_run::workload::bytes_per_job() * u64::from(jobs),
                    &format!("--messages {jobs}"),
                )?;
                Workload::Synthetic(ShapeSpec {
                    shape: synthetic_shape(
                        self.shape,
                        jobs,
                        self.width,
                        self.chain_length,
                        self.max_deps,
                    )?,
                    jobs,
                    seed: self.seed,
                    work_duration_ms: self.work_ms,
                    data_size_kb: 0,
                })
            }
            None => {
                crate::bounds::check_memory(
                    dagbench_run::workload::bytes_per_sequence() * u64::from(self.sequences),
                    &format!("--sequences {}", self.sequences),
                )?;
                Workload::Aircraft(AircraftWorkload {
                    sequences: self.sequences,
                    seed: self.seed,
                    crew_probability: self.crew.then_some(self.crew_probability),
                    ..AircraftWorkload::default()
                })
            }
        };
        let run = RunId::new("simulated").expect("a valid run id");
        Ok(workload.build(&run)?.graph)
    }
}

/// `items` without repeats, first occurrences kept in order.
fn dedup_in_order<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(items.len());
    items.retain(|x| {
        let new = !seen.contains(x);
        if new {
            seen.push(x.clone());
        }
        new
    });
}

/// This machine's CPUs.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// The graph of the run in `dir` (its graph.json).
fn run_graph(dir: &std::path::Path) -> anyhow::Result<Arc<JobGraph>> {
    let path = dir.join("graph.json");
    crate::bounds::input_file(
        &path,
        "the run's graph.json",
        crate::bounds::MAX_GRAPH_BYTES,
    )
    .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Arc::new(JobGraph::from_json_slice(&bytes).with_context(
        || format!("{} is not a usable graph", path.display()),
    )?))
}

pub(crate) fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let pricing = args.prices.load()?;
    let profiled = match &args.profile {
        None => None,
        Some(run) => {
            let dir = resolve(run, &args.results);
            let files = RunFiles::load(&dir)?;
            let graph = run_graph(&dir)?;
            let profile = Profile::from_run(&files, &graph, crate::simulate_cmd::cores())
                .map_err(anyhow::Error::msg)?;
            Some((files.report.scenario, files.report.workers, profile))
        }
    };
    let graph = args.graph()?;
    // The --run run's own size, when it says.
    let run_workers = match &args.run {
        Some(run) => RunFiles::load(&resolve(run, &args.results))
            .ok()
            .map(|f| f.report.workers)
            .filter(|w| *w > 0),
        None => None,
    };
    let started = Instant::now();
    let mut workers = if !args.sweep_workers.is_empty() {
        args.sweep_workers.clone()
    } else if let Some(w) = args.workers {
        vec![w]
    } else if let Some(w) = run_workers {
        vec![w]
    } else if let Some((_, w, _)) = profiled.as_ref().filter(|(_, w, _)| *w > 0) {
        vec![*w]
    } else {
        vec![cores() as u64]
    };
    dedup_in_order(&mut workers);
    let mut scenarios = args.scenario.clone();
    dedup_in_order(&mut scenarios);
    let request = Request {
        graph: Arc::clone(&graph),
        scenarios: scenarios.clone(),
        workers,
        profile: profiled.as_ref().map(|(_, _, p)| p),
        profiled: profiled.as_ref().map(|(s, _, _)| *s),
        seed: args.seed,
        cores: cores(),
        config: &pricing.config,
        region: &pricing.region,
        table: &pricing.table,
    };
    let (predictions, notes) = predict_noted(&request)?;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let profiles = scenarios
        .iter()
        .map(|&s| {
            let source = match &profiled {
                Some((ps, _, p)) if *ps == s => p.source.clone(),
                Some((_, _, p)) => Profile::builtin(s).processing_from(p).source,
                None => Profile::builtin(s).source,
            };
            (s.as_str().to_owned(), source)
        })
        .collect();
    let simulation = Simulation {
        jobs: graph.len() as u64,
        edges: graph.edge_count() as u64,
        levels: u64::from(graph.stats().levels),
        profiles,
        seed: args.seed,
        predictions,
        wall_ms,
        notes,
    };
    if let Some(path) = &args.html {
        dagbench_runtime::files::write_atomic(path, simulation.to_html().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&simulation).expect("a simulation serializes")
        );
    } else {
        out!("{}", simulation.table());
        if let Some(path) = &args.html {
            outln!("page: {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
