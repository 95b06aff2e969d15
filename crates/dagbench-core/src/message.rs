//! The wire contract between scheduler and processors (DESIGN.md "Message
//! formats"): the incoming job message and the outgoing completion.
//!
//! Incoming messages come from anywhere, so [`JobMessage::parse`] checks every
//! field and says which one is wrong; a message that fails is a *permanent*
//! failure of that job (when its `job_id` could be read) or poison (when not).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{IdError, JobId, RunId};
use crate::key::{KeyError, ObjectKey};
use crate::time::Timestamp;

/// Bounds a processor puts on incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most the processor's timeout minus a margin, so a job that sleeps
    /// this long still has time to write its output and report.
    pub max_work_duration_ms: u64,
    /// Size bound of the generated output object.
    pub max_data_size_kb: u64,
    /// Largest body accepted (SQS allows 256 KiB).
    pub max_body_bytes: usize,
}

impl Limits {
    /// Margin kept between the longest simulated work and the timeout.
    pub const TIMEOUT_MARGIN_MS: u64 = 5_000;
}

/// Jobs one Lambda invocation runs at once by default: an eighth of the
/// open-file limit (each running job may hold connections to S3, DynamoDB
/// and SQS, and idle ones stay pooled) and one per 2 MB of the function's
/// memory, between 1 and 256. Lambda's 1,024 open files and the default
/// 256 MB give 128.
pub fn invocation_concurrency(memory_mb: u32, open_files: u64) -> usize {
    let by_files = open_files / 8;
    let by_memory = u64::from(memory_mb / 2);
    by_files.min(by_memory).clamp(1, 256) as usize
}

/// Lambda's open-file limit per execution environment.
pub const LAMBDA_OPEN_FILES: u64 = 1024;

impl Default for Limits {
    /// The source document's Lambda timeout (60 s) minus the margin; 10 MiB
    /// outputs; the SQS body limit.
    fn default() -> Self {
        Self {
            max_work_duration_ms: 60_000 - Self::TIMEOUT_MARGIN_MS,
            max_data_size_kb: 10_240,
            max_body_bytes: 256 * 1024,
        }
    }
}

/// The id a job of run `run` goes by on the wire: `<run>.<job>`. Aircraft
/// job ids (`s1-l1`, `merge`) repeat in every run, and an output object is
/// keyed by the id alone (`output/YYYY/MM/DD/HH/<job_id>.json`), so the ids
/// on the wire are qualified by their run: two runs never share an object.
///
/// # Errors
/// When the qualified id is longer than a job id may be (128 characters).
pub fn wire_job_id(run: &RunId, job: &str) -> Result<JobId, IdError> {
    JobId::new(format!("{run}.{job}"))
}

/// The graph's id of a job of run `run` from its id on the wire; `None`
/// when the wire id is not of that run.
pub fn graph_job_id<'a>(run: &RunId, wire: &'a str) -> Option<&'a str> {
    wire.strip_prefix(run.as_str())?.strip_prefix('.')
}

/// A job to run, as sent to the incoming queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: JobId,
    #[serde(default)]
    pub work_duration_ms: u64,
    #[serde(default)]
    pub data_size_kb: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_key: Option<ObjectKey>,
    /// Additive field: the run this job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// Additive field (Scenario 3): the Step Functions task this message
    /// is, to be finished with `SendTaskSuccess`/`SendTaskFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<String>,
    /// Additive field (Scenario 3): when the state machine released the
    /// job (its task state was entered), echoed in the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<Timestamp>,
}

/// The error a Step Functions task of a job that failed for good fails with.
pub const TASK_JOB_FAILED: &str = "dagbench.JobFailed";

/// A message's `task_token`, read leniently: a message too broken to run
/// still finishes its task (as failed) when its token can be read.
pub fn task_token_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let token = value.get("task_token")?.as_str()?;
    (!token.is_empty() && token.len() <= MAX_TASK_TOKEN_BYTES).then(|| token.to_owned())
}

/// The longest task token a message may carry (Step Functions' limit).
pub const MAX_TASK_TOKEN_BYTES: usize = 2048;

/// An incoming message that cannot be run. `job_id` is set when the id could
/// be read, so the job can be reported `failed`; without it the message is
/// poison and belongs in the DLQ.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidMessage {
    pub job_id: Option<JobId>,
    /// The message's run, when it names a valid one (its failure is then
    /// reported to that run).
    pub run_id: Option<RunId>,
    pub reason: MessageError,
}

