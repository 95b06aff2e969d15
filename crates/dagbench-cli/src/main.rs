//! `dagbench`: run a job graph through a job-graph processor and measure how
//! fast and how cheaply it gets through.
//!
//! `main` only parses the command line and prints the error, once, with its
//! chain of causes; each subcommand lives in its own module and hands its
//! work to a library. Built with `--no-default-features --features worker`
//! (the Scenario 2 image), it has the `worker` command only.

// Doc comments here are clap's --help texts, written for terminals: `<id>`
// is a placeholder there, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

// First, so that its printing macros are in scope in every module.
#[macro_use]
#[cfg_attr(not(feature = "full"), allow(dead_code))]
mod output;
#[cfg(feature = "full")]
mod bench;
#[cfg(feature = "full")]
mod bench_io;
#[cfg(feature = "full")]
mod bench_kernel;
#[cfg(feature = "full")]
mod bench_local;
#[cfg(feature = "full")]
mod bench_sim;
#[cfg(feature = "full")]
mod bounds;
#[cfg(feature = "full")]
mod flight_cmd;
#[cfg(feature = "full")]
mod graph_cmd;
#[cfg(feature = "full")]
mod infra_cmd;
#[cfg(feature = "full")]
mod progress;
#[cfg(feature = "full")]
mod report_cmd;
mod rt;
#[cfg(feature = "full")]
mod run_cmd;
#[cfg(feature = "full")]
mod simulate_cmd;
#[cfg(feature = "worker")]
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
                  `dagbench deploy --scenario 1|2|3` deploys SQS -> Lambda, SQS -> ECS Fargate or \
                  Step Functions stacks (tagged PerfTestRun for Cost Explorer) and \
                  `dagbench run --scenario 1|2|3` runs the same workload through them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[cfg(feature = "full")]
    /// Run a job graph on this machine (default: the aircraft delay workload)
    /// and report throughput, latency per stage and the results.
    Run(run_cmd::RunArgs),
    #[cfg(feature = "worker")]
    /// Process jobs from SQS as a Scenario 2 (ECS Fargate) task; configured
    /// by INCOMING_QUEUE_URL, OUTGOING_QUEUE_URL, DLQ_URL, BUCKET_NAME,
    /// TABLE_NAME, TEST_RUN_ID, BATCH_SIZE and the standard AWS environment.
    Worker(worker_cmd::WorkerArgs),
    #[cfg(feature = "full")]
    /// Create and check job graph files.
    #[command(subcommand)]
    Graph(graph_cmd::GraphCommand),
    #[cfg(feature = "full")]
    /// Generate workload inputs (aircraft daily sequences).
    #[command(subcommand)]
    Generate(flight_cmd::GenerateCommand),
    #[cfg(feature = "full")]
    /// Benchmarks, each with a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    #[cfg(feature = "full")]
    /// Summarize a finished run, estimate its cost and write its
    /// self-contained report.html.
    Report(report_cmd::ReportArgs),
    #[cfg(feature = "full")]
    /// Compare runs side by side (configuration, speed, latency, cost) and
    /// check they computed identical results; thresholds make it fail.
    Compare(report_cmd::CompareArgs),
    #[cfg(feature = "full")]
    /// Predict a graph's makespan and cost on every scenario and size,
    /// from built-in latencies or a finished run's profile, before paying
    /// for any of them.
    Simulate(simulate_cmd::SimulateArgs),
    #[cfg(feature = "full")]
    /// What a test run cost according to AWS Cost Explorer (by the
    /// PerfTestRun tag, per service), beside dagbench's estimates.
    Cost(report_cmd::CostArgs),
    #[cfg(feature = "full")]
    /// Print the effective deployment configuration (dagbench.toml, ENV,
    /// TEST_RUN_ID and flags), validated.
    Config(infra_cmd::ShowConfigArgs),
    #[cfg(feature = "full")]
    /// Print or write the CloudFormation templates.
    Synth(infra_cmd::SynthArgs),
    #[cfg(feature = "full")]
    /// Print Scenario 3's state machine definition (Amazon States
    /// Language), as `scenario-3-{env}` deploys it: for review, and to
    /// create it on emulators.
    Asl(infra_cmd::AslArgs),
    #[cfg(feature = "full")]
    /// Deploy the bootstrap stack: the assets bucket (Lambda zips) and the
    /// worker image repository.
    Bootstrap(infra_cmd::BootstrapArgs),
    #[cfg(feature = "full")]
    /// Deploy or update a stack through a change set, streaming its events;
    /// `--scenario 1` or `3` uploads the Lambda zip, `--scenario 2` pins
    /// the worker image by digest.
    Deploy(infra_cmd::DeployArgs),
    #[cfg(feature = "full")]
    /// Empty a stack's bucket and delete the stack.
    Destroy(infra_cmd::DestroyArgs),
    #[cfg(feature = "full")]
    /// Set how many Scenario 2 (Fargate) tasks run.
    Scale(infra_cmd::ScaleArgs),
    #[cfg(feature = "full")]
    /// Show the Scenario 2 service (desired/running/pending tasks,
    /// deployments, last events) or, with --scenario 3, the state machine
    /// and its latest executions.
    Status(infra_cmd::StatusArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "full")]
        Command::Run(args) => run_cmd::run(&args),
        #[cfg(feature = "worker")]
        Command::Worker(args) => worker_cmd::run(&args),
        #[cfg(feature = "full")]
        Command::Graph(command) => graph_cmd::run(command),
        #[cfg(feature = "full")]
        Command::Generate(command) => flight_cmd::run(command),
        #[cfg(feature = "full")]
        Command::Bench(command) => bench::run(command),
        #[cfg(feature = "full")]
        Command::Report(args) => report_cmd::report(&args),
        #[cfg(feature = "full")]
        Command::Compare(args) => report_cmd::compare(&args),
        #[cfg(feature = "full")]
        Command::Simulate(args) => simulate_cmd::run(&args),
        #[cfg(feature = "full")]
        Command::Cost(args) => report_cmd::cost(&args),
        #[cfg(feature = "full")]
        Command::Config(args) => infra_cmd::show_config(&args),
        #[cfg(feature = "full")]
        Command::Synth(args) => infra_cmd::synth(&args),
        #[cfg(feature = "full")]
        Command::Asl(args) => infra_cmd::asl(&args),
        #[cfg(feature = "full")]
        Command::Bootstrap(args) => infra_cmd::bootstrap(&args),
        #[cfg(feature = "full")]
        Command::Deploy(args) => infra_cmd::deploy(&args),
        #[cfg(feature = "full")]
        Command::Destroy(args) => infra_cmd::destroy(&args),
        #[cfg(feature = "full")]
        Command::Scale(args) => infra_cmd::scale(&args),
        #[cfg(feature = "full")]
        Command::Status(args) => infra_cmd::status(&args),
    };
    match result {
        Ok(code) => code,
        // The reader of standard output has gone: it asked for no more.
        Err(err) if output::is_stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            errln!("error: {err:#}");
            if err.downcast_ref::<output::Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
