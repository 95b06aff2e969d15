//! `dagbench report RUN`: a run's terminal summary, its cost estimate and
//! its self-contained `report.html`. `dagbench run` ends with the same.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use dagbench_report::cost::Estimate;
use dagbench_report::pricing::{Pricing, cost_lines};
use dagbench_report::run::{self, RunFiles};

/// Where prices come from and which region's apply.
#[derive(Debug, Args, Clone)]
pub(crate) struct PriceArgs {
    /// A price table (JSON, the bundled one's format) instead of the bundled
    /// table.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Region whose prices apply to local runs (cloud runs use their own).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Deployment configuration whose settings price a local run on each
    /// scenario [default: ./dagbench.toml when it exists].
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Minutes each Fargate task was billed for the run — from its start
    /// (`dagbench scale` up, image pull included) to its stop — when known
    /// [default: the run's makespan, at least one minute].
    #[arg(long = "fargate-task-minutes", value_name = "MINUTES", value_parser = crate::bounds::task_minutes)]
    fargate_task_minutes: Option<f64>,
}

impl PriceArgs {
    /// Reads the price table and the configuration once, for any number of
    /// runs; a region the table lacks is an error here, before any work.
    pub(crate) fn load(&self) -> anyhow::Result<Pricing> {
        if let Some(path) = &self.prices {
            crate::bounds::input_file(path, "--prices", crate::bounds::MAX_SMALL_FILE_BYTES)?;
        }
        let mut pricing = Pricing::load(
            self.prices.as_deref(),
            crate::infra_cmd::file_config(self.config.as_deref())?,
            &self.region,
        )?;
        pricing.fargate_task_s = self.fargate_task_minutes.map(|m| m * 60.0);
        Ok(pricing)
    }
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The run: its directory, or its id under --results.
    run: String,
    /// Where runs are.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Where to write the page [default: report.html in the run directory].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    prices: PriceArgs,
    /// Print the summary and estimates as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// `dagbench report`.
pub(crate) fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let dir = run::resolve(&args.run, &args.results);
    let run = RunFiles::load(&dir)?;
    let (estimates, html) = args.prices.load()?.publish(&run, args.out.as_deref())?;
    if args.json {
        let mut summary = run::summary_json(&run.report, &estimates);
        summary["html"] = serde_json::json!(html);
        outln!("{summary}");
    } else {
        out!("{}", run::summary(&run.report));
        out!("{}", cost_lines(&estimates));
        outln!("  report:  {}", html.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// Two or more runs: directories, or ids under --results.
    #[arg(required = true, num_args = 2.., value_name = "RUN")]
    runs: Vec<String>,
    /// Where runs are.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write the comparison as an HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Fail when a run's p99 turnaround (dispatch → completion observed)
    /// exceeds this many milliseconds.
    #[arg(long = "max-p99-ms", value_name = "MS", value_parser = crate::bounds::non_negative)]
    max_p99_ms: Option<f64>,
    /// Fail when a run's throughput is below this many jobs per second.
    #[arg(long = "min-throughput", value_name = "JOBS_PER_S", value_parser = crate::bounds::non_negative)]
    min_throughput: Option<f64>,
    /// Fail when a run's estimated cost exceeds this many US dollars.
    #[arg(long = "max-cost", value_name = "USD", value_parser = crate::bounds::non_negative)]
    max_cost: Option<f64>,
    /// Add the simulator's predicted makespan of each run (its graph, its
    /// scenario, its workers) beside the measured one.
    #[arg(long)]
    predict: bool,
    /// With --predict: take latencies and processing from this finished
    /// run instead of the built-in ones (see `dagbench simulate`).
    #[arg(long, value_name = "RUN", requires = "predict")]
    profile: Option<String>,
    #[command(flatten)]
    prices: PriceArgs,
}

/// The simulator's makespan (s) for `run`'s own graph, scenario and workers.
fn predicted_makespan(
    run: &RunFiles,
    profile: Option<&(dagbench_core::Scenario, dagbench_report::simulate::Profile)>,
    pricing: &dagbench_report::pricing::Pricing,
) -> anyhow::Result<f64> {
    let graph = std::sync::Arc::new(dagbench_core::JobGraph::from_json_slice(
        &std::fs::read(run.dir.join("graph.json"))
            .with_context(|| format!("cannot read {}/graph.json", run.dir.display()))?,
    )?);
    let rows = dagbench_report::simulate::predict(&dagbench_report::simulate::Request {
        graph,
        scenarios: vec![run.report.scenario],
        workers: vec![run.report.workers.max(1)],
        profile: profile.map(|(_, p)| p),
        profiled: profile.map(|(s, _)| *s),
        seed: 1,
        cores: crate::simulate_cmd::cores(),
        config: &pricing.config,
        region: &pricing.region,
        table: &pricing.table,
    })?;
    Ok(rows.first().map_or(0.0, |r| r.makespan_ms / 1e3))
}

/// `dagbench compare`: exit 1 when the results differ or a threshold is
/// missed.
pub(crate) fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    use dagbench_report::compare::{ResultsCheck, Thresholds, compare};

    let pricing = args.prices.load()?;
    let mut loaded = Vec::new();
    for r in &args.runs {
        let run = RunFiles::load(&run::resolve(r, &args.results))?;
        let estimates = pricing.estimates(&run)?;
        loaded.push((run, estimates));
    }
    let refs: Vec<(&RunFiles, Vec<Estimate>)> =
        loaded.iter().map(|(r, e)| (r, e.clone())).collect();
    let mut comparison = compare(
        &refs,
        Thresholds {
            max_p99_ms: args.max_p99_ms,
            min_throughput: args.min_throughput,
            max_cost: args.max_cost,
        },
    );
    if args.predict {
        let profile = match &args.profile {
            None => None,
            Some(r) => {
                let dir = run::resolve(r, &args.results);
                let files = RunFiles::load(&dir)?;
                let graph = std::sync::Arc::new(dagbench_core::JobGraph::from_json_slice(
                    &std::fs::read(dir.join("graph.json"))
                        .with_context(|| format!("cannot read {}/graph.json", dir.display()))?,
                )?);
                let p = dagbench_report::simulate::Profile::from_run(
                    &files,
                    &graph,
                    crate::simulate_cmd::cores(),
                )
                .map_err(anyhow::Error::msg)?;
                Some((files.report.scenario, p))
            }
        };
        for ((run, _), column) in loaded.iter().zip(comparison.runs.iter_mut()) {
            column.predicted_makespan_s =
                Some(predicted_makespan(run, profile.as_ref(), &pricing)?);
        }
    }
    if let Some(path) = &args.html {
        std::fs::write(path, comparison.to_html())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        outln!("{}", serde_json::to_string(&comparison)?);
    } else {
        out!("{}", comparison.to_text());
        if let Some(path) = &args.html {
            outln!("html: {}", path.display());
        }
    }
    if comparison.passed() {
        return Ok(ExitCode::SUCCESS);
    }
    if let ResultsCheck::Different { detail } = &comparison.results {
        errln!("error: the runs computed different results: {detail}");
    }
    for m in &comparison.misses {
        errln!("error: run {} missed a threshold: {}", m.run_id, m.detail);
    }
    Ok(ExitCode::FAILURE)
}

#[derive(Debug, Args)]
pub(crate) struct CostArgs {
    /// The test run: the PerfTestRun tag the stacks were deployed with.
    #[arg(long = "test-run-id", env = "TEST_RUN_ID")]
    test_run_id: String,
    /// Days back from today to include.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    days: u32,
    /// Where runs are (their estimates are shown beside the actual costs).
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Print the costs as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    prices: PriceArgs,
}

/// The cloud runs under `results` made with `test_run_id`, and the sum of
/// their own estimates.
fn estimated_runs(
    results: &Path,
    test_run_id: &str,
    prices: &PriceArgs,
) -> anyhow::Result<(Vec<String>, f64)> {
    let pricing = prices.load()?;
    let mut runs = Vec::new();
    let mut total = 0.0;
    let Ok(entries) = std::fs::read_dir(results) else {
        return Ok((runs, total));
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        if !dir.join("report.json").exists() {
            continue;
        }
        let run = RunFiles::load(&dir)?;
        if run.report.test_run_id != test_run_id || !run.report.scenario.is_cloud() {
            continue;
        }
        if let Some(e) = pricing.estimates(&run)?.first() {
            total += e.total;
            runs.push(run.report.run_id.to_string());
        }
    }
    Ok((runs, total))
}

/// `dagbench cost`: Cost Explorer's figures for a test run, beside the
/// estimates of its runs.
pub(crate) fn cost(args: &CostArgs) -> anyhow::Result<ExitCode> {
    use dagbench_deploy::costs::{actual_costs, nothing_found};

    let today = time::OffsetDateTime::now_utc().date();
    let start = (today - time::Duration::days(i64::from(args.days))).to_string();
    let end = (today + time::Duration::days(1)).to_string();
    let actual = crate::rt::current_thread()?.block_on(async {
        let aws = dagbench_deploy::Aws::from_env().await?;
        actual_costs(&aws, &args.test_run_id, &start, &end).await
    })?;
    let (runs, estimated) = estimated_runs(&args.results, &args.test_run_id, &args.prices)?;
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "test_run_id": actual.test_run_id,
                "start": actual.start,
                "end": actual.end,
                "services": actual.services.iter().map(|s| serde_json::json!({"service": s.service, "amount": s.amount, "unit": s.unit})).collect::<Vec<_>>(),
                "total": actual.total,
                "estimated_by_aws": actual.estimated,
                "cost_explorer_requests": actual.requests,
                "cost_explorer_requests_usd": actual.requests as f64 * dagbench_deploy::costs::REQUEST_USD,
                "runs": runs,
                "dagbench_estimate": estimated,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if actual.services.is_empty() {
        outln!("{}", nothing_found(&args.test_run_id, &start, &end));
    } else {
        outln!(
            "Cost Explorer, PerfTestRun={} from {} to {} (unblended):",
            actual.test_run_id,
            actual.start,
            actual.end
        );
        let width = actual
            .services
            .iter()
            .map(|s| s.service.len())
            .max()
            .unwrap_or(0);
        for s in &actual.services {
            outln!("  {:<width$}  {:>12.6} {}", s.service, s.amount, s.unit);
        }
        outln!(
            "  {:<width$}  {:>12.6} USD{}",
            "total",
            actual.total,
            if actual.estimated {
                " (some days are still AWS estimates)"
            } else {
                ""
            }
        );
    }
    outln!(
        "this query made {} Cost Explorer request{} (${:.2}, billed at ${} each)",
        actual.requests,
        if actual.requests == 1 { "" } else { "s" },
        actual.requests as f64 * dagbench_deploy::costs::REQUEST_USD,
        dagbench_deploy::costs::REQUEST_USD
    );
    if runs.is_empty() {
        outln!(
            "dagbench's estimate: no cloud runs with test run id {} under {}",
            args.test_run_id,
            args.results.display()
        );
    } else {
        outln!(
            "dagbench's estimate for {} run{} ({}): ${estimated:.6}",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            runs.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
