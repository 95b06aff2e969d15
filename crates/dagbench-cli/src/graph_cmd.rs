//! `dagbench graph generate|validate`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use dagbench_core::JobGraph;
use dagbench_core::graph::PathWeight;
use dagbench_core::graph::shapes::{self, Shape, ShapeSpec};

use crate::output::{self, thousands};

#[derive(Debug, Subcommand)]
pub(crate) enum GraphCommand {
    /// Write a synthetic job graph file.
    Generate(GenerateArgs),
    /// Check a graph file: exit 0 and print its figures when valid, non-zero
    /// with the reason otherwise.
    Validate {
        /// The graph file (JSON: {"jobs": [{"job_id": ..., "depends_on": [...]}]}).
        file: PathBuf,
        /// Print the figures as one JSON object.
        #[arg(long)]
        json: bool,
        /// Check simulated work against a local run with this visibility
        /// timeout, seconds (`dagbench run --visibility-timeout`).
        #[arg(long = "visibility-timeout", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=43_200))]
        visibility_timeout: u64,
    },
}

/// Shapes of synthetic graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShapeName {
    /// No dependencies at all.
    Independent,
    /// Chains of --chain-length jobs.
    Chains,
    /// Layers of --width jobs, each depending on 1..=--max-deps jobs of the layer before.
    Layered,
    /// Diamonds in a row: root, --width jobs, sink.
    Fan,
    /// Aircraft daily sequences: leg jobs chained per aircraft, one
    /// sequence job each, one merge job (--sequences, --samples, --crew).
    Aircraft,
}

impl ShapeName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ShapeName::Independent => "independent",
            ShapeName::Chains => "chains",
            ShapeName::Layered => "layered",
            ShapeName::Fan => "fan",
            ShapeName::Aircraft => "aircraft",
        }
    }
}

/// Everything that describes a synthetic graph.
#[derive(Debug, Clone, Args)]
pub(crate) struct ShapeArgs {
    /// Shape of the graph.
    #[arg(long, value_enum, default_value = "layered")]
    pub(crate) shape: ShapeName,
    /// Number of jobs [default: 1000; 1,000,000 for benchmarks].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_JOBS)))]
    pub(crate) jobs: Option<u32>,
    /// Seed: the same seed gives the same graph.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Simulated work of every job, in milliseconds.
    #[arg(long = "work-ms", default_value_t = 0)]
    pub(crate) work_ms: u32,
    /// Size of every job's output object, in KiB.
    #[arg(long = "data-kb", default_value_t = 0)]
    pub(crate) data_kb: u32,
    /// Layer width (layered; default √jobs) or fan width (fan; default 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) width: Option<u32>,
    /// Jobs per chain (chains) [default: 10].
    #[arg(long = "chain-length", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) chain_length: Option<u32>,
    /// Most dependencies per job (layered) [default: 3].
    #[arg(long = "max-deps", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_deps: Option<u32>,
}

impl ShapeArgs {
    /// The synthetic graph to generate; `default_jobs` when `--jobs` is not given.
    pub(crate) fn spec(&self, default_jobs: u32) -> anyhow::Result<ShapeSpec> {
        let jobs = self.jobs.unwrap_or(default_jobs);
        crate::bounds::check_memory(
            dagbench_run::workload::bytes_per_job() * u64::from(jobs),
            &format!("--jobs {jobs}"),
        )?;
        Ok(ShapeSpec {
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
            data_size_kb: self.data_kb,
        })
    }
}

/// The synthetic shape `name` of `jobs` jobs, with the given width, chain
/// length and dependencies per job (else the shape's defaults). A flag
/// given for a shape it does not apply to is a usage error: it would do
/// nothing.
pub(crate) fn synthetic_shape(
    name: ShapeName,
    jobs: u32,
    width: Option<u32>,
    chain_length: Option<u32>,
    max_deps: Option<u32>,
) -> anyhow::Result<Shape> {
    let Some(default) = Shape::named(name.as_str(), jobs) else {
        usage!(
            "--shape {} is not a synthetic shape; use independent, chains, layered or fan (the aircraft workload is what `dagbench run` runs without --messages)",
            name.as_str()
        );
    };
    let name = default.name();
    if width.is_some() && !matches!(default, Shape::Layered { .. } | Shape::Fan { .. }) {
        usage!("--width applies to --shape layered and fan, not {name}");
    }
    if chain_length.is_some() && !matches!(default, Shape::Chains { .. }) {
        usage!("--chain-length applies to --shape chains, not {name}");
    }
    if max_deps.is_some() && !matches!(default, Shape::Layered { .. }) {
        usage!("--max-deps applies to --shape layered, not {name}");
    }
    Ok(match default {
        Shape::Independent => Shape::Independent,
        Shape::Chains { length } => Shape::Chains {
            length: chain_length.unwrap_or(length),
        },
        Shape::Layered {
            width: w,
            max_deps: d,
        } => Shape::Layered {
            width: width.unwrap_or(w),
            max_deps: max_deps.unwrap_or(d),
        },
        Shape::Fan { width: w } => Shape::Fan {
            width: width.unwrap_or(w),
        },
    })
}

impl ShapeArgs {
    /// Flags that would do nothing for the aircraft shape are usage errors
    /// (the synthetic shapes' are checked by [`synthetic_shape`]).
    fn check_flags(&self) -> anyhow::Result<()> {
        if self.shape == ShapeName::Aircraft {
            for (given, flag) in [
                (self.jobs.is_some(), "--jobs"),
                (self.width.is_some(), "--width"),
                (self.work_ms != 0, "--work-ms"),
                (self.data_kb != 0, "--data-kb"),
            ] {
                if given {
                    usage!(
                        "{flag} does not apply to --shape aircraft, whose jobs come from --sequences (and have no simulated work)"
                    );
                }
            }
        }
        Ok(())
    }

