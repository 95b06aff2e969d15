//! `StackLease`: one scheduler at a time per stack. The lease is an item of
//! the stack's job table (`pk` = `#lease`, `sk` = `#scheduler`: no run id
//! can be spelled with `#`) naming its holder, its run and when it expires.
//! Taking it is a conditional write that succeeds only when no lease is
//! held or the one held has expired, so a crashed scheduler locks the stack
//! for one lease period at most; the holder renews it well before then.
//! `--take-over` writes it unconditionally.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use dagbench_core::ids::RunId;
use dagbench_core::time::Timestamp;

/// Partition key of the lease item (`#` cannot occur in a run id).
pub const LEASE_PK: &str = "#lease";
/// Sort key of the lease item.
pub const LEASE_SK: &str = "#scheduler";

/// Who holds a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub run_id: String,
    /// `pid@host`.
    pub holder: String,
    /// When it took the lease.
    pub since: Timestamp,
    /// When the lease runs out unless renewed.
    pub expires_at: Timestamp,
}

/// Why a lease could not be taken or kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "the stack is in use by run {} ({}, since {}; its lease runs until {} unless renewed): wait for it, or pass --take-over if that run is dead",
        .0.run_id, .0.holder, .0.since, .0.expires_at
    )]
    Held(Holder),
    #[error("the stack's lease was taken over by another scheduler")]
    Lost,
    #[error("lease on table {table}: {message}")]
    Aws { table: String, message: String },
}

/// A lease held on one stack's table.
#[derive(Debug, Clone)]
pub struct StackLease {
    client: Client,
    table: String,
    /// Unique to this holder: the condition of renewals and release.
    token: String,
    run_id: RunId,
    holder: String,
    since: Timestamp,
    period: Duration,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key() -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(LEASE_PK)),
        ("sk".to_owned(), s(LEASE_SK)),
    ])
}

fn is_condition_failure<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

impl StackLease {
    /// Takes the lease of the stack whose job table is `table` for run
    /// `run_id`, held by `holder` (`pid@host`), for `period` from `now`.
    /// Refused while another holder's lease has not expired, unless
    /// `take_over`.
    ///
    /// # Errors
    /// [`LeaseError::Held`] naming the holder; [`LeaseError::Aws`].
    pub async fn acquire(
        client: Client,
        table: &str,
        run_id: &RunId,
        holder: &str,
        period: Duration,
        now: Timestamp,
        take_over: bool,
    ) -> Result<Self, LeaseError> {
        let token = format!(
            "{holder}/{run_id}/{}",
            dagbench_core::rng::mix64(now.unix_millis() as u64 ^ u64::from(std::process::id()))
        );
        let lease = Self {
            client,
            table: table.to_owned(),
            token,
            run_id: run_id.clone(),
            holder: holder.to_owned(),
            since: now,
            period,
        };
        let expires = now.unix_millis() + period.as_millis() as i64;
        let mut put = lease
            .client
            .put_item()
            .table_name(&lease.table)
            .set_item(Some(
                key()
                    .into_iter()
                    .chain([
                        ("token".to_owned(), s(&lease.token)),
                        ("run_id".to_owned(), s(run_id.as_str())),
                        ("holder".to_owned(), s(holder)),
                        ("since_ms".to_owned(), n(now.unix_millis())),
                        ("expires_at_ms".to_owned(), n(expires)),
                        // DynamoDB's TTL removes a forgotten lease a day on.
                        ("ttl".to_owned(), n(expires / 1000 + 86_400)),
                    ])
                    .collect(),
            ));
        if !take_over {
            put = put
                .condition_expression("attribute_not_exists(pk) OR expires_at_ms < :now")
                .expression_attribute_values(":now", n(now.unix_millis()));
        }
        match put.send().await {
            Ok(_) => Ok(lease),
            Err(e) if is_condition_failure(&e) => Err(match lease.current().await? {
                Some(h) => LeaseError::Held(h),
                // Released between the two calls: try once more.
                None => {
                    return Box::pin(Self::acquire(
                        lease.client,
                        table,
                        run_id,
                        holder,
                        period,
                        now,
                        take_over,
                    ))
                    .await;
                }
            }),
            Err(e) => Err(lease.aws(e)),
        }
    }

    fn aws(&self, e: impl std::fmt::Debug + std::fmt::Display) -> LeaseError {
        LeaseError::Aws {
            table: self.table.clone(),
            message: e.to_string(),
        }
    }

    /// How long a lease lasts without renewal.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The run holding it.
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// `pid@host` of its holder.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// When it was taken.
    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// Who holds the stack now, if anyone (an expired lease included).
    ///
    /// # Errors
    /// [`LeaseError::Aws`].
    pub async fn current(&self) -> Result<Option<Holder>, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.aws(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out.item().map(|item| {
            let text = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let time = |k: &str| {
                Timestamp::from_unix_millis(
                    item.get(k)
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                )
            };
            Holder {
                run_id: text("run_id"),
                holder: text("holder"),
                since: time("since_ms"),
                expires_at: time("expires_at_ms"),
            }
        }))
    }

    /// Extends the lease to `period` from `now`, if this holder still has
    /// it.
    ///
    /// # Errors
    /// [`LeaseError::Lost`] when another scheduler took it over.
    pub async fn renew(&self, now: Timestamp) -> Result<(), LeaseError> {
        let expires = now.unix_millis() + self.period.as_millis() as i64;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .update_expression("SET expires_at_ms = :expires, #ttl = :ttl")
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":token", s(&self.token))
            .expression_attribute_values(":expires", n(expires))
            .expression_attribute_values(":ttl", n(expires / 1000 + 86_400))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(LeaseError::Lost),
            Err(e) => Err(self.aws(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    /// Gives the stack back (if this holder still has it).
    ///
    /// # Errors
    /// [`LeaseError::Aws`]; a lease already taken over is not an error.
    pub async fn release(&self) -> Result<(), LeaseError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(&self.token))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.aws(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }
}
