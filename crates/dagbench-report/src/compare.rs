//! Runs side by side: configuration, speed, latency, failures and cost, a
//! results check (did they compute the same numbers?) and thresholds for CI.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::cost::{Estimate, Setup};
use dagbench_core::Scenario;

use crate::html::page;
use crate::run::{RunFiles, thousands};
use crate::svg::{self, esc};

/// One run's column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// The run id.
    pub run_id: String,
    /// `local`, `scenario-1`, `scenario-2`.
    pub scenario: Scenario,
    /// `completed`, `failed`, …
    pub status: String,
    /// Configuration, as text (`256 MB x86_64, batch 10`, `2 workers`).
    pub configuration: String,
    /// Jobs completed.
    pub completed: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Jobs blocked.
    pub blocked: u64,
    /// Seconds.
    pub makespan_s: f64,
    /// Jobs per second.
    pub throughput: f64,
    /// Lower bound / makespan.
    pub efficiency: Option<f64>,
    /// p50 and p99 of each stage: reaction, queue wait, processing,
    /// notification (ms).
    pub stages: [(f64, f64); 4],
    /// p99 dispatch → observed, ms (from the per-job timelines; else the sum
    /// of the stage p99s, an upper bound).
    pub turnaround_p99_ms: f64,
    /// The run's own estimate (a local run's: its Scenario 1 projection).
    pub cost: Option<f64>,
    /// Per 1,000 jobs.
    pub cost_per_1000: Option<f64>,
    /// Which estimate `cost` is.
    pub cost_basis: Option<String>,
    /// The simulator's makespan for this run's graph, scenario and
    /// workers (`compare --predict`), seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_makespan_s: Option<f64>,
}

/// Whether the runs computed the same domain results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ResultsCheck {
    /// Every run's merged percentiles are equal, value by value.
    Identical,
    /// No run computed domain results (synthetic graphs).
    NotApplicable,
    /// They differ; `detail` names the first differing metric.
    Different {
        /// `run b: final_arr_delay.p99 = 222, run a has 221`.
        detail: String,
    },
}

/// A threshold a run missed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The run.
    pub run_id: String,
    /// What it missed, with both values.
    pub detail: String,
}

/// Limits for `--max-p99-ms`, `--min-throughput`, `--max-cost`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// Largest turnaround p99, ms.
    pub max_p99_ms: Option<f64>,
    /// Smallest throughput, jobs/s.
    pub min_throughput: Option<f64>,
    /// Largest estimated cost per run, USD.
    pub max_cost: Option<f64>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// One column per run, in the order given.
    pub runs: Vec<Column>,
    /// The results check.
    pub results: ResultsCheck,
    /// Thresholds missed.
    pub misses: Vec<Miss>,
}

impl Comparison {
    /// Whether the comparison passes: identical (or no) results and no
    /// threshold missed.
    #[must_use]
    pub fn passed(&self) -> bool {
        !matches!(self.results, ResultsCheck::Different { .. }) && self.misses.is_empty()
    }
}

fn configuration(run: &RunFiles) -> String {
    match &run.deployment {
        Some(d) => match d.setup {
            Setup::Lambda(l) => format!("{} MB {}, batch {}", l.memory_mb, l.arch, l.batch_size),
            Setup::Fargate(f) => format!(
                "{} × {} CPU / {} MiB {}, {} each, batch {}",
                f.tasks, f.cpu, f.memory_mb, f.arch, f.concurrency, f.batch_size
            ),
            Setup::StepFunctions(s) => format!(
                "{}{}, Lambda {} MB {}",
                s.task,
                run.report
                    .orchestration
                    .as_ref()
                    .map(|o| format!(" ({} plan)", o.plan))
                    .unwrap_or_default(),
                s.memory_mb,
                s.arch
            ),
        },
        None => format!("{} workers", run.report.workers),
    }
}

