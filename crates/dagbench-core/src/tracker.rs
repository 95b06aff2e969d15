//! The scheduler driver's bookkeeping as a pure state machine: the async
//! driver hands it what happened (a batch sent, a completion or dead
//! letter received, a queue call that failed) with the time it happened,
//! and asks it what to send next. It owns the [`Scheduler`], every job's
//! [`Timeline`] and the [`Anomalies`] — messages that changed nothing —
//! so all of a run's accounting is tested without a queue or a clock.

use serde::{Deserialize, Serialize};

use crate::graph::{JobGraph, JobIndex};
use crate::ids::RunId;
use crate::key::ObjectKey;
use crate::message::{Completion, JobMessage, Outcome, graph_job_id, wire_job_id};
use crate::scheduler::{CompletionOutcome, FailureOutcome, JobState, Progress, Scheduler};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every job completed.
    Completed,
    /// Every job ended, some failed or were blocked.
    Failed,
    /// Jobs were in flight but nothing moved for the stall timeout.
    Stalled,
    /// Stopped on request; resumable.
    Interrupted,
    /// A queue refused to work at all (it does not exist, access is
    /// denied): the run stopped at once; resumable once fixed.
    Aborted,
}

impl RunStatus {
    /// Its name, as in `report.json` (`completed`, `failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stalled => "stalled",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
        }
    }
}

/// Per-job instants, ms since the epoch (`-1` = never).
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub ready: Vec<i64>,
    pub dispatched: Vec<i64>,
    pub started: Vec<i64>,
    pub completed: Vec<i64>,
    pub observed: Vec<i64>,
    /// As measured by the processor.
    pub processing_ms: Vec<f64>,
    /// Delivery attempt of the accepted completion.
    pub attempt: Vec<u32>,
}

impl Timeline {
    /// `n` jobs, nothing happened yet.
    pub fn new(n: usize) -> Self {
        Self {
            ready: vec![-1; n],
            dispatched: vec![-1; n],
            started: vec![-1; n],
            completed: vec![-1; n],
            observed: vec![-1; n],
            processing_ms: vec![f64::NAN; n],
            attempt: vec![0; n],
        }
    }
}

/// Counts of messages and calls that changed nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Anomalies {
    pub duplicate_completions: u64,
    pub late_completions: u64,
    pub premature_completions: u64,
    pub unknown_completions: u64,
    pub invalid_completions: u64,
    /// Dead-letter messages of this run without a job of this graph.
    pub dead_letters_unmatched: u64,
    /// Completions of another run, or of no run (litter, messages sent by
    /// hand): counted once per message, never deleted, never applied.
    pub foreign_completions: u64,
    /// Dead letters of another run or of no run (poison): left in the DLQ.
    pub foreign_dead_letters: u64,
    /// Job messages the incoming queue did not accept (sent again later).
    pub send_failures: u64,
    /// Receives from the outgoing queue or the DLQ that failed.
    pub receive_failures: u64,
    /// Deletes of handled messages that failed (they come back, and are
    /// then duplicates).
    pub delete_failures: u64,
}

/// What one message from the outgoing queue or the DLQ did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It ended its job (completed or failed) and may have released or
    /// blocked others: delete the message.
    Accepted,
    /// A message of this run that changed nothing (a duplicate, a late or
    /// premature one), counted in [`Anomalies`]: delete it.
    Ignored,
    /// Not this run's: counted, left in its queue for whoever owns it.
    Foreign,
    /// A processor of this run cannot work at all (disk full, access
    /// denied): the run must stop; the job stays resumable. Delete it.
    Fatal,
    /// Scenario 3 ([`RunTracker::follow`]): a completion of this run whose
    /// job still waits, here, for a dependency's completion (queues do not
    /// keep order): hold it and offer it again after the next accepted one.
    Early,
}

impl Effect {
    /// Whether the message is this run's to delete.
    pub fn delete(self) -> bool {
        self != Effect::Foreign
    }
}

/// Job messages to send together (at most one queue batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub jobs: Vec<JobIndex>,
    pub bodies: Vec<String>,
}

