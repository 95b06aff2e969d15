//! Counts of the billed API calls a run makes, taken where each call is
//! made (scheduler, processors, the run's own setup), so that a cost
//! estimate prices what was called rather than a model of it.
//!
//! The counts are what AWS bills: SQS requests with every 64 KiB chunk of a
//! request's payload counted as one; S3 PUT/GET/LIST requests; DynamoDB
//! request units for items under 1 KB (one write unit per write, one read
//! unit per strongly consistent read); custom metric data points. A local
//! run counts the calls its embedded adapters stand in for.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Billed calls, by service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calls {
    /// SQS requests sending messages (jobs, completions, dead letters), in
    /// 64 KiB payload chunks.
    pub sqs_requests: u64,
    /// SQS requests consuming a queue: receives (empty ones too, payload
    /// chunks), deletes, visibility changes, attribute reads.
    pub sqs_polling_requests: u64,
    /// S3 PUT requests.
    pub s3_put: u64,
    /// S3 GET requests (a read of a missing object included).
    pub s3_get: u64,
    /// S3 LIST requests.
    pub s3_list: u64,
    /// DynamoDB write request units.
    pub dynamodb_write_units: u64,
    /// DynamoDB read request units.
    pub dynamodb_read_units: u64,
    /// Custom metric data points (one `PutMetricData` carries up to 20;
    /// Lambda writes them as EMF log lines instead).
    pub metric_points: u64,
    /// Lambda invocations that ended (Scenario 1's function).
    pub lambda_invocations: u64,
    /// Their durations, each rounded up to the millisecond as Lambda bills.
    pub lambda_billed_ms: u64,
}

impl Calls {
    /// Nothing counted.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        *self == Calls::default()
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Calls) {
        self.sqs_requests += other.sqs_requests;
        self.sqs_polling_requests += other.sqs_polling_requests;
        self.s3_put += other.s3_put;
        self.s3_get += other.s3_get;
        self.s3_list += other.s3_list;
        self.dynamodb_write_units += other.dynamodb_write_units;
        self.dynamodb_read_units += other.dynamodb_read_units;
        self.metric_points += other.metric_points;
        self.lambda_invocations += other.lambda_invocations;
        self.lambda_billed_ms += other.lambda_billed_ms;
    }
}

/// SQS requests billed for one call carrying `payload_bytes` (sent or
/// received): one per started 64 KiB, at least one.
#[must_use]
pub fn sqs_billed(payload_bytes: usize) -> u64 {
    (payload_bytes as u64).div_ceil(64 * 1024).max(1)
}

/// A running tally shared by the code paths of one caller (a processor, a
/// scheduler), read and reset with [`CallTally::take`].
#[derive(Debug, Default)]
pub struct CallTally {
    sqs_requests: AtomicU64,
    sqs_polling_requests: AtomicU64,
    s3_put: AtomicU64,
    s3_get: AtomicU64,
    s3_list: AtomicU64,
    dynamodb_write_units: AtomicU64,
    dynamodb_read_units: AtomicU64,
    metric_points: AtomicU64,
    lambda_invocations: AtomicU64,
    lambda_billed_ms: AtomicU64,
}

impl CallTally {
    /// One SQS call carrying `payload_bytes`.
    pub fn sqs(&self, payload_bytes: usize) {
        self.sqs_requests
            .fetch_add(sqs_billed(payload_bytes), Ordering::Relaxed);
    }

    /// One SQS call consuming a queue, carrying `payload_bytes`.
    pub fn sqs_polling(&self, payload_bytes: usize) {
        self.sqs_polling_requests
            .fetch_add(sqs_billed(payload_bytes), Ordering::Relaxed);
    }

    /// One S3 PUT.
    pub fn s3_put(&self) {
        self.s3_put.fetch_add(1, Ordering::Relaxed);
    }

    /// One S3 GET.
    pub fn s3_get(&self) {
        self.s3_get.fetch_add(1, Ordering::Relaxed);
    }

    /// One S3 LIST.
    pub fn s3_list(&self) {
        self.s3_list.fetch_add(1, Ordering::Relaxed);
    }