fn turnaround_p99(run: &RunFiles) -> f64 {
    let r = &run.report;
    if let Some(jobs) = &r.jobs {
        let mut v: Vec<f64> = jobs
            .iter()
            .filter_map(|j| Some((j.observed? - j.dispatched?) as f64))
            .filter(|d| *d >= 0.0)
            .collect();
        if !v.is_empty() {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            return v[(99 * n).div_ceil(100).clamp(1, n) - 1];
        }
    }
    r.stages.queue_wait.p99 + r.stages.processing.p99 + r.stages.notification.p99
}

/// The first path where `a` and `b` differ, with both values.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, &p) {
                            return Some(d);
                        }
                    }
                    None => return Some((p, va.to_string(), "nothing".into())),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| (format!("{path}.{k}"), "nothing".into(), y[k].to_string()))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(va, vb, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| {
                (
                    format!("{path} length"),
                    x.len().to_string(),
                    y.len().to_string(),
                )
            })
        }
        _ => (a != b).then(|| (path.to_owned(), a.to_string(), b.to_string())),
    }
}

/// Whether `runs` computed identical merged percentiles.
#[must_use]
pub fn results_check(runs: &[&RunFiles]) -> ResultsCheck {
    let with: Vec<(&RunFiles, Value)> = runs
        .iter()
        .filter_map(|r| {
            r.merged
                .as_ref()
                .and_then(|m| serde_json::to_value(m).ok())
                .map(|v| (*r, v))
        })
        .collect();
    if with.is_empty() {
        return ResultsCheck::NotApplicable;
    }
    if with.len() < runs.len() {
        let missing = runs
            .iter()
            .find(|r| r.merged.is_none())
            .map(|r| r.report.run_id.to_string())
            .unwrap_or_default();
        return ResultsCheck::Different {
            detail: format!(
                "run {missing} has no merged percentiles while {} has",
                with[0].0.report.run_id
            ),
        };
    }
    let (first, reference) = &with[0];
    for (other, value) in &with[1..] {
        if let Some((path, a, b)) = first_difference(reference, value, "") {
            return ResultsCheck::Different {
                detail: format!(
                    "first difference at {path}: run {} has {a}, run {} has {b}",
                    first.report.run_id, other.report.run_id
                ),
            };
        }
    }
    ResultsCheck::Identical
}

/// Compares `runs`, each with its estimates (the first is the run's own).
#[must_use]
pub fn compare(runs: &[(&RunFiles, Vec<Estimate>)], thresholds: Thresholds) -> Comparison {
    let mut columns = Vec::new();
    let mut misses = Vec::new();
    for (run, estimates) in runs {
        let r = &run.report;
        let s = &r.stages;
        let own = estimates.first();
        let column = Column {
            run_id: r.run_id.to_string(),
            scenario: r.scenario,
            status: r.status.as_str().to_owned(),
            configuration: configuration(run),
            completed: r.counts.completed,
            failed: r.counts.failed,
            blocked: r.counts.blocked,
            makespan_s: r.makespan_ms / 1e3,
            throughput: r.throughput_jobs_per_s,
            efficiency: r.efficiency,
            stages: [
                (s.scheduler_reaction.p50, s.scheduler_reaction.p99),
                (s.queue_wait.p50, s.queue_wait.p99),
                (s.processing.p50, s.processing.p99),
                (s.notification.p50, s.notification.p99),
            ],
            turnaround_p99_ms: turnaround_p99(run),
            cost: own.map(|e| e.total),
            cost_per_1000: own.map(|e| e.per_1000_jobs),
            cost_basis: own.map(|e| {
                if r.scenario == Scenario::Local {
                    format!("{} projection", e.setup.short())
                } else {
                    e.setup.short()
                }
            }),
            predicted_makespan_s: None,
        };
        if let Some(max) = thresholds.max_p99_ms
            && column.turnaround_p99_ms > max
        {
            misses.push(Miss {
                run_id: column.run_id.clone(),
                detail: format!(
                    "p99 turnaround {:.1} ms is above --max-p99-ms {max}",
                    column.turnaround_p99_ms
                ),
            });
        }
        if let Some(min) = thresholds.min_throughput
            && column.throughput < min
        {
            misses.push(Miss {
                run_id: column.run_id.clone(),
                detail: format!(
                    "throughput {:.1} jobs/s is below --min-throughput {min}",
                    column.throughput
                ),
            });
        }
        if let (Some(max), Some(cost)) = (thresholds.max_cost, column.cost)
            && cost > max
        {
            misses.push(Miss {
                run_id: column.run_id.clone(),
                detail: format!("estimated cost ${cost:.6} is above --max-cost {max}"),
            });
        }
        columns.push(column);
    }
    let files: Vec<&RunFiles> = runs.iter().map(|(r, _)| *r).collect();
    Comparison {
        runs: columns,
        results: results_check(&files),
        misses,
    }
}

