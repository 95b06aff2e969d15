//! `process_job`: what every processor — a local worker, the Lambda
//! function, a Fargate task — does with one incoming message. Only the
//! adapters behind the ports differ.
//!
//! Processing is idempotent, in the manner of Powertools' idempotency but
//! with a claim that always expires: a delivery first claims its job in the
//! ledger. A job that already ended is not run again — its recorded outcome
//! is sent again, its objects are not rewritten, its metrics not counted
//! twice; a job another delivery holds is left for later; a claim whose
//! holder died expires with the delivery's visibility timeout (or the
//! invocation's deadline), and the next delivery takes the job over.
//!
//! An input that is not dagbench job details is the source document's
//! generic job: it is read (counted as it streams), the simulated work is
//! done, the `data_size_kb` output is written.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::key::ObjectKey;
use dagbench_core::message::{Completion, JobMessage, Limits, Outcome, bounded_reason};
use dagbench_core::time::Timestamp;
use dagbench_flight::aircraft::{JobDetails, LegJob, MergeJob, SequenceJob};
use dagbench_flight::model::{Feeder, compute_leg, key};
use dagbench_flight::stats::{MergedPercentiles, SequencePercentiles};
use dagbench_store::{JobInput, RunStore, StoreError};

use crate::ports::{
    Claim, Claimant, Clock, Finished, JOBS_COMPLETED, JobLedger, JobQueue, LedgerError, LedgerRow,
    LedgerStatus, Metric, MetricUnit, MetricsSink, PROCESSING_TIME_MS, ReceivedMessage, Recorded,
    TaskCallbacks,
};

/// The end of simulated work is awaited by yielding for this long, for
/// precision the timer does not have.
const SPIN: Duration = Duration::from_millis(2);

/// How `work_duration_ms` is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkMode {
    /// Sleep (the processor stays available to other tasks).
    #[default]
    Sleep,
    /// Burn CPU on a blocking thread.
    Cpu,
}

#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// The `test_run_id` of completions and the metrics' `TestRunId`.
    pub test_run_id: String,
    /// The ledger partition of messages that name no run.
    pub run_id: RunId,
    /// Names this processor in completions and the ledger.
    pub worker: String,
    pub limits: Limits,
    pub work_mode: WorkMode,
    /// The queue's deliveries before it dead-letters a message
    /// (`maxReceiveCount`), when known: a job still failing transiently on
    /// its last delivery is reported `failed` with its reason, instead of
    /// reaching the dead-letter queue with none.
    pub max_attempts: Option<u32>,
}

/// The ports a processor works through.
#[derive(Debug, Clone)]
pub struct Processor {
    pub store: RunStore,
    pub ledger: Arc<dyn JobLedger>,
    pub metrics: Arc<dyn MetricsSink>,
    pub clock: Arc<dyn Clock>,
    /// The outgoing queue.
    pub completions: Arc<dyn JobQueue>,
    /// Step Functions (Scenario 3): finishes the task of a message that
    /// carries a task token, after its completion is sent.
    pub callbacks: Option<Arc<dyn TaskCallbacks>>,
    pub config: ProcessorConfig,
}

/// How a job that was reported ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Completed,
    Failed,
    /// The job had ended before: its recorded outcome was sent again.
    Resent,
    /// The processor's own resources failed (disk full, access denied):
    /// the completion tells the run to stop; the job stays resumable.
    Fatal,
}

/// What to do with the message after processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Reported: delete the message. `reason` of a failure.
    Done {
        job_id: JobId,
        ended: Ended,
        reason: Option<String>,
    },
    /// A transient error: leave the message for redelivery (it ends in the
    /// DLQ after too many receives).
    Retry {
        job_id: Option<JobId>,
        reason: String,
    },
    /// Another delivery of the same job holds it until `until`: leave this
    /// message to come back then (not run). `duplicate` when that delivery
    /// is of another message: this copy can be deleted instead, the other
    /// one stays in its queue until its job is done.
    Busy {
        job_id: JobId,
        until: Timestamp,
        duplicate: bool,
    },
    /// No usable job id, so no completion can be sent: move it to the DLQ.
    Poison { reason: String },
}

