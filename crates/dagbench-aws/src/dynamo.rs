//! `DynamoLedger`: the job ledger port on DynamoDB. One item per job:
//!
//! ```text
//! pk (S)                  the run id
//! sk (S)                  the job id, as on the wire (`<run>.<job>`)
//! status (S)              running | completed | failed
//! attempts (N)            claims that ran the job
//! worker (S)              the processor that holds or ended it
//! started_at_ms (N)       ms since the epoch, of the last claim
//! claim_until_ms (N)      while running: the claim's expiry, ms since the epoch
//! completed_at_ms (N)     ms since the epoch
//! processing_time_ms (N)
//! output_key (S)          completed jobs
//! error (S)               failed jobs
//! claim_message (S)       while running: the queue message claimed for
//! test_run_id (S)         the PerfTestRun of the processor
//! ttl (N)                 epoch seconds: DynamoDB removes the item then
//! ```
//!
//! Claims and terminal records are conditional writes: one delivery at a
//! time runs a job (a claim succeeds while there is no item, or the item
//! is running and its claim expired), and the first terminal record wins.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::time::Timestamp;
use dagbench_runtime::ports::{
    Claim, Claimant, Finished, JobLedger, LedgerError, LedgerRow, LedgerStatus, Recorded,
};

/// Items expire this long after their last write.
pub const TTL_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

#[allow(clippy::needless_pass_by_value)] // numbers are passed by value
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ledger_err(e: impl std::fmt::Display) -> LedgerError {
    let text = e.to_string();
    // Access refused or the table gone: no retry helps.
    if [
        "AccessDenied",
        "ResourceNotFound",
        "UnrecognizedClient",
        "InvalidSignature",
    ]
    .iter()
    .any(|code| text.contains(code))
    {
        LedgerError::fatal(text)
    } else {
        LedgerError::new(text)
    }
}

fn ttl(at: Timestamp) -> AttributeValue {
    n(at.unix_millis() / 1000 + TTL_SECONDS)
}

/// Status not yet terminal.
const OPEN: &str = "attribute_not_exists(#status) OR #status = :running";

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(run: &RunId, job: &JobId) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), s(run.as_str())),
            ("sk".to_owned(), s(job.as_str())),
        ])
    }
}

fn is_condition_failure<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

fn row(run: &RunId, job: &JobId, item: &HashMap<String, AttributeValue>) -> LedgerRow {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let number = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    LedgerRow {
        run_id: run.clone(),
        job_id: job.clone(),
        status: text("status")
            .as_deref()
            .and_then(LedgerStatus::parse)
            .unwrap_or(LedgerStatus::Running),
        attempts: number("attempts").unwrap_or(0.0) as u32,
        started_at: number("started_at_ms").map(|v| Timestamp::from_unix_millis(v as i64)),
        completed_at: number("completed_at_ms").map(|v| Timestamp::from_unix_millis(v as i64)),
        processing_time_ms: number("processing_time_ms"),
        output_key: text("output_key"),
        worker: text("worker"),
        error: text("error"),
        claim_until: number("claim_until_ms").map(|v| Timestamp::from_unix_millis(v as i64)),
        test_run_id: text("test_run_id"),
        claim_message: text("claim_message"),
    }
}