/// The table's rows: a label and one cell per run.
fn rows(c: &Comparison) -> Vec<(String, Vec<String>)> {
    let col = |f: &dyn Fn(&Column) -> String| c.runs.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![
        ("scenario".to_owned(), col(&|r| r.scenario.to_string())),
        ("configuration".into(), col(&|r| r.configuration.clone())),
        ("status".into(), col(&|r| r.status.clone())),
        ("jobs completed".into(), col(&|r| thousands(r.completed))),
        (
            "makespan s".into(),
            col(&|r| format!("{:.2}", r.makespan_s)),
        ),
    ];
    if c.runs.iter().any(|r| r.predicted_makespan_s.is_some()) {
        rows.push((
            "predicted makespan s".into(),
            col(&|r| match r.predicted_makespan_s {
                Some(p) if r.makespan_s > 0.0 => {
                    format!("{p:.2} ({:+.1} %)", (p / r.makespan_s - 1.0) * 100.0)
                }
                Some(p) => format!("{p:.2}"),
                None => "-".into(),
            }),
        ));
    }
    rows.extend([
        (
            "throughput jobs/s".into(),
            col(&|r| format!("{:.1}", r.throughput)),
        ),
        (
            "efficiency".into(),
            col(&|r| r.efficiency.map_or("n/a".into(), |e| format!("{e:.3}"))),
        ),
        (
            "p99 turnaround ms".into(),
            col(&|r| format!("{:.1}", r.turnaround_p99_ms)),
        ),
    ]);
    for (i, name) in ["reaction", "queue wait", "processing", "notification"]
        .iter()
        .enumerate()
    {
        rows.push((
            format!("{name} p50/p99 ms"),
            col(&|r| format!("{:.1} / {:.1}", r.stages[i].0, r.stages[i].1)),
        ));
    }
    rows.push((
        "failed / blocked".into(),
        col(&|r| format!("{} / {}", r.failed, r.blocked)),
    ));
    rows.push((
        "estimated cost $".into(),
        col(&|r| r.cost.map_or("-".into(), |c| format!("{c:.6}"))),
    ));
    rows.push((
        "cost per 1,000 jobs $".into(),
        col(&|r| r.cost_per_1000.map_or("-".into(), |c| format!("{c:.6}"))),
    ));
    rows.push((
        "cost basis".into(),
        col(&|r| r.cost_basis.clone().unwrap_or_else(|| "-".into())),
    ));
    rows
}