/// What is wrong with an incoming message, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    #[error("message body is {len} bytes; the limit is {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("message body is not valid JSON: {0}")]
    NotJson(String),
    #[error("message body is JSON but not an object (found {0})")]
    NotAnObject(&'static str),
    #[error("field `job_id` is missing")]
    MissingJobId,
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("field `job_id`: {0}")]
    InvalidJobId(IdError),
    #[error("field `run_id`: {0}")]
    InvalidRunId(IdError),
    #[error("field `input_key`: {0}")]
    InvalidInputKey(KeyError),
    #[error("field `task_token` is {0} bytes; the limit is 2048")]
    TaskTokenTooLong(usize),
    #[error("field `released_at`: {0}")]
    InvalidReleasedAt(String),
    #[error("field `{field}` is {value}, above the limit of {limit}")]
    AboveLimit {
        field: &'static str,
        value: u64,
        limit: u64,
    },
}

impl JobMessage {
    /// Parses and validates one message body against `limits`.
    pub fn parse(body: &[u8], limits: &Limits) -> Result<Self, InvalidMessage> {
        let mut run: Option<RunId> = None;
        let invalid = |job_id: Option<&JobId>, run: &Option<RunId>, reason| InvalidMessage {
            job_id: job_id.cloned(),
            run_id: run.clone(),
            reason,
        };
        if body.len() > limits.max_body_bytes {
            return Err(invalid(
                None,
                &run,
                MessageError::TooLarge {
                    len: body.len(),
                    limit: limits.max_body_bytes,
                },
            ));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| invalid(None, &run, MessageError::NotJson(e.to_string())))?;
        let Value::Object(fields) = value else {
            return Err(invalid(
                None,
                &run,
                MessageError::NotAnObject(type_name(&value)),
            ));
        };
        // The run first: a failure of this message goes to it.
        if let Some(Value::String(r)) = fields.get("run_id") {
            run = RunId::new(r.as_str()).ok();
        }

        let job_id = match fields.get("job_id") {
            None | Some(Value::Null) => {
                return Err(invalid(None, &run, MessageError::MissingJobId));
            }
            Some(Value::String(s)) => JobId::new(s.as_str())
                .map_err(|e| invalid(None, &run, MessageError::InvalidJobId(e)))?,
            Some(other) => {
                return Err(invalid(None, &run, wrong_type("job_id", "a string", other)));
            }
        };
        let id = Some(&job_id);
        let work_duration_ms =
            bounded_u64(&fields, "work_duration_ms", limits.max_work_duration_ms)
                .map_err(|e| invalid(id, &run, e))?;
        let data_size_kb = bounded_u64(&fields, "data_size_kb", limits.max_data_size_kb)
            .map_err(|e| invalid(id, &run, e))?;
        let input_key =
            match optional_str(&fields, "input_key").map_err(|e| invalid(id, &run, e))? {
                None => None,
                Some(s) => Some(
                    ObjectKey::new(s)
                        .map_err(|e| invalid(id, &run, MessageError::InvalidInputKey(e)))?,
                ),
            };
        let run_id = match optional_str(&fields, "run_id").map_err(|e| invalid(id, &run, e))? {
            None => None,
            Some(s) => {
                Some(RunId::new(s).map_err(|e| invalid(id, &run, MessageError::InvalidRunId(e)))?)
            }
        };
        let task_token =
            match optional_str(&fields, "task_token").map_err(|e| invalid(id, &run, e))? {
                Some(t) if t.len() > MAX_TASK_TOKEN_BYTES => {
                    return Err(invalid(id, &run, MessageError::TaskTokenTooLong(t.len())));
                }
                t => t.map(str::to_owned),
            };
        let released_at = optional_str(&fields, "released_at")
            .map_err(|e| invalid(id, &run, e))?
            .map(|s| {
                Timestamp::parse(s)
                    .map_err(|e| invalid(id, &run, MessageError::InvalidReleasedAt(e.to_string())))
            })
            .transpose()?;
        Ok(Self {
            job_id,
            work_duration_ms,
            data_size_kb,
            input_key,
            run_id,
            task_token,
            released_at,
        })
    }

    /// The message body as sent on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job message always serializes")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &'static str, expected: &'static str, found: &Value) -> MessageError {
    let mut shown = found.to_string();
    if shown.len() > 60 {
        let mut cut = 57;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push_str("...");
    }
    MessageError::WrongType {
        field,
        expected,
        found: format!("{} {shown}", type_name(found)),
    }
}

