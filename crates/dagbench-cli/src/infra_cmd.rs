//! The infrastructure commands: `config`, `synth`, `bootstrap`, `deploy`,
//! `destroy`, `scale`, `status`. Each reads the deployment configuration
//! (`dagbench.toml`, then `ENV`/`TEST_RUN_ID`, then flags), validates it
//! before touching anything, and calls `dagbench-deploy`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use dagbench_deploy::lifecycle::{self, DeployOptions};
use dagbench_deploy::{Aws, DeployMethod, Log};
use dagbench_infra::asl::TaskIntegration;
use dagbench_infra::{Config, Overrides, StackKind, synthesize};

/// The configuration file read when `--config` is not given, if present.
pub(crate) const DEFAULT_CONFIG: &str = "dagbench.toml";

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Deployment configuration (TOML) [default: ./dagbench.toml when it
    /// exists, else built-in defaults].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Environment: part of every stack and resource name (dev, prod, …).
    #[arg(long, env = "ENV")]
    env: Option<String>,
    /// The PerfTestRun cost-allocation tag put on every resource.
    #[arg(long = "test-run-id", env = "TEST_RUN_ID")]
    test_run_id: Option<String>,
    /// Scenario 1: Lambda memory, MB (128–10240).
    #[arg(long = "lambda-memory", value_name = "MB")]
    lambda_memory: Option<u32>,
    /// Scenario 1: Lambda timeout, seconds (1–900).
    #[arg(long = "lambda-timeout", value_name = "SECONDS")]
    lambda_timeout: Option<u32>,
    /// Scenario 1: concurrent executions reserved for the function, also
    /// its ceiling (0 = none, sharing the account's pool) [default: 100].
    #[arg(long = "lambda-reserved-concurrency", value_name = "N")]
    lambda_reserved_concurrency: Option<u32>,
    /// Messages per Lambda invocation (Scenario 1) or per receive (Scenario 2).
    #[arg(long = "batch-size", value_name = "N")]
    batch_size: Option<u32>,
    /// Scenario 2: task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).
    #[arg(long = "fargate-cpu", value_name = "UNITS")]
    fargate_cpu: Option<u32>,
    /// Scenario 2: task memory, MiB (one of the values the CPU allows).
    #[arg(long = "fargate-memory", value_name = "MB")]
    fargate_memory: Option<u32>,
    /// Scenario 3: how the state machine runs a job: `sqs` (the message
    /// with a task token to the incoming queue) or `lambda` (the function,
    /// invoked directly) [default: sqs].
    #[arg(long = "sfn-task", value_name = "TASK")]
    sfn_task: Option<TaskIntegration>,
}

impl ConfigArgs {
    /// The file, the environment and the flags, validated.
    pub(crate) fn load(&self) -> anyhow::Result<Config> {
        let mut config = file_config(self.config.as_deref())?;
        config.apply(&Overrides {
            env: self.env.clone().filter(|e| !e.is_empty()),
            test_run_id: self.test_run_id.clone().filter(|t| !t.is_empty()),
            lambda_memory_mb: self.lambda_memory,
            lambda_timeout_s: self.lambda_timeout,
            lambda_reserved_concurrency: self.lambda_reserved_concurrency,
            batch_size: self.batch_size,
            fargate_cpu: self.fargate_cpu,
            fargate_memory_mb: self.fargate_memory,
            step_functions_task: self.sfn_task,
        });
        config.validate()?;
        Ok(config)
    }
}

/// The configuration file: `path`, else `./dagbench.toml` when it exists,
/// else the defaults (no environment or flag overrides).
pub(crate) fn file_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let path = match path {
        Some(p) => p,
        None if Path::new(DEFAULT_CONFIG).exists() => Path::new(DEFAULT_CONFIG),
        None => return Ok(Config::default()),
    };
    crate::bounds::input_file(path, "--config", crate::bounds::MAX_SMALL_FILE_BYTES)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration {}", path.display()))?;
    Ok(Config::from_toml(&text, &path.display().to_string())?)
}

#[derive(Debug, Args)]
pub(crate) struct ShowConfigArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `dagbench config`: the effective configuration, as TOML.
pub(crate) fn show_config(args: &ShowConfigArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    out!("{}", config.to_toml());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct AslArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// How a job runs: `sqs` or `lambda` [default: the configuration's,
    /// sqs]. Same as --sfn-task.
    #[arg(long, value_name = "TASK", conflicts_with = "sfn_task")]
    task: Option<TaskIntegration>,
    /// The processor function's ARN (`lambda`) [default: the `${FunctionArn}`
    /// placeholder the stack substitutes].
    #[arg(long = "function-arn", value_name = "ARN")]
    function_arn: Option<String>,
    /// The incoming queue's URL (`sqs`) [default: the `${QueueUrl}`
    /// placeholder the stack substitutes].
    #[arg(long = "queue-url", value_name = "URL")]
    queue_url: Option<String>,
}

