//! `dagbench simulate`: a graph's makespan and cost on each architecture
//! and size, predicted by the simulator ([`dagbench_core::sim`]) before
//! anything is deployed, priced by the same cost model as `report`.
//!
//! A [`Profile`] says how long each stage takes: built in per scenario
//! ([`Profile::builtin`], each number with its source), or taken from a
//! finished run ([`Profile::from_run`]): its stage latencies as observed
//! (empirical distributions), its processing time per job kind beyond the
//! simulated work, and a processor's own time per job, fitted so that
//! simulating the run reproduces its makespan ([`calibrate`]). A run's
//! profile stands for its own scenario; the other scenarios keep their
//! built-in latencies but take its processing model.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use dagbench_core::graph::JobView;
use dagbench_core::plan::Plan;
use dagbench_core::rng::SplitMix64;
use dagbench_core::sim::{self, Latency, Model, Release, Slots, Work};
use dagbench_core::{JobGraph, Scenario, Scheduler};
use dagbench_runtime::report::{StageStats, Stages};
use serde::Serialize;

use crate::cost::{self, Measured, PriceTable};
use crate::run::RunFiles;
use crate::svg::{esc, short};

/// How long each stage takes on one architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Where the numbers come from, in a few words.
    pub source: String,
    /// Ready to dispatched.
    pub reaction: Latency,
    /// Dispatched to reaching a processor (the queue's own latency).
    pub queue: Latency,
    /// Processing ended to completion observed.
    pub notify: Latency,
    /// Processing beyond a job's simulated work, by job kind (`""` for
    /// jobs without one); kinds not listed take `other`.
    pub overhead: BTreeMap<String, Latency>,
    pub other: Latency,
    /// Whether that overhead is CPU work (measured locally) rather than
    /// waiting on I/O (measured on a cloud scenario).
    pub overhead_cpu: bool,
    /// I/O per job besides it (a cloud processor's S3 and DynamoDB calls),
    /// ms, waiting.
    pub io_ms: f64,
    /// A processor's own CPU time per job besides processing, ms.
    pub gap_ms: f64,
    /// A new execution environment's cold start, ms (Lambda: an
    /// assumption, no run observes it).
    pub cold_start_ms: f64,
    /// The scenario the profile describes.
    pub scenario: Scenario,
    /// CPUs of the machine a local profile was measured on.
    pub cores: usize,
}

