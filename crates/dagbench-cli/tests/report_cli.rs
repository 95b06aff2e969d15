//! `dagbench report` and `dagbench compare` as a user runs them: the page
//! rendered by a real browser (headless Chromium) without errors and with
//! its charts, cost estimates, the results check and CI thresholds.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Scratch, chromium, dagbench, text};
use serde_json::Value;

/// A small aircraft run under `results`, with run id `id` and `seed`.
fn aircraft_run(results: &str, id: &str, seed: &str) {
    let out = dagbench(&[
        "run",
        "--sequences",
        "8",
        "--samples",
        "64",
        "--seed",
        seed,
        "--run-id",
        id,
        "--results",
        results,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["estimates"].as_array().unwrap().len(),
        3,
        "{summary}"
    );
    assert!(Path::new(summary["html"].as_str().unwrap()).exists());
}

/// The page's DOM after its scripts ran, and the browser's log.
fn render(browser: &str, page: &Path) -> (String, String) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_report_page_loads_in_a_browser_with_every_chart_and_no_errors() {
    let dir = Scratch::new("report-page");
    let results = dir.path("results");
    aircraft_run(&results, "r1", "5");
    let out = dagbench(&["report", "r1", "--results", &results, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let html_path = shown["html"].as_str().unwrap().to_owned();
    let html = std::fs::read_to_string(&html_path).unwrap();
    // Self-contained: nothing fetched.
    for external in [
        "<script src",
        "<link",
        "url(",
        "http://",
        "https://",
        "<img",
    ] {
        assert!(
            !html.contains(external),
            "the page must not load {external}"
        );
    }
    let Some(browser) = chromium() else { return };
    let (dom, log) = render(&browser, Path::new(&html_path));
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran to the end"
    );
    assert!(!dom.contains("data-errors"), "script errors: {dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    for chart in [
        "throughput",
        "completed",
        "in-flight",
        "efficiency",
        "stage-reaction",
        "stage-queue-wait",
        "stage-processing",
        "stage-notification",
        "critical-path",
        "final-arrival-delay",
    ] {
        assert!(
            dom.contains(&format!("data-chart=\"{chart}\"")),
            "chart {chart} is missing"
        );
    }
    assert!(
        dom.contains("data-charts=\"10\""),
        "ten charts drawn as SVG"
    );
    for figure in [
        "on-time performance",
        "curfew breaches",
        "reactionary share",
        "Makespan against the lower bound",
    ] {
        assert!(dom.contains(figure), "{figure} is missing");
    }
    for table in ["merged", "aircraft", "cost"] {
        assert!(
            dom.contains(&format!("data-table=\"{table}\"")),
            "table {table}"
        );
    }
    // The per-aircraft table lists all eight aircraft.
    let aircraft = dom.split("data-table=\"aircraft\"").nth(1).unwrap();
    let aircraft = aircraft.split("</table>").next().unwrap();
    assert_eq!(aircraft.matches("<tr>").count(), 1 + 8);
}

#[test]
fn the_report_summarizes_and_prices_a_run() {
    let dir = Scratch::new("report-cost");
    let results = dir.path("results");
    aircraft_run(&results, "r1", "5");
    let out = dagbench(&["report", &format!("{results}/r1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("run r1 completed"), "{shown}");
    assert!(
        shown.contains("estimated cost scenario-1 Lambda 256 MB x86_64"),
        "{shown}"
    );
    assert!(
        shown.contains("estimated cost scenario-2 Fargate 1 × 256 CPU / 512 MiB"),
        "{shown}"
    );
    assert!(
        shown.contains("estimated cost scenario-3 Step Functions, jobs through sqs"),
        "{shown}"
    );
    assert!(shown.contains("prices aws-2026-11 (2026-11-01)"), "{shown}");

    // A cloud run is priced on its own deployment, in its own region.
    std::fs::write(
        format!("{results}/r1/deployment.json"),
        r#"{"region":"eu-west-1","setup":{"scenario":"scenario-2","cpu":1024,"memory_mb":2048,"arch":"arm64","tasks":3,"concurrency":4,"batch_size":10}}"#,
    )
    .unwrap();
    let out = dagbench(&["report", "r1", "--results", &results, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let estimates = shown["estimates"].as_array().unwrap();
    assert_eq!(estimates.len(), 1);
    assert_eq!(estimates[0]["region"], "eu-west-1");
    assert_eq!(estimates[0]["setup"]["tasks"], 3);

    // A price table of one's own; bad tables and unknown regions are named.
    let mine = dir.file(
        "prices.json",
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../dagbench-report/prices/aws-2026-11.json"),
        )
        .unwrap()
        .replace("\"aws-2026-11\"", "\"team-prices\""),
    );
    let out = dagbench(&["report", "r1", "--results", &results, "--prices", &mine]);
    assert!(
        text(&out.stdout).contains("team-prices"),
        "{}",
        text(&out.stdout)
    );
    let bad = dir.file("bad.json", "{\"name\": 3}");
    let out = dagbench(&["report", "r1", "--results", &results, "--prices", &bad]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("bad.json: not a dagbench price table"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(format!("{results}/r1/deployment.json")).unwrap();
    let out = dagbench(&[
        "report",
        "r1",
        "--results",
        &results,
        "--region",
        "ap-south-2",
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("no prices for region ap-south-2") && err.contains("eu-west-1, us-east-1"),
        "{err}"
    );

    let out = dagbench(&["report", "nope", "--results", &results]);
    let err = text(&out.stderr);
    assert!(
        err.contains("there is no run") && err.contains("runs there: r1"),
        "{err}"
    );
}

#[test]
fn compare_checks_results_and_thresholds() {
    let dir = Scratch::new("compare");
    let results = dir.path("results");
    aircraft_run(&results, "a", "5");
    aircraft_run(&results, "b", "5");
    aircraft_run(&results, "c", "6");

    let page = dir.path("cmp.html");
    let out = dagbench(&["compare", "a", "b", "--results", &results, "--html", &page]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("results check: identical merged percentiles"),
        "{shown}"
    );
    for row in [
        "throughput jobs/s",
        "p99 turnaround ms",
        "processing p50/p99 ms",
        "estimated cost $",
        "cost per 1,000 jobs $",
    ] {
        assert!(shown.contains(row), "{row}: {shown}");
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-results=\"identical\""));
    if let Some(browser) = chromium() {
        let (dom, log) = render(&browser, Path::new(&page));
        assert!(
            dom.contains("data-ready=\"1\"") && !dom.contains("data-errors"),
            "{dom}"
        );
        assert!(!log.contains(":CONSOLE"), "{log}");
        for chart in ["throughput", "makespan", "turnaround", "cost"] {
            assert!(
                dom.contains(&format!("data-chart=\"{chart}\"")),
                "chart {chart}"
            );
        }
    }

    // Another seed computes other numbers: exit 1, naming the first one.
    let out = dagbench(&["compare", "a", "c", "--results", &results, "--json"]);
    assert!(!out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["results"]["outcome"], "different");
    assert!(
        text(&out.stderr).contains("different results: first difference at"),
        "{}",
        text(&out.stderr)
    );

    // Thresholds for CI: each one missed fails the comparison, naming it.
    for (flag, value, message) in [
        ("--min-throughput", "1e12", "below --min-throughput"),
        ("--max-p99-ms", "0.0001", "above --max-p99-ms"),
        ("--max-cost", "0.0000001", "above --max-cost"),
    ] {
        let out = dagbench(&["compare", "a", "b", "--results", &results, flag, value]);
        assert!(!out.status.success(), "{flag} {value}");
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
    let out = dagbench(&[
        "compare",
        "a",
        "b",
        "--results",
        &results,
        "--max-cost",
        "100",
        "--min-throughput",
        "0.001",
        "--max-p99-ms",
        "1e9",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = dagbench(&["compare", "a", "--results", &results]);
    assert!(!out.status.success(), "two runs at least");
}

/// `(chart, tag, x, y, (plot width, plot top, plot bottom))`.
type Mark = (String, String, f64, f64, (f64, f64, f64));

/// Every data mark of every chart of a page (bars, dots, lines, areas,
/// markers) as `(chart, what, x, y)`, in its chart's coordinates, with the
/// chart's plot box `(width, top, bottom)`.
fn marks(page: &str) -> Vec<Mark> {
    let number = |tag: &str, name: &str| -> Option<f64> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[at..].split('"').next()?.parse().ok()
    };
    let mut out = Vec::new();
    for figure in page.split("<figure class=\"chart\" data-chart=\"").skip(1) {
        let chart = figure.split('"').next().unwrap().to_owned();
        let svg = &figure[figure.find("<svg").unwrap()..figure.find("</svg>").unwrap()];
        let view: Vec<f64> = svg
            .split("viewBox=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        // The plot box: 16 px above it, 40 below (svg.rs's margins).
        let plot = (view[2], 16.0, view[3] - 40.0);
        for tag in svg.split('<').skip(1) {
            let kind = tag.split([' ', '>']).next().unwrap();
            match kind {
                "rect" => {
                    let (x, y) = (number(tag, "x").unwrap(), number(tag, "y").unwrap());
                    let (w, h) = (
                        number(tag, "width").unwrap(),
                        number(tag, "height").unwrap(),
                    );
                    out.push((chart.clone(), tag.to_owned(), x, y, plot));
                    out.push((chart.clone(), tag.to_owned(), x + w, y + h, plot));
                }
                "circle" => out.push((
                    chart.clone(),
                    tag.to_owned(),
                    number(tag, "cx").unwrap(),
                    number(tag, "cy").unwrap(),
                    plot,
                )),
                "line" if tag.contains("class=\"marker\"") => {
                    for (x, y) in [("x1", "y1"), ("x2", "y2")] {
                        let p = (number(tag, x).unwrap(), number(tag, y).unwrap());
                        out.push((chart.clone(), tag.to_owned(), p.0, p.1, plot));
                    }
                }
                "polyline" | "polygon" => {
                    let points = tag
                        .split("points=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap();
                    for p in points.split(' ').filter(|p| !p.is_empty()) {
                        let (x, y) = p.split_once(',').unwrap();
                        out.push((
                            chart.clone(),
                            tag.to_owned(),
                            x.parse().unwrap(),
                            y.parse().unwrap(),
                            plot,
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The charts hold their data — no bar, line or dot drawn above the top
/// of its axis or outside its chart — for a synthetic run, an aircraft
/// run, a failed run and a resumed run.
#[test]
fn every_chart_holds_its_data_for_every_kind_of_run() {
    let dir = Scratch::new("charts");
    let results = dir.s();
    let run = |args: &[&str]| {
        let out = dagbench(&[args, &["--results", &results]].concat());
        text(&out.stderr)
    };
    run(&[
        "run",
        "--run-id",
        "synthetic",
        "--messages",
        "600",
        "--shape",
        "layered",
        "--work-ms",
        "3",
        "--workers",
        "16",
    ]);
    aircraft_run(&results, "aircraft", "3");
    let failing = dir.file(
        "failing.json",
        r#"{"jobs": [{"job_id": "a", "work_duration_ms": 5}, {"job_id": "b", "depends_on": ["a"], "input_key": "nowhere/b.json"}, {"job_id": "c", "depends_on": ["b"]}, {"job_id": "d", "work_duration_ms": 20}]}"#,
    );
    let stderr = run(&["run", "--run-id", "failed", "--graph", &failing]);
    assert!(
        stderr.contains("finished with 1 failed and 1 blocked"),
        "{stderr}"
    );
    // A run resumed after its first session ended without a report: the
    // second session restores every job and processes none.
    run(&[
        "run",
        "--run-id",
        "resumed",
        "--messages",
        "200",
        "--shape",
        "chains",
    ]);
    std::fs::remove_file(dir.root().join("resumed/report.json")).unwrap();
    let stderr = run(&["run", "--resume", "resumed"]);
    assert!(stderr.contains("resuming run resumed"), "{stderr}");

    for id in ["synthetic", "aircraft", "failed", "resumed"] {
        let page = std::fs::read_to_string(dir.root().join(id).join("report.html")).unwrap();
        let marks = marks(&page);
        assert!(marks.len() > 20, "{id}: only {} marks", marks.len());
        for chart in [
            "throughput",
            "completed",
            "in-flight",
            "efficiency",
            "stage-processing",
        ] {
            if id != "resumed" || chart.starts_with("stage") || chart == "efficiency" {
                assert!(
                    marks.iter().any(|m| m.0 == chart),
                    "{id}: no marks in chart {chart}"
                );
            }
        }
        for (chart, tag, x, y, (width, top, bottom)) in &marks {
            // Horizontal bar charts have their own layout (no axes).
            let (top, bottom) = if chart == "efficiency" {
                (0.0, bottom + 40.0)
            } else {
                (*top, *bottom)
            };
            assert!(
                (-0.05..=width + 0.05).contains(x) && (top - 0.05..=bottom + 0.05).contains(y),
                "{id}: chart {chart} draws outside its plot ({x}, {y}) not in 0..{width} × {top}..{bottom}: <{tag}"
            );
        }
    }
}