/// Everything the driver measured, for the report.
#[derive(Debug, Clone)]
pub struct DriverOutcome {
    pub status: RunStatus,
    pub progress: Progress,
    pub timeline: Timeline,
    pub anomalies: Anomalies,
    /// Wall-clock bounds of the run (ms since the epoch).
    pub started_at: i64,
    pub ended_at: i64,
    /// Failed jobs with their reasons.
    pub failed: Vec<(JobIndex, String)>,
    /// Why the run could not go on, when a queue failed (aborted or stalled
    /// runs): the last error, with the queue and the call.
    pub error: Option<String>,
    /// Jobs already completed when this session started (a resumed run).
    pub restored: u64,
    /// The billed calls the processors reported with this run's
    /// completions (duplicates and failures included).
    pub processor_calls: crate::calls::Calls,
    /// The billed calls the scheduler made (set by the driver).
    pub scheduler_calls: crate::calls::Calls,
}

/// Why a dead-lettered job failed.
pub const DEAD_LETTER_REASON: &str =
    "moved to the dead-letter queue after repeated deliveries without a completion";

/// The bookkeeping of one run.
#[derive(Debug, Clone)]
pub struct RunTracker {
    scheduler: Scheduler,
    run_id: RunId,
    timeline: Timeline,
    anomalies: Anomalies,
    started_at: i64,
    error: Option<String>,
    processor_calls: crate::calls::Calls,
    /// Foreign messages already counted (they come back after their
    /// visibility timeout: count each once).
    foreign_seen: std::collections::HashSet<String>,
    /// Jobs completed before this session (restored from a ledger).
    restored: u64,
    /// Followed runs (Scenario 3) only: per job, the latest `completed_at`
    /// of its dependencies so far — when the state machine could release
    /// it, which is its ready instant there.
    dependencies_done: Vec<i64>,
}

