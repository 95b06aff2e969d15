//! A finished run as its directory holds it: `report.json`, and when
//! present `manifest.json`, `merged_percentiles/merged_percentiles.json`
//! and `deployment.json` (cloud runs: region and configuration of the
//! stack).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dagbench_flight::stats::MergedPercentiles;
use dagbench_runtime::report::RunReport;
use serde_json::Value;

pub use dagbench_infra::Deployment;

use crate::cost::Measured;

/// Everything `dagbench report` and `dagbench compare` read of a run.
#[derive(Debug, Clone)]
pub struct RunFiles {
    /// The run directory.
    pub dir: PathBuf,
    /// `report.json`.
    pub report: RunReport,
    /// `manifest.json`, if any.
    pub manifest: Option<Value>,
    /// The merged domain results, if the run computed any.
    pub merged: Option<MergedPercentiles>,
    /// `deployment.json` (cloud runs).
    pub deployment: Option<Deployment>,
}

/// Why a run cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No such run.
    #[error("{0}{1}")]
    Missing(String, String),
    /// A file is unreadable or not what it should be.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The directory of `run`: itself if it is a directory with a report, else
/// `results/<run>`.
#[must_use]
pub fn resolve(run: &str, results: &Path) -> PathBuf {
    let direct = PathBuf::from(run);
    if direct.join("report.json").exists() {
        direct
    } else {
        results.join(run)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, LoadError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LoadError::Invalid {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LoadError::Invalid {
            path: path.display().to_string(),
            message: e.to_string(),
        })
}

impl RunFiles {
    /// Reads the run in `dir`.
    ///
    /// # Errors
    /// [`LoadError::Missing`] without a `report.json`; [`LoadError::Invalid`]
    /// for a file that does not parse.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let report: RunReport = read_json(&dir.join("report.json"))?.ok_or_else(|| {
            let hint = dir
                .parent()
                .filter(|p| p.is_dir())
                .and_then(|p| std::fs::read_dir(p).ok())
                .map(|entries| {
                    let mut runs: Vec<String> = entries
                        .filter_map(Result::ok)
                        .filter(|e| e.path().join("report.json").exists())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    runs.sort();
                    runs
                })
                .filter(|runs| !runs.is_empty())
                .map(|runs| {
                    let shown: Vec<&str> = runs.iter().rev().take(5).map(String::as_str).collect();
                    format!("; runs there: {}", shown.join(", "))
                })
                .unwrap_or_default();
            let what = if dir.is_dir() {
                format!(
                    "{} is not a run directory (it has no report.json)",
                    dir.display()
                )
            } else {
                format!("there is no run {}", dir.display())
            };
            LoadError::Missing(what, hint)
        })?;
        Self::with_report(dir, report)
    }

    /// The run in `dir` whose report is already in hand (`dagbench run`,
    /// which just wrote it): the other files are read.
    ///
    /// # Errors
    /// [`LoadError::Invalid`] for a file that does not parse.
    pub fn with_report(dir: &Path, report: RunReport) -> Result<Self, LoadError> {
        Ok(Self {
            manifest: read_json(&dir.join("manifest.json"))?,
            merged: read_json(&dir.join("merged_percentiles/merged_percentiles.json"))?,
            deployment: read_json(&dir.join("deployment.json"))?,
            dir: dir.to_path_buf(),
            report,
        })
    }

    /// A manifest value, if recorded.
    #[must_use]
    pub fn manifest_field(&self, key: &str) -> Option<&Value> {
        self.manifest.as_ref().and_then(|m| m.get(key))
    }
}

/// Log bytes per job: the JSON job line, plus Lambda's EMF line.
pub const LOG_BYTES_PER_JOB: u64 = 600;

/// What `report` measured that costs money.
#[must_use]
pub fn measured(report: &RunReport) -> Measured {
    // Jobs processed in this session: restored ones cost nothing now.
    let jobs = report.completed_in_session() + report.counts.failed;
    // Aircraft jobs read their details and write a domain result beside the
    // output object; the merge also reads each sequence's percentiles.
    let (s3_gets, s3_puts) = match &report.domain {
        Some(d) => (jobs + d.sequences, 2 * jobs),
        None => (0, jobs),
    };
    Measured {
        jobs,
        processing_p90_ms: report.stages.processing.p90,
        makespan_s: report.makespan_ms / 1e3,
        s3_gets,
        s3_puts,
        log_bytes_per_job: LOG_BYTES_PER_JOB,
        job_message_bytes: crate::cost::JOB_MESSAGE_BYTES,
        completion_bytes: crate::cost::COMPLETION_BYTES,
        calls: report.calls,
        ran_on: Some(report.scenario),
        fargate_task_s: None,
        levels: u64::from(report.graph.levels),
        state_transitions: report.orchestration.as_ref().map(|o| o.state_transitions),
        plan_objects: report
            .orchestration
            .as_ref()
            .map(|o| o.levels + u64::from(o.chains > 0)),
    }
}

