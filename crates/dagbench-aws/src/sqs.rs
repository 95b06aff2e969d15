//! `SqsQueue`: the job queue port on Amazon SQS (aws-sdk-sqs). Batches of
//! ten with per-entry results, long polling (up to 20 s), visibility
//! changes, depth from the queue's approximate counts. Throttling and 5xx
//! are retried with backoff by the SDK's standard retry strategy; what still
//! fails comes back as `QueueError::Unavailable`, or `QueueError::Unusable`
//! when no retry can help (no such queue, access denied).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use dagbench_core::time::Timestamp;
use dagbench_runtime::ports::{
    JobQueue, MAX_BATCH, QueueDepth, QueueError, ReceivedMessage, check_batch, check_body,
};

pub use dagbench_runtime::ports::MAX_BODY_BYTES;
/// The message attribute that says why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "DeadLetterReason";
/// SQS's longest long poll.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

/// Error codes of a client-side (4xx) answer that still pass with time:
/// throttling, and too many messages in flight.
const TRANSIENT_CODES: &[&str] = &[
    "Throttl",
    "RequestThrottled",
    "OverLimit",
    "KmsThrottled",
    "RequestTimeout",
];

/// A failed call: a 4xx answer (no such queue, access denied, refused
/// credentials) or a request that could not be built means no retry can
/// succeed ([`QueueError::Unusable`]); anything else — network, 5xx,
/// throttling the SDK already retried — may pass ([`QueueError::Unavailable`]).
fn call_error<E>(
    e: aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> QueueError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_sqs::error::SdkError;
    let permanent = match &e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            (400..500).contains(&status) && !TRANSIENT_CODES.iter().any(|t| code.contains(t))
        }
        SdkError::ConstructionFailure(_) => true,
        _ => false,
    };
    let text = aws_sdk_sqs::error::DisplayErrorContext(e).to_string();
    if permanent {
        QueueError::Unusable(text)
    } else {
        QueueError::Unavailable(text)
    }
}

/// Whole seconds, rounded up (SQS takes seconds).
fn seconds_up(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        check_batch(bodies.len(), "messages")?;
        let mut results: Vec<Result<(), QueueError>> = vec![Ok(()); bodies.len()];
        let mut entries = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.iter().enumerate() {
            if let Err(e) = check_body(body) {
                results[i] = Err(e);
                continue;
            }
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| QueueError::Rejected(e.to_string()))?,
            );
        }
        if entries.is_empty() {
            return Ok(results);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(call_error)?;
        for failed in out.failed() {
            if let Ok(i) = failed.id().parse::<usize>() {
                let reason = format!(
                    "{}: {}",
                    failed.code(),
                    failed.message().unwrap_or_default()
                );
                results[i] = Err(if failed.sender_fault() {
                    QueueError::Rejected(reason)
                } else {
                    QueueError::Unavailable(reason)
                });
            }
        }
        Ok(results)
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .wait_time_seconds(seconds_up(wait.min(MAX_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(call_error)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| {
                let attribute = |name: &MessageSystemAttributeName| {
                    m.attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.parse::<i64>().ok())
                };
                ReceivedMessage {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: attribute(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .unwrap_or(1) as u32,
                    sent_at: Timestamp::from_unix_millis(
                        attribute(&MessageSystemAttributeName::SentTimestamp).unwrap_or(0),
                    ),
                    attributes: m
                        .message_attributes()
                        .map(|all| {
                            let mut kept: Vec<(String, String)> = all
                                .iter()
                                .filter_map(|(k, v)| {
                                    Some((k.clone(), v.string_value()?.to_owned()))
                                })
                                .collect();
                            kept.sort();
                            kept
                        })
                        .unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        check_batch(receipts.len(), "receipts")?;
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r)
                    .build()
                    .map_err(|e| QueueError::Rejected(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(call_error)?;
        let mut results: Vec<Result<(), QueueError>> = vec![Ok(()); receipts.len()];
        for failed in out.failed() {
            if let Ok(i) = failed.id().parse::<usize>() {
                results[i] = Err(if failed.code().contains("ReceiptHandleIsInvalid") {
                    QueueError::StaleReceipt
                } else {
                    QueueError::Unavailable(format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ))
                });
            }
        }
        Ok(results)
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds_up(timeout))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let text = aws_sdk_sqs::error::DisplayErrorContext(&e).to_string();
                if text.contains("ReceiptHandleIsInvalid") || text.contains("MessageNotInflight") {
                    QueueError::StaleReceipt
                } else {
                    QueueError::Unavailable(text)
                }
            })
    }

    async fn send_dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &str,
    ) -> Result<(), QueueError> {
        let string = |v: &str| {
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| QueueError::Rejected(e.to_string()))
        };
        // An oversize body cannot go to the DLQ whole: keep its head.
        let body = &message.body;
        let mut cut = body.len().min(MAX_BODY_BYTES - 4096);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let body = if body.is_empty() {
            "(empty body)"
        } else {
            &body[..cut]
        };
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_attributes(
                DEAD_LETTER_REASON,
                string(&reason.chars().take(1000).collect::<String>())?,
            );
        // The sender's attributes go along (SQS takes ten per message).
        for (name, value) in message
            .attributes
            .iter()
            .filter(|(name, _)| name != DEAD_LETTER_REASON)
            .take(9)
        {
            send = send.message_attributes(name, string(value)?);
        }
        send.send().await.map(|_| ()).map_err(call_error)
    }

    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(call_error)?;
        let get = |name: &QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            visible: get(&QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }
}