fn optional_str<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, MessageError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// A non-negative whole number no larger than `limit`; absent or null is 0.
fn bounded_u64(
    fields: &Map<String, Value>,
    field: &'static str,
    limit: u64,
) -> Result<u64, MessageError> {
    const EXPECTED: &str = "a non-negative whole number";
    let value = match fields.get(field) {
        None | Some(Value::Null) => return Ok(0),
        Some(v @ Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                u
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0) {
                // `100.0` is a whole number written as a float; anything above
                // u64 range saturates and fails the limit check below.
                f as u64
            } else {
                return Err(wrong_type(field, EXPECTED, v));
            }
        }
        Some(other) => return Err(wrong_type(field, EXPECTED, other)),
    };
    if value > limit {
        return Err(MessageError::AboveLimit {
            field,
            value,
            limit,
        });
    }
    Ok(value)
}

/// How a job ended, as reported by a processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed { output_key: ObjectKey },
    Failed { error: String },
}

/// A completion, as sent to the outgoing queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CompletionWire", into = "CompletionWire")]
pub struct Completion {
    pub job_id: JobId,
    pub outcome: Outcome,
    pub processing_time_ms: f64,
    pub completed_at: Timestamp,
    pub test_run_id: String,
    pub started_at: Option<Timestamp>,
    pub worker: Option<String>,
    pub attempt: Option<u32>,
    pub run_id: Option<RunId>,
    /// A failure of the processor's own resources (disk full, access
    /// denied), not of the job: the scheduler stops the run instead of
    /// failing the job, which stays resumable.
    pub fatal: bool,
    /// The billed calls the processor made since its previous completion
    /// (this job's, and its own polling): summed over a run's completions,
    /// every call its processors made up to their last one.
    pub calls: crate::calls::Calls,
    /// When the state machine released the job (Scenario 3), from its
    /// message.
    pub released_at: Option<Timestamp>,
}

/// The longest `error` a completion carries: a completion always fits a
/// queue message, whatever the reason quotes.
pub const MAX_ERROR_BYTES: usize = 4096;

/// `reason`, cut to at most [`MAX_ERROR_BYTES`] on a character boundary,
/// saying how much was cut.
pub fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_ERROR_BYTES {
        return reason.to_owned();
    }
    let mut cut = MAX_ERROR_BYTES - 40;
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} more bytes)", &reason[..cut], reason.len() - cut)
}

impl Completion {
    pub fn is_completed(&self) -> bool {
        matches!(self.outcome, Outcome::Completed { .. })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a completion always serializes")
    }

    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Completed,
    Failed,
}

/// Field order and names exactly as in DESIGN.md.
#[derive(Serialize, Deserialize)]
struct CompletionWire {
    job_id: JobId,
    status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_key: Option<ObjectKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default)]
    processing_time_ms: f64,
    completed_at: Timestamp,
    #[serde(default)]
    test_run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run_id: Option<RunId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fatal: bool,
    #[serde(default, skip_serializing_if = "crate::calls::Calls::is_zero")]
    calls: crate::calls::Calls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    released_at: Option<Timestamp>,
}

impl TryFrom<CompletionWire> for Completion {
    type Error = String;
    fn try_from(w: CompletionWire) -> Result<Self, String> {
        let outcome = match (w.status, w.output_key, w.error) {
            (Status::Completed, Some(output_key), _) => Outcome::Completed { output_key },
            (Status::Completed, None, _) => {
                return Err(format!(
                    "completion of job {:?}: status `completed` needs `output_key`",
                    w.job_id.as_str()
                ));
            }
            (Status::Failed, _, Some(error)) => Outcome::Failed { error },
            (Status::Failed, _, None) => {
                return Err(format!(
                    "completion of job {:?}: status `failed` needs `error`",
                    w.job_id.as_str()
                ));
            }
        };
        Ok(Self {
            job_id: w.job_id,
            outcome,
            processing_time_ms: w.processing_time_ms,
            completed_at: w.completed_at,
            test_run_id: w.test_run_id,
            started_at: w.started_at,
            worker: w.worker,
            attempt: w.attempt,
            run_id: w.run_id,
            fatal: w.fatal,
            calls: w.calls,
            released_at: w.released_at,
        })
    }
}