/// A job error, by whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JobError {
    Permanent(String),
    Transient(String),
    /// No job can succeed here until someone fixes the processor's
    /// resources.
    Fatal(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        if e.is_fatal() {
            JobError::Fatal(e.to_string())
        } else if e.is_retryable() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl From<LedgerError> for JobError {
    fn from(e: LedgerError) -> Self {
        if e.fatal {
            JobError::Fatal(e.to_string())
        } else {
            JobError::Transient(e.to_string())
        }
    }
}

/// What one delivery is about, once claimed.
struct Delivery<'a> {
    /// The ledger partition (the message's run, else the processor's).
    run: RunId,
    job_id: &'a JobId,
    /// The run the message names, which its completion names too.
    message_run: Option<RunId>,
    attempt: u32,
    started: tokio::time::Instant,
    started_at: Timestamp,
    /// The Step Functions task this delivery finishes (Scenario 3).
    task_token: Option<String>,
    /// When the state machine released the job.
    released_at: Option<Timestamp>,
}

impl Processor {
    /// The calls made since the last completion, with the send of the
    /// completion they go into (one request: a completion is always far
    /// below 64 KiB) and the `metric_points` recorded once it is sent
    /// (counted ahead, so that they travel with it).
    fn taken_calls(&self, metric_points: u64) -> dagbench_core::calls::Calls {
        self.store.calls().sqs(0);
        self.store.calls().metric_points(metric_points);
        self.store.calls().take()
    }

    /// Processes one message body delivered for the `attempt`-th time,
    /// claiming its job for `claim` (the delivery's visibility timeout, or
    /// what is left of the invocation), renewed while the job runs.
    pub async fn process_job(&self, body: &str, attempt: u32, claim: Duration) -> Disposition {
        self.deliver(body, attempt, None, claim, None).await
    }

    /// [`Self::process_job`] for a message whose id is known: a claim left
    /// by an earlier delivery of the same message (one that died) is taken
    /// over at once, and a copy of a message whose job another delivery
    /// runs is told apart ([`Disposition::Busy`]'s `duplicate`).
    pub async fn process_message(&self, message: &ReceivedMessage, claim: Duration) -> Disposition {
        let id = Some(message.message_id.as_str()).filter(|id| !id.is_empty());
        self.deliver(&message.body, message.receive_count, id, claim, None)
            .await
    }

    /// Ends the job of `body` as `failed` with `reason` without running it
    /// (it cannot fit the function's timeout, or its last delivery came
    /// with no time left): claimed and recorded like any job, so its
    /// ledger row and completion say why. A job that already ended has its
    /// outcome re-sent instead; poison stays poison.
    pub async fn refuse(
        &self,
        message: &ReceivedMessage,
        claim: Duration,
        reason: String,
    ) -> Disposition {
        let id = Some(message.message_id.as_str()).filter(|id| !id.is_empty());
        self.deliver(
            &message.body,
            message.receive_count,
            id,
            claim,
            Some(reason),
        )
        .await
    }

