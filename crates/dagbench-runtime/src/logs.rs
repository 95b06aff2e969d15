//! Structured logs: one JSON object per line on standard error, through
//! `tracing` — what CloudWatch Logs (Lambda's JSON log format, ECS's awslogs
//! driver) indexes field by field. Every processed job is one `job` event
//! with its id, outcome, attempt and milliseconds.
//!
//! `DAGBENCH_LOG` (`error`, `warn`, `info` — the default —, `debug`,
//! `trace`, `off`) sets the level.

use std::io::Write;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::processor::{Disposition, Ended};

/// The level from `DAGBENCH_LOG`, INFO when unset or unreadable.
#[must_use]
pub fn level_from_env() -> LevelFilter {
    std::env::var("DAGBENCH_LOG")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Log timestamps as every JSON dagbench writes them: RFC 3339, UTC,
/// milliseconds (`2026-01-21T12:34:56.789Z`).
struct Rfc3339Millis;

impl tracing_subscriber::fmt::time::FormatTime for Rfc3339Millis {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        write!(
            w,
            "{}",
            dagbench_core::time::Timestamp::from_unix_millis(ms)
        )
    }
}

/// A JSON subscriber writing to `writer`: flat events (fields beside
/// `timestamp` and `level`, no span lists).
pub fn json_subscriber<W>(writer: W, level: LevelFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_timer(Rfc3339Millis)
        .with_max_level(level)
        .with_writer(writer)
        .finish()
}

/// Installs JSON logs on standard error for the whole process (the Lambda
/// `bootstrap`, `dagbench worker`); a second call changes nothing.
pub fn init_json_logs() {
    let _ =
        tracing::subscriber::set_global_default(json_subscriber(std::io::stderr, level_from_env()));
}

fn millis(took: Duration) -> f64 {
    (took.as_secs_f64() * 1e6).round() / 1e3
}

fn outcome(ended: Ended) -> &'static str {
    match ended {
        Ended::Completed => "completed",
        Ended::Failed => "failed",
        Ended::Resent => "resent",
        Ended::Fatal => "fatal",
    }
}

/// Logs one processed message: `{"event":"job","job_id":…,"outcome":…,
/// "attempt":…,"ms":…}` — outcome `completed`, `failed`, `resent` (ended
/// before: its record sent again), `fatal`, `busy` (another delivery holds
/// it, `until`), `retry` or `dead_lettered` — plus `reason` for failures,
/// retries and dead letters.
pub fn log_job(disposition: &Disposition, attempt: u32, took: Duration) {
    let ms = millis(took);
    match disposition {
        Disposition::Done {
            job_id,
            ended,
            reason: None,
        } => tracing::info!(
            event = "job",
            job_id = job_id.as_str(),
            outcome = outcome(*ended),
            attempt,
            ms
        ),
        Disposition::Done {
            job_id,
            ended,
            reason: Some(reason),
        } => tracing::warn!(
            event = "job",
            job_id = job_id.as_str(),
            outcome = outcome(*ended),
            attempt,
            ms,
            reason = reason.as_str()
        ),
        Disposition::Busy {
            job_id,
            until,
            duplicate,
        } => tracing::info!(
            event = "job",
            job_id = job_id.as_str(),
            outcome = if *duplicate { "duplicate" } else { "busy" },
            attempt,
            ms,
            until = until.to_string()
        ),
        Disposition::Retry {
            job_id: Some(job_id),
            reason,
        } => tracing::warn!(
            event = "job",
            job_id = job_id.as_str(),
            outcome = "retry",
            attempt,
            ms,
            reason = reason.as_str()
        ),
        Disposition::Retry {
            job_id: None,
            reason,
        } => tracing::warn!(
            event = "job",
            outcome = "retry",
            attempt,
            ms,
            reason = reason.as_str()
        ),
        Disposition::Poison { reason } => tracing::warn!(
            event = "job",
            outcome = "dead_lettered",
            attempt,
            ms,
            reason = reason.as_str()
        ),
    }
}

/// A `MakeWriter` into a shared buffer, for tests that read logs back.
#[derive(Debug, Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, one log line per element.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer"))
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Captured;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use dagbench_core::ids::JobId;
    use serde_json::Value;

    use super::*;

    fn logged(f: impl FnOnce()) -> Vec<Value> {
        let captured = Captured::default();
        tracing::subscriber::with_default(json_subscriber(captured.clone(), LevelFilter::INFO), f);
        captured
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn a_job_is_one_json_line_with_id_outcome_attempt_and_timing() {
        let lines = logged(|| {
            log_job(
                &Disposition::Done {
                    job_id: JobId::new("s1-l1").unwrap(),
                    ended: Ended::Completed,
                    reason: None,
                },
                2,
                Duration::from_micros(1500),
            );
            log_job(
                &Disposition::Done {
                    job_id: JobId::new("s1-l2").unwrap(),
                    ended: Ended::Failed,
                    reason: Some("input_key r/jobs/x.json does not exist".into()),
                },
                1,
                Duration::ZERO,
            );
            log_job(
                &Disposition::Poison {
                    reason: "not JSON".into(),
                },
                1,
                Duration::ZERO,
            );
        });
        assert_eq!(lines.len(), 3);
        let done = &lines[0];
        assert_eq!(done["event"], "job");
        assert_eq!(done["job_id"], "s1-l1");
        assert_eq!(done["outcome"], "completed");
        assert_eq!(done["attempt"], 2);
        assert_eq!(done["ms"], 1.5);
        assert_eq!(done["level"], "INFO");
        let at = done["timestamp"].as_str().unwrap();
        assert_eq!(
            dagbench_core::time::Timestamp::parse(at)
                .unwrap()
                .to_string(),
            at,
            "RFC 3339 with milliseconds, UTC"
        );
        let failed = &lines[1];
        assert_eq!(
            (&failed["outcome"], &failed["reason"], &failed["level"]),
            (
                &"failed".into(),
                &"input_key r/jobs/x.json does not exist".into(),
                &"WARN".into()
            ),
            "a failure says why"
        );
        let poison = &lines[2];
        assert_eq!(poison["outcome"], "dead_lettered");
        assert_eq!(poison["reason"], "not JSON");
        assert_eq!(poison["level"], "WARN");
        assert!(poison.get("job_id").is_none());
    }

    #[test]
    fn the_level_filters_events() {
        let captured = Captured::default();
        tracing::subscriber::with_default(
            json_subscriber(captured.clone(), LevelFilter::WARN),
            || {
                tracing::info!(event = "quiet");
                tracing::warn!(event = "loud");
            },
        );
        let lines = captured.lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("loud"));
    }
}
