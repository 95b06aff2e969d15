//! Scenario 1's processor: the SQS event of a Lambda invocation, each
//! record processed concurrently by the same processor as every other
//! scenario. Failures are reported per record (`batchItemFailures`, the
//! event source mapping's ReportBatchItemFailures): a transient error
//! returns its record to the queue; a permanent one was already reported as
//! a `failed` completion; poison without a job id goes to the DLQ at once
//! with its reason.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use dagbench_aws::wiring::Wired;
use dagbench_runtime::processor::Disposition;

/// What one invocation did, for its log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub completed: u32,
    pub failed: u32,
    pub retried: u32,
    pub poison: u32,
}

/// Processes every record of `event`; the response lists the records to
/// return to the queue.
pub async fn handle(wired: &Wired, event: SqsEvent) -> (SqsBatchResponse, Outcome) {
    let jobs = event.records.into_iter().map(|record| async move {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.unwrap_or_default();
        let attempt = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let began = std::time::Instant::now();
        let disposition = wired.processor.process_job(&body, attempt).await;
        dagbench_runtime::logs::log_job(&disposition, attempt, began.elapsed());
        let keep = match &disposition {
            Disposition::Done { .. } => false,
            Disposition::Retry { .. } => true,
            // Dead-lettered with its reason; if that fails, let the queue's
            // redrive take it there.
            Disposition::Poison { reason } => {
                wired.dlq.send_dead_letter(&body, reason).await.is_err()
            }
        };
        (id, disposition, keep)
    });
    let mut response = SqsBatchResponse::default();
    let mut outcome = Outcome::default();
    for (id, disposition, keep) in futures::future::join_all(jobs).await {
        match disposition {
            Disposition::Done {
                completed: true, ..
            } => outcome.completed += 1,
            Disposition::Done {
                completed: false, ..
            } => outcome.failed += 1,
            Disposition::Retry { .. } => outcome.retried += 1,
            Disposition::Poison { .. } => outcome.poison += 1,
        }
        if keep {
            response.add_failure(id);
        }
    }
    (response, outcome)
}
