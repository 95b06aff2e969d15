//! `report.json`: what a run measured — graph figures, makespan against
//! the lower bound, throughput over time, per-stage latency percentiles,
//! failures, the domain results' headline and, for graphs up to
//! [`TIMELINE_LIMIT`] jobs, every job's timeline.

use dagbench_core::calls::Calls;
use dagbench_core::graph::{GraphStats, PathWeight};
use dagbench_core::scheduler::Progress;
use dagbench_core::{JobGraph, JobIndex, RunId, Scenario};
use dagbench_flight::stats::MergedPercentiles;
use serde::{Deserialize, Serialize};

use crate::driver::{Anomalies, DriverOutcome, RunStatus};

/// Graphs larger than this keep aggregates only (the per-job timeline of a
/// million jobs would dwarf the rest of the report).
pub const TIMELINE_LIMIT: usize = 100_000;

/// Distribution of one stage's latency, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl StageStats {
    pub fn from_values(mut values: Vec<f64>) -> Self {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return Self::default();
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        // Nearest rank, as everywhere in dagbench; each rank selected in
        // linear time (a million jobs' stages without sorting them).
        let mut at = |q: usize| {
            let rank = (q * n).div_ceil(10_000).clamp(1, n) - 1;
            *values.select_nth_unstable_by(rank, f64::total_cmp).1
        };
        Self {
            count: n as u64,
            mean,
            p50: at(5000),
            p90: at(9000),
            p99: at(9900),
            max: at(10_000),
        }
    }
}

/// The four stages of a job's trip, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    /// Ready → dispatched (how fast the scheduler reacts).
    pub scheduler_reaction: StageStats,
    /// Dispatched → started (time in the incoming queue).
    pub queue_wait: StageStats,
    /// Started → completed, as the processor measured it.
    pub processing: StageStats,
    /// Completed → observed by the scheduler (outgoing queue).
    pub notification: StageStats,
}

/// One point of the run over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Jobs completed up to `t_s`.
    pub completed: u64,
    /// Completions per second in the interval ending at `t_s`.
    pub jobs_per_s: f64,
    /// Jobs dispatched but not yet observed at `t_s`.
    pub in_flight: u64,
}

/// One job's trip (ms since the run started; absent = never).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTimeline {
    pub job_id: String,
    #[serde(rename = "ready_ms", alias = "ready")]
    pub ready: Option<i64>,
    #[serde(rename = "dispatched_ms", alias = "dispatched")]
    pub dispatched: Option<i64>,
    #[serde(rename = "started_ms", alias = "started")]
    pub started: Option<i64>,
    #[serde(rename = "completed_ms", alias = "completed")]
    pub completed: Option<i64>,
    #[serde(rename = "observed_ms", alias = "observed")]
    pub observed: Option<i64>,
    pub processing_ms: Option<f64>,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedJob {
    pub job_id: String,
    pub reason: String,
}

/// The headline of the domain results (aircraft runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainSummary {
    pub sequences: u64,
    /// Final arrival delays sampled, all aircraft together (sequences ×
    /// samples per sequence).
    #[serde(alias = "samples")]
    pub sample_count: u64,
    /// Monte Carlo samples of each sequence (`--samples`).
    #[serde(default)]
    pub samples_per_sequence: u64,
    pub final_arr_delay: FinalFigures,
    pub arr_delay_share_delayed: f64,
    pub reactionary_share: f64,
    pub curfew_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalFigures {
    pub mean: f64,
    pub p50: Option<i32>,
    pub p90: Option<i32>,
    pub p95: Option<i32>,
    pub p99: Option<i32>,
    pub otp: f64,
}

impl DomainSummary {
    pub fn from_merged(m: &MergedPercentiles) -> Self {
        let f = &m.final_arr_delay;
        Self {
            sequences: m.sequence_count,
            sample_count: m.samples,
            samples_per_sequence: m.samples.checked_div(m.sequence_count).unwrap_or(0),
            final_arr_delay: FinalFigures {
                mean: f.mean,
                p50: f.p50,
                p90: f.p90,
                p95: f.p95,
                p99: f.p99,
                otp: f.otp,
            },
            arr_delay_share_delayed: m.arr_delay.share_delayed,
            reactionary_share: m.reactionary_share,
            curfew_share: m.curfew_share,
        }
    }
}

