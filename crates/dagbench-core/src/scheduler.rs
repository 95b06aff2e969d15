//! The scheduler as a pure state machine: events in (`completed`, `failed`,
//! `dispatched`), decisions out (the ready queue and each event's outcome).
//! No clock, no I/O: the async driver around it supplies both.
//!
//! A job moves `Pending → Ready → Dispatched → Completed | Failed`, or to
//! `Blocked` when a job it depends on, directly or not, failed. Every event is
//! idempotent: a duplicate or late completion changes nothing and says so.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::graph::{JobGraph, JobIndex};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum JobState {
    /// Waiting for dependencies.
    Pending,
    /// Every dependency completed; not yet sent.
    Ready,
    /// Sent to the processors.
    Dispatched,
    Completed,
    Failed,
    /// A job it depends on (directly or not) failed; it will never run.
    Blocked,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Blocked
        )
    }
}

/// What a completion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionOutcome {
    /// Recorded; `released` dependents became ready. `finished` is true for
    /// the one event that ends the run.
    Accepted { released: u32, finished: bool },
    /// The job had already completed: nothing changed.
    Duplicate,
    /// The job had already failed or been blocked: nothing changed.
    Late(JobState),
    /// The job is not in flight — not every dependency has completed, or
    /// it was never sent — so this run cannot have produced the message (a
    /// stray or stale one): nothing changed.
    Premature,
    /// No job of that id in the graph: nothing changed.
    Unknown,
}

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Recorded; `blocked` transitive dependents will never run.
    Accepted {
        blocked: u32,
        finished: bool,
    },
    /// The job had already failed: nothing changed.
    Duplicate,
    /// The job had already completed or been blocked: nothing changed.
    Late(JobState),
    /// The job is not in flight (pending or ready, never sent): this run
    /// cannot have produced the failure; nothing changed.
    Premature,
    Unknown,
}

/// Number of jobs in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total: u64,
    pub pending: u64,
    pub ready: u64,
    pub dispatched: u64,
    pub completed: u64,
    pub failed: u64,
    pub blocked: u64,
}

impl Progress {
    fn slot(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Pending => &mut self.pending,
            JobState::Ready => &mut self.ready,
            JobState::Dispatched => &mut self.dispatched,
            JobState::Completed => &mut self.completed,
            JobState::Failed => &mut self.failed,
            JobState::Blocked => &mut self.blocked,
        }
    }

    /// Jobs that reached an end state.
    pub fn done(&self) -> u64 {
        self.completed + self.failed + self.blocked
    }
}

/// `restore` was given a completed set that no real run could produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("restore must come before any other event")]
    NotFresh,
    #[error("job {job:?} is recorded as completed but its dependency {dependency:?} is not")]
    MissingDependency { job: String, dependency: String },
}

/// The scheduling state of one run of a graph.
#[derive(Debug, Clone)]
pub struct Scheduler {
    graph: Arc<JobGraph>,
    state: Vec<JobState>,
    /// Dependencies not yet completed, per job.
    remaining: Vec<u32>,
    /// Ready jobs not yet handed out by `pop_ready`, in release order.
    ready: VecDeque<u32>,
    progress: Progress,
    /// For each blocked job, the failed job that blocked it.
    blocked_by: HashMap<u32, u32>,
    /// For each failed job, its reason.
    failures: HashMap<u32, String>,
    /// Whether the event that finished the run was already reported.
    finish_reported: bool,
    /// Whether any event has been applied (restore needs a fresh machine).
    touched: bool,
}

impl Scheduler {
    /// A fresh run: the jobs without dependencies are ready.
    pub fn new(graph: Arc<JobGraph>) -> Self {
        let remaining = graph.in_degrees();
        let mut state = vec![JobState::Pending; graph.len()];
        let mut ready = VecDeque::new();
        for (j, &r) in remaining.iter().enumerate() {
            if r == 0 {
                state[j] = JobState::Ready;
                ready.push_back(j as u32);
            }
        }
        let progress = Progress {
            total: graph.len() as u64,
            pending: (graph.len() - ready.len()) as u64,
            ready: ready.len() as u64,
            ..Progress::default()
        };
        Self {
            graph,
            state,
            remaining,
            ready,
            progress,
            blocked_by: HashMap::new(),
            failures: HashMap::new(),
            finish_reported: false,
            touched: false,
        }
    }