impl From<Completion> for CompletionWire {
    fn from(c: Completion) -> Self {
        let (status, output_key, error) = match c.outcome {
            Outcome::Completed { output_key } => (Status::Completed, Some(output_key), None),
            Outcome::Failed { error } => (Status::Failed, None, Some(error)),
        };
        Self {
            job_id: c.job_id,
            status,
            output_key,
            error,
            processing_time_ms: c.processing_time_ms,
            completed_at: c.completed_at,
            test_run_id: c.test_run_id,
            started_at: c.started_at,
            worker: c.worker,
            attempt: c.attempt,
            run_id: c.run_id,
            fatal: c.fatal,
            calls: c.calls,
            released_at: c.released_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_invalid(body: &str, job_id: Option<&str>, expected: &str) {
        let err = JobMessage::parse(body.as_bytes(), &Limits::default()).unwrap_err();
        let shown: String = body.chars().take(80).collect();
        assert_eq!(err.to_string(), expected, "body {shown}");
        assert_eq!(
            err.job_id.as_ref().map(JobId::as_str),
            job_id,
            "body {shown}"
        );
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let m =
            JobMessage::parse(br#"{"job_id":"a","extra":{"x":1}}"#, &Limits::default()).unwrap();
        assert_eq!(m.job_id.as_str(), "a");
        assert_eq!(
            (m.work_duration_ms, m.data_size_kb, &m.input_key),
            (0, 0, &None)
        );
        let m = JobMessage::parse(
            br#"{"job_id":"a","work_duration_ms":100.0,"data_size_kb":null,"run_id":"r1"}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.work_duration_ms, 100);
        assert_eq!(m.data_size_kb, 0);
        assert_eq!(m.run_id.unwrap().as_str(), "r1");
    }

    #[test]
    fn invalid_messages_name_the_field() {
        check_invalid(
            "not json",
            None,
            "message body is not valid JSON: expected ident at line 1 column 2",
        );
        check_invalid(
            "[1]",
            None,
            "message body is JSON but not an object (found an array)",
        );
        check_invalid("{}", None, "field `job_id` is missing");
        check_invalid(r#"{"job_id":null}"#, None, "field `job_id` is missing");
        check_invalid(
            r#"{"job_id":7}"#,
            None,
            "field `job_id` must be a string, found a number 7",
        );
        check_invalid(
            r#"{"job_id":"../x"}"#,
            None,
            "field `job_id`: job id \"../x\" contains '/' at position 2; allowed are letters, digits and `._:-`",
        );
        check_invalid(
            r#"{"job_id":"a","work_duration_ms":-5}"#,
            Some("a"),
            "field `work_duration_ms` must be a non-negative whole number, found a number -5",
        );
        check_invalid(
            r#"{"job_id":"a","work_duration_ms":1.5}"#,
            Some("a"),
            "field `work_duration_ms` must be a non-negative whole number, found a number 1.5",
        );
        check_invalid(
            r#"{"job_id":"a","data_size_kb":"10"}"#,
            Some("a"),
            "field `data_size_kb` must be a non-negative whole number, found a string \"10\"",
        );
        check_invalid(
            r#"{"job_id":"a","work_duration_ms":900000}"#,
            Some("a"),
            "field `work_duration_ms` is 900000, above the limit of 55000",
        );
        check_invalid(
            r#"{"job_id":"a","data_size_kb":1e30}"#,
            Some("a"),
            "field `data_size_kb` is 18446744073709551615, above the limit of 10240",
        );
        check_invalid(
            r#"{"job_id":"a","input_key":"../../etc/passwd"}"#,
            Some("a"),
            "field `input_key`: object key \"../../etc/passwd\" has a `.` or `..` segment",
        );
        check_invalid(
            r#"{"job_id":"a","input_key":["x"]}"#,
            Some("a"),
            "field `input_key` must be a string, found an array [\"x\"]",
        );
        let big = format!(r#"{{"job_id":"a","pad":"{}"}}"#, "x".repeat(300_000));
        check_invalid(
            &big,
            None,
            "message body is 300023 bytes; the limit is 262144",
        );
    }

    #[test]
    fn failed_completion_needs_error() {
        let err = Completion::parse(
            br#"{"job_id":"a","status":"failed","completed_at":"2026-01-21T12:34:56.789Z"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("status `failed` needs `error`"),
            "{err}"
        );
        let err = Completion::parse(
            br#"{"job_id":"a","status":"done","completed_at":"2026-01-21T12:34:56.789Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown variant `done`"), "{err}");
    }

    #[test]
    fn failed_completion_round_trips() {
        let c = Completion {
            job_id: JobId::new("a").unwrap(),
            outcome: Outcome::Failed {
                error: "field `job_id` is missing".into(),
            },
            processing_time_ms: 0.5,
            completed_at: Timestamp::from_unix_millis(1_769_000_000_123),
            test_run_id: "t".into(),
            started_at: None,
            worker: Some("w-1".into()),
            attempt: Some(2),
            run_id: None,
            fatal: false,
            calls: crate::calls::Calls::default(),
            released_at: None,
        };
        let json = c.to_json();
        assert_eq!(
            json,
            r#"{"job_id":"a","status":"failed","error":"field `job_id` is missing","processing_time_ms":0.5,"completed_at":"2026-01-21T12:53:20.123Z","test_run_id":"t","worker":"w-1","attempt":2}"#
        );
        assert_eq!(Completion::parse(json.as_bytes()).unwrap(), c);
    }
}
