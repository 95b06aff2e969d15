//! `report.html`: one self-contained page per run (inline CSS, SVG and a
//! few lines of script; nothing fetched from the network).

use std::collections::HashMap;
use std::fmt::Write as _;

use dagbench_flight::stats::{MergedPercentiles, MetricStats};
use dagbench_runtime::report::{JobTimeline, RunReport, StageStats};

use crate::cost::Estimate;
use crate::run::{RunFiles, thousands};
use crate::svg::{self, Series, Span, esc};

/// Rows of the critical-path strip at most.
const GANTT_ROWS: usize = 40;
/// Rows of the per-aircraft table at most.
const AIRCRAFT_ROWS: usize = 2000;

pub(crate) const STYLE: &str = r#"
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #fafafa; }
body { max-width: 1400px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } h2 { font-size: 1.15rem; margin: 32px 0 12px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin: 0 0 16px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.kpi { background: #fff; border: 1px solid #e3e3e3; border-radius: 8px; padding: 10px 14px; }
.kpi b { display: block; font-size: 1.35rem; overflow-wrap: anywhere; } .kpi span { color: #666; font-size: .85rem; }
.kpi.bad b { color: #b00020; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
figure.chart { background: #fff; border: 1px solid #e3e3e3; border-radius: 8px; margin: 0; padding: 8px 12px; }
figcaption { font-weight: 600; font-size: .95rem; margin-bottom: 4px; }
svg { width: 100%; height: auto; display: block; }
.grid { stroke: #eee; } .axis { stroke: #999; } .tick { font-size: 11px; fill: #555; } .label { font-size: 12px; fill: #333; }
.line { fill: none; stroke-width: 2; } .area { opacity: .15; } .dot { opacity: 0; } .dot:hover { opacity: 1; }
.bar:hover { opacity: .75; } .wait { fill: #c8c8c8; }
.marker { stroke-dasharray: 4 3; stroke-width: 1.5; } .marker-label { font-weight: 600; }
.legend { font-size: .8rem; color: #444; display: flex; gap: 14px; flex-wrap: wrap; margin-top: 4px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
table { border-collapse: collapse; background: #fff; font-size: .85rem; margin: 8px 0; }
th, td { border: 1px solid #e3e3e3; padding: 4px 8px; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
table.sortable th { cursor: pointer; } table.sortable th:hover { background: #e8e8e8; }
.scroll { max-height: 420px; overflow: auto; display: inline-block; }
.note { color: #666; font-size: .85rem; } .bad { color: #b00020; }
details pre { background: #fff; border: 1px solid #e3e3e3; padding: 8px; overflow: auto; }
"#;

pub(crate) const SCRIPT: &str = r#"
(function () {
  var root = document.documentElement;
  window.addEventListener('error', function (e) {
    root.dataset.errors = (root.dataset.errors || '') + e.message + ';';
  });
  function key(cell) {
    var t = cell.textContent.trim().replace(/,/g, '').replace(/[%$]/g, '');
    var n = parseFloat(t);
    return isNaN(n) ? t : n;
  }
  function sortBy(table, col) {
    var body = table.tBodies[0];
    var asc = table.dataset.col === String(col) ? table.dataset.dir !== 'asc' : false;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.dataset.col = String(col);
    table.dataset.dir = asc ? 'asc' : 'desc';
  }
  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
        th.title = 'sort';
        th.addEventListener('click', function () { sortBy(table, i); });
      });
    });
    root.dataset.charts = String(document.querySelectorAll('figure.chart svg').length);
    root.dataset.ready = '1';
  });
})();
"#;

/// The page shell around `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n",
        esc(title)
    )
}

fn kpi(out: &mut String, value: &str, label: &str, bad: bool) {
    let _ = write!(
        out,
        r#"<div class="kpi{}"><b>{}</b><span>{}</span></div>"#,
        if bad { " bad" } else { "" },
        esc(value),
        esc(label)
    );
}

/// The report page of `run`, with `estimates` in its cost section.
#[must_use]
pub fn render(run: &RunFiles, estimates: &[Estimate]) -> String {
    let r = &run.report;
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h1>dagbench run {}</h1><p class="sub">{} · {} · test run {} · {} workers · {} jobs, {} edges</p>"#,
        esc(r.run_id.as_str()),
        esc(r.scenario.as_str()),
        esc(r.status.as_str()),
        esc(&r.test_run_id),
        r.workers,
        thousands(r.graph.jobs),
        thousands(r.graph.edges),
    );
    b.push_str(r#"<section class="kpis">"#);
    kpi(
        &mut b,
        &thousands(r.counts.completed),
        "jobs completed",
        false,
    );
    kpi(
        &mut b,
        &format!("{:.2} s", r.makespan_ms / 1e3),
        "makespan",
        false,
    );
    kpi(
        &mut b,
        &format!("{:.0}/s", r.throughput_jobs_per_s),
        "throughput",
        false,
    );
    kpi(
        &mut b,
        &r.efficiency.map_or("n/a".into(), |e| format!("{e:.3}")),
        "efficiency (lower bound / makespan)",
        false,
    );
    kpi(
        &mut b,
        &format!("{} / {}", r.counts.failed, r.counts.blocked),
        "failed / blocked",
        r.counts.failed + r.counts.blocked > 0,
    );
    if let Some(e) = estimates.first() {
        kpi(
            &mut b,
            &usd(e.total),
            &format!("estimated cost, {}", e.setup.describe()),
            false,
        );
    }
    b.push_str("</section>");
    if let Some(o) = &r.orchestration {
        let _ = write!(
            b,
            r#"<p class="note">Step Functions ran this session as the <b>{}</b> plan: {} chains, {} levels (each level waits for the whole previous one), {} state transitions, {} child executions; execution {}.</p>"#,
            esc(&o.plan),
            thousands(o.chains),
            thousands(o.levels),
            thousands(o.state_transitions),
            thousands(o.child_executions),
            esc(&o.execution_arn),
        );
    }

    b.push_str(r#"<h2>Progress</h2><div class="charts">"#);
    let over = &r.over_time;
    b.push_str(&svg::line_chart(
        "throughput",
        "Throughput over time",
        "seconds since the run started",
        "jobs/s",
        &[Series {
            name: "completions per second (moving average)".into(),
            points: smooth(
                &over
                    .iter()
                    .map(|p| (p.t_s, p.jobs_per_s))
                    .collect::<Vec<_>>(),
            ),
            area: true,
        }],
    ));
    b.push_str(&svg::line_chart(
        "completed",
        "Completed jobs over time",
        "seconds since the run started",
        "jobs",
        &[Series {
            name: "completed".into(),
            points: over.iter().map(|p| (p.t_s, p.completed as f64)).collect(),
            area: false,
        }],
    ));
    b.push_str(&svg::line_chart(
        "in-flight",
        "Jobs in flight over time",
        "seconds since the run started",
        "jobs",
        &[Series {
            name: "dispatched, not yet observed".into(),
            points: over.iter().map(|p| (p.t_s, p.in_flight as f64)).collect(),
            area: true,
        }],
    ));
    let basis = match r.lower_bound_basis {
        Some(dagbench_runtime::report::LowerBoundBasis::MeasuredProcessing) => {
            "max(critical path, total / workers) of the measured processing times"
        }
        _ => "max(critical path work, total work / workers)",
    };
    let mut rows = vec![
        (
            "makespan".into(),
            r.makespan_ms / 1e3,
            "first dispatch to last completion observed".into(),
        ),
        ("lower bound".into(), r.lower_bound_ms / 1e3, basis.into()),
    ];
    // Only a graph with simulated work has a critical path of work.
    if r.graph.critical_path_work_ms > 0 {
        rows.push((
            "critical path work".into(),
            r.graph.critical_path_work_ms as f64 / 1e3,
            "largest sum of work along a dependency chain".into(),
        ));
    }
    b.push_str(&svg::bars(
        "efficiency",
        "Makespan against the lower bound",
        "s",
        &rows,
    ));
    b.push_str("</div>");

    stages_section(&mut b, r);
    critical_path_section(&mut b, r);
    domain_section(&mut b, run);
    cost_section(
        &mut b,
        estimates,
        r.scenario == dagbench_core::Scenario::Local,
    );

    if !r.failed.is_empty() {
        b.push_str(r#"<h2>Failed jobs</h2><table><thead><tr><th>job</th><th>reason</th></tr></thead><tbody>"#);
        for f in r.failed.iter().take(200) {
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td style="text-align:left">{}</td></tr>"#,
                esc(&f.job_id),
                esc(&f.reason)
            );
        }
        b.push_str("</tbody></table>");
    }
    if let Some(m) = &run.manifest {
        let _ = write!(
            b,
            "<h2>Configuration</h2><details><summary>manifest.json</summary><pre>{}</pre></details>",
            esc(&serde_json::to_string_pretty(m).unwrap_or_default())
        );
    }
    if let Some(d) = &run.deployment {
        let _ = write!(
            b,
            "<details><summary>deployment.json</summary><pre>{}</pre></details>",
            esc(&serde_json::to_string_pretty(d).unwrap_or_default())
        );
    }
    page(&format!("dagbench run {}", r.run_id), &b)
}

/// A dollar amount with at least four significant digits: $12.3456,
/// $0.007255.
fn usd(v: f64) -> String {
    if v.abs() >= 1.0 {
        format!("${v:.4}")
    } else {
        format!("${}", svg::significant(v, 4))
    }
}

/// A billed quantity: whole counts with thousands separators (368, 20,000),
/// fractions with four significant digits (0.0667 vCPU-hours).
fn quantity(q: f64) -> String {
    if q.fract() == 0.0 && q.abs() < 1e15 {
        thousands(q as u64)
    } else if q.abs() >= 1.0 {
        format!("{q:.2}")
    } else {
        svg::significant(q, 4)
    }
}

/// A centred moving average over about a twentieth of the points: short
/// intervals make raw completion rates jump between 0 and peaks.
fn smooth(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let half = points.len() / 40;
    if half == 0 {
        return points.to_vec();
    }
    (0..points.len())
        .map(|i| {
            let window = &points[i.saturating_sub(half)..(i + half + 1).min(points.len())];
            let mean = window.iter().map(|p| p.1).sum::<f64>() / window.len() as f64;
            (points[i].0, mean)
        })
        .collect()
}

fn stage_values(jobs: &[JobTimeline]) -> [Vec<f64>; 4] {
    let mut out: [Vec<f64>; 4] = Default::default();
    let diff = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64),
        _ => None,
    };
    for j in jobs {
        out[0].extend(diff(j.ready, j.dispatched));
        out[1].extend(diff(j.dispatched, j.started));
        out[2].extend(j.processing_ms);
        out[3].extend(diff(j.completed, j.observed));
    }
    out
}

/// Equal-width bins from 0 to about the 99.5th percentile; larger values
/// fall in the last bin.
fn bins(values: &[f64], top: f64, count: usize) -> Vec<(f64, f64, u64)> {
    let top = if top > 0.0 { top } else { 1.0 };
    let width = top / count as f64;
    let mut counts = vec![0u64; count];
    for &v in values {
        let i = ((v / width) as usize).min(count - 1);
        counts[i] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (i as f64 * width, (i + 1) as f64 * width, c))
        .collect()
}

fn stages_section(b: &mut String, r: &RunReport) {
    b.push_str("<h2>Latency by stage</h2>");
    let s = &r.stages;
    let named: [(&str, &str, &StageStats); 4] = [
        (
            "reaction",
            "Scheduler reaction (ready → dispatched)",
            &s.scheduler_reaction,
        ),
        (
            "queue-wait",
            "Queue wait (dispatched → started)",
            &s.queue_wait,
        ),
        (
            "processing",
            "Processing (started → completed)",
            &s.processing,
        ),
        (
            "notification",
            "Notification (completed → observed)",
            &s.notification,
        ),
    ];
    b.push_str("<table><thead><tr><th>stage</th><th>count</th><th>mean ms</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>");
    for (_, title, st) in &named {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            esc(title),
            thousands(st.count),
            st.mean,
            st.p50,
            st.p90,
            st.p99,
            st.max
        );
    }
    b.push_str("</tbody></table><div class=\"charts\">");
    match &r.jobs {
        Some(jobs) if !jobs.is_empty() => {
            let values = stage_values(jobs);
            for ((id, title, st), v) in named.iter().zip(values.iter()) {
                let top = (st.p99 * 1.25).max(st.p50 * 2.0).max(1.0);
                b.push_str(&svg::histogram(
                    &format!("stage-{id}"),
                    title,
                    "milliseconds (last bin: beyond)",
                    &bins(v, top, 40),
                    &[
                        (st.p50, format!("p50 {:.1}", st.p50)),
                        (st.p90, format!("p90 {:.1}", st.p90)),
                        (st.p99.min(top), format!("p99 {:.1}", st.p99)),
                    ],
                ));
            }
        }
        _ => {
            for (id, title, st) in &named {
                b.push_str(&svg::bars(
                    &format!("stage-{id}"),
                    title,
                    "ms",
                    &[
                        ("p50".into(), st.p50, "median".into()),
                        ("p90".into(), st.p90, "90th percentile".into()),
                        ("p99".into(), st.p99, "99th percentile".into()),
                    ],
                ));
            }
        }
    }
    b.push_str("</div>");
}

fn critical_path_section(b: &mut String, r: &RunReport) {
    let Some(jobs) = &r.jobs else {
        return;
    };
    if r.critical_path.is_empty() {
        return;
    }
    let by_id: HashMap<&str, &JobTimeline> = jobs.iter().map(|j| (j.job_id.as_str(), j)).collect();
    let spans: Vec<Span> = r
        .critical_path
        .iter()
        .take(GANTT_ROWS)
        .filter_map(|id| {
            let j = by_id.get(id.as_str())?;
            let start = j.started.or(j.dispatched)? as f64;
            Some(Span {
                label: id.clone(),
                queued: j.dispatched.map_or(start, |d| d as f64),
                start,
                end: j.completed.or(j.observed)? as f64,
            })
        })
        .collect();
    b.push_str("<h2>Critical path</h2><div class=\"charts\">");
    b.push_str(&svg::gantt(
        "critical-path",
        &format!(
            "The longest dependency chain ({} jobs{})",
            r.critical_path.len(),
            if r.critical_path.len() > GANTT_ROWS {
                format!(", first {GANTT_ROWS} shown")
            } else {
                String::new()
            }
        ),
        &spans,
    ));
    b.push_str("</div>");
}

fn metric_row(b: &mut String, name: &str, m: &MetricStats) {
    let show = |v: Option<i32>| v.map_or("-".to_owned(), |v| v.to_string());
    let _ = write!(
        b,
        "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2} %</td></tr>",
        esc(name),
        thousands(m.count),
        m.mean,
        show(m.p50),
        show(m.p75),
        show(m.p90),
        show(m.p95),
        show(m.p99),
        show(m.p99_5),
        show(m.p99_9),
        m.otp * 100.0
    );
}

fn domain_section(b: &mut String, run: &RunFiles) {
    let Some(d) = &run.report.domain else {
        return;
    };
    b.push_str("<h2>Results: aircraft delays</h2><section class=\"kpis\">");
    kpi(
        b,
        &format!("{:.1} %", d.final_arr_delay.otp * 100.0),
        "on-time performance (final arrival < 15 min)",
        false,
    );
    kpi(
        b,
        &format!("{:.2} %", d.curfew_share * 100.0),
        "curfew breaches (samples)",
        false,
    );
    kpi(
        b,
        &format!("{:.1} %", d.reactionary_share * 100.0),
        "reactionary share of delay",
        false,
    );
    kpi(
        b,
        &format!("{:.1} min", d.final_arr_delay.mean),
        "mean final arrival delay",
        false,
    );
    kpi(b, &thousands(d.sequences), "aircraft", false);
    kpi(
        b,
        &thousands(d.samples_per_sequence),
        &format!(
            "Monte Carlo samples each ({} in all)",
            thousands(d.sample_count)
        ),
        false,
    );
    b.push_str("</section>");
    let Some(m) = &run.merged else {
        b.push_str("<p class=\"note\">The merged percentiles file is not in this run directory; the histogram and per-aircraft tables are in the run's results.</p>");
        return;
    };
    merged_tables(b, m);
}

fn merged_tables(b: &mut String, m: &MergedPercentiles) {
    b.push_str("<table data-table=\"merged\"><thead><tr><th>metric (minutes)</th><th>values</th><th>mean</th><th>p50</th><th>p75</th><th>p90</th><th>p95</th><th>p99</th><th>p99.5</th><th>p99.9</th><th>&lt; 15 min</th></tr></thead><tbody>");
    for (name, stats) in [
        ("arrival delay (per leg)", &m.arr_delay),
        ("departure delay (per leg)", &m.dep_delay),
        ("final arrival delay", &m.final_arr_delay),
        ("primary delay", &m.primary_delay),
        ("propagated delay", &m.propagated_delay),
    ] {
        metric_row(b, name, stats);
    }
    b.push_str("</tbody></table><div class=\"charts\">");
    let f = &m.final_arr_delay;
    let h = &f.hist;
    if let (Some(&lo), Some(p999)) = (h.values.first(), f.p99_9) {
        let lo = f64::from(lo.min(0));
        let hi = f64::from(p999.max(1)) + 1.0;
        let n = 60usize;
        let width = ((hi - lo) / n as f64).ceil().max(1.0);
        let mut counts = vec![0u64; n];
        for (v, c) in h.values.iter().zip(&h.counts) {
            let i = (((f64::from(*v) - lo) / width).floor().max(0.0) as usize).min(n - 1);
            counts[i] += c;
        }
        let bins: Vec<(f64, f64, u64)> = counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (lo + i as f64 * width, lo + (i + 1) as f64 * width, c))
            .collect();
        let markers: Vec<(f64, String)> = [("p50", f.p50), ("p90", f.p90), ("p99", f.p99)]
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (f64::from(v), format!("{n} {v}"))))
            .collect();
        b.push_str(&svg::histogram(
            "final-arrival-delay",
            "Final arrival delay, all aircraft and samples",
            "minutes (last bin: beyond p99.9)",
            &bins,
            &markers,
        ));
    }
    b.push_str("</div>");
    let _ = write!(
        b,
        "<h2>Per aircraft</h2><p class=\"note\">Final arrival delay percentiles of each aircraft's day (minutes){}. Click a column to sort.</p><div class=\"scroll\"><table class=\"sortable\" data-table=\"aircraft\"><thead><tr><th>sequence</th><th>p50</th><th>p75</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th></tr></thead><tbody>",
        if m.sequences.len() > AIRCRAFT_ROWS {
            format!("; the first {AIRCRAFT_ROWS} of {}", m.sequences.len())
        } else {
            String::new()
        }
    );
    let show = |v: Option<i32>| v.map_or("-".to_owned(), |v| v.to_string());
    for (id, p) in m.sequences.iter().take(AIRCRAFT_ROWS) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&id.to_string()),
            show(p.p50),
            show(p.p75),
            show(p.p90),
            show(p.p95),
            show(p.p99),
            show(p.p99_9)
        );
    }
    b.push_str("</tbody></table></div>");
}