    /// One DynamoDB write (an item under 1 KB: one unit, also when its
    /// condition fails).
    pub fn dynamodb_write(&self) {
        self.dynamodb_write_units.fetch_add(1, Ordering::Relaxed);
    }

    /// One strongly consistent DynamoDB read (an item under 4 KB).
    pub fn dynamodb_read(&self) {
        self.dynamodb_read_units.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` custom metric data points.
    pub fn metric_points(&self, n: u64) {
        self.metric_points.fetch_add(n, Ordering::Relaxed);
    }

    /// One Lambda invocation that lasted `took`.
    pub fn lambda_invocation(&self, took: std::time::Duration) {
        self.lambda_invocations.fetch_add(1, Ordering::Relaxed);
        let ms = took.as_nanos().div_ceil(1_000_000).max(1);
        self.lambda_billed_ms
            .fetch_add(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The counts so far, without resetting them.
    #[must_use]
    pub fn snapshot(&self) -> Calls {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Calls {
            sqs_requests: get(&self.sqs_requests),
            sqs_polling_requests: get(&self.sqs_polling_requests),
            s3_put: get(&self.s3_put),
            s3_get: get(&self.s3_get),
            s3_list: get(&self.s3_list),
            dynamodb_write_units: get(&self.dynamodb_write_units),
            dynamodb_read_units: get(&self.dynamodb_read_units),
            metric_points: get(&self.metric_points),
            lambda_invocations: get(&self.lambda_invocations),
            lambda_billed_ms: get(&self.lambda_billed_ms),
        }
    }

    /// The counts since the last `take`, resetting them: each call is in
    /// exactly one taken set.
    pub fn take(&self) -> Calls {
        let swap = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        Calls {
            sqs_requests: swap(&self.sqs_requests),
            sqs_polling_requests: swap(&self.sqs_polling_requests),
            s3_put: swap(&self.s3_put),
            s3_get: swap(&self.s3_get),
            s3_list: swap(&self.s3_list),
            dynamodb_write_units: swap(&self.dynamodb_write_units),
            dynamodb_read_units: swap(&self.dynamodb_read_units),
            metric_points: swap(&self.metric_points),
            lambda_invocations: swap(&self.lambda_invocations),
            lambda_billed_ms: swap(&self.lambda_billed_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sqs_bills_each_started_64_kib_chunk() {
        assert_eq!(sqs_billed(0), 1);
        assert_eq!(sqs_billed(65_536), 1);
        assert_eq!(sqs_billed(65_537), 2);
        assert_eq!(sqs_billed(256 * 1024), 4);
    }

    proptest! {
        /// However the takes interleave with the calls, every call is in
        /// exactly one taken set.
        #[test]
        fn takes_partition_the_calls(ops in proptest::collection::vec(0u8..10, 0..200)) {
            let tally = CallTally::default();
            let mut taken = Calls::default();
            let mut expected = Calls::default();
            for op in ops {
                match op {
                    0 => { tally.s3_put(); expected.s3_put += 1; }
                    1 => { tally.s3_get(); expected.s3_get += 1; }
                    2 => { tally.s3_list(); expected.s3_list += 1; }
                    3 => { tally.dynamodb_write(); expected.dynamodb_write_units += 1; }
                    4 => { tally.dynamodb_read(); expected.dynamodb_read_units += 1; }
                    5 => { tally.sqs(70_000); expected.sqs_requests += 2; }
                    6 => { tally.metric_points(2); expected.metric_points += 2; }
                    7 => { tally.sqs_polling(0); expected.sqs_polling_requests += 1; }
                    8 => {
                        tally.lambda_invocation(std::time::Duration::from_micros(1500));
                        expected.lambda_invocations += 1;
                        expected.lambda_billed_ms += 2;
                    }
                    _ => taken.add(&tally.take()),
                }
            }
            taken.add(&tally.take());
            prop_assert_eq!(taken, expected);
            prop_assert!(tally.snapshot().is_zero());
        }
    }
}