impl RunTracker {
    /// A run of `scheduler`'s graph (fresh or restored) starting at
    /// `now_ms`: every job ready now is stamped ready now.
    pub fn new(scheduler: Scheduler, run_id: RunId, now_ms: i64) -> Self {
        let n = scheduler.graph().len();
        let mut timeline = Timeline::new(n);
        for (j, ready) in timeline.ready.iter_mut().enumerate() {
            if scheduler.state(JobIndex(j as u32)) == JobState::Ready {
                *ready = now_ms;
            }
        }
        Self {
            restored: scheduler.progress().completed,
            scheduler,
            run_id,
            timeline,
            anomalies: Anomalies::default(),
            started_at: now_ms,
            error: None,
            processor_calls: crate::calls::Calls::default(),
            foreign_seen: std::collections::HashSet::new(),
            dependencies_done: Vec::new(),
        }
    }

    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// Counts a foreign message once per message id.
    fn foreign(&mut self, message_id: &str, dead_letter: bool) -> Effect {
        if self.foreign_seen.insert(message_id.to_owned()) {
            if dead_letter {
                self.anomalies.foreign_dead_letters += 1;
            } else {
                self.anomalies.foreign_completions += 1;
            }
        }
        Effect::Foreign
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    pub fn graph(&self) -> &JobGraph {
        self.scheduler.graph()
    }

    pub fn progress(&self) -> Progress {
        self.scheduler.progress()
    }

    pub fn anomalies(&self) -> &Anomalies {
        &self.anomalies
    }

    pub fn is_finished(&self) -> bool {
        self.scheduler.is_finished()
    }

    /// Jobs ready and not yet sent.
    pub fn ready_len(&self) -> usize {
        self.scheduler.ready_len()
    }

    /// Jobs sent and not yet ended.
    pub fn in_flight(&self) -> u64 {
        self.scheduler.progress().dispatched
    }

    /// The status of a run that ended because every job did.
    pub fn final_status(&self) -> RunStatus {
        let p = self.progress();
        if p.completed == p.total {
            RunStatus::Completed
        } else {
            RunStatus::Failed
        }
    }

    /// Up to `max` ready jobs and their messages, in release order, sent
    /// at `now_ms`; `None` when nothing is ready. The jobs count as
    /// dispatched from now — a completion may come back before the send
    /// call does — until [`Self::sent`] says the queue refused them.
    pub fn next_batch(&mut self, max: usize, now_ms: i64) -> Option<Batch> {
        let mut jobs = Vec::with_capacity(max);
        while jobs.len() < max {
            match self.scheduler.pop_ready() {
                Some(j) => {
                    self.scheduler.dispatched(j);
                    self.timeline.dispatched[j.get()] = now_ms;
                    jobs.push(j);
                }
                None => break,
            }
        }
        if jobs.is_empty() {
            return None;
        }
        let graph = self.scheduler.graph();
        let bodies = jobs
            .iter()
            .map(|&j| {
                let job = graph.job(j);
                JobMessage {
                    job_id: wire_job_id(&self.run_id, job.job_id)
                        .expect("wire ids are checked to fit when a run starts"),
                    work_duration_ms: u64::from(job.work_duration_ms),
                    data_size_kb: u64::from(job.data_size_kb),
                    input_key: job
                        .input_key
                        .map(|k| ObjectKey::new(k).expect("graph keys are valid")),
                    run_id: Some(self.run_id.clone()),
                    task_token: None,
                    released_at: None,
                }
                .to_json()
            })
            .collect();
        Some(Batch { jobs, bodies })
    }

    /// The queue's answer to `batch`, one flag per job (`true` = accepted):
    /// refused jobs are ready again, at the front of the ready queue in
    /// their order. Returns how many were refused.
    pub fn sent(&mut self, batch: &Batch, accepted: &[bool]) -> usize {
        let mut refused = 0;
        // Give back refusals in reverse so they go out again in order.
        for (i, &j) in batch.jobs.iter().enumerate().rev() {
            if !accepted.get(i).copied().unwrap_or(false) {
                refused += 1;
                self.anomalies.send_failures += 1;
                if self.scheduler.undispatch(j) {
                    self.timeline.dispatched[j.get()] = -1;
                }
            }
        }
        refused
    }

    /// Completion `message_id` with `body`, received at `observed_ms`. Only
    /// a completion of this run for a job in flight changes anything.
    pub fn completion(&mut self, message_id: &str, body: &[u8], observed_ms: i64) -> Effect {
        let Ok(completion) = Completion::parse(body) else {
            // Without a readable run id it cannot be told apart from another
            // run's litter: counted, left alone.
            self.anomalies.invalid_completions += 1;
            return self.foreign(message_id, false);
        };
        if completion.run_id.as_ref() != Some(&self.run_id) {
            return self.foreign(message_id, false);
        }
        self.processor_calls.add(&completion.calls);
        if completion.fatal {
            let error = match &completion.outcome {
                Outcome::Failed { error } => error.as_str(),
                Outcome::Completed { .. } => "a fatal error",
            };
            self.error = Some(format!(
                "processor {} cannot work: {error}",
                completion.worker.as_deref().unwrap_or("?")
            ));
            return Effect::Fatal;
        }
        let Some(job) = graph_job_id(&self.run_id, completion.job_id.as_str())
            .and_then(|id| self.scheduler.graph().find(id))
        else {
            self.anomalies.unknown_completions += 1;
            return Effect::Ignored;
        };
        let accepted = match &completion.outcome {
            Outcome::Completed { .. } => match self.scheduler.completed(job) {
                CompletionOutcome::Accepted { .. } => true,
                CompletionOutcome::Duplicate => {
                    self.anomalies.duplicate_completions += 1;
                    false
                }
                CompletionOutcome::Late(_) => {
                    self.anomalies.late_completions += 1;
                    false
                }
                CompletionOutcome::Premature => {
                    self.anomalies.premature_completions += 1;
                    false
                }
                CompletionOutcome::Unknown => {
                    self.anomalies.unknown_completions += 1;
                    false
                }
            },
            Outcome::Failed { error } => match self.scheduler.failed(job, error.clone()) {
                FailureOutcome::Accepted { .. } => true,
                FailureOutcome::Duplicate => {
                    self.anomalies.duplicate_completions += 1;
                    false
                }
                FailureOutcome::Late(_) => {
                    self.anomalies.late_completions += 1;
                    false
                }
                FailureOutcome::Premature => {
                    self.anomalies.premature_completions += 1;
                    false
                }
                FailureOutcome::Unknown => {
                    self.anomalies.unknown_completions += 1;
                    false
                }
            },
        };
        if !accepted {
            return Effect::Ignored;
        }
        let j = job.get();
        let t = &mut self.timeline;
        t.observed[j] = observed_ms;
        t.completed[j] = completion.completed_at.unix_millis();
        t.started[j] = completion.started_at.map_or(-1, |s| s.unix_millis());
        t.processing_ms[j] = completion.processing_time_ms;
        t.attempt[j] = completion.attempt.unwrap_or(1);
        if let Some(released) = completion.released_at {
            t.dispatched[j] = released.unix_millis();
        }
        let graph = std::sync::Arc::clone(self.scheduler.graph());
        for &d in graph.dependents(job) {
            let d = d as usize;
            if self.timeline.ready[d] < 0
                && self.scheduler.state(JobIndex(d as u32)) == JobState::Ready
            {
                self.timeline.ready[d] = observed_ms;
            }
        }
        Effect::Accepted
    }

    /// Scenario 3: the state machine releases jobs itself, so every job
    /// ready here is already in its hands; they count as dispatched at
    /// `now_ms` (a completion's `released_at` corrects that instant).
    /// Returns how many.
    pub fn release_ready(&mut self, now_ms: i64) -> usize {
        let mut n = 0;
        while let Some(j) = self.scheduler.pop_ready() {
            self.scheduler.dispatched(j);
            self.timeline.dispatched[j.get()] = now_ms;
            n += 1;
        }
        n
    }

    /// [`Self::completion`] for a run whose jobs the state machine releases
    /// (Scenario 3): jobs released since are dispatched first, and a
    /// completion of a job whose dependencies are not all seen yet is
    /// [`Effect::Early`] instead of premature.
    pub fn follow(&mut self, message_id: &str, body: &[u8], observed_ms: i64) -> Effect {
        self.release_ready(observed_ms);
        if let Ok(completion) = Completion::parse(body)
            && completion.run_id.as_ref() == Some(&self.run_id)
            && !completion.fatal
            && let Some(job) = graph_job_id(&self.run_id, completion.job_id.as_str())
                .and_then(|id| self.scheduler.graph().find(id))
            && self.scheduler.state(job) == JobState::Pending
        {
            return Effect::Early;
        }
        if self.dependencies_done.is_empty() {
            self.dependencies_done = vec![-1; self.scheduler.graph().len()];
        }
        let effect = self.completion(message_id, body, observed_ms);
        if effect == Effect::Accepted
            && let Some(job) = Completion::parse(body)
                .ok()
                .and_then(|c| graph_job_id(&self.run_id, c.job_id.as_str()).map(str::to_owned))
                .and_then(|id| self.scheduler.graph().find(&id))
        {
            // Ready when its last dependency completed (as the processor
            // says), not when this run heard of it.
            let done = self.timeline.completed[job.get()];
            let graph = std::sync::Arc::clone(self.scheduler.graph());
            for &d in graph.dependents(job) {
                let d = d as usize;
                self.dependencies_done[d] = self.dependencies_done[d].max(done);
                if self.scheduler.state(JobIndex(d as u32)) == JobState::Ready {
                    self.timeline.ready[d] = self.dependencies_done[d];
                }
            }
        }
        self.release_ready(observed_ms);
        effect
    }

    /// Message `message_id` found in the dead-letter queue: a job message
    /// of this run that repeated deliveries could not complete fails its
    /// job (if in flight); anything else is left for its owner.
    pub fn dead_letter(&mut self, message_id: &str, body: &[u8]) -> Effect {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(body) else {
            return self.foreign(message_id, true);
        };
        let run = message.get("run_id").and_then(|v| v.as_str());
        if run != Some(self.run_id.as_str()) {
            return self.foreign(message_id, true);
        }
        let job_id = message
            .get("job_id")
            .and_then(|id| id.as_str())
            .and_then(|wire| graph_job_id(&self.run_id, wire));
        match job_id.map(|id| self.scheduler.failed_id(id, DEAD_LETTER_REASON)) {
            Some(FailureOutcome::Accepted { .. }) => Effect::Accepted,
            Some(FailureOutcome::Unknown) | None => {
                self.anomalies.dead_letters_unmatched += 1;
                Effect::Ignored
            }
            Some(_) => Effect::Ignored,
        }
    }

    /// A receive from `queue` failed with `error`.
    pub fn receive_failed(&mut self, queue: &str, error: &str) {
        self.anomalies.receive_failures += 1;
        self.error = Some(format!("receive from the {queue} queue failed: {error}"));
    }

    /// `n` deletes of handled messages from `queue` failed.
    pub fn delete_failed(&mut self, queue: &str, n: usize, error: &str) {
        self.anomalies.delete_failures += n as u64;
        self.error = Some(format!("delete from the {queue} queue failed: {error}"));
    }

    /// A send of job messages failed as a whole with `error` (every job of
    /// the batch goes back to the ready queue).
    pub fn send_failed(&mut self, batch: &Batch, error: &str) {
        self.sent(batch, &[]);
        self.error = Some(format!("send to the incoming queue failed: {error}"));
    }

    /// Why the run cannot go on, when something other than a queue says
    /// so (Scenario 3: the execution ended).
    pub fn set_error(&mut self, error: String) {
        self.error = Some(error);
    }

    /// The last queue error, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The run ended with `status` at `ended_ms`.
    pub fn finish(self, status: RunStatus, ended_ms: i64) -> DriverOutcome {
        let failed = self
            .scheduler
            .failed_jobs()
            .into_iter()
            .map(|(j, reason)| (j, reason.to_owned()))
            .collect();
        DriverOutcome {
            status,
            progress: self.scheduler.progress(),
            timeline: self.timeline,
            anomalies: self.anomalies,
            started_at: self.started_at,
            ended_at: ended_ms,
            failed,
            // A queue error explains a run that could not finish; one
            // that finished anyway only counts it.
            error: match status {
                RunStatus::Aborted | RunStatus::Stalled => self.error,
                _ => None,
            },
            restored: self.restored,
            processor_calls: self.processor_calls,
            scheduler_calls: crate::calls::Calls::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::graph::{GraphBuilder, JobAttrs};

    /// a → b → c, and d alone.
    fn tracker() -> RunTracker {
        let mut b = GraphBuilder::new();
        for (id, deps) in [("a", &[][..]), ("b", &["a"]), ("c", &["b"]), ("d", &[])] {
            b.add_job(id, deps.iter(), JobAttrs::default()).unwrap();
        }
        let graph = Arc::new(b.finish().unwrap());
        RunTracker::new(Scheduler::new(graph), RunId::new("r1").unwrap(), 1_000)
    }

    fn done_in(run: &str, job: &str, at: i64) -> Vec<u8> {
        format!(
            "{{\"job_id\":\"{run}.{job}\",\"status\":\"completed\",\"output_key\":\"output/{job}.json\",\
             \"processing_time_ms\":2.5,\"completed_at\":\"{}\",\"test_run_id\":\"t\",\"attempt\":2,\
             \"run_id\":\"{run}\"}}",
            crate::time::Timestamp::from_unix_millis(at)
        )
        .into_bytes()
    }

    fn done(job: &str, at: i64) -> Vec<u8> {
        done_in("r1", job, at)
    }

    /// A completion of `job` released by the state machine at `released`.
    fn released_done(job: &str, released: i64, at: i64) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(&done(job, at)).unwrap();
        v["released_at"] = crate::time::Timestamp::from_unix_millis(released)
            .to_string()
            .into();
        v.to_string().into_bytes()
    }

    #[test]
    fn a_followed_run_holds_completions_that_come_before_their_dependencies() {
        let mut t = tracker();
        // The state machine has a and d; nothing is sent by the tracker.
        assert_eq!(t.release_ready(1_000), 2);
        assert_eq!(t.in_flight(), 2);
        // b's completion arrives before a's (queues keep no order).
        assert_eq!(
            t.follow("m-b", &released_done("b", 1_030, 1_050), 1_060),
            Effect::Early
        );
        assert_eq!(
            t.follow("m-a", &released_done("a", 1_001, 1_020), 1_070),
            Effect::Accepted
        );
        // a's completion released b here; the held one is accepted now.
        assert_eq!(
            t.follow("m-b", &released_done("b", 1_030, 1_050), 1_071),
            Effect::Accepted
        );
        let tl = &t.timeline;
        // b was ready when a completed (as the processor said), dispatched
        // when the state machine released it.
        assert_eq!((tl.ready[1], tl.dispatched[1]), (1_020, 1_030));
        assert_eq!(tl.dispatched[0], 1_001);
        // c is now in the state machine's hands.
        assert_eq!(t.scheduler().state(JobIndex(2)), JobState::Dispatched);
        assert_eq!(
            t.follow("m-b", &released_done("b", 1_030, 1_050), 1_080),
            Effect::Ignored
        );
        assert_eq!(t.anomalies().duplicate_completions, 1);
    }

    #[test]
    fn a_batch_carries_the_run_and_is_dispatched_when_accepted() {
        let mut t = tracker();
        let batch = t.next_batch(10, 1_005).unwrap();
        assert_eq!(batch.jobs.len(), 2, "a and d are ready");
        let msg: serde_json::Value = serde_json::from_str(&batch.bodies[0]).unwrap();
        assert_eq!(
            (msg["job_id"].as_str(), msg["run_id"].as_str()),
            (Some("r1.a"), Some("r1")),
            "ids on the wire are qualified by the run"
        );
        assert_eq!(t.sent(&batch, &[true, false]), 1);
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.anomalies().send_failures, 1);
        let again = t.next_batch(10, 1_006).unwrap();
        assert_eq!(
            again.jobs,
            vec![batch.jobs[1]],
            "the refused job goes out again"
        );
    }

    #[test]
    fn completions_release_stamp_and_count_duplicates() {
        let mut t = tracker();
        let batch = t.next_batch(10, 1_001).unwrap();
        t.sent(&batch, &[true, true]);
        assert_eq!(
            t.completion("m1", &done("a", 1_010), 1_020),
            Effect::Accepted
        );
        assert_eq!(
            t.completion("m2", &done("a", 1_010), 1_021),
            Effect::Ignored
        );
        assert_eq!(
            t.completion("m3", &done("c", 1_010), 1_022),
            Effect::Ignored
        );
        assert_eq!(t.completion("m4", b"not json", 1_023), Effect::Foreign);
        assert_eq!(
            t.completion("m5", &done("zz", 1_010), 1_024),
            Effect::Ignored
        );
        // Another run's completion of a job in flight here changes nothing,
        // and is counted once however often it comes back.
        assert_eq!(
            t.completion("m6", &done_in("r0", "d", 1_010), 1_025),
            Effect::Foreign
        );
        assert_eq!(
            t.completion("m6", &done_in("r0", "d", 1_010), 1_026),
            Effect::Foreign
        );
        assert_eq!(t.in_flight(), 1, "d is still in flight");
        let a = t.anomalies();
        assert_eq!(
            (
                a.duplicate_completions,
                a.premature_completions,
                a.invalid_completions,
                a.unknown_completions,
                a.foreign_completions
            ),
            (1, 1, 1, 1, 2)
        );
        let outcome = t.finish(RunStatus::Interrupted, 2_000);
        let tl = &outcome.timeline;
        assert_eq!(
            (tl.ready[1], tl.observed[0], tl.completed[0]),
            (1_020, 1_020, 1_010)
        );
        assert_eq!((tl.attempt[0], tl.processing_ms[0]), (2, 2.5));
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn a_dead_letter_fails_its_job_and_blocks_dependents() {
        let mut t = tracker();
        let batch = t.next_batch(10, 1_001).unwrap();
        t.sent(&batch, &[true, true]);
        assert_eq!(
            t.dead_letter(
                "d1",
                br#"{"job_id":"r1.a","work_duration_ms":1,"run_id":"r1"}"#
            ),
            Effect::Accepted
        );
        assert_eq!(
            t.dead_letter("d2", br#"{"job_id":"r1.a","run_id":"r1"}"#),
            Effect::Ignored
        );
        assert_eq!(
            t.dead_letter("d3", br#"{"job_id":"r1.zz","run_id":"r1"}"#),
            Effect::Ignored
        );
        // Poison and other runs' dead letters stay in the DLQ.
        assert_eq!(t.dead_letter("d4", b"garbage"), Effect::Foreign);
        assert_eq!(
            t.dead_letter("d5", br#"{"job_id":"r0.d","run_id":"r0"}"#),
            Effect::Foreign
        );
        assert_eq!(t.dead_letter("d6", br#"{"job_id":"d"}"#), Effect::Foreign);
        let a = t.anomalies();
        assert_eq!((a.dead_letters_unmatched, a.foreign_dead_letters), (1, 3));
        let p = t.progress();
        assert_eq!((p.failed, p.blocked), (1, 2));
        let outcome = t.finish(RunStatus::Failed, 3_000);
        assert_eq!(outcome.failed[0].1, DEAD_LETTER_REASON);
    }

    #[test]
    fn queue_failures_are_counted_and_explain_a_stall() {
        let mut t = tracker();
        t.receive_failed("outgoing", "queue does not exist");
        t.delete_failed("outgoing", 3, "timeout");
        let batch = t.next_batch(10, 1_002).unwrap();
        t.send_failed(&batch, "throttled");
        let a = *t.anomalies();
        assert_eq!(
            (a.receive_failures, a.delete_failures, a.send_failures),
            (1, 3, 2)
        );
        assert_eq!(t.ready_len(), 2, "a failed send leaves its jobs ready");
        let outcome = t.finish(RunStatus::Stalled, 5_000);
        assert_eq!(
            outcome.error.as_deref(),
            Some("send to the incoming queue failed: throttled")
        );
    }
}