impl Profile {
    /// Built-in latencies of `scenario`. Local: measured on this project's
    /// reference machine (2 cores) from a default run (`dagbench run`,
    /// release build): jobs reach an idle worker in well under a
    /// millisecond, aircraft legs take ~1.7 ms, sequence jobs ~2.9 ms, the
    /// merge ~47 ms at 1,000 samples, a worker spends ~0.3 ms per job on
    /// its own bookkeeping. Cloud: SQS calls in the same region take ~10–20
    /// ms (AWS: "most" SendMessage/ReceiveMessage calls complete in low
    /// double-digit milliseconds); a processor's S3 GET/PUT and DynamoDB
    /// writes add ~20 ms per job; a Lambda event source mapping hands a
    /// message to an invocation ~40 ms after it is sent (long-polling
    /// pollers, our own moto-free measurements are not possible here: an
    /// assumption — calibrate with `--profile`); a Step Functions callback
    /// task is entered ~60 ms after the previous task's `SendTaskSuccess`
    /// (Standard workflows' transition latency as users report it, tens of
    /// milliseconds per transition).
    #[must_use]
    pub fn builtin(scenario: Scenario) -> Self {
        let aircraft = |extra: f64| {
            [("leg", 1.7), ("sequence", 2.9), ("merge", 47.0)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Latency::Fixed(v + extra)))
                .collect::<BTreeMap<_, _>>()
        };
        // The reference machine's cores (where the local numbers were
        // measured); `Request::cores` replaces them for this machine.
        let here = || 2;
        match scenario {
            Scenario::Local => Profile {
                source: "built-in local latencies (measured on a 2-core machine)".into(),
                reaction: Latency::Fixed(0.0),
                queue: Latency::Fixed(0.1),
                notify: Latency::Fixed(0.3),
                overhead: aircraft(0.0),
                other: Latency::Fixed(0.6),
                overhead_cpu: true,
                io_ms: 0.0,
                gap_ms: 0.3,
                cold_start_ms: 0.0,
                scenario,
                cores: here(),
            },
            Scenario::Lambda | Scenario::Fargate | Scenario::StepFunctions => {
                let (reaction, queue, notify, source) = match scenario {
                    Scenario::Lambda => (
                        15.0,
                        40.0,
                        25.0,
                        "built-in Scenario 1 latencies (SQS ~15 ms per call, event source mapping ~40 ms)",
                    ),
                    Scenario::Fargate => (
                        15.0,
                        20.0,
                        25.0,
                        "built-in Scenario 2 latencies (SQS ~15 ms per call, long polls answered at once)",
                    ),
                    _ => (
                        60.0,
                        20.0,
                        25.0,
                        "built-in Scenario 3 latencies (~60 ms per task transition, SQS ~20 ms)",
                    ),
                };
                Profile {
                    source: source.into(),
                    reaction: Latency::Fixed(reaction),
                    queue: Latency::Fixed(queue),
                    notify: Latency::Fixed(notify),
                    overhead: aircraft(0.0),
                    other: Latency::Fixed(0.6),
                    overhead_cpu: true,
                    io_ms: 20.0,
                    gap_ms: 0.3,
                    cold_start_ms: lambda_cold_start(scenario),
                    scenario,
                    cores: here(),
                }
            }
        }
    }

    /// The profile of the run in `files`, whose graph is `graph`: its
    /// stages as observed (the queue's own latency is its shortest queue
    /// wait — a job that found a processor idle; the rest of a queue wait
    /// is waiting for a processor, which the simulator models itself), its
    /// processing beyond the simulated work per job kind, and the gap that
    /// makes simulating it reproduce its makespan.
    ///
    /// # Errors
    /// When the report has no per-job timelines (over 100,000 jobs), no
    /// job completed in it, or its graph is not the report's.
    pub fn from_run(files: &RunFiles, graph: &Arc<JobGraph>, cores: usize) -> Result<Self, String> {
        let r = &files.report;
        let jobs = r.jobs.as_ref().ok_or_else(|| {
            format!(
                "run {} has no per-job timelines (its graph has over 100,000 jobs): profile a smaller run",
                r.run_id
            )
        })?;
        let (mut reaction, mut queue, mut notify) = (Vec::new(), Vec::new(), Vec::new());
        let mut overhead: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for t in jobs {
            let Some(j) = graph.find(&t.job_id) else {
                return Err(format!(
                    "job {} of run {}'s report is not in its graph.json",
                    t.job_id, r.run_id
                ));
            };
            let (
                Some(ready),
                Some(dispatched),
                Some(started),
                Some(completed),
                Some(observed),
                Some(p),
            ) = (
                t.ready,
                t.dispatched,
                t.started,
                t.completed,
                t.observed,
                t.processing_ms,
            )
            else {
                continue;
            };
            let job = graph.job(j);
            reaction.push((dispatched - ready).max(0) as f64);
            queue.push((started - dispatched).max(0) as f64);
            notify.push((observed - completed).max(0) as f64);
            overhead
                .entry(job.kind.unwrap_or("").to_owned())
                .or_default()
                .push((p - f64::from(job.work_duration_ms)).max(0.0));
        }
        if reaction.is_empty() {
            return Err(format!(
                "run {} completed no job in its last session: nothing to profile",
                r.run_id
            ));
        }
        let all: Vec<f64> = overhead.values().flatten().copied().collect();
        let queue_own = queue.iter().copied().fold(f64::INFINITY, f64::min);
        let mut profile = Profile {
            source: format!(
                "run {} ({}, {} workers, {} jobs)",
                r.run_id,
                r.scenario,
                r.workers,
                reaction.len()
            ),
            reaction: Latency::Observed(reaction),
            queue: Latency::Fixed(queue_own),
            notify: Latency::Observed(notify),
            overhead: overhead
                .into_iter()
                .map(|(k, v)| (k, Latency::Observed(v)))
                .collect(),
            other: Latency::Observed(all),
            overhead_cpu: r.scenario == Scenario::Local,
            io_ms: 0.0,
            gap_ms: 0.0,
            cold_start_ms: lambda_cold_start(r.scenario),
            scenario: r.scenario,
            cores,
        };
        let workers = r.workers.max(1);
        profile.gap_ms = calibrate(
            graph,
            &profile,
            workers,
            r.makespan_ms,
            &ModelContext::default(),
        );
        Ok(profile)
    }

    /// A job's processing: its simulated work and I/O (waiting), its
    /// kind's overhead (CPU, or waiting when measured in the cloud).
    fn processing(&self, job: JobView<'_>, rng: &mut SplitMix64) -> Work {
        // Jobs without a kind (synthetic graphs: every job) skip the
        // lookup.
        let overhead = match job.kind {
            None if self.overhead.is_empty() => &self.other,
            kind => self.overhead.get(kind.unwrap_or("")).unwrap_or(&self.other),
        }
        .draw(rng);
        let wait = f64::from(job.work_duration_ms) + self.io_ms;
        if self.overhead_cpu {
            Work {
                wait_ms: wait,
                cpu_ms: overhead,
            }
        } else {
            Work {
                wait_ms: wait + overhead,
                cpu_ms: 0.0,
            }
        }
    }

    /// This profile's latencies with `other`'s processing model.
    #[must_use]
    pub fn processing_from(mut self, other: &Profile) -> Self {
        self.overhead = other.overhead.clone();
        self.other = other.other.clone();
        self.overhead_cpu = other.overhead_cpu;
        self.gap_ms = other.gap_ms;
        self.source = format!("{}; processing from {}", self.source, other.source);
        self
    }
}