/// One earlier session of a resumed run. A session without a `status` is
/// the ledger's account of jobs no report counted: a session killed before
/// it wrote its report, or jobs that ended after their session stopped
/// watching (only `completed` is known of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// ms since the epoch; RFC 3339 in JSON.
    #[serde(with = "dagbench_core::time::rfc3339::option")]
    pub started_at: Option<i64>,
    #[serde(with = "dagbench_core::time::rfc3339::option")]
    pub ended_at: Option<i64>,
    pub status: Option<RunStatus>,
    /// Jobs that completed in that session.
    pub completed: u64,
    pub makespan_ms: Option<f64>,
    pub throughput_jobs_per_s: Option<f64>,
}

/// What the lower bound of a run is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LowerBoundBasis {
    /// The jobs' simulated work (`work_duration_ms`).
    SimulatedWork,
    /// The processing times the processors measured (graphs without
    /// simulated work, such as the aircraft workload).
    MeasuredProcessing,
}

/// Everything about a run that a person or a script compares. Figures are
/// of this session: a resumed run's earlier sessions are in `sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: RunId,
    pub test_run_id: String,
    pub scenario: Scenario,
    pub status: RunStatus,
    /// Why an aborted or stalled run could not go on (a queue's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub workers: u64,
    /// ms since the epoch; RFC 3339 in JSON.
    #[serde(with = "dagbench_core::time::rfc3339")]
    pub started_at: i64,
    #[serde(with = "dagbench_core::time::rfc3339")]
    pub ended_at: i64,
    pub graph: GraphStats,
    /// Jobs by state at the end (completed ones include restored ones).
    pub counts: Progress,
    /// Jobs completed in earlier sessions, restored from the ledger.
    #[serde(default)]
    pub restored: u64,
    /// Earlier sessions of a resumed run, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<Session>,
    /// Start of this session to the last completion observed.
    pub makespan_ms: f64,
    /// `max(heaviest chain, total / workers)` over the jobs this session
    /// processed, weighted by their simulated work or, without any, by
    /// their measured processing times: no schedule could be faster.
    pub lower_bound_ms: f64,
    /// What the lower bound weighs jobs by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_bound_basis: Option<LowerBoundBasis>,
    /// `lower_bound / makespan`, within 0..=1; absent when this session
    /// processed nothing.
    pub efficiency: Option<f64>,
    /// Jobs completed in this session per second of its makespan.
    pub throughput_jobs_per_s: f64,
    pub stages: Stages,
    pub over_time: Vec<TimePoint>,
    pub failed: Vec<FailedJob>,
    pub anomalies: Anomalies,
    /// Job ids along the critical path by work (or by job count when no
    /// job has work), at most 1,000.
    pub critical_path: Vec<String>,
    pub domain: Option<DomainSummary>,
    /// Per-job timelines, for graphs up to `TIMELINE_LIMIT` jobs.
    pub jobs: Option<Vec<JobTimeline>>,
    /// The billed calls this session made, counted where they were made
    /// (absent in reports of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<RunCalls>,
    /// How Scenario 3's state machine ran the graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestration: Option<Orchestration>,
}

/// How Scenario 3's state machine ran a session's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orchestration {
    /// `chains` (a Distributed Map over independent chains, then the
    /// joins) or `levels` (a Distributed Map per topological level).
    pub plan: String,
    pub chains: u64,
    pub levels: u64,
    /// The execution that ran them.
    pub execution_arn: String,
    /// State transitions the plan takes, parent and children (retries
    /// add more): what Standard workflows bill.
    pub state_transitions: u64,
    /// Child executions its Distributed Maps start.
    pub child_executions: u64,
}

/// A session's billed calls, by who made them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCalls {
    /// The scheduler's queue calls (sends, receives and deletes of
    /// completions and dead letters).
    pub scheduler: Calls,
    /// What the processors reported with this run's completions: their
    /// reads, writes, ledger, completions, and (workers) their polling.
    pub processors: Calls,
    /// The run's own: inputs uploaded before dispatch, results read back.
    pub setup: Calls,
}

impl RunCalls {
    /// Everything counted.
    #[must_use]
    pub fn total(&self) -> Calls {
        let mut all = self.scheduler;
        all.add(&self.processors);
        all.add(&self.setup);
        all
    }
}

/// Identifies the run in its report.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub run_id: RunId,
    pub test_run_id: String,
    pub scenario: Scenario,
    /// Concurrent processors; 0 when unknown.
    pub workers: u64,
}

