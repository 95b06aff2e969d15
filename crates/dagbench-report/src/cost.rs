//! What a run costs: an estimate computed from what the run measured, priced
//! from a dated table (bundled: [`PriceTable::bundled`]; or a user's file).
//!
//! Quantities the run counted (its report's `calls`: every billed call,
//! counted where it was made) are priced as counted, in lines marked
//! `(counted)`. The model below covers what no run observes (the event
//! source mapping's polling, Lambda and Fargate time, a local run's queue
//! consumption on a cloud scenario) and reports without counts, in lines
//! marked `(modelled)`.
//!
//! The model, per scenario (every count is per run):
//!
//! - **SQS** (standard queue; every 64 KiB chunk of a request's payload is
//!   billed as one request): the scheduler sends jobs in batches of 10, receives and deletes
//!   completions in batches of 10, long-polls the outgoing queue and the DLQ
//!   (one empty receive per 20 s each); each job sends one completion.
//!   Lambda's event source mapping receives and deletes at most 10
//!   messages per call whatever its batch size, and keeps 5 pollers
//!   long-polling; Fargate tasks receive and
//!   delete a batch at a time, and every polling loop (tasks × concurrency)
//!   long-polls.
//! - **Lambda**: one request per batch; a batch's records run concurrently,
//!   so an invocation lasts about as long as its slowest record — the run's
//!   p90 processing time, rounded up to the millisecond — billed as GB-seconds
//!   at the function's memory and architecture.
//! - **Fargate**: each task billed per second for the run's makespan, with
//!   the one-minute minimum, for its vCPUs and GB.
//! - **S3**: one PUT per output object (plus the domain result of each
//!   aircraft job), one GET per job-details read.
//! - **DynamoDB** (on demand): two write request units per job (started,
//!   finished; items under 1 KB).
//! - **CloudWatch**: log ingestion of the per-job log lines (and EMF lines in
//!   Lambda); two custom metrics prorated by the hour (one-hour minimum);
//!   Fargate's `PutMetricData` every 10 s per task.

use std::collections::BTreeMap;
use std::fmt;

use dagbench_infra::Architecture;
use dagbench_infra::asl::TaskIntegration;
pub use dagbench_infra::deployment::{FargateSetup, LambdaSetup, Setup, StepFunctionsSetup};
use serde::{Deserialize, Serialize};

/// A price per CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerArch {
    /// Intel/AMD.
    pub x86_64: f64,
    /// Graviton.
    pub arm64: f64,
}

impl PerArch {
    fn get(&self, arch: Architecture) -> f64 {
        match arch {
            Architecture::X86_64 => self.x86_64,
            Architecture::Arm64 => self.arm64,
        }
    }
}

/// One region's prices (USD).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RegionPrices {
    pub lambda_requests_per_million: f64,
    pub lambda_gb_second: PerArch,
    pub sqs_requests_per_million: f64,
    pub s3_put_per_thousand: f64,
    pub s3_get_per_thousand: f64,
    pub dynamodb_write_units_per_million: f64,
    pub dynamodb_read_units_per_million: f64,
    pub cloudwatch_metric_month: f64,
    pub cloudwatch_put_metric_data_per_thousand: f64,
    pub cloudwatch_logs_ingestion_gb: f64,
    pub fargate_vcpu_hour: PerArch,
    pub fargate_gb_hour: PerArch,
    /// A public IPv4 address per hour (every Fargate task in a public
    /// subnet has one; billed since February 2024).
    #[serde(default = "public_ipv4_hour")]
    pub public_ipv4_hour: f64,
    /// Standard workflow state transitions (Scenario 3).
    #[serde(default = "step_functions_transitions_per_thousand")]
    pub step_functions_transitions_per_thousand: f64,
    /// KMS requests to an AWS managed key (the job table's `aws/dynamodb`).
    #[serde(default = "kms_requests_per_ten_thousand")]
    pub kms_requests_per_ten_thousand: f64,
    /// Where each price above comes from, by its field name, with the date
    /// it was read; `unconfirmed …` when no public source could confirm it.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
}

impl RegionPrices {
    /// The prices whose source says they are unconfirmed.
    #[must_use]
    pub fn unconfirmed(&self) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|(_, s)| s.starts_with("unconfirmed"))
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

fn public_ipv4_hour() -> f64 {
    0.005
}

fn step_functions_transitions_per_thousand() -> f64 {
    0.025
}

fn kms_requests_per_ten_thousand() -> f64 {
    0.03
}

/// A dated price table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// Its name (`aws-2026-11`).
    pub name: String,
    /// When its prices were taken.
    pub date: String,
    /// Where they come from.
    pub source: String,
    /// Prices by region.
    pub regions: BTreeMap<String, RegionPrices>,
}

/// Why there is no estimate.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The price file is not a price table.
    #[error("{origin}: not a dagbench price table: {message}")]
    Prices {
        /// The file.
        origin: String,
        /// serde's message.
        message: String,
    },
    /// The table has no prices for the region.
    #[error(
        "the price table {table} has no prices for region {region} (it has: {known}); pass --prices FILE with that region"
    )]
    Region {
        /// The table.
        table: String,
        /// The region asked for.
        region: String,
        /// The regions it has.
        known: String,
    },
}

impl PriceTable {
    /// The table bundled with this version of dagbench.
    #[must_use]
    pub fn bundled() -> Self {
        serde_json::from_str(include_str!("../prices/aws-2026-11.json"))
            .unwrap_or_else(|e| unreachable!("the bundled price table parses (tested): {e}"))
    }