/// A Lambda execution environment's cold start for `scenario`: 150 ms for
/// Scenarios 1 and 3 (an assumption: a Rust `provided.al2023` function's
/// own init is ~10 ms here, the rest is Lambda's sandbox start, which AWS
/// puts "under 100 ms to over 1 second"); 0 elsewhere (Fargate tasks are
/// started before a run).
#[must_use]
pub fn lambda_cold_start(scenario: Scenario) -> f64 {
    match scenario {
        Scenario::Lambda | Scenario::StepFunctions => 150.0,
        Scenario::Local | Scenario::Fargate => 0.0,
    }
}

/// What a scenario's model needs besides the profile.
#[derive(Debug, Clone, Default)]
pub struct ModelContext {
    /// Lambda: the function's memory, MB (256 when none).
    pub lambda_memory_mb: Option<u32>,
    /// Lambda: records per invocation (10 when none).
    pub lambda_batch: Option<u32>,
    /// Fargate: CPU units per task and polling loops per task (256, 4
    /// when none).
    pub fargate_cpu: Option<u32>,
    pub fargate_concurrency: Option<u32>,
    /// Scenario 3's stage of every job.
    pub stages: Option<Vec<u32>>,
}

impl ModelContext {
    /// The context of `config` (and Scenario 3's `plan`).
    #[must_use]
    pub fn of(config: &dagbench_infra::Config, plan: Option<&Plan>, n: usize) -> Self {
        ModelContext {
            lambda_memory_mb: Some(config.lambda.memory_mb),
            lambda_batch: Some(config.lambda.batch_size),
            fargate_cpu: Some(config.fargate.cpu),
            fargate_concurrency: Some(config.fargate.concurrency),
            stages: plan.map(|p| stages(p, n)),
        }
    }
}

/// A vCPU's worth of Lambda memory: Lambda allocates CPU in proportion to
/// memory, one vCPU at 1,769 MB (AWS Lambda documentation).
pub const LAMBDA_MB_PER_VCPU: f64 = 1769.0;

/// The simulator's model of `scenario` with `workers` processors, under
/// `profile`: slots (Lambda: invocations taking a batch each), CPUs
/// (local: the profiled machine's cores; Fargate: one per task, slower by
/// its share of a vCPU; Lambda: each invocation its own share of a vCPU),
/// latencies and release.
#[must_use]
pub fn model_for(
    scenario: Scenario,
    workers: u64,
    profile: &Profile,
    context: &ModelContext,
    seed: u64,
) -> Model {
    let w = usize::try_from(workers.max(1)).unwrap_or(usize::MAX);
    let lambda_factor =
        LAMBDA_MB_PER_VCPU / f64::from(context.lambda_memory_mb.unwrap_or(256).max(128));
    let (slots, cores, cpu_factor) = match scenario {
        Scenario::Local => (Slots::Jobs(w), Some(profile.cores.max(1)), 1.0),
        Scenario::Lambda => (
            Slots::Batches {
                invocations: w,
                batch: context.lambda_batch.unwrap_or(10).max(1) as usize,
            },
            None,
            lambda_factor,
        ),
        Scenario::Fargate => {
            let per_task = context.fargate_concurrency.unwrap_or(4).max(1) as usize;
            (
                Slots::Jobs(w),
                Some(w.div_ceil(per_task)),
                1024.0 / f64::from(context.fargate_cpu.unwrap_or(256).max(256)),
            )
        }
        Scenario::StepFunctions => (Slots::Jobs(w), None, lambda_factor),
    };
    Model {
        slots,
        reaction: profile.reaction.clone(),
        queue: profile.queue.clone(),
        notify: profile.notify.clone(),
        gap_ms: profile.gap_ms,
        cold_start_ms: profile.cold_start_ms,
        cores,
        // CPU work was measured on one core of the profiled machine.
        cpu_factor: cpu_factor.max(1.0),
        release: match (&context.stages, scenario) {
            (Some(stages), Scenario::StepFunctions) => Release::Staged(stages.clone()),
            _ => Release::Ready,
        },
        seed,
    }
}