    /// These arguments as a command line, with `jobs` jobs.
    pub(crate) fn to_args(&self, jobs: u32) -> Vec<String> {
        let mut args = vec![
            format!("--shape={}", self.shape.as_str()),
            format!("--jobs={jobs}"),
            format!("--seed={}", self.seed),
            format!("--work-ms={}", self.work_ms),
            format!("--data-kb={}", self.data_kb),
        ];
        for (flag, value) in [
            ("width", self.width),
            ("chain-length", self.chain_length),
            ("max-deps", self.max_deps),
        ] {
            if let Some(v) = value {
                args.push(format!("--{flag}={v}"));
            }
        }
        args
    }
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    aircraft: crate::flight_cmd::AircraftArgs,
    /// Where to write the graph file (`-` for standard output).
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(command: GraphCommand) -> anyhow::Result<ExitCode> {
    match command {
        GraphCommand::Generate(args) => {
            args.shape.check_flags()?;
            let graph = if args.shape.shape == ShapeName::Aircraft {
                std::sync::Arc::unwrap_or_clone(args.aircraft.build(args.shape.seed)?.graph)
            } else {
                shapes::generate(&args.shape.spec(1000)?)
            };
            let mut out = output::create(&args.out)?;
            graph
                .write_json(&mut out)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            // A graph a default local run would refuse is still written
            // (a cloud run or a longer visibility timeout may take it),
            // with what it needs.
            let default_local =
                dagbench_run::target::local_max_work(std::time::Duration::from_secs(60));
            if let Err(problem) = dagbench_run::check_job_limits(&graph, Some(&default_local)) {
                errln!("note: a default local run would refuse this graph: {problem}");
            }
            if args.out.as_os_str() != "-" {
                let s = graph.stats();
                errln!(
                    "wrote {} ({} jobs, {} edges, {} levels)",
                    args.out.display(),
                    thousands(s.jobs),
                    thousands(s.edges),
                    s.levels
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        GraphCommand::Validate {
            file,
            json,
            visibility_timeout,
        } => {
            let graph = read_graph(&file)?;
            check_runnable(&graph, visibility_timeout)
                .with_context(|| format!("{} cannot run", file.display()))?;
            print_figures(&graph, json);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A valid graph can still be unable to run: jobs over a processor's
/// limits (checked as `dagbench run` checks them, for a local run with
/// `visibility_timeout_s`), or job ids too long for any run id. A job id
/// that leaves less room than the default run id needs gets a note.
fn check_runnable(graph: &JobGraph, visibility_timeout_s: u64) -> anyhow::Result<()> {
    let max_work =
        dagbench_run::target::local_max_work(std::time::Duration::from_secs(visibility_timeout_s));
    dagbench_run::check_job_limits(graph, Some(&max_work)).map_err(anyhow::Error::msg)?;
    let longest = dagbench_run::longest_job_id(graph);
    // `local-YYYYMMDD-HHMMSS`, the default run id.
    const DEFAULT_RUN_ID_LEN: usize = 21;
    if longest.len() + 1 + DEFAULT_RUN_ID_LEN > 128 {
        let problem = dagbench_run::wire_id_problem(DEFAULT_RUN_ID_LEN, longest);
        if longest.len() > 126 {
            anyhow::bail!(problem);
        }
        errln!("note: {problem} (the default run id has {DEFAULT_RUN_ID_LEN})");
    }
    Ok(())
}

/// Reads and validates a graph file, naming the file in any error.
pub(crate) fn read_graph(path: &Path) -> anyhow::Result<JobGraph> {
    crate::bounds::input_file(path, "graph file", crate::bounds::MAX_GRAPH_BYTES)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    JobGraph::from_json_slice(&bytes)
        .with_context(|| format!("{} is not a valid job graph", path.display()))
}

fn print_figures(graph: &JobGraph, json: bool) {
    let s = graph.stats();
    let (_, work_path) = graph.critical_path(PathWeight::WorkMs);
    let first_last = |path: &[dagbench_core::JobIndex]| {
        let first = graph.id(path[0]);
        let last = graph.id(path[path.len() - 1]);
        if path.len() == 1 {
            first.to_owned()
        } else {
            format!("{first} … {last}")
        }
    };
    if json {
        let value = serde_json::json!({
            "valid": true,
            "stats": s,
            "critical_path_work": work_path.iter().map(|&j| graph.id(j)).collect::<Vec<_>>(),
        });
        outln!("{value}");
        return;
    }
    outln!("valid job graph");
    outln!("  jobs            {}", thousands(s.jobs));
    outln!(
        "  edges           {} ({:.2} per job)",
        thousands(s.edges),
        s.mean_degree
    );
    outln!(
        "  levels          {} (widest: {} jobs)",
        s.levels,
        thousands(s.max_level_width)
    );
    if s.critical_path_work_ms > 0 {
        outln!(
            "  critical path   {} ms of work over {} jobs ({}); longest chain {} jobs",
            thousands(s.critical_path_work_ms),
            work_path.len(),
            first_last(&work_path),
            s.critical_path_jobs
        );
    } else {
        let (_, chain) = graph.critical_path(PathWeight::Jobs);
        outln!(
            "  longest chain   {} jobs ({}); no job has work_duration_ms",
            chain.len(),
            first_last(&chain)
        );
    }
    outln!("  total work      {} ms", thousands(s.total_work_ms));
    outln!(
        "  sources/sinks   {} / {}",
        thousands(s.sources),
        thousands(s.sinks)
    );
    outln!(
        "  max in/out deg  {} / {}",
        s.max_in_degree,
        s.max_out_degree
    );
}
