//! `dagbench`: run a job graph through a job-graph processor and measure how
//! fast and how cheaply it gets through.
//!
//! `main` only parses the command line and prints the error, once, with its
//! chain of causes; each subcommand lives in its own module.

// Doc comments here are clap's --help texts, written for terminals: `<id>`
// is a placeholder there, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

mod bench;
mod bench_kernel;
mod bench_local;
mod flight_cmd;
mod graph_cmd;
mod infra_cmd;
mod output;
mod report_cmd;
mod run_cmd;
mod worker_cmd;

use std::process::ExitCode;

// The runtime allocates a few small buffers per job (messages, keys,
// completions); mimalloc serves them faster than glibc's malloc under two
// busy threads (measured by `bench local`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "dagbench",
    version,
    about = "Run a job graph through a job-graph processor and measure throughput, latency and cost.",
    long_about = "Run a job graph (jobs that depend on other jobs) through a job-graph processor \
                  and measure how fast and how cheaply it gets through it.\n\n\
                  `dagbench run` runs the default aircraft delay workload on this machine. On AWS, \
                  `dagbench deploy --scenario 1|2` deploys SQS -> Lambda or SQS -> ECS Fargate stacks \
                  (tagged PerfTestRun for Cost Explorer) and `dagbench run --scenario 1|2` runs the \
                  same workload through them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job graph on this machine (default: the aircraft delay workload)
    /// and report throughput, latency per stage and the results.
    Run(run_cmd::RunArgs),
    /// Process jobs from SQS as a Scenario 2 (ECS Fargate) task; configured
    /// by INCOMING_QUEUE_URL, OUTGOING_QUEUE_URL, DLQ_URL, BUCKET_NAME,
    /// TABLE_NAME, TEST_RUN_ID, BATCH_SIZE and the standard AWS environment.
    Worker(worker_cmd::WorkerArgs),
    /// Create and check job graph files.
    #[command(subcommand)]
    Graph(graph_cmd::GraphCommand),
    /// Generate workload inputs (aircraft daily sequences).
    #[command(subcommand)]
    Generate(flight_cmd::GenerateCommand),
    /// Benchmarks, each with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Summarize a finished run, estimate its cost and write its
    /// self-contained report.html.
    Report(report_cmd::ReportArgs),
    /// Compare runs side by side (configuration, speed, latency, cost) and
    /// check they computed identical results; thresholds make it fail.
    Compare(report_cmd::CompareArgs),
    /// What a test run cost according to AWS Cost Explorer (by the
    /// PerfTestRun tag, per service), beside dagbench's estimates.
    Cost(report_cmd::CostArgs),
    /// Print the effective deployment configuration (dagbench.toml, ENV,
    /// TEST_RUN_ID and flags), validated.
    Config(infra_cmd::ShowConfigArgs),
    /// Print or write the CloudFormation templates.
    Synth(infra_cmd::SynthArgs),
    /// Deploy the bootstrap stack: the assets bucket (Lambda zips) and the
    /// worker image repository.
    Bootstrap(infra_cmd::BootstrapArgs),
    /// Deploy or update a stack through a change set, streaming its events;
    /// `--scenario 1` uploads the Lambda zip, `--scenario 2` pins the
    /// worker image by digest.
    Deploy(infra_cmd::DeployArgs),
    /// Empty a stack's bucket and delete the stack.
    Destroy(infra_cmd::DestroyArgs),
    /// Set how many Scenario 2 (Fargate) tasks run.
    Scale(infra_cmd::ScaleArgs),
    /// Show the Scenario 2 service: desired/running/pending tasks,
    /// deployments, last events.
    Status(infra_cmd::StatusArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_cmd::run(args),
        Command::Worker(args) => worker_cmd::run(&args),
        Command::Graph(command) => graph_cmd::run(command),
        Command::Generate(command) => flight_cmd::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Report(args) => report_cmd::report(&args),
        Command::Compare(args) => report_cmd::compare(&args),
        Command::Cost(args) => report_cmd::cost(&args),
        Command::Config(args) => infra_cmd::show_config(&args),
        Command::Synth(args) => infra_cmd::synth(&args),
        Command::Bootstrap(args) => infra_cmd::bootstrap(&args),
        Command::Deploy(args) => infra_cmd::deploy(&args),
        Command::Destroy(args) => infra_cmd::destroy(&args),
        Command::Scale(args) => infra_cmd::scale(&args),
        Command::Status(args) => infra_cmd::status(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