#[async_trait]
impl JobLedger for DynamoLedger {
    async fn claim(
        &self,
        run: &RunId,
        job: &JobId,
        claimant: &Claimant<'_>,
    ) -> Result<Claim, LedgerError> {
        // A delivery of the message that holds the claim takes it over.
        let (set_message, same_message) = if claimant.message.is_some() {
            (", claim_message = :msg", " OR claim_message = :msg")
        } else {
            (" REMOVE claim_message", "")
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(run, job)))
            .update_expression(format!(
                "ADD attempts :one SET #status = :running, started_at_ms = :at, worker = :worker, claim_until_ms = :until, test_run_id = :trid, #ttl = :ttl{set_message}"
            ))
            .condition_expression(format!(
                "attribute_not_exists(#status) OR (#status = :running AND (attribute_not_exists(claim_until_ms) OR claim_until_ms <= :at{same_message}))"
            ));
        if let Some(message) = claimant.message {
            update = update.expression_attribute_values(":msg", s(message));
        }
        let out = update
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":at", n(claimant.at.unix_millis()))
            .expression_attribute_values(":worker", s(claimant.worker))
            .expression_attribute_values(":until", n(claimant.until.unix_millis()))
            .expression_attribute_values(":trid", s(claimant.test_run_id))
            .expression_attribute_values(":ttl", ttl(claimant.at))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let attempt = out
                    .attributes()
                    .and_then(|a| a.get("attempts"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                Ok(Claim::Run { attempt })
            }
            Err(e) if is_condition_failure(&e) => {
                let row = self
                    .get(run, job)
                    .await?
                    .ok_or_else(|| ledger_err("the job's item vanished while being claimed"))?;
                Ok(match row.status {
                    LedgerStatus::Running => Claim::Busy {
                        worker: row.worker.clone().unwrap_or_default(),
                        until: row.claim_until.unwrap_or(claimant.at),
                        duplicate: claimant.message.is_some()
                            && row.claim_message.is_some()
                            && row.claim_message.as_deref() != claimant.message,
                    },
                    LedgerStatus::Completed | LedgerStatus::Failed => Claim::Ended(Box::new(row)),
                })
            }
            Err(e) => Err(ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn extend(
        &self,
        run: &RunId,
        job: &JobId,
        worker: &str,
        until: Timestamp,
    ) -> Result<bool, LedgerError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(run, job)))
            .update_expression("SET claim_until_ms = :until")
            .condition_expression("#status = :running AND worker = :worker")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":worker", s(worker))
            .expression_attribute_values(":until", n(until.unix_millis()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn release(&self, run: &RunId, job: &JobId, worker: &str) -> Result<(), LedgerError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(run, job)))
            .update_expression("REMOVE claim_until_ms")
            .condition_expression("#status = :running AND worker = :worker")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":worker", s(worker))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn record_finished(
        &self,
        run: &RunId,
        job: &JobId,
        finished: &Finished,
    ) -> Result<Recorded, LedgerError> {
        let (status, detail_name, detail) = match &finished.outcome {
            Ok(key) => ("completed", "output_key", key.as_str()),
            Err(reason) => ("failed", "error", reason.as_str()),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(run, job)))
            // `error` is a reserved word in DynamoDB expressions: use names.
            .update_expression(
                "SET #status = :status, completed_at_ms = :at, processing_time_ms = :ms, #detail = :detail, worker = :worker, #ttl = :ttl REMOVE claim_until_ms, claim_message",
            )
            .condition_expression(OPEN)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#detail", detail_name)
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":at", n(finished.completed_at.unix_millis()))
            .expression_attribute_values(":ms", n(finished.processing_time_ms))
            .expression_attribute_values(":detail", s(detail))
            .expression_attribute_values(":worker", s(&finished.worker))
            .expression_attribute_values(":ttl", ttl(finished.completed_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::First),
            Err(e) if is_condition_failure(&e) => Ok(Recorded::Duplicate),
            Err(e) => Err(ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn get(&self, run: &RunId, job: &JobId) -> Result<Option<LedgerRow>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(run, job)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out.item().map(|item| row(run, job, item)))
    }

    async fn completed_jobs(&self, run: &RunId) -> Result<Vec<JobId>, LedgerError> {
        let mut jobs = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("#status = :completed")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pk", s(run.as_str()))
                .expression_attribute_values(":completed", s("completed"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| ledger_err(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            for item in out.items() {
                if let Some(id) = item.get("sk").and_then(|v| v.as_s().ok()) {
                    jobs.push(
                        JobId::new(id.as_str())
                            .map_err(|e| ledger_err(format!("corrupt ledger item: {e}")))?,
                    );
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(jobs),
            }
        }
    }
}