fn cost_section(b: &mut String, estimates: &[Estimate], local: bool) {
    if estimates.is_empty() {
        return;
    }
    b.push_str("<h2>Estimated cost</h2>");
    if local {
        b.push_str("<p class=\"note\">A local run: what the same measured work would cost on each AWS scenario.</p>");
    }
    for e in estimates {
        let _ = write!(
            b,
            "<table data-table=\"cost\"><caption style=\"text-align:left\"><b>{}</b> in {} — ${:.6} total, ${:.6} per 1,000 jobs (prices {}); between runs the stack costs ${:.4} per hour</caption><thead><tr><th>service</th><th style=\"text-align:left\">item</th><th>quantity</th><th style=\"text-align:left\">unit</th><th>unit price</th><th>cost</th></tr></thead><tbody>",
            esc(&e.setup.describe()),
            esc(&e.region),
            e.total,
            e.per_1000_jobs,
            esc(&e.prices),
            e.standing_per_hour
        );
        for l in &e.lines {
            let _ = write!(
                b,
                "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td style=\"text-align:left\">{}</td><td>${:.10}</td><td>{}</td></tr>",
                esc(&l.service),
                esc(&l.item),
                quantity(l.quantity),
                esc(&l.unit),
                l.unit_price,
                usd(l.cost)
            );
        }
        b.push_str("</tbody></table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_the_mean_and_the_points() {
        let raw: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i), if i % 2 == 0 { 0.0 } else { 10.0 }))
            .collect();
        let s = smooth(&raw);
        assert_eq!(s.len(), raw.len());
        assert!(s[50].1 > 3.0 && s[50].1 < 7.0, "{:?}", s[50]);
        assert_eq!(
            smooth(&raw[..10]),
            raw[..10].to_vec(),
            "short series stay raw"
        );
    }

    #[test]
    fn bins_put_outliers_in_the_last_bin() {
        let b = bins(&[0.5, 1.5, 1.6, 100.0], 4.0, 4);
        let counts: Vec<u64> = b.iter().map(|x| x.2).collect();
        assert_eq!(counts, [1, 2, 0, 1]);
        assert_eq!((b[3].0, b[3].1), (3.0, 4.0));
    }
}
