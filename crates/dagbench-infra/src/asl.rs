//! Scenario 3's state machine, in Amazon States Language. It is static: it
//! runs any job graph the run lays out in the bucket
//! ([`dagbench_core::plan`]), so one deployment serves every workload.
//!
//! Input: `{"bucket", "prefix", "chains": bool, "level": 0, "levels": n}`.
//!
//! ```text
//! Plan ─chains?─> Chains (Distributed Map over <prefix>/chains.json;
//!   │               each child walks its chain, one job at a time)
//!   └──────────────> More ─level < levels?─> Level (Distributed Map over
//!                     ^                       <prefix>/levels/<level>.json)
//!                     └──── NextLevel (level + 1) <─┘
//! ```
//!
//! Each job is a Task: `lambda:invoke` of the processor function with the
//! job message as payload (retried on Lambda's service errors as AWS
//! advises), or `sqs:sendMessage.waitForTaskToken` to the incoming queue
//! with the token in the message, finished by the processor that runs it
//! (`SendTaskSuccess`/`SendTaskFailure`, heartbeats while it works; a lost
//! task times out and is sent again). A job that fails fails its Map and
//! the execution: its dependents never start.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How the state machine runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskIntegration {
    /// Invokes the processor function directly (`lambda:invoke`).
    Lambda,
    /// Sends the job with a task token to the incoming queue and waits
    /// (`sqs:sendMessage.waitForTaskToken`): any processor — the function
    /// through its event source mapping, or `dagbench worker` — runs it.
    #[default]
    Sqs,
}

impl TaskIntegration {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskIntegration::Lambda => "lambda",
            TaskIntegration::Sqs => "sqs",
        }
    }
}

impl fmt::Display for TaskIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskIntegration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lambda" => Ok(TaskIntegration::Lambda),
            "sqs" => Ok(TaskIntegration::Sqs),
            other => Err(format!(
                "unknown task integration `{other}`: expected lambda or sqs"
            )),
        }
    }
}

/// The error a processor reports for a job that failed for good.
pub use dagbench_core::message::TASK_JOB_FAILED as JOB_FAILED;

/// What the function answers for a job that could not run now (a
/// transient error): retried.
pub const RETRY: &str = "dagbench.Retry";

/// Lambda's service errors, retried as AWS advises for `lambda:invoke`.
const LAMBDA_SERVICE_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

/// What the definition is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslOptions {
    pub task: TaskIntegration,
    /// The processor function's ARN (`lambda`), or a `${…}` placeholder
    /// the stack substitutes.
    pub function_arn: String,
    /// The incoming queue's URL (`sqs`), or a placeholder.
    pub queue_url: String,
    /// Child executions (jobs or chains) a Distributed Map runs at once.
    pub max_concurrency: u32,
    /// A callback task fails with `States.Timeout` when its processor sends
    /// no heartbeat for this long (and is sent again, twice at most).
    pub heartbeat_s: u32,
    /// A direct invocation fails after this long (the function's timeout
    /// plus a margin).
    pub invoke_timeout_s: u32,
}

/// The job message, from the item, as the processor reads it.
fn job_fields() -> serde_json::Map<String, Value> {
    [
        "job_id",
        "work_duration_ms",
        "data_size_kb",
        "input_key",
        "run_id",
    ]
    .into_iter()
    .map(|f| (format!("{f}.$"), json!(format!("$.{f}"))))
    .chain([("released_at.$".to_owned(), json!("$$.State.EnteredTime"))])
    .collect()
}

/// The Task that runs one job (its input is the job's item).
fn run_job(o: &AslOptions) -> Value {
    let mut body = job_fields();
    match o.task {
        TaskIntegration::Sqs => {
            body.insert("task_token.$".into(), json!("$$.Task.Token"));
            json!({
                "Type": "Task",
                "Comment": "One job: its message, with the task token, to the incoming queue; the processor that runs it finishes the task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": o.queue_url, "MessageBody": body},
                "HeartbeatSeconds": o.heartbeat_s,
                "ResultPath": null,
                "Retry": [{
                    "ErrorEquals": ["States.Timeout"],
                    "IntervalSeconds": 1,
                    "MaxAttempts": 2,
                    "BackoffRate": 2.0,
                }],
                "End": true,
            })
        }
        TaskIntegration::Lambda => json!({
            "Type": "Task",
            "Comment": "One job: the processor function, invoked with the job message",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": o.function_arn, "Payload": body},
            "TimeoutSeconds": o.invoke_timeout_s,
            "ResultPath": null,
            "Retry": [
                {
                    "ErrorEquals": LAMBDA_SERVICE_ERRORS,
                    "IntervalSeconds": 1,
                    "MaxAttempts": 6,
                    "BackoffRate": 2.0,
                    "JitterStrategy": "FULL",
                },
                {
                    "ErrorEquals": [RETRY],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 3,
                    "BackoffRate": 2.0,
                },
            ],
            "End": true,
        }),
    }
}

