//! Scenario 1's processor: the SQS event of a Lambda invocation, each
//! record processed concurrently by the same processor as every other
//! scenario. Failures are reported per record (`batchItemFailures`, the
//! event source mapping's ReportBatchItemFailures): a transient error
//! returns its record to the queue; a permanent one was already reported as
//! a `failed` completion; poison without a job id goes to the DLQ at once
//! with its reason.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use dagbench_aws::wiring::Wired;
use dagbench_core::time::Timestamp;
use dagbench_runtime::ports::ReceivedMessage;
use dagbench_runtime::processor::{Disposition, Ended};

/// What one invocation did, for its log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub completed: u32,
    pub failed: u32,
    pub retried: u32,
    pub poison: u32,
}

/// The delivery an SQS record is, as the queue port knows deliveries.
pub fn delivery(record: &SqsMessage) -> ReceivedMessage {
    let attempt = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let sent_at = record
        .attributes
        .get("SentTimestamp")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut attributes: Vec<(String, String)> = record
        .message_attributes
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
        .collect();
    attributes.sort();
    ReceivedMessage {
        message_id: record.message_id.clone().unwrap_or_default(),
        receipt: record.receipt_handle.clone().unwrap_or_default(),
        body: record.body.clone().unwrap_or_default(),
        receive_count: attempt,
        sent_at: Timestamp::from_unix_millis(sent_at),
        attributes,
    }
}

/// Processes every record of `event`, claiming each job for `claim` (what
/// is left of the invocation); the response lists the records to return to
/// the queue.
pub async fn handle(
    wired: &Wired,
    event: SqsEvent,
    claim: Duration,
) -> (SqsBatchResponse, Outcome) {
    let jobs = event.records.into_iter().map(|record| async move {
        let message = delivery(&record);
        let began = std::time::Instant::now();
        let disposition = wired
            .processor
            .process_job(&message.body, message.receive_count, claim)
            .await;
        dagbench_runtime::logs::log_job(&disposition, message.receive_count, began.elapsed());
        let keep = match &disposition {
            Disposition::Done { .. } => false,
            Disposition::Retry { .. } | Disposition::Busy { .. } => true,
            // Dead-lettered with its reason; if that fails, let the queue's
            // redrive take it there.
            Disposition::Poison { reason } => {
                wired.dlq.send_dead_letter(&message, reason).await.is_err()
            }
        };
        (message.message_id, disposition, keep)
    });
    let mut response = SqsBatchResponse::default();
    let mut outcome = Outcome::default();
    for (id, disposition, keep) in futures::future::join_all(jobs).await {
        match disposition {
            Disposition::Done {
                ended: Ended::Completed | Ended::Resent,
                ..
            } => outcome.completed += 1,
            Disposition::Done { .. } => outcome.failed += 1,
            Disposition::Retry { .. } | Disposition::Busy { .. } => outcome.retried += 1,
            Disposition::Poison { .. } => outcome.poison += 1,
        }
        if keep {
            response.add_failure(id);
        }
    }
    (response, outcome)
}