impl RunReport {
    pub fn build(
        graph: &JobGraph,
        outcome: &DriverOutcome,
        ctx: &ReportContext,
        domain: Option<DomainSummary>,
    ) -> Self {
        let t = &outcome.timeline;
        let n = graph.len();
        let start = outcome.started_at;
        let last_observed = t
            .observed
            .iter()
            .copied()
            .max()
            .filter(|&o| o >= 0)
            .unwrap_or(outcome.ended_at);
        let makespan_ms = (last_observed - start).max(0) as f64;
        let stats = graph.stats().clone();
        let (lower_bound_ms, lower_bound_basis) =
            session_lower_bound(graph, t, stats.total_work_ms > 0, ctx.workers);
        let processed = t.observed.iter().filter(|&&o| o >= 0).count() as u64;
        let diff = |a: &[i64], b: &[i64]| -> Vec<f64> {
            a.iter()
                .zip(b)
                .filter(|&(&x, &y)| x >= 0 && y >= 0)
                .map(|(&x, &y)| (y - x) as f64)
                .collect()
        };
        let stages = Stages {
            scheduler_reaction: StageStats::from_values(diff(&t.ready, &t.dispatched)),
            queue_wait: StageStats::from_values(diff(&t.dispatched, &t.started)),
            processing: StageStats::from_values(t.processing_ms.clone()),
            notification: StageStats::from_values(diff(&t.completed, &t.observed)),
        };
        let completed = outcome.progress.completed.saturating_sub(outcome.restored);
        let weight = if stats.critical_path_work_ms > 0 {
            PathWeight::WorkMs
        } else {
            PathWeight::Jobs
        };
        let (_, path) = graph.critical_path(weight);
        let jobs = (n <= TIMELINE_LIMIT).then(|| {
            (0..n)
                .map(|j| {
                    let rel = |v: i64| (v >= 0).then_some(v - start);
                    JobTimeline {
                        job_id: graph.id(JobIndex(j as u32)).to_owned(),
                        ready: rel(t.ready[j]),
                        dispatched: rel(t.dispatched[j]),
                        started: rel(t.started[j]),
                        completed: rel(t.completed[j]),
                        observed: rel(t.observed[j]),
                        processing_ms: Some(t.processing_ms[j]).filter(|v| v.is_finite()),
                        attempt: t.attempt[j],
                    }
                })
                .collect()
        });
        RunReport {
            run_id: ctx.run_id.clone(),
            test_run_id: ctx.test_run_id.clone(),
            scenario: ctx.scenario,
            status: outcome.status,
            error: outcome.error.clone(),
            workers: ctx.workers,
            started_at: start,
            ended_at: outcome.ended_at,
            graph: stats,
            counts: outcome.progress,
            restored: outcome.restored,
            sessions: Vec::new(),
            makespan_ms,
            lower_bound_ms,
            lower_bound_basis,
            // Timestamps are whole milliseconds while processing times are
            // measured finer, so a measured bound can exceed the makespan
            // by the rounding: the ratio is capped at 1.
            efficiency: (processed > 0 && lower_bound_ms > 0.0 && makespan_ms > 0.0)
                .then(|| (lower_bound_ms / makespan_ms).min(1.0)),
            throughput_jobs_per_s: if makespan_ms > 0.0 {
                completed as f64 / (makespan_ms / 1e3)
            } else {
                0.0
            },
            stages,
            over_time: over_time(t, start, makespan_ms),
            failed: outcome
                .failed
                .iter()
                .map(|(j, reason)| FailedJob {
                    job_id: graph.id(*j).to_owned(),
                    reason: reason.clone(),
                })
                .collect(),
            anomalies: outcome.anomalies,
            critical_path: path
                .iter()
                .take(1000)
                .map(|&j| graph.id(j).to_owned())
                .collect(),
            domain,
            jobs,
            calls: Some(RunCalls {
                scheduler: outcome.scheduler_calls,
                processors: outcome.processor_calls,
                setup: Calls::default(),
            }),
            orchestration: None,
        }
    }
}