    async fn deliver(
        &self,
        body: &str,
        attempt: u32,
        message_id: Option<&str>,
        claim: Duration,
        refused: Option<String>,
    ) -> Disposition {
        let started = tokio::time::Instant::now();
        let started_at = self.clock.now();
        let (message, invalid) = match JobMessage::parse(body.as_bytes(), &self.config.limits) {
            Ok(m) => (Some(m), None),
            Err(invalid) => {
                let Some(job_id) = invalid.job_id.clone() else {
                    return Disposition::Poison {
                        reason: bounded_reason(&invalid.reason.to_string()),
                    };
                };
                let run_id = invalid.run_id.clone();
                (
                    Some(JobMessage {
                        job_id,
                        work_duration_ms: 0,
                        data_size_kb: 0,
                        input_key: None,
                        run_id,
                        task_token: dagbench_core::message::task_token_of(body.as_bytes()),
                        released_at: None,
                    }),
                    Some(invalid.reason.to_string()),
                )
            }
        };
        let message = message.expect("a message or poison");
        let delivery = Delivery {
            run: message
                .run_id
                .clone()
                .unwrap_or_else(|| self.config.run_id.clone()),
            job_id: &message.job_id,
            message_run: message.run_id.clone(),
            attempt,
            started,
            started_at,
            task_token: message.task_token.clone(),
            released_at: message.released_at,
        };
        let claimant = Claimant {
            worker: &self.config.worker,
            test_run_id: &self.config.test_run_id,
            message: message_id,
            at: started_at,
            until: started_at.plus_millis(claim.as_millis() as i64),
        };
        self.store.calls().dynamodb_write();
        match self
            .ledger
            .claim(&delivery.run, &message.job_id, &claimant)
            .await
        {
            Ok(Claim::Run { .. }) => {}
            Ok(Claim::Ended(row)) => return self.resend(&delivery, &row).await,
            Ok(Claim::Busy {
                until, duplicate, ..
            }) => {
                return Disposition::Busy {
                    job_id: message.job_id.clone(),
                    until,
                    duplicate,
                };
            }
            Err(e) => return self.failed_here(&delivery, e.into()).await,
        }
        // An invalid or refused message is a permanent failure, recorded
        // like any other.
        if let Some(reason) = refused.or(invalid) {
            return self.report(&delivery, Err(reason)).await;
        }
        let result = {
            let job = self.run(&message, started);
            tokio::pin!(job);
            self.renewing(&delivery, claim, &mut job).await
        };
        match result {
            Ok(output_key) => self.report(&delivery, Ok(output_key)).await,
            Err(JobError::Permanent(reason)) => self.report(&delivery, Err(reason)).await,
            Err(e) => self.failed_or_gave_up(&delivery, e).await,
        }
    }

    /// Gives up the claim a delivery of `body` holds, when its job was
    /// abandoned mid-way (a worker stopping): the next delivery may run it
    /// at once instead of waiting for the claim to expire. Best effort.
    pub async fn abandon(&self, body: &str) {
        let (job_id, run_id) = match JobMessage::parse(body.as_bytes(), &self.config.limits) {
            Ok(m) => (m.job_id, m.run_id),
            Err(invalid) => match invalid.job_id {
                Some(job) => (job, invalid.run_id),
                None => return,
            },
        };
        let run = run_id.unwrap_or_else(|| self.config.run_id.clone());
        self.store.calls().dynamodb_write();
        let _ = self
            .ledger
            .release(&run, &job_id, &self.config.worker)
            .await;
    }

