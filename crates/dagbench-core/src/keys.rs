//! The only spelling of every object key dagbench reads or writes, relative
//! to the store's prefix (the same layout on local disk and in S3):
//!
//! ```text
//! <run>/sequences/sequence_<id>.json                the run's aircraft days
//! <run>/jobs/<job_id>.json                          job details (a message's input_key)
//! <run>/delays/<job_id>.parquet                     delay samples of one leg job
//! <run>/percentiles/<sequence_id>.json              percentiles of one sequence
//! <run>/merged_percentiles/merged_percentiles.json  the whole run
//! output/YYYY/MM/DD/HH/<job_id>.json                a job's output object (UTC hour)
//! ```
//!
//! A job id on the wire is qualified by its run (`<run>.<job>`, see
//! [`crate::message::wire_job_id`]), so output objects of two runs never
//! share a key.
//!
//! Every segment comes from a validated id, so no key can escape its prefix.

use crate::ids::{JobId, RunId, SequenceId};
use crate::key::ObjectKey;
use crate::time::Timestamp;

fn key(text: String) -> ObjectKey {
    ObjectKey::new(text).expect("keys built from validated ids are valid")
}

/// `<run>/sequences/sequence_<id>.json`
pub fn sequence(run: &RunId, id: SequenceId) -> ObjectKey {
    key(format!("{run}/sequences/sequence_{id}.json"))
}

/// `<run>/jobs/<job_id>.json`
pub fn job_details(run: &RunId, job: &JobId) -> ObjectKey {
    key(format!("{run}/jobs/{job}.json"))
}

/// `<run>/delays/<job_id>.parquet`
pub fn delays(run: &RunId, job: &JobId) -> ObjectKey {
    key(format!("{run}/delays/{job}.parquet"))
}

/// `<run>/percentiles/<sequence_id>.json`
pub fn percentiles(run: &RunId, id: SequenceId) -> ObjectKey {
    key(format!("{run}/percentiles/{id}.json"))
}

/// The folder of [`percentiles`], for listing.
pub fn percentiles_dir(run: &RunId) -> ObjectKey {
    key(format!("{run}/percentiles"))
}

/// `<run>/merged_percentiles/merged_percentiles.json`
pub fn merged_percentiles(run: &RunId) -> ObjectKey {
    key(format!("{run}/merged_percentiles/merged_percentiles.json"))
}

/// `output/YYYY/MM/DD/HH/<job_id>.json`, the UTC hour of `completed_at`.
pub fn output(job: &JobId, completed_at: Timestamp) -> ObjectKey {
    let (y, m, d, h) = completed_at.utc_hour_parts();
    key(format!("output/{y:04}/{m:02}/{d:02}/{h:02}/{job}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_pinned() {
        let run = RunId::new("baseline-256mb").unwrap();
        let job = JobId::new("s7-l2").unwrap();
        let at = Timestamp::parse("2026-01-21T12:34:56.789Z").unwrap();
        let cases = [
            (
                sequence(&run, SequenceId(7)),
                "baseline-256mb/sequences/sequence_7.json",
            ),
            (job_details(&run, &job), "baseline-256mb/jobs/s7-l2.json"),
            (delays(&run, &job), "baseline-256mb/delays/s7-l2.parquet"),
            (
                percentiles(&run, SequenceId(7)),
                "baseline-256mb/percentiles/7.json",
            ),
            (percentiles_dir(&run), "baseline-256mb/percentiles"),
            (
                merged_percentiles(&run),
                "baseline-256mb/merged_percentiles/merged_percentiles.json",
            ),
            (
                output(&JobId::new("unique-id").unwrap(), at),
                "output/2026/01/21/12/unique-id.json",
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(key.as_str(), expected);
        }
    }
}