/// The per-job gap (ms) that makes simulating `graph` on the profile's own
/// scenario with `workers` last `makespan_ms`: bisection over 0–100 ms
/// (the makespan grows with the gap). 0 when even no gap is too slow.
#[must_use]
pub fn calibrate(
    graph: &Arc<JobGraph>,
    profile: &Profile,
    workers: u64,
    makespan_ms: f64,
    context: &ModelContext,
) -> f64 {
    let at = |gap: f64| {
        let p = Profile {
            gap_ms: gap,
            ..profile.clone()
        };
        let model = model_for(profile.scenario, workers, &p, context, 1);
        sim::run(graph, &|j, rng| p.processing(j, rng), &model)
            .prediction
            .makespan_ms
    };
    if at(0.0) >= makespan_ms {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0f64, 100.0f64);
    if at(hi) < makespan_ms {
        return hi;
    }
    for _ in 0..30 {
        let mid = (lo + hi) / 2.0;
        if at(mid) < makespan_ms {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 0.001 {
            break;
        }
    }
    (lo + hi) / 2.0
}

/// Scenario 3's stages for `graph`: chains first (released as ready, one
/// job at a time per chain by their dependencies), then each level of the
/// plan after everything before it.
fn stages(plan: &Plan, n: usize) -> Vec<u32> {
    let mut stage = vec![0u32; n];
    let first = u32::from(!plan.chains.is_empty());
    for (i, level) in plan.levels.iter().enumerate() {
        for &j in level {
            stage[j.get()] = first + i as u32;
        }
    }
    stage
}

/// One prediction: a scenario at a size.
#[derive(Debug, Clone, Serialize)]
pub struct PredictionRow {
    pub scenario: Scenario,
    /// Processors: local workers, concurrent Lambda invocations (each up
    /// to a batch), Fargate polling loops, or Scenario 3's processors.
    pub workers: u64,
    pub makespan_ms: f64,
    pub throughput_per_s: f64,
    pub efficiency: f64,
    pub lower_bound_ms: f64,
    /// The estimate's total, USD (none for local runs).
    pub cost_usd: Option<f64>,
    /// Scenario 3's plan (`chains`, `levels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<&'static str>,
    pub stages: Stages,
}

/// A whole simulation, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub jobs: u64,
    pub edges: u64,
    pub levels: u64,
    /// What each scenario's latencies came from.
    pub profiles: BTreeMap<String, String>,
    pub seed: u64,
    pub predictions: Vec<PredictionRow>,
    /// The simulator's own time, ms.
    pub wall_ms: f64,
    /// What could not be predicted as asked, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub graph: Arc<JobGraph>,
    pub scenarios: Vec<Scenario>,
    pub workers: Vec<u64>,
    /// A finished run's profile (for its scenario, and everyone's
    /// processing).
    pub profile: Option<&'a Profile>,
    /// The scenario the profile was measured on.
    pub profiled: Option<Scenario>,
    pub seed: u64,
    /// This machine's CPUs (the local scenario's).
    pub cores: usize,
    pub config: &'a dagbench_infra::Config,
    pub region: &'a str,
    pub table: &'a PriceTable,
}

/// Why a simulation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Cost(#[from] cost::CostError),
    #[error("Scenario 3 cannot run this graph: {0}")]
    Plan(String),
}

/// Predicts every scenario × size of `request`; `wall_ms` is left to the
/// caller (the core has no clock).
///
/// # Errors
/// When the price table lacks the region, or Scenario 3 cannot run the
/// graph.
pub fn predict(request: &Request<'_>) -> Result<Vec<PredictionRow>, SimulateError> {
    predict_noted(request).map(|(rows, _)| rows)
}