impl Comparison {
    /// The side-by-side table for a terminal.
    #[must_use]
    pub fn to_text(&self) -> String {
        let rows = rows(self);
        let header: Vec<String> = self.runs.iter().map(|r| r.run_id.clone()).collect();
        let label_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r.1[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let _ = write!(out, "{:label_w$}", "");
        for (h, w) in header.iter().zip(&widths) {
            let _ = write!(out, "  {h:>w$}");
        }
        out.push('\n');
        for (label, cells) in &rows {
            let _ = write!(out, "{label:label_w$}");
            for (c, w) in cells.iter().zip(&widths) {
                let _ = write!(out, "  {c:>w$}");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "results check: {}",
            match &self.results {
                ResultsCheck::Identical => "identical merged percentiles".to_owned(),
                ResultsCheck::NotApplicable => "n/a (no domain results)".to_owned(),
                ResultsCheck::Different { detail } => format!("DIFFERENT: {detail}"),
            }
        );
        for m in &self.misses {
            let _ = writeln!(out, "threshold missed by {}: {}", m.run_id, m.detail);
        }
        out
    }

    /// The comparison as a self-contained HTML page.
    #[must_use]
    pub fn to_html(&self) -> String {
        let mut b = String::from("<h1>dagbench comparison</h1>");
        let _ = write!(
            b,
            "<p class=\"sub\">{}</p><table data-table=\"comparison\"><thead><tr><th></th>",
            esc(&self
                .runs
                .iter()
                .map(|r| r.run_id.as_str())
                .collect::<Vec<_>>()
                .join(" · "))
        );
        for r in &self.runs {
            let _ = write!(b, "<th>{}</th>", esc(&r.run_id));
        }
        b.push_str("</tr></thead><tbody>");
        for (label, cells) in rows(self) {
            let _ = write!(b, "<tr><td>{}</td>", esc(&label));
            for c in cells {
                let _ = write!(b, "<td>{}</td>", esc(&c));
            }
            b.push_str("</tr>");
        }
        b.push_str("</tbody></table>");
        let _ = write!(
            b,
            "<p data-results=\"{}\"><b>Results check:</b> {}</p>",
            match self.results {
                ResultsCheck::Identical => "identical",
                ResultsCheck::NotApplicable => "n/a",
                ResultsCheck::Different { .. } => "different",
            },
            esc(&match &self.results {
                ResultsCheck::Identical =>
                    "every run computed identical merged percentiles".to_owned(),
                ResultsCheck::NotApplicable => "no run computed domain results".to_owned(),
                ResultsCheck::Different { detail } => detail.clone(),
            })
        );
        for m in &self.misses {
            let _ = write!(
                b,
                "<p class=\"bad\">Threshold missed by {}: {}</p>",
                esc(&m.run_id),
                esc(&m.detail)
            );
        }
        b.push_str("<div class=\"charts\">");
        let bars = |f: &dyn Fn(&Column) -> f64, tip: &str| -> Vec<(String, f64, String)> {
            self.runs
                .iter()
                .map(|r| (r.run_id.clone(), f(r), format!("{}: {tip}", r.run_id)))
                .collect()
        };
        b.push_str(&svg::bars(
            "throughput",
            "Throughput",
            "jobs/s",
            &bars(&|r| r.throughput, "jobs per second"),
        ));
        b.push_str(&svg::bars(
            "makespan",
            "Makespan",
            "s",
            &bars(&|r| r.makespan_s, "first dispatch to last completion"),
        ));
        b.push_str(&svg::bars(
            "turnaround",
            "p99 turnaround",
            "ms",
            &bars(&|r| r.turnaround_p99_ms, "dispatch to completion observed"),
        ));
        if self.runs.iter().any(|r| r.cost_per_1000.is_some()) {
            b.push_str(&svg::bars(
                "cost",
                "Estimated cost per 1,000 jobs",
                "$",
                &bars(&|r| r.cost_per_1000.unwrap_or(0.0), "USD per 1,000 jobs"),
            ));
        }
        b.push_str("</div>");
        page("dagbench comparison", &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_with_both_values() {
        let a = json!({"final_arr_delay": {"p50": 3, "p99": 221}, "samples": 10});
        let b = json!({"final_arr_delay": {"p50": 3, "p99": 222}, "samples": 10});
        assert_eq!(
            first_difference(&a, &b, ""),
            Some(("final_arr_delay.p99".into(), "221".into(), "222".into()))
        );
        assert_eq!(first_difference(&a, &a, ""), None);
        let c = json!({"h": [1, 2, 3]});
        let d = json!({"h": [1, 2]});
        assert_eq!(
            first_difference(&c, &d, ""),
            Some(("h length".into(), "3".into(), "2".into()))
        );
    }
}
