//! `dagbench report` and `dagbench compare` as a user runs them: the page
//! rendered by a real browser (headless Chromium) without errors and with
//! its charts, cost estimates, the results check and CI thresholds.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Scratch, dagbench, text};
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
        2,
        "{summary}"
    );
    assert!(Path::new(summary["html"].as_str().unwrap()).exists());
}

/// Headless Chromium: `DAGBENCH_CHROMIUM`, else the first of Chromium's and
/// Chrome's usual commands that runs — the lookup `make browser` does
/// before installing Debian's package. Its absence is a failure under CI
/// and a skip elsewhere.
fn chromium() -> Option<String> {
    let given = std::env::var("DAGBENCH_CHROMIUM")
        .ok()
        .filter(|s| !s.is_empty());
    let candidates = given.iter().map(String::as_str).chain([
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]);
    for candidate in candidates {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(candidate.to_owned());
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing: `make test` installs it"
    );
    eprintln!("skipped: no chromium (`make test` installs it)");
    None
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
        err.contains("not a run directory") && err.contains("r1"),
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
