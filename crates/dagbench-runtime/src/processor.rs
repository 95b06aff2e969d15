//! `process_job`: what every processor — a local worker, the Lambda
//! function, a Fargate task — does with one incoming message. Only the
//! adapters behind the ports differ.
//!
//! Every step is idempotent: reprocessing a job writes the same objects,
//! records one ledger completion, and sends a completion the scheduler
//! treats as a duplicate.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::message::{Completion, JobMessage, Limits, Outcome};
use dagbench_core::time::Timestamp;
use dagbench_flight::aircraft::{JobDetails, LegJob, MergeJob, SequenceJob};
use dagbench_flight::model::{Feeder, compute_leg, key};
use dagbench_flight::stats::{MergedPercentiles, SequencePercentiles};
use dagbench_store::{RunStore, StoreError};

use crate::ports::{
    Clock, Finished, JOBS_COMPLETED, JobLedger, JobQueue, Metric, MetricUnit, MetricsSink,
    PROCESSING_TIME_MS, Recorded,
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
    /// The run ledger rows belong to when a message names none.
    pub run_id: RunId,
    /// Names this processor in completions and the ledger.
    pub worker: String,
    pub limits: Limits,
    pub work_mode: WorkMode,
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
    pub config: ProcessorConfig,
}

/// What to do with the message after processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Reported (completed or permanently failed): delete the message.
    Done { job_id: JobId, completed: bool },
    /// A transient error: leave the message for redelivery (it ends in the
    /// DLQ after too many receives).
    Retry {
        job_id: Option<JobId>,
        reason: String,
    },
    /// No usable job id, so no completion can be sent: move it to the DLQ.
    Poison { reason: String },
}

/// A job error, by whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JobError {
    Permanent(String),
    Transient(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl Processor {
    /// Processes one message body delivered for the `attempt`-th time.
    pub async fn process_job(&self, body: &str, attempt: u32) -> Disposition {
        let started = tokio::time::Instant::now();
        let started_at = self.clock.now();
        let message = match JobMessage::parse(body.as_bytes(), &self.config.limits) {
            Ok(m) => m,
            Err(invalid) => {
                let Some(job_id) = invalid.job_id else {
                    return Disposition::Poison {
                        reason: invalid.reason.to_string(),
                    };
                };
                let run_id = self.config.run_id.clone();
                return self
                    .report(
                        &run_id,
                        &job_id,
                        started,
                        started_at,
                        attempt,
                        Err(invalid.reason.to_string()),
                    )
                    .await;
            }
        };
        let run_id = message
            .run_id
            .clone()
            .unwrap_or_else(|| self.config.run_id.clone());
        // The start is recorded while the job runs (its request is queued
        // first, so it lands before the end); the end waits for it.
        let (recorded, result) = tokio::join!(
            self.ledger
                .record_started(&run_id, &message.job_id, &self.config.worker, started_at),
            self.run(&message, started)
        );
        if let Err(e) = recorded {
            return Disposition::Retry {
                job_id: Some(message.job_id),
                reason: e.to_string(),
            };
        }
        match result {
            Ok(output_key) => {
                self.report(
                    &run_id,
                    &message.job_id,
                    started,
                    started_at,
                    attempt,
                    Ok(output_key),
                )
                .await
            }
            Err(JobError::Permanent(reason)) => {
                self.report(
                    &run_id,
                    &message.job_id,
                    started,
                    started_at,
                    attempt,
                    Err(reason),
                )
                .await
            }
            Err(JobError::Transient(reason)) => Disposition::Retry {
                job_id: Some(message.job_id),
                reason,
            },
        }
    }

    /// The job itself: details, simulated work, domain computation, output
    /// object. The simulated work ends `work_duration_ms` after `started`,
    /// so reading the details overlaps with it, as real work would.
    async fn run(
        &self,
        message: &JobMessage,
        started: tokio::time::Instant,
    ) -> Result<String, JobError> {
        let details =
            match &message.input_key {
                None => None,
                Some(key) => Some(self.store.get_job_details(key).await?.ok_or_else(|| {
                    JobError::Permanent(format!("input_key {key} does not exist"))
                })?),
            };
        self.simulate_work(started + Duration::from_millis(message.work_duration_ms))
            .await;
        match &details {
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
                output_object(&message.job_id, message.data_size_kb),
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
    /// completion. A completion is sent even for a duplicate: the first one
    /// may have been lost after the ledger write.
    async fn report(
        &self,
        run_id: &RunId,
        job_id: &JobId,
        started: tokio::time::Instant,
        started_at: Timestamp,
        attempt: u32,
        outcome: Result<String, String>,
    ) -> Disposition {
        let processing_time_ms = (started.elapsed().as_secs_f64() * 1e3 * 1000.0).round() / 1000.0;
        let completed_at = self.clock.now();
        let finished = Finished {
            completed_at,
            processing_time_ms,
            worker: self.config.worker.clone(),
            outcome: outcome.clone(),
        };
        let recorded = match self.ledger.record_finished(run_id, job_id, &finished).await {
            Ok(r) => r,
            Err(e) => {
                return Disposition::Retry {
                    job_id: Some(job_id.clone()),
                    reason: e.to_string(),
                };
            }
        };
        let completed = outcome.is_ok();
        if recorded == Recorded::First && completed {
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
        let outcome = match outcome {
            Ok(key) => Outcome::Completed {
                output_key: dagbench_core::key::ObjectKey::new(key).expect("output keys are valid"),
            },
            Err(error) => Outcome::Failed { error },
        };
        let completion = Completion {
            job_id: job_id.clone(),
            outcome,
            processing_time_ms,
            completed_at,
            test_run_id: self.config.test_run_id.clone(),
            started_at: Some(started_at),
            worker: Some(self.config.worker.clone()),
            attempt: Some(attempt),
            run_id: Some(run_id.clone()),
        };
        match self.completions.send_batch(&[completion.to_json()]).await {
            Ok(results) if results.iter().all(Result::is_ok) => Disposition::Done {
                job_id: job_id.clone(),
                completed,
            },
            Ok(results) => Disposition::Retry {
                job_id: Some(job_id.clone()),
                reason: format!(
                    "completion not sent: {:?}",
                    results.into_iter().find_map(Result::err)
                ),
            },
            Err(e) => Disposition::Retry {
                job_id: Some(job_id.clone()),
                reason: format!("completion not sent: {e}"),
            },
        }
    }
}

/// The output object: deterministic JSON of exactly `size_kb` KiB (or a
/// short one for 0), so reprocessing writes identical bytes.
pub fn output_object(job_id: &JobId, size_kb: u64) -> Bytes {
    let head = format!("{{\"job_id\":\"{job_id}\",\"data_size_kb\":{size_kb},\"padding\":\"");
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
            let bytes = output_object(&id, kb);
            assert_eq!(bytes.len(), kb as usize * 1024);
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["job_id"], "j1");
        }
        assert_eq!(
            &output_object(&id, 0)[..],
            b"{\"job_id\":\"j1\",\"data_size_kb\":0,\"padding\":\"\"}\n"
        );
    }
}