    pub fn graph(&self) -> &Arc<JobGraph> {
        &self.graph
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    pub fn state(&self, job: JobIndex) -> JobState {
        self.state[job.get()]
    }

    /// Every job completed, failed or blocked.
    pub fn is_finished(&self) -> bool {
        self.progress.done() == self.progress.total
    }

    /// The failed job that blocked `job`, if it is blocked.
    pub fn blocked_by(&self, job: JobIndex) -> Option<JobIndex> {
        self.blocked_by.get(&job.0).map(|&j| JobIndex(j))
    }

    /// Why `job` failed, if it did.
    pub fn failure(&self, job: JobIndex) -> Option<&str> {
        self.failures.get(&job.0).map(String::as_str)
    }

    /// Failed jobs with their reasons, in index order.
    pub fn failed_jobs(&self) -> Vec<(JobIndex, &str)> {
        let mut failed: Vec<_> = self
            .failures
            .iter()
            .map(|(&j, reason)| (JobIndex(j), reason.as_str()))
            .collect();
        failed.sort_by_key(|&(j, _)| j);
        failed
    }

    /// Number of jobs in the `Ready` state (handed out or not).
    pub fn ready_len(&self) -> usize {
        self.progress.ready as usize
    }

    /// Hands out the next ready job (it stays `Ready` until `dispatched`).
    /// Jobs that left `Ready` while queued (completed or failed before being
    /// handed out) are skipped.
    #[inline]
    pub fn pop_ready(&mut self) -> Option<JobIndex> {
        while let Some(j) = self.ready.pop_front() {
            if self.state[j as usize] == JobState::Ready {
                return Some(JobIndex(j));
            }
        }
        None
    }

    /// Gives back a job handed out by `pop_ready` but not sent (e.g. the
    /// queue refused it); it is handed out again first.
    pub fn unpop_ready(&mut self, job: JobIndex) {
        if self.state[job.get()] == JobState::Ready {
            self.ready.push_front(job.0);
        }
    }

    /// Takes back a dispatch that did not happen (the queue refused the
    /// message): the job is ready again and handed out first. True if it
    /// was dispatched.
    pub fn undispatch(&mut self, job: JobIndex) -> bool {
        if self.state[job.get()] == JobState::Dispatched {
            self.set_state(job.get(), JobState::Ready);
            self.ready.push_front(job.0);
            true
        } else {
            false
        }
    }

    fn set_state(&mut self, j: usize, to: JobState) {
        let from = self.state[j];
        *self.progress.slot(from) -= 1;
        *self.progress.slot(to) += 1;
        self.state[j] = to;
    }

    /// The job was sent to the processors. True if it was `Ready`.
    #[inline]
    pub fn dispatched(&mut self, job: JobIndex) -> bool {
        self.touched = true;
        if self.state[job.get()] == JobState::Ready {
            self.set_state(job.get(), JobState::Dispatched);
            true
        } else {
            false
        }
    }

    fn finished_now(&mut self) -> bool {
        if !self.finish_reported && self.is_finished() {
            self.finish_reported = true;
            return true;
        }
        false
    }

    /// A processor reported `job_id` completed.
    pub fn completed_id(&mut self, job_id: &str) -> CompletionOutcome {
        match self.graph.find(job_id) {
            Some(job) => self.completed(job),
            None => CompletionOutcome::Unknown,
        }
    }

    /// `job` completed: release every dependent whose dependencies are now
    /// all complete. Only a job in flight (dispatched) can complete: a
    /// completion of a pending or ready job is premature; completed, failed
    /// and blocked are final.
    #[inline]
    pub fn completed(&mut self, job: JobIndex) -> CompletionOutcome {
        self.touched = true;
        let j = job.get();
        match self.state[j] {
            JobState::Completed => return CompletionOutcome::Duplicate,
            s @ (JobState::Failed | JobState::Blocked) => return CompletionOutcome::Late(s),
            JobState::Pending | JobState::Ready => return CompletionOutcome::Premature,
            JobState::Dispatched => {}
        }
        self.set_state(j, JobState::Completed);
        let graph = Arc::clone(&self.graph);
        let mut released = 0;
        for &d in graph.dependents(job) {
            let r = &mut self.remaining[d as usize];
            *r -= 1;
            // Only a pending job becomes ready: a blocked one stays blocked.
            if *r == 0 && self.state[d as usize] == JobState::Pending {
                self.set_state(d as usize, JobState::Ready);
                self.ready.push_back(d);
                released += 1;
            }
        }
        CompletionOutcome::Accepted {
            released,
            finished: self.finished_now(),
        }
    }

    /// A processor reported `job_id` failed.
    pub fn failed_id(&mut self, job_id: &str, reason: impl Into<String>) -> FailureOutcome {
        match self.graph.find(job_id) {
            Some(job) => self.failed(job, reason),
            None => FailureOutcome::Unknown,
        }
    }

    /// `job`, in flight, failed for good: every transitive dependent is
    /// blocked, with `job` recorded as the reason. The rest of the graph goes
    /// on. A failure of a job not in flight is premature.
    pub fn failed(&mut self, job: JobIndex, reason: impl Into<String>) -> FailureOutcome {
        self.touched = true;
        let j = job.get();
        match self.state[j] {
            JobState::Failed => return FailureOutcome::Duplicate,
            s @ (JobState::Completed | JobState::Blocked) => return FailureOutcome::Late(s),
            JobState::Pending | JobState::Ready => return FailureOutcome::Premature,
            JobState::Dispatched => {}
        }
        self.set_state(j, JobState::Failed);
        self.failures.insert(job.0, reason.into());
        // Every transitive dependent is Pending (none can have started, as
        // this job never completed) or already Blocked by an earlier
        // failure, with its own dependents.
        let graph = Arc::clone(&self.graph);
        let mut stack = vec![job.0];
        let mut blocked = 0;
        while let Some(from) = stack.pop() {
            for &d in graph.dependents(JobIndex(from)) {
                if self.state[d as usize] == JobState::Pending {
                    self.set_state(d as usize, JobState::Blocked);
                    self.blocked_by.insert(d, job.0);
                    blocked += 1;
                    stack.push(d);
                }
            }
        }
        FailureOutcome::Accepted {
            blocked,
            finished: self.finished_now(),
        }
    }

    /// Resumes a run: marks `completed` jobs done (from a ledger) without
    /// dispatching them again. Must be the first event. Returns how many
    /// jobs were restored.
    pub fn restore(
        &mut self,
        completed: impl IntoIterator<Item = JobIndex>,
    ) -> Result<u64, RestoreError> {
        if self.touched {
            return Err(RestoreError::NotFresh);
        }
        let mut restored = Vec::new();
        for job in completed {
            if self.state[job.get()] != JobState::Completed {
                self.state[job.get()] = JobState::Completed;
                restored.push(job.0);
            }
        }
        let graph = Arc::clone(&self.graph);
        for &job in &restored {
            for &d in graph.dependents(JobIndex(job)) {
                self.remaining[d as usize] -= 1;
            }
        }
        // A completed job must have had every dependency completed.
        if let Some(&job) = restored.iter().find(|&&j| self.remaining[j as usize] > 0) {
            let (start, deps) = graph.dependencies_csr();
            let range = start[job as usize] as usize..start[job as usize + 1] as usize;
            let dependency = deps[range]
                .iter()
                .copied()
                .find(|&d| self.state[d as usize] != JobState::Completed)
                .expect("a remaining count above zero has an incomplete dependency");
            *self = Self::new(graph);
            return Err(RestoreError::MissingDependency {
                job: self.graph.id(JobIndex(job)).to_owned(),
                dependency: self.graph.id(JobIndex(dependency)).to_owned(),
            });
        }
        self.ready.clear();
        let mut progress = Progress {
            total: self.progress.total,
            ..Progress::default()
        };
        for j in 0..self.state.len() {
            if self.state[j] != JobState::Completed {
                self.state[j] = if self.remaining[j] == 0 {
                    self.ready.push_back(j as u32);
                    JobState::Ready
                } else {
                    JobState::Pending
                };
            }
            *progress.slot(self.state[j]) += 1;
        }
        self.progress = progress;
        self.touched = true;
        if self.is_finished() {
            self.finish_reported = true;
        }
        Ok(restored.len() as u64)
    }

    /// Bytes of per-job scheduling state on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.state.capacity()
            + self.remaining.capacity() * 4
            + self.ready.capacity() * 4
            + self.blocked_by.capacity() * 9
            + self.failures.capacity() * 29
    }
}