/// `dagbench asl`: Scenario 3's state machine definition, as deployed.
pub(crate) fn asl(args: &AslArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.load()?;
    if let Some(task) = args.task {
        config.step_functions.task = task;
    }
    let task = config.step_functions.task;
    match (task, &args.function_arn, &args.queue_url) {
        (TaskIntegration::Sqs, Some(_), _) => {
            usage!("--function-arn applies to --task lambda; --task sqs sends jobs to --queue-url")
        }
        (TaskIntegration::Lambda, _, Some(_)) => {
            usage!("--queue-url applies to --task sqs; --task lambda invokes --function-arn")
        }
        _ => {}
    }
    if let Some(arn) = &args.function_arn
        && !(arn.starts_with("arn:") && arn.contains(":lambda:") && arn.contains(":function:"))
    {
        usage!(
            "--function-arn {arn:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
        );
    }
    if let Some(url) = &args.queue_url
        && !((url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > "https://".len()
            && !url.contains(char::is_whitespace))
    {
        usage!(
            "--queue-url {url:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
        );
    }
    let options = dagbench_infra::stacks::scenario3::asl_options(
        &config,
        args.function_arn.as_deref().unwrap_or("${FunctionArn}"),
        args.queue_url.as_deref().unwrap_or("${QueueUrl}"),
    );
    let definition = dagbench_infra::asl::definition(&options);
    out!(
        "{}",
        serde_json::to_string_pretty(&definition).expect("a definition serializes")
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The stack: bootstrap, shared, 1, 2 or 3 [default with --out: all five].
    #[arg(long, value_name = "STACK")]
    scenario: Option<StackKind>,
    /// Write `<stack-name>.json` files here instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `dagbench synth`: the CloudFormation templates, printed or written.
pub(crate) fn synth(args: &SynthArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    match (&args.out, args.scenario) {
        (None, None) => bail!(
            "choose a stack with --scenario bootstrap|shared|1|2|3, or write all five with --out DIR"
        ),
        (None, Some(kind)) => out!("{}", synthesize(&config, kind).to_json()),
        (Some(dir), kinds) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let kinds = kinds.map_or_else(|| StackKind::ALL.to_vec(), |k| vec![k]);
            for kind in kinds {
                let path = dir.join(format!("{}.json", kind.stack_name(&config.env)));
                std::fs::write(&path, synthesize(&config, kind).to_json())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                outln!("{}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct DeployFlags {
    /// Scenario 1's package [default: target/lambda/bootstrap/bootstrap.zip
    /// (under CARGO_TARGET_DIR when set), which `make lambda` builds].
    #[arg(long = "lambda-zip", value_name = "PATH", env = "DAGBENCH_LAMBDA_ZIP")]
    lambda_zip: Option<PathBuf>,
    /// Create and update stacks directly instead of through change sets
    /// (for emulators such as moto, which cannot run change sets on
    /// existing stacks).
    #[arg(long)]
    direct: bool,
    /// Seconds between polls of a changing stack.
    #[arg(long = "poll-seconds", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    poll_seconds: u64,
}

impl DeployFlags {
    fn options(&self) -> DeployOptions {
        let defaults = DeployOptions::default();
        DeployOptions {
            method: if self.direct {
                DeployMethod::Direct
            } else {
                DeployMethod::ChangeSet
            },
            poll: Duration::from_secs(self.poll_seconds),
            lambda_zip: self.lambda_zip.clone().unwrap_or_else(|| {
                // Where `make lambda` (cargo lambda) puts it.
                std::env::var_os("CARGO_TARGET_DIR").map_or(defaults.lambda_zip, |dir| {
                    PathBuf::from(dir).join("lambda/bootstrap/bootstrap.zip")
                })
            }),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct BootstrapArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    flags: DeployFlags,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The stack: 1 (Lambda), 2 (Fargate; deploys the shared VPC first when
    /// missing), shared or bootstrap.
    #[arg(long, value_name = "STACK", default_value = "1")]
    scenario: StackKind,
    #[command(flatten)]
    flags: DeployFlags,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(crate::rt::current_thread()?)
}

/// `dagbench bootstrap`.
pub(crate) fn bootstrap(args: &BootstrapArgs) -> anyhow::Result<ExitCode> {
    deploy_kind(&args.config, StackKind::Bootstrap, &args.flags)
}

/// `dagbench deploy`.
pub(crate) fn deploy(args: &DeployArgs) -> anyhow::Result<ExitCode> {
    deploy_kind(&args.config, args.scenario, &args.flags)
}

fn deploy_kind(
    config: &ConfigArgs,
    kind: StackKind,
    flags: &DeployFlags,
) -> anyhow::Result<ExitCode> {
    let config = config.load()?;
    let options = flags.options();
    runtime()?.block_on(async {
        let aws = Aws::from_env().await?;
        errln!(
            "deploying {} to {} (PerfTestRun={})",
            kind.stack_name(&config.env),
            aws.region(),
            config.test_run_id
        );
        let done = lifecycle::deploy(&aws, &config, kind, &options, &Log::stderr()).await?;
        for stack in done {
            out!("{stack}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Args)]
pub(crate) struct DestroyArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The stack: 1, 2, shared or bootstrap.
    #[arg(long, value_name = "STACK", default_value = "1")]
    scenario: StackKind,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Seconds between polls of the stack being deleted.
    #[arg(long = "poll-seconds", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    poll_seconds: u64,
}

/// `dagbench destroy`: empties the stack's bucket, then deletes the stack.
pub(crate) fn destroy(args: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let name = args.scenario.stack_name(&config.env);
    runtime()?.block_on(async {
        let aws = Aws::from_env().await?;
        if !args.yes {
            confirm(&format!(
                "Destroy stack {name} in {}? Its bucket is emptied and its queues and table are deleted. [y/N] ",
                aws.region()
            ))?;
        }
        lifecycle::destroy(
            &aws,
            &config,
            args.scenario,
            Duration::from_secs(args.poll_seconds),
            &Log::stderr(),
        )
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn confirm(question: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to destroy without confirmation: pass --yes");
    }
    errout!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("not destroyed")
    }
}

#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Tasks the Scenario 2 service should run (0 stops them all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1000))]
    desired: u32,
}

/// `dagbench scale`: the Scenario 2 service's desired count.
pub(crate) fn scale(args: &ScaleArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    runtime()?.block_on(async {
        let aws = Aws::from_env().await?;
        lifecycle::scale(&aws, &config, args.desired, &Log::stderr()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The stack: 2 (the Fargate service) or 3 (the state machine).
    #[arg(long, default_value = "2", value_name = "STACK")]
    scenario: StackKind,
    /// How many of the service's latest events (or the state machine's
    /// latest executions) to show.
    #[arg(long, default_value_t = 5)]
    events: usize,
}

/// `dagbench status`: the Scenario 2 service's tasks, deployments, events;
/// or Scenario 3's state machine and its latest executions.
pub(crate) fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    if !matches!(args.scenario, StackKind::Scenario2 | StackKind::Scenario3) {
        usage!(
            "--scenario {} has no status to show: 2 (the Fargate service) or 3 (the state machine)",
            args.scenario
        );
    }
    runtime()?.block_on(async {
        let aws = Aws::from_env().await?;
        let setup = if args.scenario == StackKind::Scenario3 {
            let status = lifecycle::state_machine_status(&aws, &config.env, args.events).await?;
            out!("{status}");
            dagbench_report::cost::Setup::StepFunctions(config.step_functions_setup())
        } else {
            let status = lifecycle::status(&aws, &config, args.events).await?;
            out!("{status}");
            dagbench_report::cost::Setup::Fargate(
                config.fargate_setup(u32::try_from(status.running.max(0)).unwrap_or(0)),
            )
        };
        // What stays on the bill between runs.
        let table = dagbench_report::cost::PriceTable::bundled();
        match dagbench_report::cost::standing_per_hour(&setup, &aws.region(), &table) {
            Ok(lines) => {
                let total: f64 = lines.iter().map(|l| l.cost).sum::<f64>() + 0.0; // not -0.0 when empty
                outln!(
                    "  standing cost while idle: ${total:.4} per hour ({} prices {})",
                    aws.region(),
                    table.name
                );
                for l in lines.iter().filter(|l| l.quantity > 0.0) {
                    outln!("    {:<10} {}: ${:.6}/h", l.service, l.item, l.cost);
                }
            }
            Err(e) => errln!("note: no standing cost: {e}"),
        }
        Ok(ExitCode::SUCCESS)
    })
}