/// The terminal summary of a run (what `dagbench run` ends with).
#[must_use]
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    let c = &report.counts;
    let status = report.status.as_str();
    let _ = writeln!(
        out,
        "run {} {status}: {} jobs in {:.2} s ({:.0} jobs/s) {}{}",
        report.run_id,
        thousands(report.completed_in_session()),
        report.makespan_ms / 1e3,
        report.throughput_jobs_per_s,
        if report.scenario == dagbench_core::Scenario::Local {
            format!("with {} workers", report.workers)
        } else {
            format!("on {}", report.scenario)
        },
        earlier_sessions(report)
    );
    let s = &report.stages;
    let _ = writeln!(
        out,
        "  stage p50/p99 ms: reaction {:.0}/{:.0}  queue wait {:.0}/{:.0}  processing {:.1}/{:.1}  notification {:.0}/{:.0}",
        s.scheduler_reaction.p50,
        s.scheduler_reaction.p99,
        s.queue_wait.p50,
        s.queue_wait.p99,
        s.processing.p50,
        s.processing.p99,
        s.notification.p50,
        s.notification.p99
    );
    let _ = match report.efficiency {
        Some(e) => writeln!(
            out,
            "  efficiency {:.3} (lower bound {:.2} s = max(critical path, {} / workers){})",
            e,
            report.lower_bound_ms / 1e3,
            match report.lower_bound_basis {
                Some(dagbench_runtime::report::LowerBoundBasis::MeasuredProcessing) => {
                    "measured processing"
                }
                _ => "work",
            },
            if report.restored > 0 {
                ", jobs of this session"
            } else {
                ""
            }
        ),
        None => writeln!(out, "  efficiency n/a (no job processed in this session)"),
    };
    let _ = writeln!(out, "  failed {}  blocked {}", c.failed, c.blocked);
    if let Some(o) = &report.orchestration {
        let _ = writeln!(
            out,
            "  step functions: {} plan ({} chains, {} levels), {} state transitions, {} child executions; {}",
            o.plan,
            thousands(o.chains),
            thousands(o.levels),
            thousands(o.state_transitions),
            thousands(o.child_executions),
            if o.execution_arn.is_empty() {
                "no execution (nothing left to run)"
            } else {
                o.execution_arn.as_str()
            }
        );
    }
    if let Some(d) = &report.domain {
        let f = &d.final_arr_delay;
        let show = |v: Option<i32>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "  final arrival delay (min): mean {:.1}  p50 {}  p90 {}  p95 {}  p99 {}  on time {:.1} %  curfew breaches {:.2} %",
            f.mean,
            show(f.p50),
            show(f.p90),
            show(f.p95),
            show(f.p99),
            f.otp * 100.0,
            d.curfew_share * 100.0
        );
    }
    out
}

/// `; 1,171 completed in 2 earlier sessions`, with what no report counted
/// (a session killed before its report) said as such; empty for a run of
/// one session.
fn earlier_sessions(report: &RunReport) -> String {
    if report.restored == 0 {
        return String::new();
    }
    let reported = report
        .sessions
        .iter()
        .filter(|s| s.status.is_some())
        .count();
    let unreported: u64 = report
        .sessions
        .iter()
        .filter(|s| s.status.is_none())
        .map(|s| s.completed)
        .sum();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match (reported, unreported) {
        (n, 0) => format!(
            "; {} completed in {n} earlier session{}",
            thousands(report.restored),
            plural(n)
        ),
        (0, _) => format!(
            "; {} completed earlier, by a session that left no report",
            thousands(report.restored)
        ),
        (n, u) => format!(
            "; {} completed earlier ({n} reported session{}, {} jobs no report counted)",
            thousands(report.restored),
            plural(n),
            thousands(u)
        ),
    }
}

/// The summary as one JSON object (`dagbench run --json`, `dagbench report
/// --json`): the report's headline figures and the estimates.
#[must_use]
pub fn summary_json(report: &RunReport, estimates: &[crate::cost::Estimate]) -> Value {
    serde_json::json!({
        "run_id": report.run_id,
        "scenario": report.scenario,
        "status": report.status,
        "counts": report.counts,
        "restored": report.restored,
        "makespan_ms": report.makespan_ms,
        "throughput_jobs_per_s": report.throughput_jobs_per_s,
        "efficiency": report.efficiency,
        "stages": report.stages,
        "failed": report.failed,
        "error": report.error,
        "orchestration": report.orchestration,
        "domain": report.domain,
        "estimates": estimates,
    })
}

/// The one line that says why a run did not complete (empty for a
/// completed run).
#[must_use]
pub fn failure_line(report: &RunReport) -> String {
    use dagbench_runtime::driver::RunStatus;
    let c = &report.counts;
    let id = &report.run_id;
    let cause = report
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    match report.status {
        RunStatus::Completed => String::new(),
        RunStatus::Failed => {
            let first = report
                .failed
                .first()
                .map(|f| format!(" (first: {}: {})", f.job_id, f.reason))
                .unwrap_or_default();
            format!(
                "run {id} finished with {} failed and {} blocked jobs{first}",
                c.failed, c.blocked
            )
        }
        RunStatus::Stalled => format!(
            "run {id} stalled: no job completed within --stall-timeout while {} were in flight (running longer than that, lost, or with no processor to take them){cause}; resume it with --resume {id}, with a longer --stall-timeout if jobs take that long",
            c.dispatched
        ),
        RunStatus::Interrupted => format!(
            "run {id} interrupted with {} of {} jobs done; resume it with --resume {id}",
            c.done(),
            c.total
        ),
        RunStatus::Aborted => format!(
            "run {id} aborted with {} of {} jobs done{cause}; fix the queue, then resume it with --resume {id}",
            c.done(),
            c.total
        ),
    }
}

/// `1,234,567`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
