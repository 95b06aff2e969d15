//! The processor's configuration from its environment, as the Lambda
//! function and the Fargate task receive it: `INCOMING_QUEUE_URL`,
//! `OUTGOING_QUEUE_URL`, `DLQ_URL`, `BUCKET_NAME`, `TABLE_NAME`,
//! `TEST_RUN_ID`, `BATCH_SIZE`, `MAX_RECEIVE_COUNT` (the incoming queue's
//! `maxReceiveCount`, default 3 as in the templates), plus the standard AWS variables (region,
//! credentials, `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_SQS`,
//! `_S3`, `_DYNAMODB`) read by the SDK and, for S3, by object_store.

use std::collections::HashMap;

/// Everything a processor needs to find its queues, bucket and table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorEnv {
    pub incoming_queue_url: String,
    pub outgoing_queue_url: String,
    pub dlq_url: String,
    pub bucket_name: String,
    pub table_name: String,
    pub test_run_id: String,
    /// Messages per batch: per receive for a worker (1–10, SQS's most),
    /// per invocation for the Lambda (the event source mapping's
    /// `BatchSize`, 1–10,000).
    pub batch_size: usize,
    /// Deliveries before the incoming queue dead-letters a message: the
    /// last delivery reports a job still failing as `failed`, with why.
    pub max_receive_count: u32,
    /// S3's endpoint when it is not AWS's (MinIO, LocalStack, moto, a VPC
    /// endpoint): `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Results prefix in the bucket (`RESULTS_PREFIX`, default none).
    pub results_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("environment variable {name} is not set ({what})")]
    Missing {
        name: &'static str,
        what: &'static str,
    },
    #[error("environment variable {name} is {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl ProcessorEnv {
    /// The batch a worker receives per call: `BATCH_SIZE`, which SQS caps
    /// at 10.
    ///
    /// # Errors
    /// When `BATCH_SIZE` is above 10.
    pub fn receive_batch(&self) -> Result<usize, EnvError> {
        if self.batch_size > 10 {
            return Err(EnvError::Invalid {
                name: "BATCH_SIZE",
                value: self.batch_size.to_string(),
                reason: "a worker receives at most 10 messages per call (SQS's limit)".into(),
            });
        }
        Ok(self.batch_size)
    }

    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, EnvError> {
        let required = |name: &'static str, what: &'static str| {
            vars.get(name)
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .ok_or(EnvError::Missing { name, what })
        };
        let batch_size = bounded(
            vars,
            "BATCH_SIZE",
            10,
            1..=10_000,
            "a whole number from 1 to 10,000",
        )?;
        let max_receive_count = bounded(
            vars,
            "MAX_RECEIVE_COUNT",
            3,
            1..=1000,
            "the incoming queue's maxReceiveCount, from 1 to 1000",
        )?;
        Ok(Self {
            incoming_queue_url: required("INCOMING_QUEUE_URL", "the queue jobs are read from")?,
            outgoing_queue_url: required(
                "OUTGOING_QUEUE_URL",
                "the queue completions are sent to",
            )?,
            dlq_url: required("DLQ_URL", "the dead-letter queue")?,
            bucket_name: required("BUCKET_NAME", "the data bucket")?,
            table_name: required("TABLE_NAME", "the job table")?,
            test_run_id: vars
                .get("TEST_RUN_ID")
                .cloned()
                .unwrap_or_else(|| "default".into()),
            batch_size,
            max_receive_count,
            endpoint_url: crate::s3::endpoint_from(vars),
            results_prefix: vars.get("RESULTS_PREFIX").cloned().unwrap_or_default(),
        })
    }
}

/// Variable `name` as a number in `range`, `default` when unset.
fn bounded<T>(
    vars: &HashMap<String, String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, EnvError>
where
    T: std::str::FromStr + PartialOrd,
{
    let Some(v) = vars.get(name) else {
        return Ok(default);
    };
    v.trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| EnvError::Invalid {
            name,
            value: v.clone(),
            reason: format!("must be {what}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HashMap<String, String> {
        [
            ("INCOMING_QUEUE_URL", "http://q/in"),
            ("OUTGOING_QUEUE_URL", "http://q/out"),
            ("DLQ_URL", "http://q/dlq"),
            ("BUCKET_NAME", "b"),
            ("TABLE_NAME", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn reads_the_processor_variables() {
        let env = ProcessorEnv::from_map(&full()).unwrap();
        assert_eq!(
            (env.batch_size, env.test_run_id.as_str(), env.endpoint_url),
            (10, "default", None)
        );
        let mut vars = full();
        vars.insert("BATCH_SIZE".into(), "5".into());
        vars.insert("TEST_RUN_ID".into(), "baseline-256mb".into());
        let env = ProcessorEnv::from_map(&vars).unwrap();
        assert_eq!(
            (env.batch_size, env.test_run_id.as_str()),
            (5, "baseline-256mb")
        );
        // S3's own endpoint variable wins over the general one.
        vars.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:5000".into());
        assert_eq!(
            ProcessorEnv::from_map(&vars)
                .unwrap()
                .endpoint_url
                .as_deref(),
            Some("http://127.0.0.1:5000")
        );
        vars.insert("AWS_ENDPOINT_URL_S3".into(), "https://s3.internal".into());
        assert_eq!(
            ProcessorEnv::from_map(&vars)
                .unwrap()
                .endpoint_url
                .as_deref(),
            Some("https://s3.internal")
        );
    }

    #[test]
    fn a_missing_or_bad_variable_is_named() {
        for name in [
            "INCOMING_QUEUE_URL",
            "OUTGOING_QUEUE_URL",
            "DLQ_URL",
            "BUCKET_NAME",
            "TABLE_NAME",
        ] {
            let mut vars = full();
            vars.remove(name);
            let err = ProcessorEnv::from_map(&vars).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("environment variable {name} is not set (")),
                "{err}"
            );
        }
        let mut vars = full();
        vars.insert("BATCH_SIZE".into(), "10001".into());
        assert_eq!(
            ProcessorEnv::from_map(&vars).unwrap_err().to_string(),
            "environment variable BATCH_SIZE is \"10001\": must be a whole number from 1 to 10,000"
        );
        // A Lambda's batch may be large; a worker's receive may not.
        vars.insert("BATCH_SIZE".into(), "500".into());
        let env = ProcessorEnv::from_map(&vars).unwrap();
        assert_eq!(env.batch_size, 500);
        assert!(
            env.receive_batch()
                .unwrap_err()
                .to_string()
                .contains("a worker receives at most 10 messages per call")
        );
        let mut vars = full();
        assert_eq!(ProcessorEnv::from_map(&vars).unwrap().max_receive_count, 3);
        vars.insert("MAX_RECEIVE_COUNT".into(), "5".into());
        assert_eq!(ProcessorEnv::from_map(&vars).unwrap().max_receive_count, 5);
        vars.insert("MAX_RECEIVE_COUNT".into(), "0".into());
        assert!(
            ProcessorEnv::from_map(&vars)
                .unwrap_err()
                .to_string()
                .starts_with("environment variable MAX_RECEIVE_COUNT is \"0\": must be"),
        );
    }
}