/// A Distributed Map over the JSON array at `key` (an intrinsic giving
/// the key from the input), each child running `processor`.
fn distributed_map(
    o: &AslOptions,
    comment: &str,
    key: &str,
    processor: &Value,
    next: &str,
) -> Value {
    json!({
        "Type": "Map",
        "Comment": comment,
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": key},
        },
        "ItemProcessor": processor,
        "MaxConcurrency": o.max_concurrency,
        "ResultPath": null,
        "Next": next,
    })
}

fn distributed(start: &str, states: &Value) -> Value {
    json!({
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": start,
        "States": states,
    })
}

/// The state machine's definition.
#[must_use]
pub fn definition(o: &AslOptions) -> Value {
    let walk = json!({
        "Type": "Map",
        "Comment": "The chain's jobs, one at a time, in order",
        "ItemsPath": "$.jobs",
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "RunJob",
            "States": {"RunJob": run_job(o)},
        },
        "ResultPath": null,
        "End": true,
    });
    json!({
        "Comment": format!(
            "dagbench Scenario 3: runs any job graph laid out in the bucket (chains, then levels); jobs through {}",
            match o.task {
                TaskIntegration::Lambda => "lambda:invoke",
                TaskIntegration::Sqs => "sqs:sendMessage.waitForTaskToken",
            }
        ),
        "StartAt": "Plan",
        "States": {
            "Plan": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.chains", "BooleanEquals": true, "Next": "Chains"}],
                "Default": "More",
            },
            "Chains": distributed_map(
                o,
                "Every chain at once, each walked by its own child execution",
                "States.Format('{}/chains.json', $.prefix)",
                &distributed("Walk", &json!({"Walk": walk})),
                "More",
            ),
            "More": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.level", "NumericLessThanPath": "$.levels", "Next": "Level"}],
                "Default": "Done",
            },
            "Level": distributed_map(
                o,
                "One topological level: its jobs at once, the next level when all have ended",
                "States.Format('{}/levels/{}.json', $.prefix, $.level)",
                &distributed("RunJob", &json!({"RunJob": run_job(o)})),
                "NextLevel",
            ),
            "NextLevel": {
                "Type": "Pass",
                "Parameters": {
                    "bucket.$": "$.bucket",
                    "prefix.$": "$.prefix",
                    "chains.$": "$.chains",
                    "levels.$": "$.levels",
                    "level.$": "States.MathAdd($.level, 1)",
                },
                "Next": "More",
            },
            "Done": {"Type": "Succeed"},
        },
    })
}

/// The input of an execution of the plan under `prefix` in `bucket`.
#[must_use]
pub fn execution_input(bucket: &str, prefix: &str, chains: bool, levels: usize) -> Value {
    json!({"bucket": bucket, "prefix": prefix, "chains": chains, "level": 0, "levels": levels})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(task: TaskIntegration) -> AslOptions {
        AslOptions {
            task,
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
            max_concurrency: 100,
            heartbeat_s: 300,
            invoke_timeout_s: 90,
        }
    }

    #[test]
    fn every_transition_names_a_state_and_every_state_is_reached() {
        for task in [TaskIntegration::Lambda, TaskIntegration::Sqs] {
            let d = definition(&options(task));
            let states = d["States"].as_object().unwrap();
            let mut reached = vec![d["StartAt"].as_str().unwrap().to_owned()];
            for s in states.values() {
                for next in [&s["Next"], &s["Default"]] {
                    if let Some(n) = next.as_str() {
                        assert!(states.contains_key(n), "{n} is no state");
                        reached.push(n.to_owned());
                    }
                }
                for c in s["Choices"].as_array().into_iter().flatten() {
                    let n = c["Next"].as_str().unwrap();
                    assert!(states.contains_key(n), "{n} is no state");
                    reached.push(n.to_owned());
                }
            }
            for name in states.keys() {
                assert!(reached.contains(name), "{name} is never reached");
            }
        }
    }

    #[test]
    fn callback_tasks_carry_the_token_and_direct_ones_do_not() {
        let sqs = definition(&options(TaskIntegration::Sqs));
        let task = &sqs["States"]["Level"]["ItemProcessor"]["States"]["RunJob"];
        assert_eq!(
            task["Parameters"]["MessageBody"]["task_token.$"],
            "$$.Task.Token"
        );
        assert_eq!(task["HeartbeatSeconds"], 300);
        let lambda = definition(&options(TaskIntegration::Lambda));
        let task = &lambda["States"]["Level"]["ItemProcessor"]["States"]["RunJob"];
        assert!(task["Parameters"]["Payload"].get("task_token.$").is_none());
        assert_eq!(
            task["Retry"][0]["ErrorEquals"][0],
            "Lambda.ServiceException"
        );
        assert!(!lambda.to_string().contains("sqs:"));
        assert!(!sqs.to_string().contains("lambda:invoke"));
    }
}
