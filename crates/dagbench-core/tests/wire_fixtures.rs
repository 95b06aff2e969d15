//! The source document's two example messages, committed as fixtures, must
//! parse and round-trip to the same JSON values.

use dagbench_core::message::{Completion, JobMessage, Limits, Outcome};
use serde_json::Value;

const INCOMING: &str = include_str!("fixtures/incoming_job.json");
const COMPLETION: &str = include_str!("fixtures/completion.json");

#[test]
fn incoming_example_round_trips() {
    let message = JobMessage::parse(INCOMING.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(message.job_id.as_str(), "unique-id");
    assert_eq!(message.work_duration_ms, 100);
    assert_eq!(message.data_size_kb, 10);
    assert_eq!(
        message.input_key.as_ref().unwrap().as_str(),
        "jobs/job-123.json"
    );
    let original: Value = serde_json::from_str(INCOMING).unwrap();
    let written: Value = serde_json::from_str(&message.to_json()).unwrap();
    assert_eq!(written, original);
}

#[test]
fn completion_example_round_trips() {
    let completion = Completion::parse(COMPLETION.as_bytes()).unwrap();
    assert_eq!(completion.job_id.as_str(), "unique-id");
    assert!(matches!(&completion.outcome,
        Outcome::Completed { output_key } if output_key.as_str() == "output/2026/01/21/12/unique-id.json"));
    assert_eq!(completion.processing_time_ms, 105.2);
    assert_eq!(
        completion.completed_at.to_string(),
        "2026-01-21T12:34:56.789Z"
    );
    assert_eq!(completion.test_run_id, "baseline-001");
    let original: Value = serde_json::from_str(COMPLETION).unwrap();
    let written = completion.to_json();
    assert_eq!(serde_json::from_str::<Value>(&written).unwrap(), original);
    // Field order on the wire is the documented one.
    let keys: Vec<&str> = [
        "job_id",
        "status",
        "output_key",
        "processing_time_ms",
        "completed_at",
        "test_run_id",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| written.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{written}");
}