    /// A table from a JSON file's text.
    ///
    /// # Errors
    /// [`CostError::Prices`] naming the file and the problem.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, CostError> {
        serde_json::from_str(text).map_err(|e| CostError::Prices {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// The prices of `region`.
    ///
    /// # Errors
    /// [`CostError::Region`] when the table lacks it.
    pub fn region(&self, region: &str) -> Result<&RegionPrices, CostError> {
        self.regions.get(region).ok_or_else(|| CostError::Region {
            table: self.name.clone(),
            region: region.to_owned(),
            known: self.regions.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

/// What a run measured that costs money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Jobs processed (completed or failed).
    pub jobs: u64,
    /// p90 of the processing stage, ms.
    pub processing_p90_ms: f64,
    /// First dispatch to last completion, seconds.
    pub makespan_s: f64,
    /// Objects read from S3 (job details, percentiles merged).
    pub s3_gets: u64,
    /// Objects written to S3 (outputs, delays, percentiles).
    pub s3_puts: u64,
    /// Log bytes ingested per job.
    pub log_bytes_per_job: u64,
    /// Bytes of one job message.
    #[serde(default = "default_job_bytes")]
    pub job_message_bytes: u64,
    /// Bytes of one completion message.
    #[serde(default = "default_completion_bytes")]
    pub completion_bytes: u64,
    /// The billed calls the run counted, when its report has them: these
    /// replace the modelled quantities they cover.
    #[serde(default)]
    pub calls: Option<dagbench_runtime::report::RunCalls>,
    /// Where the run ran: a run's own queue polling is counted only when it
    /// ran on the scenario being priced.
    #[serde(default)]
    pub ran_on: Option<dagbench_core::Scenario>,
    /// Seconds each Fargate task was billed, when stated (`--fargate-task-
    /// minutes`); else the makespan is assumed.
    #[serde(default)]
    pub fargate_task_s: Option<f64>,
    /// The graph's topological levels: jobs of successive levels never
    /// share a batch, so a run takes at least one batch per level.
    #[serde(default)]
    pub levels: u64,
    /// State transitions Scenario 3's execution took (parent and child
    /// executions), when the run ran there.
    #[serde(default)]
    pub state_transitions: Option<u64>,
    /// Plan objects its Distributed Maps read (the chains file and one
    /// per level), when the run ran there.
    #[serde(default)]
    pub plan_objects: Option<u64>,
}

/// A job message's usual size (id, work, data size, input key).
pub const JOB_MESSAGE_BYTES: u64 = 256;
/// A completion's usual size (id, status, output key, times, worker).
pub const COMPLETION_BYTES: u64 = 512;

fn default_job_bytes() -> u64 {
    JOB_MESSAGE_BYTES
}

fn default_completion_bytes() -> u64 {
    COMPLETION_BYTES
}

/// SQS bills each 64 KiB chunk of a request's payload as one request.
#[must_use]
pub fn chunks(payload_bytes: u64) -> f64 {
    payload_bytes.div_ceil(64 * 1024).max(1) as f64
}

/// One priced quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    /// `Lambda`, `SQS`, …
    pub service: String,
    /// What is counted.
    pub item: String,
    /// How much.
    pub quantity: f64,
    /// In what unit.
    pub unit: String,
    /// USD per unit.
    pub unit_price: f64,
    /// quantity × unit price, USD.
    pub cost: f64,
}

/// A run's estimated cost on one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The scenario and configuration priced.
    pub setup: Setup,
    /// The region's prices used.
    pub region: String,
    /// The price table's name and date.
    pub prices: String,
    /// Every priced quantity.
    pub lines: Vec<CostLine>,
    /// Sum of the lines, USD.
    pub total: f64,
    /// USD per 1,000 jobs.
    pub per_1000_jobs: f64,
    /// What the stack costs per hour between runs, USD (see
    /// [`standing_per_hour`]): not part of `total`.
    #[serde(default)]
    pub standing_per_hour: f64,
}

/// Seconds of one SQS long poll.
pub const LONG_POLL_S: f64 = 20.0;
/// Pollers an SQS event source mapping keeps when idle.
pub const ESM_POLLERS: f64 = 5.0;
/// Custom metrics each scenario publishes (ProcessingTimeMs, JobsCompleted)
/// for one TestRunId.
pub const CUSTOM_METRICS: f64 = 2.0;
/// Hours in CloudWatch's metric month.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Seconds between a Fargate task's PutMetricData calls.
pub const PUT_METRIC_INTERVAL_S: f64 = 10.0;
/// Data points one `PutMetricData` call carries (the worker's sink flushes
/// every 20).
pub const METRIC_POINTS_PER_CALL: u64 = 20;
/// Seconds between renewals of the scheduler's lease on a stack.
pub const LEASE_RENEWAL_S: f64 = 20.0;
/// How long DynamoDB keeps a table key from KMS per client, seconds.
pub const KMS_KEY_CACHE_S: f64 = 300.0;
/// Lambda execution environments counted for the KMS line (each is a
/// DynamoDB client) at most: the average concurrency, capped here.
pub const LAMBDA_ENVIRONMENTS: f64 = 100.0;
/// Fargate's minimum billed time per task, seconds.
pub const FARGATE_MINIMUM_S: f64 = 60.0;

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Batches of at most `size` for `n` jobs spread over `levels` levels
/// (jobs of different levels are never in flight together).
fn level_batches(n: u64, size: u32, levels: u64) -> f64 {
    batches(n, size).max(levels.min(n) as f64)
}

fn batches(n: u64, size: u32) -> f64 {
    n.div_ceil(u64::from(size.max(1))) as f64
}

/// Priced lines as an estimate collects them.
#[derive(Debug, Default)]
struct Lines(Vec<CostLine>);

impl Lines {
    fn add(&mut self, service: &str, item: &str, quantity: f64, unit: &str, unit_price: f64) {
        self.0.push(CostLine {
            service: service.into(),
            item: item.into(),
            quantity,
            unit: unit.into(),
            unit_price,
            cost: quantity * unit_price,
        });
    }

    /// What `f.tasks` Fargate tasks cost for `hours` each: vCPU, memory and
    /// their public IPv4 addresses; `note` ends each item.
    fn fargate_tasks(&mut self, f: &FargateSetup, hours: f64, p: &RegionPrices, note: &str) {
        let tasks = f64::from(f.tasks);
        self.add(
            "Fargate",
            &format!("vCPU ({} × {} CPU {}{note})", f.tasks, f.cpu, f.arch),
            tasks * f64::from(f.cpu) / 1024.0 * hours,
            "vCPU-hours",
            p.fargate_vcpu_hour.get(f.arch),
        );
        self.add(
            "Fargate",
            &format!("memory ({} × {} MiB{note})", f.tasks, f.memory_mb),
            tasks * f64::from(f.memory_mb) / 1024.0 * hours,
            "GB-hours",
            p.fargate_gb_hour.get(f.arch),
        );
        self.add(
            "Fargate",
            &format!("public IPv4 ({} task{}{note})", f.tasks, plural(f.tasks)),
            tasks * hours,
            "IP-hours",
            p.public_ipv4_hour,
        );
    }
}

/// How the function is invoked.
enum LambdaUse {
    /// By the incoming queue's event source mapping, in batches.
    Mapping,
    /// By Step Functions, one job per invocation.
    Direct,
}

impl Lines {
    /// The Lambda processors' lines: invoked by the queue's event source
    /// mapping (batches; its polling), or directly, one job per invocation
    /// (Scenario 3 `lambda`). `counted` when the run ran there.
    fn lambda_processors(
        &mut self,
        measured: &Measured,
        l: &LambdaSetup,
        by: &LambdaUse,
        counted: Option<dagbench_core::calls::Calls>,
        p: &RegionPrices,
    ) {
        let jobs = measured.jobs;
        let sqs_price = p.sqs_requests_per_million / 1e6;
        let polls = (measured.makespan_s / LONG_POLL_S).ceil();
        let job_b = measured.job_message_bytes;
        let invocations = match by {
            LambdaUse::Mapping => level_batches(jobs, l.batch_size, measured.levels),
            LambdaUse::Direct => jobs as f64,
        };
        if matches!(by, LambdaUse::Mapping) {
            // However large the mapping's batch, each of its receives and
            // deletes takes at most 10 messages.
            let calls = level_batches(jobs, 10, measured.levels);
            self.add(
                "SQS",
                "event source mapping receives, deletes, idle polls (modelled: the mapping's polling is not observable)",
                calls * chunks(10 * job_b) + calls + ESM_POLLERS * polls,
                "requests",
                sqs_price,
            );
        }
        // Counted when the run ran on Lambda: the function reports each
        // invocation's duration with its environment's next completion.
        let counted_lambda = counted.filter(|t| t.lambda_invocations > 0);
        let (requests, seconds, how) = match counted_lambda {
            Some(t) => (
                t.lambda_invocations as f64,
                t.lambda_billed_ms as f64 / 1e3,
                "counted; an environment's last invocation reports with no completion",
            ),
            None => (
                invocations,
                invocations * measured.processing_p90_ms.max(1.0).ceil() / 1e3,
                match by {
                    LambdaUse::Mapping => "modelled: one per batch, lasting the processing p90",
                    LambdaUse::Direct => "modelled: one per job, lasting the processing p90",
                },
            ),
        };
        self.add(
            "Lambda",
            &format!("requests ({how})"),
            requests,
            "requests",
            p.lambda_requests_per_million / 1e6,
        );
        self.add(
            "Lambda",
            &format!("duration ({} MB {}; {how})", l.memory_mb, l.arch),
            seconds * f64::from(l.memory_mb) / 1024.0,
            "GB-seconds",
            p.lambda_gb_second.get(l.arch),
        );
    }
}

/// The estimate of `measured` on `setup`, at `region`'s prices.
///
/// # Errors
/// When the table lacks the region.
pub fn estimate(
    measured: &Measured,
    setup: &Setup,
    region: &str,
    table: &PriceTable,
) -> Result<Estimate, CostError> {
    let p = table.region(region)?;
    let jobs = measured.jobs;
    let polls = (measured.makespan_s / LONG_POLL_S).ceil();
    let mut lines = Lines::default();
    let sqs_price = p.sqs_requests_per_million / 1e6;
    // The scheduler's side: sends, receives + deletes of completions,
    // long polls of the outgoing queue and the DLQ.
    let (job_b, done_b) = (measured.job_message_bytes, measured.completion_bytes);
    let counted = measured.calls;
    let total = counted.map(|c| c.total());
    match counted {
        Some(c) => {
            lines.add(
                "SQS",
                "scheduler requests (counted)",
                (c.scheduler.sqs_requests + c.scheduler.sqs_polling_requests) as f64,
                "requests",
                sqs_price,
            );
            lines.add(
                "SQS",
                "completions and dead letters sent (counted)",
                c.processors.sqs_requests as f64,
                "requests",
                sqs_price,
            );
        }
        None => {
            // Scenario 3's state machine sends the jobs, not the scheduler.
            let sends = if setup.scenario() == dagbench_core::Scenario::StepFunctions {
                0.0
            } else {
                batches(jobs, 10) * chunks(10 * job_b)
            };
            let scheduler =
                sends + batches(jobs, 10) * chunks(10 * done_b) + batches(jobs, 10) + 2.0 * polls;
            lines.add(
                "SQS",
                "scheduler requests (modelled)",
                scheduler,
                "requests",
                sqs_price,
            );
            lines.add(
                "SQS",
                "completions sent (modelled)",
                jobs as f64,
                "requests",
                sqs_price,
            );
        }
    }
    // The processors' own queue polling is counted when the run ran where
    // it is priced, by processors that poll (Fargate workers).
    let own_polling = counted
        .filter(|_| measured.ran_on == Some(setup.scenario()))
        .map(|c| c.processors.sqs_polling_requests as f64);
    match setup {
        Setup::Lambda(l) => lines.lambda_processors(
            measured,
            l,
            &LambdaUse::Mapping,
            total.filter(|_| measured.ran_on == Some(setup.scenario())),
            p,
        ),
        Setup::StepFunctions(sf) => {
            let l = LambdaSetup {
                memory_mb: sf.memory_mb,
                arch: sf.arch,
                batch_size: sf.batch_size,
            };
            let (transitions, how) = match measured.state_transitions {
                Some(t) if measured.ran_on == Some(setup.scenario()) => (
                    t as f64,
                    "from the execution's plan: each state entered once, retries not included",
                ),
                _ => (
                    (jobs + 3 * measured.levels + 3) as f64,
                    "modelled: the levels plan, one per job, three per level",
                ),
            };
            lines.add(
                "Step Functions",
                &format!("Standard state transitions ({how})"),
                transitions,
                "transitions",
                p.step_functions_transitions_per_thousand / 1e3,
            );
            let (reads, how) = match measured.plan_objects {
                Some(n) if measured.ran_on == Some(setup.scenario()) => (n, "from the plan"),
                _ => (measured.levels, "modelled: one per level"),
            };
            lines.add(
                "S3",
                &format!("GET of the plan by the Distributed Maps ({how})"),
                reads as f64,
                "requests",
                p.s3_get_per_thousand / 1e3,
            );
            let counted_lambda = total.filter(|_| measured.ran_on == Some(setup.scenario()));
            match sf.task {
                TaskIntegration::Lambda => {
                    lines.lambda_processors(measured, &l, &LambdaUse::Direct, counted_lambda, p);
                }
                TaskIntegration::Sqs => {
                    lines.add(
                        "SQS",
                        "job messages sent by the state machine (modelled: one per job)",
                        jobs as f64 * chunks(job_b),
                        "requests",
                        sqs_price,
                    );
                    lines.lambda_processors(measured, &l, &LambdaUse::Mapping, counted_lambda, p);
                }
            }
        }
        Setup::Fargate(f) => {
            let loops = f64::from(f.tasks) * f64::from(f.concurrency.max(1));
            match own_polling {
                Some(n) => lines.add(
                    "SQS",
                    "task receives, deletes, heartbeats (counted)",
                    n,
                    "requests",
                    sqs_price,
                ),
                None => lines.add(
                    "SQS",
                    "task receives, deletes, idle polls (modelled)",
                    level_batches(jobs, f.batch_size, measured.levels)
                        * chunks(u64::from(f.batch_size) * job_b)
                        + level_batches(jobs, f.batch_size, measured.levels)
                        + loops * polls,
                    "requests",
                    sqs_price,
                ),
            }
            let (billed_s, how) = match measured.fargate_task_s {
                Some(s) => (s, "as stated by --fargate-task-minutes"),
                None => (
                    measured.makespan_s,
                    "modelled: the makespan; tasks kept running around the run cost the between-runs rate, or state their time with --fargate-task-minutes",
                ),
            };
            let hours = billed_s.ceil().max(FARGATE_MINIMUM_S) / 3600.0;
            lines.fargate_tasks(f, hours, p, &format!("; {how}; one-minute minimum"));
            match total {
                Some(t) => lines.add(
                    "CloudWatch",
                    "PutMetricData (counted data points, 20 per call)",
                    t.metric_points.div_ceil(METRIC_POINTS_PER_CALL) as f64,
                    "requests",
                    p.cloudwatch_put_metric_data_per_thousand / 1e3,
                ),
                None => lines.add(
                    "CloudWatch",
                    "PutMetricData (modelled)",
                    f64::from(f.tasks)
                        * (measured.makespan_s / PUT_METRIC_INTERVAL_S)
                            .ceil()
                            .max(1.0),
                    "requests",
                    p.cloudwatch_put_metric_data_per_thousand / 1e3,
                ),
            }
        }
    }
    match total {
        Some(t) => {
            // LIST is billed at the PUT rate.
            lines.add(
                "S3",
                "PUT and LIST (counted)",
                (t.s3_put + t.s3_list) as f64,
                "requests",
                p.s3_put_per_thousand / 1e3,
            );
            lines.add(
                "S3",
                "GET (counted)",
                t.s3_get as f64,
                "requests",
                p.s3_get_per_thousand / 1e3,
            );
            lines.add(
                "DynamoDB",
                "write request units (counted)",
                t.dynamodb_write_units as f64,
                "WRU",
                p.dynamodb_write_units_per_million / 1e6,
            );
            lines.add(
                "DynamoDB",
                "read request units (counted)",
                t.dynamodb_read_units as f64,
                "RRU",
                p.dynamodb_read_units_per_million / 1e6,
            );
        }
        None => {
            lines.add(
                "S3",
                "PUT (modelled)",
                measured.s3_puts as f64,
                "requests",
                p.s3_put_per_thousand / 1e3,
            );
            lines.add(
                "S3",
                "GET (modelled)",
                measured.s3_gets as f64,
                "requests",
                p.s3_get_per_thousand / 1e3,
            );
            lines.add(
                "DynamoDB",
                "write request units (modelled)",
                2.0 * jobs as f64,
                "WRU",
                p.dynamodb_write_units_per_million / 1e6,
            );
        }
    }
    lines.add(
        "CloudWatch",
        "log ingestion (modelled: about 600 bytes of log lines per job)",
        (jobs * measured.log_bytes_per_job) as f64 / f64::from(1u32 << 30),
        "GB",
        p.cloudwatch_logs_ingestion_gb,
    );
    // The scheduler's lease on the stack: taken, renewed every 20 s,
    // released (a local run has none; its cloud equivalent would).
    lines.add(
        "DynamoDB",
        "scheduler lease writes (modelled: taken, renewed every 20 s, released)",
        (measured.makespan_s / LEASE_RENEWAL_S).ceil() + 2.0,
        "WRU",
        p.dynamodb_write_units_per_million / 1e6,
    );
    // The job table is encrypted with the AWS managed key: DynamoDB asks
    // KMS for it about every 5 minutes per client it serves.
    let clients = 1.0
        + match setup {
            // Environments running at once on average: invocation time
            // over the makespan.
            Setup::Lambda(l) => (batches(jobs, l.batch_size)
                * measured.processing_p90_ms.max(1.0).ceil()
                / 1e3
                / measured.makespan_s.max(1e-3))
            .ceil()
            .clamp(1.0, LAMBDA_ENVIRONMENTS),
            // One job per invocation at most (direct), or batches.
            Setup::StepFunctions(sf) => (batches(
                jobs,
                match sf.task {
                    TaskIntegration::Lambda => 1,
                    TaskIntegration::Sqs => sf.batch_size,
                },
            ) * measured.processing_p90_ms.max(1.0).ceil()
                / 1e3
                / measured.makespan_s.max(1e-3))
            .ceil()
            .clamp(1.0, LAMBDA_ENVIRONMENTS),
            Setup::Fargate(f) => f64::from(f.tasks),
        };
    lines.add(
        "KMS",
        "requests for the job table's key (modelled: one per client per 5 minutes)",
        clients * (measured.makespan_s / KMS_KEY_CACHE_S).ceil().max(1.0),
        "requests",
        p.kms_requests_per_ten_thousand / 1e4,
    );
    let metric_hours = (measured.makespan_s / 3600.0).ceil().max(1.0);
    lines.add(
        "CloudWatch",
        "custom metrics (modelled: two metrics, prorated by the hour, one-hour minimum)",
        CUSTOM_METRICS * metric_hours / HOURS_PER_MONTH,
        "metric-months",
        p.cloudwatch_metric_month,
    );
    let total: f64 = lines.0.iter().map(|l| l.cost).sum();
    Ok(Estimate {
        setup: *setup,
        region: region.to_owned(),
        prices: format!("{} ({})", table.name, table.date),
        lines: lines.0,
        total,
        per_1000_jobs: if jobs == 0 {
            0.0
        } else {
            total / jobs as f64 * 1000.0
        },
        // `+ 0.0`: an empty sum is -0.0, which would print as "$-0.0000".
        standing_per_hour: standing_per_hour(setup, region, table)?
            .iter()
            .map(|l| l.cost)
            .sum::<f64>()
            + 0.0,
    })
}

/// What a deployed stack of `setup` costs per hour between runs, at
/// `region`'s prices: running Fargate tasks (vCPU, memory, public IPv4)
/// and their loops' idle long polls, or a Lambda event source mapping's
/// pollers. The job table's point-in-time recovery ($0.20 per GB-month) is
/// left out: the table holds a few KB.
///
/// # Errors
/// When the table lacks the region.
pub fn standing_per_hour(
    setup: &Setup,
    region: &str,
    table: &PriceTable,
) -> Result<Vec<CostLine>, CostError> {
    let p = table.region(region)?;
    let polls_per_hour = 3600.0 / LONG_POLL_S;
    let sqs = p.sqs_requests_per_million / 1e6;
    let mut lines = Lines::default();
    match setup {
        Setup::Fargate(f) => {
            lines.fargate_tasks(f, 1.0, p, "");
            lines.add(
                "SQS",
                &format!("idle long polls ({} loops)", f.tasks * f.concurrency.max(1)),
                f64::from(f.tasks) * f64::from(f.concurrency.max(1)) * polls_per_hour,
                "requests",
                sqs,
            );
        }
        Setup::Lambda(_)
        | Setup::StepFunctions(StepFunctionsSetup {
            task: TaskIntegration::Sqs,
            ..
        }) => lines.add(
            "SQS",
            &format!("event source mapping idle polls ({ESM_POLLERS} pollers)"),
            ESM_POLLERS * polls_per_hour,
            "requests",
            sqs,
        ),
        // A state machine and a function invoked only by it cost nothing
        // idle.
        Setup::StepFunctions(_) => {}
    }
    Ok(lines.0)
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} in {}: ${:.6} (${:.6} per 1,000 jobs; prices {}); between runs ${:.4} per hour",
            self.setup.describe(),
            self.region,
            self.total,
            self.per_1000_jobs,
            self.prices,
            self.standing_per_hour
        )?;
        for l in &self.lines {
            writeln!(
                f,
                "  {:<10} {:<52} {:>14.4} {:<13} ${:.6}",
                l.service, l.item, l.quantity, l.unit, l.cost
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Measured {
        Measured {
            jobs: 1000,
            processing_p90_ms: 99.2,
            makespan_s: 100.0,
            s3_gets: 1000,
            s3_puts: 2000,
            log_bytes_per_job: 600,
            job_message_bytes: JOB_MESSAGE_BYTES,
            completion_bytes: COMPLETION_BYTES,
            calls: None,
            ran_on: None,
            fargate_task_s: None,
            levels: 1,
            state_transitions: None,
            plan_objects: None,
        }
    }

    #[test]
    fn sqs_bills_each_64_kib_chunk_as_a_request() {
        assert_eq!(chunks(0), 1.0);
        assert_eq!(chunks(65_536), 1.0);
        assert_eq!(chunks(65_537), 2.0);
        assert_eq!(chunks(256 * 1024), 4.0);
        // Jobs of 10 KiB: a batch of ten is 100 KiB, two requests per send
        // and per receive; 1000 jobs = 100 batches.
        let mut m = measured();
        m.job_message_bytes = 10 * 1024;
        let setup = Setup::Lambda(LambdaSetup {
            memory_mb: 128,
            arch: Architecture::X86_64,
            batch_size: 10,
        });
        let e = estimate(&m, &setup, "us-east-1", &PriceTable::bundled()).unwrap();
        // Scheduler: 100 × 2 sends + 100 completion receives + 100 deletes + 2 × 5 polls.
        close(line(&e, "SQS", "scheduler").quantity, 410.0);
        // Mapping: 100 × 2 receives + 100 deletes + 5 pollers × 5 polls.
        close(line(&e, "SQS", "event source").quantity, 325.0);
    }

    fn line<'a>(e: &'a Estimate, service: &str, item_prefix: &str) -> &'a CostLine {
        e.lines
            .iter()
            .find(|l| l.service == service && l.item.starts_with(item_prefix))
            .unwrap_or_else(|| panic!("no {service} {item_prefix} in {e}"))
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn every_bundled_price_names_its_source() {
        let t = PriceTable::bundled();
        for (region, prices) in &t.regions {
            let value = serde_json::to_value(prices).unwrap();
            for field in value
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "sources")
            {
                let source = prices
                    .sources
                    .get(field)
                    .unwrap_or_else(|| panic!("{region}: {field} names no source"));
                assert!(
                    source.starts_with("https://aws.amazon.com/")
                        || source.starts_with("unconfirmed ("),
                    "{region}: {field}: {source}"
                );
                assert!(
                    source.contains("2026-11-01"),
                    "{region}: {field} has no date: {source}"
                );
            }
            // No source for a price that does not exist.
            for field in prices.sources.keys() {
                assert!(
                    value.get(field).is_some(),
                    "{region}: a source for unknown {field}"
                );
            }
        }
        let mut eu = t.regions["eu-west-1"].unconfirmed();
        eu.sort_unstable();
        assert_eq!(
            eu,
            [
                "cloudwatch_logs_ingestion_gb",
                "dynamodb_read_units_per_million",
                "fargate_gb_hour",
                "fargate_vcpu_hour"
            ]
        );
        assert!(t.regions["us-east-1"].unconfirmed().is_empty());
    }

    #[test]
    fn the_bundled_table_has_both_regions_and_both_architectures() {
        let t = PriceTable::bundled();
        assert_eq!(t.date, "2026-11-01");
        for region in ["us-east-1", "eu-west-1"] {
            let p = t.region(region).unwrap();
            assert!(p.lambda_gb_second.arm64 < p.lambda_gb_second.x86_64);
            assert!(p.fargate_vcpu_hour.arm64 < p.fargate_vcpu_hour.x86_64);
        }
        let err = t.region("ap-south-2").unwrap_err().to_string();
        assert!(
            err.contains("eu-west-1, us-east-1") && err.contains("--prices"),
            "{err}"
        );
    }

    #[test]
    fn lambda_lines_match_hand_computed_figures() {
        let setup = Setup::Lambda(LambdaSetup {
            memory_mb: 512,
            arch: Architecture::X86_64,
            batch_size: 10,
        });
        let e = estimate(&measured(), &setup, "us-east-1", &PriceTable::bundled()).unwrap();
        // 1000 jobs / batch 10 = 100 invocations × $0.20/M.
        let requests = line(&e, "Lambda", "requests");
        close(requests.quantity, 100.0);
        close(requests.cost, 100.0 * 0.20 / 1e6);
        // 100 invocations × 100 ms (p90 99.2 rounded up) = 10 s × 0.5 GB = 5 GB-s.
        let duration = line(&e, "Lambda", "duration");
        close(duration.quantity, 5.0);
        close(duration.cost, 5.0 * 0.0000166667);
        // Scheduler: 3 × 100 batches + 2 × 5 polls (100 s / 20 s) = 310.
        close(line(&e, "SQS", "scheduler").quantity, 310.0);
        close(line(&e, "SQS", "completions").quantity, 1000.0);
        // Mapping: 2 × 100 + 5 pollers × 5 polls = 225.
        close(line(&e, "SQS", "event source").quantity, 225.0);
        // KMS: the scheduler and one environment (100 invocations of 0.1 s
        // in 100 s), once each.
        let kms = line(&e, "KMS", "requests");
        close(kms.quantity, 2.0);
        close(kms.cost, 2.0 * 0.03 / 1e4);
        // A batch of 100 still takes 10 receives and 10 deletes of 10.
        let big = Setup::Lambda(LambdaSetup {
            memory_mb: 512,
            arch: Architecture::X86_64,
            batch_size: 100,
        });
        let e = estimate(&measured(), &big, "us-east-1", &PriceTable::bundled()).unwrap();
        close(line(&e, "SQS", "event source").quantity, 225.0);
        close(line(&e, "Lambda", "requests").quantity, 10.0);
        // S3: 2000 PUT × $0.005/1000 = $0.01; 1000 GET × $0.0004/1000.
        close(line(&e, "S3", "PUT").cost, 0.01);
        close(line(&e, "S3", "GET").cost, 0.0004);
        // DynamoDB: 2000 WRU × $0.625/M.
        close(line(&e, "DynamoDB", "write").cost, 2000.0 * 0.625 / 1e6);
        // Logs: 600 kB over 2^30 bytes per GB × $0.50.
        close(
            line(&e, "CloudWatch", "log").cost,
            600_000.0 / 1_073_741_824.0 * 0.5,
        );
        // Metrics: 2 metrics × 1 hour / 730 × $0.30.
        close(line(&e, "CloudWatch", "custom").cost, 2.0 / 730.0 * 0.30);
        let sum: f64 = e.lines.iter().map(|l| l.cost).sum();
        close(e.total, sum);
        close(e.per_1000_jobs, sum);
        assert!(e.to_string().contains("scenario-1 Lambda 512 MB x86_64"));
    }

    fn step_functions(task: TaskIntegration) -> Setup {
        Setup::StepFunctions(StepFunctionsSetup {
            task,
            memory_mb: 512,
            arch: Architecture::X86_64,
            batch_size: 10,
            max_concurrency: 1000,
        })
    }

    #[test]
    fn step_functions_lines_price_transitions_and_the_integration() {
        let table = PriceTable::bundled();
        // Priced from another run: the levels plan, modelled.
        let m = Measured {
            levels: 4,
            ..measured()
        };
        let e = estimate(
            &m,
            &step_functions(TaskIntegration::Lambda),
            "us-east-1",
            &table,
        )
        .unwrap();
        // 1000 jobs + 3 × 4 levels + 3 = 1015 transitions × $0.025/1000.
        let t = line(&e, "Step Functions", "Standard state transitions");
        close(t.quantity, 1015.0);
        close(t.cost, 1015.0 * 0.025 / 1e3);
        // Direct invocations: one per job, each the p90 (100 ms) at 0.5 GB.
        close(line(&e, "Lambda", "requests").quantity, 1000.0);
        close(line(&e, "Lambda", "duration").quantity, 1000.0 * 0.1 * 0.5);
        // No queue between the state machine and the function; the
        // scheduler only reads completions: 2 × 100 batches + 2 × 5 polls.
        assert!(e.lines.iter().all(|l| !l.item.contains("event source")));
        assert!(
            e.lines
                .iter()
                .all(|l| !l.item.contains("sent by the state machine"))
        );
        close(line(&e, "SQS", "scheduler").quantity, 210.0);
        assert_eq!(e.standing_per_hour.to_string(), "0", "not -0");
        // Through the queue: the state machine's sends, the mapping's
        // batches and polling, standing pollers.
        let e = estimate(
            &m,
            &step_functions(TaskIntegration::Sqs),
            "us-east-1",
            &table,
        )
        .unwrap();
        close(
            line(&e, "SQS", "job messages sent by the state machine").quantity,
            1000.0,
        );
        close(line(&e, "SQS", "event source").quantity, 225.0);
        close(line(&e, "Lambda", "requests").quantity, 100.0);
        assert!(e.standing_per_hour > 0.0);
        // A run that ran there prices its own plan.
        let own = Measured {
            ran_on: Some(dagbench_core::Scenario::StepFunctions),
            state_transitions: Some(1_234),
            plan_objects: Some(2),
            ..m
        };
        let e = estimate(
            &own,
            &step_functions(TaskIntegration::Sqs),
            "us-east-1",
            &table,
        )
        .unwrap();
        close(
            line(&e, "Step Functions", "Standard state transitions").quantity,
            1234.0,
        );
        close(line(&e, "S3", "GET of the plan").quantity, 2.0);
    }

    #[test]
    fn arm64_lambda_costs_less_per_gb_second() {
        let table = PriceTable::bundled();
        let cost = |arch| {
            let setup = Setup::Lambda(LambdaSetup {
                memory_mb: 1024,
                arch,
                batch_size: 1,
            });
            line(
                &estimate(&measured(), &setup, "eu-west-1", &table).unwrap(),
                "Lambda",
                "duration",
            )
            .cost
        };
        // 1000 invocations × 0.1 s × 1 GB = 100 GB-s.
        close(cost(Architecture::Arm64), 100.0 * 0.0000133334);
        close(cost(Architecture::X86_64), 100.0 * 0.0000166667);
    }

    /// Two tasks of 0.5 vCPU and 1 GB, four loops each.
    fn two_half_vcpu_tasks() -> Setup {
        Setup::Fargate(FargateSetup {
            cpu: 512,
            memory_mb: 1024,
            arch: Architecture::X86_64,
            tasks: 2,
            concurrency: 4,
            batch_size: 10,
        })
    }

    #[test]
    fn fargate_lines_match_hand_computed_figures() {
        let setup = two_half_vcpu_tasks();
        let e = estimate(&measured(), &setup, "us-east-1", &PriceTable::bundled()).unwrap();
        // 2 tasks × 0.5 vCPU × 100 s = 100 vCPU-s = 1/36 vCPU-h.
        let vcpu = line(&e, "Fargate", "vCPU");
        close(vcpu.quantity, 100.0 / 3600.0);
        close(vcpu.cost, 100.0 / 3600.0 * 0.04048);
        // 2 tasks × 1 GB × 100 s.
        close(
            line(&e, "Fargate", "memory").cost,
            200.0 / 3600.0 * 0.004445,
        );
        // Receives 100 + deletes 100 + 8 loops × 5 polls = 240.
        close(line(&e, "SQS", "task").quantity, 240.0);
        // PutMetricData: 2 tasks × 10 flushes.
        close(line(&e, "CloudWatch", "PutMetricData").quantity, 20.0);
    }

    #[test]
    fn counted_calls_replace_the_model_and_say_so() {
        use dagbench_core::Scenario;
        use dagbench_core::calls::Calls;
        let mut m = measured();
        m.calls = Some(dagbench_runtime::report::RunCalls {
            scheduler: Calls {
                sqs_requests: 100,
                sqs_polling_requests: 50,
                ..Calls::default()
            },
            processors: Calls {
                sqs_requests: 1000,
                sqs_polling_requests: 700,
                s3_put: 2100,
                s3_get: 1500,
                s3_list: 3,
                dynamodb_write_units: 2200,
                dynamodb_read_units: 4,
                metric_points: 2001,
                ..Calls::default()
            },
            setup: Calls {
                s3_put: 300,
                s3_get: 1,
                ..Calls::default()
            },
        });
        m.ran_on = Some(Scenario::Fargate);
        let fargate = two_half_vcpu_tasks();
        let table = PriceTable::bundled();
        let e = estimate(&m, &fargate, "us-east-1", &table).unwrap();
        // Every counted line as counted; the workers' polling too, since the
        // run ran on Fargate; 2,001 metric data points at 20 per call.
        for (service, item, quantity) in [
            ("S3", "PUT and LIST (counted)", 2403.0),
            ("S3", "GET (counted)", 1501.0),
            ("DynamoDB", "write request units (counted)", 2200.0),
            ("DynamoDB", "read request units (counted)", 4.0),
            ("SQS", "scheduler requests (counted)", 150.0),
            ("SQS", "completions and dead letters sent (counted)", 1000.0),
            ("SQS", "task receives, deletes, heartbeats (counted)", 700.0),
            ("CloudWatch", "PutMetricData (counted", 101.0),
        ] {
            close(line(&e, service, item).quantity, quantity);
        }
        // Each task's public IPv4 for the billed time (100 s).
        let ip = line(&e, "Fargate", "public IPv4");
        close(ip.quantity, 2.0 * 100.0 / 3600.0);
        close(ip.cost, 2.0 * 100.0 / 3600.0 * 0.005);
        assert!(
            !e.lines
                .iter()
                .any(|l| l.item.contains("(modelled)") && l.service == "S3")
        );
        // The same counts from a local run: its queue polling is not a
        // Fargate task's, so that line is modelled.
        m.ran_on = Some(Scenario::Local);
        let e = estimate(&m, &fargate, "us-east-1", &table).unwrap();
        assert!(line(&e, "SQS", "task receives, deletes, idle polls (modelled)").quantity > 0.0);
        // On Lambda the event source mapping's polling is always modelled.
        let lambda = Setup::Lambda(LambdaSetup {
            memory_mb: 256,
            arch: Architecture::X86_64,
            batch_size: 10,
        });
        let e = estimate(&m, &lambda, "us-east-1", &table).unwrap();
        assert!(
            line(&e, "SQS", "event source mapping")
                .item
                .contains("modelled")
        );
        // A local run has no invocations to count: Lambda stays modelled.
        assert!(line(&e, "Lambda", "requests (modelled").quantity > 0.0);
        // A Scenario 1 run counted 40 invocations of 2.5 s in all.
        m.ran_on = Some(Scenario::Lambda);
        if let Some(c) = m.calls.as_mut() {
            c.processors.lambda_invocations = 40;
            c.processors.lambda_billed_ms = 2_500;
        }
        let e = estimate(&m, &lambda, "us-east-1", &table).unwrap();
        close(line(&e, "Lambda", "requests (counted").quantity, 40.0);
        close(
            line(&e, "Lambda", "duration").quantity,
            2.5 * 256.0 / 1024.0,
        );
    }

    #[test]
    fn a_stack_between_runs_costs_its_running_tasks_and_its_polling() {
        let table = PriceTable::bundled();
        let lines = standing_per_hour(&two_half_vcpu_tasks(), "us-east-1", &table).unwrap();
        let total: f64 = lines.iter().map(|l| l.cost).sum();
        // 2 × 0.5 vCPU, 2 × 1 GB, 2 IPv4, 8 loops × 180 polls.
        let expected = 1.0 * 0.04048 + 2.0 * 0.004445 + 2.0 * 0.005 + 1440.0 * 0.4 / 1e6;
        close(total, expected);
        let idle = Setup::Fargate(FargateSetup {
            tasks: 0,
            ..match two_half_vcpu_tasks() {
                Setup::Fargate(f) => f,
                _ => unreachable!(),
            }
        });
        let none: f64 = standing_per_hour(&idle, "us-east-1", &table)
            .unwrap()
            .iter()
            .map(|l| l.cost)
            .sum();
        assert_eq!(none, 0.0, "no task running, nothing standing");
        let lambda = Setup::Lambda(LambdaSetup {
            memory_mb: 256,
            arch: Architecture::X86_64,
            batch_size: 10,
        });
        let lines = standing_per_hour(&lambda, "us-east-1", &table).unwrap();
        close(lines[0].quantity, 900.0);
    }

    #[test]
    fn a_stated_task_lifetime_replaces_the_makespan() {
        let mut m = measured();
        m.fargate_task_s = Some(1800.0);
        let e = estimate(
            &m,
            &two_half_vcpu_tasks(),
            "us-east-1",
            &PriceTable::bundled(),
        )
        .unwrap();
        // 2 tasks × 0.5 vCPU × half an hour.
        let vcpu = line(&e, "Fargate", "vCPU");
        close(vcpu.quantity, 0.5);
        assert!(vcpu.item.contains("as stated"), "{}", vcpu.item);
        close(line(&e, "Fargate", "public IPv4").quantity, 1.0);
    }

    #[test]
    fn a_deep_graph_takes_a_batch_per_level_at_least() {
        let mut m = measured();
        m.levels = 400;
        let lambda = Setup::Lambda(LambdaSetup {
            memory_mb: 256,
            arch: Architecture::X86_64,
            batch_size: 10,
        });
        let e = estimate(&m, &lambda, "us-east-1", &PriceTable::bundled()).unwrap();
        // 1,000 jobs over 400 levels: 400 invocations, not 100.
        close(line(&e, "Lambda", "requests").quantity, 400.0);
    }

    #[test]
    fn short_fargate_runs_pay_the_one_minute_minimum() {
        let mut m = measured();
        m.makespan_s = 5.0;
        let setup = Setup::Fargate(FargateSetup {
            cpu: 1024,
            memory_mb: 2048,
            arch: Architecture::Arm64,
            tasks: 1,
            concurrency: 1,
            batch_size: 10,
        });
        let e = estimate(&m, &setup, "us-east-1", &PriceTable::bundled()).unwrap();
        close(line(&e, "Fargate", "vCPU").quantity, 60.0 / 3600.0);
        close(line(&e, "Fargate", "vCPU").cost, 60.0 / 3600.0 * 0.03238);
        close(
            line(&e, "Fargate", "memory").cost,
            2.0 * 60.0 / 3600.0 * 0.00356,
        );
    }

    #[test]
    fn a_user_table_replaces_the_bundled_one() {
        let mut t = PriceTable::bundled();
        t.name = "mine".into();
        t.regions
            .get_mut("us-east-1")
            .unwrap()
            .sqs_requests_per_million = 1.0;
        let text = serde_json::to_string(&t).unwrap();
        let back = PriceTable::from_json(&text, "mine.json").unwrap();
        assert_eq!(back, t);
        let err = PriceTable::from_json("{\"name\": 1}", "bad.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.json: not a dagbench price table"),
            "{err}"
        );
    }
}
