//! `dagbench simulate`: a sweep over scenarios and sizes gives the table,
//! the JSON and the page (rendered in headless Chromium); a finished run's
//! profile predicts runs of other sizes; `compare --predict` puts the
//! prediction beside the measurement; `bench simulate` checks itself
//! against real runs.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Scratch, chromium, dagbench, text};
use serde_json::Value;

#[test]
fn a_sweep_gives_the_table_the_json_and_the_page() {
    let dir = Scratch::new("simulate-sweep");
    let page = dir.path("sim.html");
    let args = [
        "simulate",
        "--messages",
        "300",
        "--shape",
        "layered",
        "--work-ms",
        "10",
        "--sweep-workers",
        "2,4,8,16",
    ];
    let out = dagbench(&[&args[..], &["--json", "--html", &page]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["jobs"], 300);
    assert!(s["wall_ms"].as_f64().unwrap() > 0.0);
    let predictions = s["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 16, "4 scenarios × 4 sizes");
    for p in predictions {
        for field in [
            "makespan_ms",
            "throughput_per_s",
            "efficiency",
            "lower_bound_ms",
        ] {
            assert!(p[field].as_f64().unwrap() > 0.0, "{field} of {p}");
        }
        assert!(p["efficiency"].as_f64().unwrap() <= 1.0, "{p}");
        assert!(
            p["stages"]["processing"]["p99"].as_f64().unwrap() >= 10.0,
            "{p}"
        );
        match p["scenario"].as_str().unwrap() {
            "local" => assert!(p["cost_usd"].is_null(), "{p}"),
            _ => assert!(p["cost_usd"].as_f64().unwrap() > 0.0, "{p}"),
        }
    }
    assert_eq!(
        predictions
            .iter()
            .filter(|p| p["scenario"] == "scenario-3")
            .map(|p| p["plan"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["levels"; 4]
    );

    // The table marks the fastest and the cheapest.
    let out = dagbench(&args);
    let table = text(&out.stdout);
    assert_eq!(table.matches("fastest").count(), 1, "{table}");
    assert_eq!(table.matches("cheapest").count(), 1, "{table}");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("scenario-")).count(),
        12
    );

    // The page: self-contained, its chart and table drawn, no errors.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("<script src"));
    let Some(browser) = chromium() else { return };
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!(
            "file://{}",
            Path::new(&page).canonicalize().unwrap().display()
        ))
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    assert!(dom.contains("data-ready=\"1\""), "{}", text(&out.stderr));
    assert!(!dom.contains("data-errors"), "{dom}");
    assert!(dom.contains("data-chart=\"pareto\""));
    assert!(dom.contains("data-charts=\"1\""));
    // One point per priced prediction, and the front's line.
    let chart = dom.split("data-chart=\"pareto\"").nth(1).unwrap();
    let chart = chart.split("</figure>").next().unwrap();
    assert_eq!(chart.matches("<circle").count(), 12);
    assert!(chart.contains("Pareto front"));
    let rows = dom.split("data-table=\"predictions\"").nth(1).unwrap();
    assert_eq!(
        rows.split("</table>")
            .next()
            .unwrap()
            .matches("<tr>")
            .count(),
        1 + 16
    );
}

#[test]
fn a_run_profiles_predictions_and_compare_puts_them_beside_it() {
    let dir = Scratch::new("simulate-profile");
    let results = dir.path("results");
    let out = dagbench(&[
        "run",
        "--messages",
        "120",
        "--shape",
        "chains",
        "--work-ms",
        "10",
        "--workers",
        "4",
        "--run-id",
        "base",
        "--results",
        &results,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = dagbench(&[
        "simulate",
        "--run",
        "base",
        "--profile",
        "base",
        "--results",
        &results,
        "--scenario",
        "local,3",
        "--sweep-workers",
        "4,12",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        s["profiles"]["local"]
            .as_str()
            .unwrap()
            .starts_with("run base (local, 4 workers"),
        "{s}"
    );
    assert!(
        s["profiles"]["scenario-3"]
            .as_str()
            .unwrap()
            .contains("processing from run base"),
        "{s}"
    );
    let p = s["predictions"].as_array().unwrap();
    // 12 chains of 10 need 12 workers to all run at once.
    assert!(p[1]["makespan_ms"].as_f64().unwrap() < p[0]["makespan_ms"].as_f64().unwrap());
    assert_eq!(p[2]["plan"], "chains");

    let out = dagbench(&[
        "compare",
        "base",
        "base",
        "--results",
        &results,
        "--predict",
        "--profile",
        "base",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let row = shown
        .lines()
        .find(|l| l.starts_with("predicted makespan s"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(row.matches('%').count(), 2, "{row}");

    // Mistakes: named.
    let out = dagbench(&["simulate", "--profile", "nowhere", "--results", &results]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nowhere"),
        "{}",
        text(&out.stderr)
    );
    let out = dagbench(&["simulate", "--scenario", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown scenario `5`"),
        "{}",
        text(&out.stderr)
    );
    let out = dagbench(&["simulate", "--graph", "a.json", "--run", "base"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_simulate_checks_predictions_against_real_runs() {
    let out = dagbench(&["bench", "simulate", "--quick", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = b["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 11, "2 shapes × 4 sizes, aircraft × 3");
    for c in checks {
        assert!(c["measured_ms"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["predicted_ms"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["error"].as_f64().unwrap().is_finite(), "{c}");
    }
    assert_eq!(checks.iter().filter(|c| c["profile"] == true).count(), 3);
    for field in ["per_sec", "baseline_per_sec", "ratio", "max_abs_error"] {
        assert!(b[field].as_f64().unwrap().is_finite(), "{field}: {b}");
    }
}