    /// Runs `job`, extending this delivery's claim every half period.
    async fn renewing<T>(
        &self,
        delivery: &Delivery<'_>,
        claim: Duration,
        job: &mut std::pin::Pin<&mut impl std::future::Future<Output = T>>,
    ) -> T {
        let period = (claim / 2).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                out = job.as_mut() => return out,
                () = tokio::time::sleep(period) => {
                    let until = self.clock.now().plus_millis(claim.as_millis() as i64);
                    // A lost claim is found out when the job is recorded.
                    self.store.calls().dynamodb_write();
                    let _ = self
                        .ledger
                        .extend(&delivery.run, delivery.job_id, &self.config.worker, until)
                        .await;
                    // The state machine waits on this job: it is alive.
                    if let (Some(token), Some(callbacks)) = (&delivery.task_token, &self.callbacks) {
                        let _ = callbacks.heartbeat(token).await;
                    }
                }
            }
        }
    }

    /// [`Self::failed_here`], except on the queue's last delivery: a job
    /// still failing transiently then is reported `failed` with its reason,
    /// instead of reaching the dead-letter queue with none.
    async fn failed_or_gave_up(&self, delivery: &Delivery<'_>, error: JobError) -> Disposition {
        match error {
            JobError::Transient(reason)
                if self
                    .config
                    .max_attempts
                    .is_some_and(|max| delivery.attempt >= max) =>
            {
                let max = self.config.max_attempts.unwrap_or(delivery.attempt);
                let reason = format!(
                    "still failing on delivery {} of {max}, the last before the dead-letter queue: {reason}",
                    delivery.attempt
                );
                self.report(delivery, Err(reason)).await
            }
            error => self.failed_here(delivery, error).await,
        }
    }

    /// A transient or fatal error of this processor, not of the job: the
    /// claim is given back; a fatal error also tells the run to stop.
    async fn failed_here(&self, delivery: &Delivery<'_>, error: JobError) -> Disposition {
        self.store.calls().dynamodb_write();
        let _ = self
            .ledger
            .release(&delivery.run, delivery.job_id, &self.config.worker)
            .await;
        match error {
            JobError::Fatal(reason) => {
                let completion = Completion {
                    job_id: delivery.job_id.clone(),
                    outcome: Outcome::Failed {
                        error: bounded_reason(&reason),
                    },
                    processing_time_ms: elapsed_ms(delivery.started),
                    completed_at: self.clock.now(),
                    test_run_id: self.config.test_run_id.clone(),
                    started_at: Some(delivery.started_at),
                    worker: Some(self.config.worker.clone()),
                    attempt: Some(delivery.attempt),
                    run_id: delivery.message_run.clone(),
                    fatal: true,
                    calls: self.taken_calls(0),
                    released_at: delivery.released_at,
                };
                // No task callback: the job stays resumable, the run stops.
                self.send(delivery.job_id, completion, Ended::Fatal, None)
                    .await
            }
            JobError::Transient(reason) | JobError::Permanent(reason) => Disposition::Retry {
                job_id: Some(delivery.job_id.clone()),
                reason: bounded_reason(&reason),
            },
        }
    }

    /// The recorded outcome of a job that already ended, sent again.
    async fn resend(&self, delivery: &Delivery<'_>, row: &LedgerRow) -> Disposition {
        let outcome = match (row.status, &row.output_key) {
            (LedgerStatus::Completed, Some(key)) => match ObjectKey::new(key.as_str()) {
                Ok(output_key) => Outcome::Completed { output_key },
                Err(e) => Outcome::Failed {
                    error: format!("the ledger's output key {key:?} is invalid: {e}"),
                },
            },
            _ => Outcome::Failed {
                error: row
                    .error
                    .clone()
                    .unwrap_or_else(|| "failed (no reason recorded)".into()),
            },
        };
        let completion = Completion {
            job_id: delivery.job_id.clone(),
            outcome,
            processing_time_ms: row.processing_time_ms.unwrap_or(0.0),
            completed_at: row.completed_at.unwrap_or(delivery.started_at),
            test_run_id: self.config.test_run_id.clone(),
            started_at: row.started_at,
            worker: row.worker.clone(),
            attempt: Some(delivery.attempt),
            run_id: delivery.message_run.clone(),
            fatal: false,
            calls: self.taken_calls(0),
            released_at: delivery.released_at,
        };
        self.send(
            delivery.job_id,
            completion,
            Ended::Resent,
            delivery.task_token.as_deref(),
        )
        .await
    }

    /// The job itself: its input, simulated work, domain computation,
    /// output object. The simulated work ends `work_duration_ms` after
    /// `started`, so reading the input overlaps with it, as real work would.
    async fn run(
        &self,
        message: &JobMessage,
        started: tokio::time::Instant,
    ) -> Result<String, JobError> {
        let mut input_bytes = None;
        let details = match &message.input_key {
            None => None,
            Some(key) => match self.store.get_job_input(key).await? {
                None => {
                    return Err(JobError::Permanent(format!(
                        "input_key {key} does not exist"
                    )));
                }
                Some(JobInput::Opaque { bytes }) => {
                    input_bytes = Some(bytes);
                    None
                }
                Some(JobInput::Details(details)) => {
                    // A processor writes only into the run its message
                    // belongs to.
                    let theirs = details.run_id();
                    match &message.run_id {
                        Some(run) if run == theirs => Some(details),
                        Some(run) => {
                            return Err(JobError::Permanent(format!(
                                "input_key {key} holds job details of run {theirs}, the message is of run {run}"
                            )));
                        }
                        None => {
                            return Err(JobError::Permanent(format!(
                                "input_key {key} holds job details of run {theirs}; a message for them must name that run (run_id)"
                            )));
                        }
                    }
                }
            },
        };
        self.simulate_work(started + Duration::from_millis(message.work_duration_ms))
            .await;
        match details.as_deref() {
            None => {}
            Some(JobDetails::Leg(leg)) => self.run_leg(leg).await?,
            Some(JobDetails::Sequence(seq)) => self.run_sequence(seq).await?,
            Some(JobDetails::Merge(merge)) => self.run_merge(merge).await?,
        }
        let completed_at = self.clock.now();
        let key = self
            .store
            .put_output(
                &message.job_id,
                completed_at,
                output_object(&message.job_id, message.data_size_kb, input_bytes),
            )
            .await?;
        Ok(key.to_string())
    }

    async fn simulate_work(&self, until: tokio::time::Instant) {
        let now = tokio::time::Instant::now();
        if until <= now {
            return;
        }
        match self.config.work_mode {
            WorkMode::Sleep => {
                // tokio's timer fires on whole milliseconds and late by up
                // to a couple under load: sleep to just short of the
                // deadline, then yield until it. The yielding is bounded in
                // real time, so paused-time tests (where only sleeping
                // advances the clock) fall back to a plain sleep.
                let coarse = until.checked_sub(SPIN).unwrap_or(until);
                if coarse > now {
                    tokio::time::sleep_until(coarse).await;
                }
                let spinning = std::time::Instant::now();
                while tokio::time::Instant::now() < until {
                    if spinning.elapsed() > SPIN * 2 {
                        tokio::time::sleep_until(until).await;
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
            WorkMode::Cpu => {
                let duration = until - now;
                let _ = tokio::task::spawn_blocking(move || {
                    let until = std::time::Instant::now() + duration;
                    let mut x = 0u64;
                    while std::time::Instant::now() < until {
                        for i in 0..1000u64 {
                            x = std::hint::black_box(
                                x.wrapping_mul(6364136223846793005).wrapping_add(i),
                            );
                        }
                    }
                    x
                })
                .await;
            }
        }
    }

    async fn run_leg(&self, leg: &LegJob) -> Result<(), JobError> {
        let previous = match &leg.previous_job {
            None => None,
            Some(job) => Some(self.read_arrivals(&leg.run_id, job).await?),
        };
        let mut feeder_delays = Vec::with_capacity(leg.feeders.len());
        for f in &leg.feeders {
            feeder_delays.push((
                f.crew_slack,
                self.read_arrivals(&leg.run_id, &f.job_id).await?,
            ));
        }
        let feeders: Vec<Feeder<'_>> = feeder_delays
            .iter()
            .map(|(crew_slack, delays)| Feeder {
                crew_slack: *crew_slack,
                arrival_delays: delays,
            })
            .collect();
        let k = key(leg.run_seed, &leg.sequence_id.to_string());
        let delays = compute_leg(
            k,
            &leg.schedule(),
            leg.samples,
            previous.as_deref(),
            &feeders,
        )
        .map_err(|e| JobError::Permanent(e.to_string()))?;
        let job = dagbench_flight::aircraft::leg_job_id(leg.sequence_id, leg.leg);
        self.store
            .put_delays(&leg.run_id, &job, leg.sequence_id, &delays)
            .await?;
        Ok(())
    }

    /// A dependency's arrival delays; missing means it is not visible yet.
    async fn read_arrivals(&self, run: &RunId, job: &JobId) -> Result<Vec<i32>, JobError> {
        match self.store.get_delays(run, job).await? {
            Some(record) => Ok(record.delays.arr_delay),
            None => Err(JobError::Transient(format!(
                "delays of {job} are not in the store yet"
            ))),
        }
    }

    async fn run_sequence(&self, seq: &SequenceJob) -> Result<(), JobError> {
        let mut legs = Vec::with_capacity(seq.legs.len());
        for job in &seq.legs {
            let record = self
                .store
                .get_delays(&seq.run_id, job)
                .await?
                .ok_or_else(|| {
                    JobError::Transient(format!("delays of {job} are not in the store yet"))
                })?;
            if record.sequence_id != seq.sequence_id
                || record.delays.samples() != seq.samples as usize
            {
                return Err(JobError::Permanent(format!(
                    "delays of {job} hold sequence {} with {} samples, expected sequence {} with {}",
                    record.sequence_id,
                    record.delays.samples(),
                    seq.sequence_id,
                    seq.samples
                )));
            }
            legs.push(record.delays);
        }
        let percentiles = SequencePercentiles::from_legs(seq.sequence_id, seq.last_landing, &legs);
        self.store
            .put_percentiles(&seq.run_id, &percentiles)
            .await?;
        Ok(())
    }

    async fn run_merge(&self, merge: &MergeJob) -> Result<(), JobError> {
        let mut parts = Vec::with_capacity(merge.sequences.len());
        for &id in &merge.sequences {
            parts.push(
                self.store
                    .get_percentiles(&merge.run_id, id)
                    .await?
                    .ok_or_else(|| {
                        JobError::Transient(format!(
                            "percentiles of sequence {id} are not in the store yet"
                        ))
                    })?,
            );
        }
        let merged =
            MergedPercentiles::merge(&parts).map_err(|e| JobError::Permanent(e.to_string()))?;
        self.store
            .put_merged_percentiles(&merge.run_id, &merged)
            .await?;
        Ok(())
    }

    /// Records the end of a job in the ledger and metrics, and sends its
    /// completion. If another delivery recorded the job's end first, that
    /// record is what is sent.
    async fn report(
        &self,
        delivery: &Delivery<'_>,
        outcome: Result<String, String>,
    ) -> Disposition {
        let outcome = outcome.map_err(|reason| bounded_reason(&reason));
        let processing_time_ms = elapsed_ms(delivery.started);
        let completed_at = self.clock.now();
        let finished = Finished {
            completed_at,
            processing_time_ms,
            worker: self.config.worker.clone(),
            outcome: outcome.clone(),
        };
        self.store.calls().dynamodb_write();
        match self
            .ledger
            .record_finished(&delivery.run, delivery.job_id, &finished)
            .await
        {
            Ok(Recorded::First) => {}
            Ok(Recorded::Duplicate) => {
                self.store.calls().dynamodb_read();
                return match self.ledger.get(&delivery.run, delivery.job_id).await {
                    Ok(Some(row)) => self.resend(delivery, &row).await,
                    Ok(None) => Disposition::Retry {
                        job_id: Some(delivery.job_id.clone()),
                        reason: "the ledger lost the job's record".into(),
                    },
                    Err(e) => self.failed_here(delivery, e.into()).await,
                };
            }
            Err(e) => return self.failed_here(delivery, e.into()).await,
        }
        let completed = outcome.is_ok();
        let outcome = match outcome {
            Ok(key) => Outcome::Completed {
                output_key: ObjectKey::new(key).expect("output keys are valid"),
            },
            Err(error) => Outcome::Failed { error },
        };
        let completion = Completion {
            job_id: delivery.job_id.clone(),
            outcome,
            processing_time_ms,
            completed_at,
            test_run_id: self.config.test_run_id.clone(),
            started_at: Some(delivery.started_at),
            worker: Some(self.config.worker.clone()),
            attempt: Some(delivery.attempt),
            run_id: delivery.message_run.clone(),
            fatal: false,
            calls: self.taken_calls(if completed { 2 } else { 0 }),
            released_at: delivery.released_at,
        };
        let ended = if completed {
            Ended::Completed
        } else {
            Ended::Failed
        };
        let sent = self
            .send(
                delivery.job_id,
                completion,
                ended,
                delivery.task_token.as_deref(),
            )
            .await;
        // Counted once the completion is out: the metrics say what was
        // reported, and a re-sent outcome is never counted again.
        if completed && matches!(sent, Disposition::Done { .. }) {
            let test_run_id = self.config.test_run_id.clone();
            self.metrics.record(Metric {
                name: PROCESSING_TIME_MS,
                value: processing_time_ms,
                unit: MetricUnit::Milliseconds,
                test_run_id: test_run_id.clone(),
            });
            self.metrics.record(Metric {
                name: JOBS_COMPLETED,
                value: 1.0,
                unit: MetricUnit::Count,
                test_run_id,
            });
        }
        sent
    }

    /// Sends `completion`, then finishes the Step Functions task of
    /// `token` with it; the message may be deleted once both are done.
    async fn send(
        &self,
        job_id: &JobId,
        completion: Completion,
        ended: Ended,
        token: Option<&str>,
    ) -> Disposition {
        let retry = |reason: String| Disposition::Retry {
            job_id: Some(job_id.clone()),
            reason,
        };
        match self.completions.send_batch(&[completion.to_json()]).await {
            Ok(results) if results.iter().all(Result::is_ok) => {}
            Ok(results) => {
                return retry(format!(
                    "completion not sent: {}",
                    results
                        .into_iter()
                        .find_map(Result::err)
                        .map(|e| e.to_string())
                        .unwrap_or_default()
                ));
            }
            Err(e) => return retry(format!("completion not sent: {e}")),
        }
        if let (Some(token), Some(callbacks)) = (token, &self.callbacks) {
            let finished = match &completion.outcome {
                Outcome::Completed { .. } => {
                    callbacks.succeeded(token, &completion.to_json()).await
                }
                Outcome::Failed { error } => {
                    callbacks
                        .failed(token, dagbench_core::message::TASK_JOB_FAILED, error)
                        .await
                }
            };
            // A closed task was finished before (this is a redelivery) or
            // given up by its execution: nothing waits on it any more.
            if let Err(e) = finished
                && !e.closed
            {
                return retry(format!("task result not sent to Step Functions: {e}"));
            }
        }
        Disposition::Done {
            job_id: job_id.clone(),
            ended,
            reason: match completion.outcome {
                Outcome::Failed { error } => Some(error),
                Outcome::Completed { .. } => None,
            },
        }
    }
}

/// Milliseconds since `started`, to the microsecond.
fn elapsed_ms(started: tokio::time::Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// The output object: deterministic JSON of exactly `size_kb` KiB (or a
/// short one for 0), so reprocessing writes identical bytes; a generic job
/// records how many bytes its input had.
pub fn output_object(job_id: &JobId, size_kb: u64, input_bytes: Option<u64>) -> Bytes {
    let input = input_bytes.map_or(String::new(), |b| format!("\"input_bytes\":{b},"));
    let head =
        format!("{{\"job_id\":\"{job_id}\",\"data_size_kb\":{size_kb},{input}\"padding\":\"");
    let tail = "\"}\n";
    let target = (size_kb as usize) * 1024;
    let pad = target.saturating_sub(head.len() + tail.len());
    let mut out = String::with_capacity(head.len() + pad + tail.len());
    out.push_str(&head);
    out.push_str(&"0".repeat(pad));
    out.push_str(tail);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_objects_have_the_requested_size() {
        let id = JobId::new("j1").unwrap();
        for kb in [1, 2, 10] {
            let bytes = output_object(&id, kb, Some(17));
            assert_eq!(bytes.len(), kb as usize * 1024);
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                (&v["job_id"], &v["input_bytes"]),
                (&"j1".into(), &17.into())
            );
        }
        assert_eq!(
            &output_object(&id, 0, None)[..],
            b"{\"job_id\":\"j1\",\"data_size_kb\":0,\"padding\":\"\"}\n"
        );
    }
}