/// The most processors a scenario can use as `config` deploys it, and the
/// setting that says so: Lambda's reserved concurrency (or the mapping's
/// maximum), a Distributed Map's `max_concurrency`.
fn processor_cap(
    scenario: Scenario,
    config: &dagbench_infra::Config,
) -> Option<(u64, &'static str)> {
    let lambda = match (
        config.lambda.reserved_concurrency,
        config.lambda.max_concurrency,
    ) {
        (0, None) => None,
        (0, Some(m)) => Some((u64::from(m), "lambda.max_concurrency")),
        (r, Some(m)) if m < r => Some((u64::from(m), "lambda.max_concurrency")),
        (r, _) => Some((u64::from(r), "lambda.reserved_concurrency")),
    };
    match scenario {
        Scenario::Lambda => lambda,
        Scenario::StepFunctions => {
            let map = (
                u64::from(config.step_functions.max_concurrency),
                "step_functions.max_concurrency",
            );
            // The `lambda` variant's invocations are the function's too.
            match (config.step_functions.task, lambda) {
                (dagbench_infra::asl::TaskIntegration::Lambda, Some(l)) if l.0 < map.0 => Some(l),
                _ => Some(map),
            }
        }
        Scenario::Local | Scenario::Fargate => None,
    }
}

/// [`predict`], with notes on what could not be predicted as asked (a
/// graph Scenario 3 cannot run, sizes above a deployed limit).
///
/// # Errors
/// When the price table lacks the region.
pub fn predict_noted(
    request: &Request<'_>,
) -> Result<(Vec<PredictionRow>, Vec<String>), SimulateError> {
    let mut notes = Vec::new();
    let graph = &request.graph;
    let n = graph.len();
    let levels = u64::from(graph.stats().levels);
    let kinds: Vec<Option<&str>> = graph.jobs().map(|j| j.kind).collect();
    let aircraft = kinds.iter().any(|k| k.is_some());
    let sequences = kinds.iter().filter(|k| **k == Some("sequence")).count() as u64;
    let mut scenarios = request.scenarios.clone();
    let plan = if scenarios.contains(&Scenario::StepFunctions) {
        match Plan::of(&Scheduler::new(Arc::clone(graph))) {
            Ok(plan) => Some(plan),
            // The other scenarios are still worth predicting.
            Err(e) if scenarios.len() > 1 => {
                notes.push(format!(
                    "scenario-3 not predicted: Scenario 3 cannot run this graph: {e}"
                ));
                scenarios.retain(|s| *s != Scenario::StepFunctions);
                None
            }
            Err(e) => return Err(SimulateError::Plan(e.to_string())),
        }
    } else {
        None
    };
    let context = ModelContext::of(request.config, plan.as_ref(), n);
    let mut rows = Vec::new();
    for &scenario in &scenarios {
        let builtin = Profile {
            cores: request.cores.max(1),
            ..Profile::builtin(scenario)
        };
        let profile = match (request.profile, request.profiled) {
            (Some(p), Some(s)) if s == scenario => p.clone(),
            (Some(p), _) => builtin.processing_from(p),
            (None, _) => builtin,
        };
        let cap = processor_cap(scenario, request.config);
        for &asked in &request.workers {
            let workers = match cap {
                Some((cap, setting)) if asked > cap => {
                    notes.push(format!(
                        "{scenario} × {asked}: simulated with {cap} processors, the most {setting} = {cap} allows"
                    ));
                    cap
                }
                _ => asked,
            };
            let model = model_for(scenario, workers, &profile, &context, request.seed);
            let s = sim::run(graph, &|j, rng| profile.processing(j, rng), &model);
            let p = s.prediction;
            let stages = Stages {
                scheduler_reaction: StageStats::from_values(s.reaction),
                queue_wait: StageStats::from_values(s.queue_wait),
                processing: StageStats::from_values(s.processing),
                notification: StageStats::from_values(s.notification),
            };
            let measured = Measured {
                jobs: n as u64,
                processing_p90_ms: stages.processing.p90,
                makespan_s: p.makespan_ms / 1e3,
                s3_gets: if aircraft { n as u64 + sequences } else { 0 },
                s3_puts: if aircraft { 2 * n as u64 } else { n as u64 },
                log_bytes_per_job: crate::run::LOG_BYTES_PER_JOB,
                job_message_bytes: cost::JOB_MESSAGE_BYTES,
                completion_bytes: cost::COMPLETION_BYTES,
                calls: None,
                ran_on: Some(scenario),
                fargate_task_s: None,
                levels,
                state_transitions: plan.as_ref().map(Plan::state_transitions),
                plan_objects: plan
                    .as_ref()
                    .map(|p| p.levels.len() as u64 + u64::from(!p.chains.is_empty())),
            };
            let cost_usd = match request
                .config
                .setup_for(scenario, u32::try_from(workers).unwrap_or(u32::MAX))
            {
                Some(setup) => {
                    Some(cost::estimate(&measured, &setup, request.region, request.table)?.total)
                }
                None => None,
            };
            rows.push(PredictionRow {
                scenario,
                workers,
                makespan_ms: p.makespan_ms,
                throughput_per_s: if p.makespan_ms > 0.0 {
                    p.jobs as f64 / (p.makespan_ms / 1e3)
                } else {
                    0.0
                },
                efficiency: p.efficiency(),
                lower_bound_ms: p.lower_bound_ms,
                cost_usd,
                plan: (scenario == Scenario::StepFunctions)
                    .then(|| plan.as_ref().map(|p| p.kind.as_str()))
                    .flatten(),
                stages,
            });
        }
    }
    Ok((rows, notes))
}