impl RunReport {
    /// This report of a resumed run's latest session, with the sessions of
    /// `earlier` (the report the previous session left) before it.
    #[must_use]
    pub fn after(mut self, earlier: Option<RunReport>) -> Self {
        let mut sessions = Vec::new();
        if let Some(e) = earlier {
            sessions = e.sessions;
            sessions.push(Session {
                started_at: Some(e.started_at),
                ended_at: Some(e.ended_at),
                status: Some(e.status),
                completed: e.counts.completed.saturating_sub(e.restored),
                makespan_ms: Some(e.makespan_ms),
                throughput_jobs_per_s: Some(e.throughput_jobs_per_s),
            });
        }
        // The ledger is the truth of what was done before: what no report
        // accounts for is listed as such, so the sessions add up.
        let accounted: u64 = sessions.iter().map(|s| s.completed).sum();
        if self.restored > accounted {
            sessions.push(Session {
                started_at: None,
                ended_at: None,
                status: None,
                completed: self.restored - accounted,
                makespan_ms: None,
                throughput_jobs_per_s: None,
            });
        }
        self.sessions = sessions;
        self
    }

    /// Jobs that completed in this session.
    #[must_use]
    pub fn completed_in_session(&self) -> u64 {
        self.counts.completed.saturating_sub(self.restored)
    }
}

/// The lower bound of this session: over the jobs it processed (observed
/// ending here), the heaviest dependency chain and the total divided by the
/// workers (when known), weighing each job by its simulated work, or — in
/// a graph without any — by its measured processing time. A job processed
/// here depends only on jobs restored or processed here, so both terms are
/// bounds on this session's makespan.
fn session_lower_bound(
    graph: &JobGraph,
    t: &crate::driver::Timeline,
    simulated: bool,
    workers: u64,
) -> (f64, Option<LowerBoundBasis>) {
    let weight = |j: JobIndex| -> f64 {
        let i = j.get();
        if t.observed[i] < 0 {
            return 0.0;
        }
        if simulated {
            f64::from(graph.job(j).work_duration_ms)
        } else {
            t.processing_ms[i].max(0.0)
        }
    };
    let bound = graph.schedule_lower_bound(weight, workers);
    if bound <= 0.0 {
        return (0.0, None);
    }
    let basis = if simulated {
        LowerBoundBasis::SimulatedWork
    } else {
        LowerBoundBasis::MeasuredProcessing
    };
    (bound, Some(basis))
}

/// Completions and jobs in flight over up to 100 intervals.
fn over_time(t: &crate::driver::Timeline, start: i64, makespan_ms: f64) -> Vec<TimePoint> {
    let mut observed: Vec<i64> = t.observed.iter().copied().filter(|&o| o >= 0).collect();
    let mut dispatched: Vec<i64> = t.dispatched.iter().copied().filter(|&d| d >= 0).collect();
    observed.sort_unstable();
    dispatched.sort_unstable();
    if observed.is_empty() {
        return Vec::new();
    }
    let span = makespan_ms.max(1.0);
    let buckets = 100.min(span as usize).max(1);
    let step = span / buckets as f64;
    let mut points = Vec::with_capacity(buckets);
    let mut previous = 0u64;
    for b in 1..=buckets {
        let at = start + (step * b as f64).round() as i64;
        let done = observed.partition_point(|&o| o <= at) as u64;
        let sent = dispatched.partition_point(|&d| d <= at) as u64;
        points.push(TimePoint {
            t_s: (at - start) as f64 / 1e3,
            completed: done,
            jobs_per_s: (done - previous) as f64 / (step / 1e3),
            in_flight: sent.saturating_sub(done),
        });
        previous = done;
    }
    points
}

#[cfg(test)]
mod tests {

    #[test]
    fn stage_percentiles_are_nearest_ranks_whatever_the_order() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        values.push(f64::NAN);
        values.swap(3, 70);
        let s = StageStats::from_values(values);
        assert_eq!(
            (s.count, s.mean, s.p50, s.p90, s.p99, s.max),
            (100, 50.5, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(StageStats::from_values(vec![7.0]).p99, 7.0);
        assert_eq!(StageStats::from_values(Vec::new()), StageStats::default());
    }

    use super::*;

    #[test]
    fn stage_percentiles_are_nearest_rank() {
        let s = StageStats::from_values((1..=100).map(f64::from).collect());
        assert_eq!(
            (s.count, s.p50, s.p90, s.p99, s.max),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(s.mean, 50.5);
        assert_eq!(
            StageStats::from_values(vec![f64::NAN]),
            StageStats::default()
        );
    }
}
