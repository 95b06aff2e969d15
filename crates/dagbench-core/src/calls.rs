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

/// One list of the counted fields makes [`Calls`] (the numbers),
/// [`CallTally`] (their atomic counters) and the code between them.
macro_rules! billed_calls {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// Billed calls, by service.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Calls {
            $($(#[$doc])* pub $field: u64,)*
        }

        impl Calls {
            /// Adds `other` to these counts.
            pub fn add(&mut self, other: &Calls) {
                $(self.$field += other.$field;)*
            }
        }

        /// A running tally shared by the code paths of one caller (a
        /// processor, a scheduler), read and reset with [`CallTally::take`].
        #[derive(Debug, Default)]
        pub struct CallTally {
            $($field: AtomicU64,)*
        }

        impl CallTally {
            /// Every counter read by `read`.
            fn read(&self, read: impl Fn(&AtomicU64) -> u64) -> Calls {
                Calls {
                    $($field: read(&self.$field),)*
                }
            }
        }
    };
}

billed_calls! {
    /// SQS requests sending messages (jobs, completions, dead letters), in
    /// 64 KiB payload chunks.
    sqs_requests,
    /// SQS requests consuming a queue: receives (empty ones too, payload
    /// chunks), deletes, visibility changes, attribute reads.
    sqs_polling_requests,
    /// S3 PUT requests.
    s3_put,
    /// S3 GET requests (a read of a missing object included).
    s3_get,
    /// S3 LIST requests.
    s3_list,
    /// DynamoDB write request units.
    dynamodb_write_units,
    /// DynamoDB read request units.
    dynamodb_read_units,
    /// Custom metric data points (one `PutMetricData` carries up to 20;
    /// Lambda writes them as EMF log lines instead).
    metric_points,
    /// Lambda invocations that ended (Scenario 1's function).
    lambda_invocations,
    /// Their durations, each rounded up to the millisecond as Lambda bills.
    lambda_billed_ms,
}

impl Calls {
    /// Nothing counted.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        *self == Calls::default()
    }
}

/// SQS requests billed for one call carrying `payload_bytes` (sent or
/// received): one per started 64 KiB, at least one.
#[must_use]
pub fn sqs_billed(payload_bytes: usize) -> u64 {
    (payload_bytes as u64).div_ceil(64 * 1024).max(1)
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
        self.read(|a| a.load(Ordering::Relaxed))
    }

    /// The counts since the last `take`, resetting them: each call is in
    /// exactly one taken set.
    pub fn take(&self) -> Calls {
        self.read(|a| a.swap(0, Ordering::Relaxed))
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