impl Simulation {
    /// The fastest prediction's index.
    #[must_use]
    pub fn fastest(&self) -> Option<usize> {
        (0..self.predictions.len()).min_by(|&a, &b| {
            self.predictions[a]
                .makespan_ms
                .total_cmp(&self.predictions[b].makespan_ms)
        })
    }

    /// The cheapest priced prediction's index.
    #[must_use]
    pub fn cheapest(&self) -> Option<usize> {
        (0..self.predictions.len())
            .filter(|&i| self.predictions[i].cost_usd.is_some())
            .min_by(|&a, &b| {
                self.predictions[a]
                    .cost_usd
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&self.predictions[b].cost_usd.unwrap_or(f64::INFINITY))
            })
    }

    /// The priced predictions no other beats on both makespan and cost,
    /// by makespan: the Pareto front.
    #[must_use]
    pub fn front(&self) -> Vec<usize> {
        let mut priced: Vec<usize> = (0..self.predictions.len())
            .filter(|&i| self.predictions[i].cost_usd.is_some())
            .collect();
        priced.sort_by(|&a, &b| {
            let (x, y) = (&self.predictions[a], &self.predictions[b]);
            x.makespan_ms.total_cmp(&y.makespan_ms).then(
                x.cost_usd
                    .unwrap_or(0.0)
                    .total_cmp(&y.cost_usd.unwrap_or(0.0)),
            )
        });
        let mut front = Vec::new();
        let mut best = f64::INFINITY;
        for i in priced {
            let c = self.predictions[i].cost_usd.unwrap_or(f64::INFINITY);
            if c < best {
                best = c;
                front.push(i);
            }
        }
        front
    }

    /// The table `dagbench simulate` prints.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "simulated {} jobs ({} edges, {} levels), {} predictions in {:.0} ms (seed {})",
            self.jobs,
            self.edges,
            self.levels,
            self.predictions.len(),
            self.wall_ms,
            self.seed
        );
        for (scenario, source) in &self.profiles {
            let _ = writeln!(out, "  {scenario}: {source}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>11} {:>9} {:>10} {:>12}  ",
            "scenario", "workers", "makespan", "jobs/s", "efficiency", "cost"
        );
        let (fastest, cheapest) = (self.fastest(), self.cheapest());
        for (i, p) in self.predictions.iter().enumerate() {
            let mut marks = Vec::new();
            if Some(i) == fastest {
                marks.push("fastest");
            }
            if Some(i) == cheapest {
                marks.push("cheapest");
            }
            let _ = writeln!(
                out,
                "{:<12} {:>7} {:>9.2} s {:>9.0} {:>10.3} {:>12}  {}{}",
                p.scenario.as_str(),
                p.workers,
                p.makespan_ms / 1e3,
                p.throughput_per_s,
                p.efficiency,
                p.cost_usd.map_or("-".to_owned(), |c| format!(
                    "${}",
                    crate::svg::significant(c, 4)
                )),
                marks.join(", "),
                p.plan.map(|k| format!(" ({k} plan)")).unwrap_or_default()
            );
        }
        out
    }

    /// A self-contained page: the cost-versus-makespan chart with its
    /// Pareto front, and the table.
    #[must_use]
    pub fn to_html(&self) -> String {
        let mut b = String::from("<h1>dagbench simulate</h1>");
        let _ = write!(
            b,
            "<p class=\"sub\">{} jobs · {} edges · {} levels · seed {} · simulated in {:.0} ms</p>",
            self.jobs, self.edges, self.levels, self.seed, self.wall_ms
        );
        let points: Vec<crate::svg::Point> = self
            .predictions
            .iter()
            .filter_map(|p| {
                Some(crate::svg::Point {
                    label: format!("{} × {}", p.scenario.as_str(), p.workers),
                    group: p.scenario.as_str().to_owned(),
                    x: p.makespan_ms / 1e3,
                    y: p.cost_usd?,
                })
            })
            .collect();
        let front: Vec<(f64, f64)> = self
            .front()
            .into_iter()
            .filter_map(|i| {
                let p = &self.predictions[i];
                Some((p.makespan_ms / 1e3, p.cost_usd?))
            })
            .collect();
        b.push_str("<div class=\"charts\">");
        b.push_str(&crate::svg::scatter(
            "pareto",
            "Cost against makespan (the line joins the Pareto front: nothing is both faster and cheaper)",
            "makespan (s)",
            "cost (USD)",
            &points,
            &front,
        ));
        b.push_str("</div><h2>Predictions</h2><table data-table=\"predictions\"><thead><tr><th>scenario</th><th>workers</th><th>makespan (s)</th><th>jobs/s</th><th>efficiency</th><th>cost</th><th></th></tr></thead><tbody>");
        let (fastest, cheapest) = (self.fastest(), self.cheapest());
        for (i, p) in self.predictions.iter().enumerate() {
            let marks = [(fastest, "fastest"), (cheapest, "cheapest")]
                .iter()
                .filter(|(k, _)| *k == Some(i))
                .map(|(_, m)| *m)
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
                esc(p.scenario.as_str()),
                p.workers,
                short(p.makespan_ms / 1e3),
                p.throughput_per_s,
                p.efficiency,
                p.cost_usd.map_or("-".to_owned(), |c| format!(
                    "${}",
                    crate::svg::significant(c, 4)
                )),
                esc(&marks)
            );
        }
        b.push_str("</tbody></table><h2>Profiles</h2><ul>");
        for (scenario, source) in &self.profiles {
            let _ = write!(b, "<li><b>{}</b>: {}</li>", esc(scenario), esc(source));
        }
        b.push_str("</ul>");
        crate::html::page("dagbench simulate", &b)
    }
}

#[cfg(test)]
mod tests {
    use dagbench_core::graph::shapes::{Shape, ShapeSpec, generate};

    use super::*;

    fn graph(shape: Shape, jobs: u32) -> Arc<JobGraph> {
        Arc::new(generate(&ShapeSpec {
            shape,
            jobs,
            seed: 1,
            work_duration_ms: 20,
            data_size_kb: 0,
        }))
    }

    fn request<'a>(
        g: &Arc<JobGraph>,
        config: &'a dagbench_infra::Config,
        table: &'a PriceTable,
    ) -> Request<'a> {
        Request {
            graph: Arc::clone(g),
            scenarios: Scenario::ALL.to_vec(),
            workers: vec![2, 8],
            profile: None,
            profiled: None,
            seed: 1,
            cores: 2,
            config,
            region: "us-east-1",
            table,
        }
    }

    #[test]
    fn every_scenario_and_size_is_predicted_and_priced_but_local() {
        let (config, table) = (dagbench_infra::Config::default(), PriceTable::bundled());
        let g = graph(
            Shape::Layered {
                width: 10,
                max_deps: 2,
            },
            200,
        );
        let rows = predict(&request(&g, &config, &table)).unwrap();
        assert_eq!(rows.len(), 8);
        for r in &rows {
            assert!(r.makespan_ms >= r.lower_bound_ms, "{r:?}");
            assert_eq!(r.cost_usd.is_none(), r.scenario == Scenario::Local, "{r:?}");
            assert_eq!(r.stages.processing.count, 200);
        }
        // More workers: faster, except for Lambda here: one invocation
        // takes a whole level (10 jobs) as its batch and runs it at once.
        for pair in rows.chunks(2) {
            if pair[0].scenario == Scenario::Lambda {
                assert_eq!(pair[1].makespan_ms, pair[0].makespan_ms, "{pair:?}");
            } else {
                assert!(pair[1].makespan_ms < pair[0].makespan_ms, "{pair:?}");
            }
        }
        // Scenario 3 runs a layered graph level by level.
        let s3 = rows
            .iter()
            .find(|r| r.scenario == Scenario::StepFunctions)
            .unwrap();
        assert_eq!(s3.plan, Some("levels"));
    }

    #[test]
    fn sizes_past_the_deployed_limits_are_capped_and_unrunnable_plans_skipped() {
        let (config, table) = (dagbench_infra::Config::default(), PriceTable::bundled());
        let g = graph(Shape::Independent, 400);
        let mut r = request(&g, &config, &table);
        r.scenarios = vec![Scenario::Lambda, Scenario::Fargate];
        r.workers = vec![50, 500];
        let (rows, notes) = predict_noted(&r).unwrap();
        // Lambda reserves 100 by default: 500 is simulated as 100.
        assert_eq!(
            rows.iter().map(|r| r.workers).collect::<Vec<_>>(),
            [50, 100, 50, 500]
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("lambda.reserved_concurrency = 100"),
            "{notes:?}"
        );
        // A chain longer than any plan: Scenario 3 is skipped with a note.
        let deep = graph(Shape::Chains { length: 3_000 }, 3_000);
        let mut r = request(&deep, &config, &table);
        r.workers = vec![2];
        let (rows, notes) = predict_noted(&r).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("scenario-3 not predicted")),
            "{notes:?}"
        );
        r.scenarios = vec![Scenario::StepFunctions];
        assert!(
            predict(&r)
                .unwrap_err()
                .to_string()
                .contains("3000 dependency levels")
        );
    }

    #[test]
    fn observed_draws_are_the_same_at_every_size() {
        let (config, table) = (dagbench_infra::Config::default(), PriceTable::bundled());
        let g = graph(Shape::Independent, 300);
        let profile = Profile {
            reaction: Latency::Observed(vec![0.0, 5.0, 40.0]),
            notify: Latency::Observed(vec![1.0, 30.0]),
            ..Profile::builtin(Scenario::Local)
        };
        let mut r = request(&g, &config, &table);
        r.scenarios = vec![Scenario::Local];
        r.workers = vec![1, 2, 4, 8, 16, 32];
        r.profile = Some(&profile);
        r.profiled = Some(Scenario::Local);
        let rows = predict(&r).unwrap();
        for pair in rows.windows(2) {
            assert!(
                pair[1].makespan_ms <= pair[0].makespan_ms + 1e-9,
                "{pair:?}"
            );
        }
    }

    #[test]
    fn the_front_keeps_what_nothing_beats_on_both_counts() {
        let (config, table) = (dagbench_infra::Config::default(), PriceTable::bundled());
        let g = graph(Shape::Independent, 100);
        let rows = predict(&request(&g, &config, &table)).unwrap();
        let s = Simulation {
            jobs: 100,
            edges: 0,
            levels: 1,
            profiles: BTreeMap::new(),
            seed: 1,
            predictions: rows,
            wall_ms: 1.0,
            notes: Vec::new(),
        };
        let front = s.front();
        assert!(!front.is_empty());
        for &i in &front {
            let p = &s.predictions[i];
            for q in &s.predictions {
                let (Some(pc), Some(qc)) = (p.cost_usd, q.cost_usd) else {
                    continue;
                };
                assert!(
                    !(q.makespan_ms < p.makespan_ms && qc < pc),
                    "{q:?} beats {p:?} on the front"
                );
            }
        }
        let table = s.table();
        assert!(
            table.contains("fastest") && table.contains("cheapest"),
            "{table}"
        );
    }

    #[test]
    fn calibration_reproduces_the_makespan_it_was_given() {
        let g = graph(Shape::Independent, 100);
        let p = Profile::builtin(Scenario::Local);
        let p = Profile { cores: 4, ..p };
        let ctx = ModelContext::default();
        let zero_p = Profile {
            gap_ms: 0.0,
            ..p.clone()
        };
        let model = model_for(Scenario::Local, 4, &zero_p, &ctx, 1);
        let zero = sim::run(&g, &|j, rng| zero_p.processing(j, rng), &model)
            .prediction
            .makespan_ms;
        let gap = calibrate(&g, &p, 4, zero + 50.0, &ctx);
        // 25 jobs per slot: 2 ms more each.
        assert!((gap - 2.0).abs() < 0.01, "{gap}");
        assert_eq!(calibrate(&g, &p, 4, zero / 2.0, &ctx), 0.0);
    }
}
