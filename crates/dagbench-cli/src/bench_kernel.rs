//! `dagbench bench kernel`: the delay kernel's leg-samples per second on one
//! core, beside a numpy implementation of the same model (vectorized over
//! samples) run in the same bench; and delays-parquet writes per second
//! beside pyarrow's. The baseline must produce the same numbers (checked by
//! checksum), so the ratio compares equal work.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use dagbench_core::ids::{JobId, RunId};
use dagbench_flight::model::{compute_sequence, sequence_key};
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences, tables};
use dagbench_store::RunStore;
use serde::{Deserialize, Serialize};

use crate::bench::tempdir;
use crate::output::{rate, thousands};

/// The project's venv when there is one here (`make venv` puts numpy and
/// pyarrow in it), else `python3`.
fn default_python() -> String {
    let venv = std::path::Path::new(".venv/bin/python");
    if venv.exists() {
        venv.display().to_string()
    } else {
        "python3".into()
    }
}

#[derive(Debug, Args)]
pub(crate) struct KernelArgs {
    /// Aircraft daily sequences to compute.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    sequences: u32,
    /// Monte Carlo samples per leg.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=i64::from(dagbench_flight::aircraft::MAX_SAMPLES)))]
    samples: u32,
    /// Delays parquet files written for the write benchmark.
    #[arg(long = "parquet-files", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    parquet_files: u32,
    /// Seed of the sequences and of the run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Python interpreter with numpy and pyarrow; `none` skips the
    /// baselines [default: the project's .venv/bin/python, which `make
    /// venv` installs, when run from the project; else python3].
    #[arg(long, env = "DAGBENCH_PYTHON", default_value_t = default_python())]
    python: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct KernelReport {
    bench: &'static str,
    sequences: u32,
    legs: u64,
    samples: u32,
    leg_samples: u64,
    /// Our leg-samples per second, one core.
    per_sec: f64,
    baseline: &'static str,
    baseline_per_sec: Option<f64>,
    ratio: Option<f64>,
    /// Delays parquet files (one leg × `samples` rows) encoded and written per second.
    parquet_files_per_sec: f64,
    parquet_baseline_files_per_sec: Option<f64>,
    parquet_ratio: Option<f64>,
    parquet_bytes_per_file: f64,
    /// Time to generate 10,000 sequences (the generator's own figure).
    generate_10k_ms: f64,
}

/// What the Python baseline reports.
#[derive(Debug, Deserialize)]
struct Baseline {
    leg_samples: u64,
    seconds: f64,
    checksum: i64,
    parquet_files: u64,
    parquet_seconds: f64,
}

pub(crate) fn run(args: &KernelArgs) -> anyhow::Result<ExitCode> {
    // An interpreter chosen by the user must exist, checked before the
    // benchmark runs; the default one may be missing (its baseline is then
    // skipped, saying so).
    let chosen = args.python != "none" && args.python != default_python();
    if chosen && let Err(e) = Command::new(&args.python).arg("--version").output() {
        anyhow::bail!("--python {}: cannot run it: {e}", args.python);
    }
    let say = |msg: String| {
        if !args.json {
            errln!("{msg}");
        }
    };
    let airports = Airports::embedded();
    let started = Instant::now();
    let ten_thousand = generate_aircraft_daily_sequences(
        10_000,
        args.seed,
        &airports,
        &GeneratorOptions::default(),
    )?;
    let generate_10k_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(ten_thousand);
    let sequences = generate_aircraft_daily_sequences(
        args.sequences,
        args.seed,
        &airports,
        &GeneratorOptions::default(),
    )?;
    let legs: u64 = sequences.iter().map(|s| s.flights.len() as u64).sum();
    let leg_samples = legs * u64::from(args.samples);
    say(format!(
        "computing {} legs × {} samples ({} leg-samples) on one core…",
        thousands(legs),
        thousands(u64::from(args.samples)),
        thousands(leg_samples)
    ));
    let started = Instant::now();
    let mut checksum = 0i64;
    for seq in &sequences {
        let computed =
            compute_sequence(sequence_key(args.seed, seq.sequence_id), seq, args.samples)?;
        for leg in &computed {
            checksum += leg.arr_delay.iter().map(|&v| i64::from(v)).sum::<i64>();
        }
    }
    let per_sec = leg_samples as f64 / started.elapsed().as_secs_f64();

    // Parquet writes: the first legs, encoded and written to local disk.
    let dir = tempdir()?;
    let store = RunStore::local(&dir.path().join("ours"))?;
    let run_id = RunId::new("bench")?;
    let mut to_write = Vec::new();
    'outer: for seq in &sequences {
        for leg in compute_sequence(sequence_key(args.seed, seq.sequence_id), seq, args.samples)? {
            if to_write.len() as u32 >= args.parquet_files {
                break 'outer;
            }
            to_write.push((seq.sequence_id, leg));
        }
    }
    say(format!("writing {} delays parquet files…", to_write.len()));
    let runtime = crate::rt::current_thread()?;
    let started = Instant::now();
    runtime.block_on(async {
        for (id, leg) in &to_write {
            let job = JobId::new(format!("s{id}-l{}", leg.leg))?;
            store.put_delays(&run_id, &job, *id, leg).await?;
        }
        anyhow::Ok(())
    })?;
    let parquet_files_per_sec = to_write.len() as f64 / started.elapsed().as_secs_f64();
    let parquet_bytes: u64 = walk_size(&dir.path().join("ours"));
    let files_written = to_write.len();
    drop(to_write);

    let baseline = if args.python == "none" {
        None
    } else {
        say(format!(
            "running the numpy/pyarrow baseline ({})…",
            args.python
        ));
        numpy_baseline(args, &sequences, dir.path(), files_written)?
    };
    if let Some(b) = baseline
        .as_ref()
        .filter(|b| b.checksum != checksum || b.leg_samples != leg_samples)
    {
        bail!(
            "the numpy baseline computed different numbers (checksum {} vs {checksum}, {} vs {leg_samples} leg-samples)",
            b.checksum,
            b.leg_samples
        );
    }
    let baseline_per_sec = baseline.as_ref().map(|b| b.leg_samples as f64 / b.seconds);
    let parquet_baseline = baseline
        .as_ref()
        .map(|b| b.parquet_files as f64 / b.parquet_seconds);
    let report = KernelReport {
        bench: "kernel",
        sequences: args.sequences,
        legs,
        samples: args.samples,
        leg_samples,
        per_sec,
        baseline: "numpy, vectorized over samples (same model, checksum-verified), one core",
        baseline_per_sec,
        ratio: baseline_per_sec.map(|b| per_sec / b),
        parquet_files_per_sec,
        parquet_baseline_files_per_sec: parquet_baseline,
        parquet_ratio: parquet_baseline.map(|b| parquet_files_per_sec / b),
        parquet_bytes_per_file: parquet_bytes as f64 / files_written.max(1) as f64,
        generate_10k_ms,
    };
    if args.json {
        outln!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "bench kernel: {} sequences, {} legs × {} samples",
        thousands(u64::from(args.sequences)),
        thousands(legs),
        thousands(u64::from(args.samples))
    );
    outln!("  kernel        {} leg-samples (one core)", rate(per_sec));
    match (baseline_per_sec, report.ratio) {
        (Some(b), Some(r)) => {
            outln!(
                "  baseline      numpy: {} leg-samples (same checksum)",
                rate(b)
            );
            outln!("  ratio         {r:.1}x");
        }
        _ => outln!("  baseline      not run"),
    }
    outln!(
        "  parquet       {} files written ({} rows, {:.0} KB each)",
        rate(parquet_files_per_sec),
        thousands(u64::from(args.samples)),
        report.parquet_bytes_per_file / 1e3
    );
    if let (Some(b), Some(r)) = (parquet_baseline, report.parquet_ratio) {
        outln!(
            "  baseline      pyarrow: {} files written; ratio {r:.1}x",
            rate(b)
        );
    }
    outln!("  generator     10,000 sequences in {generate_10k_ms:.0} ms");
    Ok(ExitCode::SUCCESS)
}

fn walk_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk_size(&path)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

/// The same model in numpy; see delay-model.md §3. Timed: the kernel loop
/// only, then pyarrow writing the first legs as parquet.
const NUMPY: &str = r#"
import json, sys, time
import numpy as np
cfg = json.load(open(sys.argv[1]))
out_dir = sys.argv[2]
M = (1 << 64) - 1
def mix64_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
def fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & M
    return h
def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
pv = np.array([v for v, t in cfg["primary"]], dtype=np.int64)
pt = np.array([t for v, t in cfg["primary"]], dtype=np.uint64)
ev = np.array([v for v, t in cfg["enroute"]], dtype=np.int64)
et = np.array([t for v, t in cfg["enroute"]], dtype=np.uint64)
N = cfg["samples"]
GAMMA = np.uint64(0x9E3779B97F4A7C15)
base = np.arange(N, dtype=np.uint64) << np.uint64(6)
checksum = 0
leg_samples = 0
keep = []
with np.errstate(over="ignore"):
    t0 = time.perf_counter()
    for seq in cfg["sequences"]:
        key = np.uint64(mix64_int(mix64_int(cfg["run_seed"]) ^ fnv1a64(seq["key"].encode())))
        prev_arr = None
        prev_landing = None
        for i, (takeoff, landing) in enumerate(seq["legs"], start=1):
            c = base | np.uint64(i << 2)
            d0 = mix64(key + (c + np.uint64(1)) * GAMMA)
            d1 = mix64(key + (c + np.uint64(2)) * GAMMA)
            primary = pv[np.searchsorted(pt, d0 >> np.uint64(32), side="right")]
            permille = ev[np.searchsorted(et, d1 >> np.uint64(32), side="right")]
            if prev_arr is None:
                propagated = np.zeros(N, dtype=np.int64)
                slack = None
            else:
                slack = (takeoff - prev_landing) - 90
                propagated = np.maximum(prev_arr - slack, 0)
            dep = propagated + primary
            enroute = np.floor_divide((landing - takeoff) * permille + 500, 1000)
            arr = dep + enroute
            checksum += int(arr.sum())
            leg_samples += N
            if len(keep) < cfg["parquet_files"]:
                keep.append((seq["id"], i, slack, dep, arr, primary, propagated, enroute))
            prev_arr = arr
            prev_landing = landing
    seconds = time.perf_counter() - t0
parquet_seconds = 0.0
files = 0
try:
    import pyarrow as pa, pyarrow.parquet as pq
    schema = pa.schema([("sequence_id", pa.int32(), False), ("sample", pa.int32(), False), ("leg", pa.int16(), False),
        ("dep_delay", pa.int32(), False), ("arr_delay", pa.int32(), False), ("primary_delay", pa.int32(), False),
        ("propagated_delay", pa.int32(), False), ("enroute_delta", pa.int32(), False), ("slack", pa.int32(), True)])
    t0 = time.perf_counter()
    for (sid, leg, slack, dep, arr, primary, propagated, enroute) in keep:
        table = pa.table([pa.array(np.full(N, sid, dtype=np.int32)), pa.array(np.arange(N, dtype=np.int32)),
            pa.array(np.full(N, leg, dtype=np.int16)), pa.array(dep.astype(np.int32)), pa.array(arr.astype(np.int32)),
            pa.array(primary.astype(np.int32)), pa.array(propagated.astype(np.int32)), pa.array(enroute.astype(np.int32)),
            pa.array([slack] * N, type=pa.int32())], schema=schema)
        pq.write_table(table, f"{out_dir}/s{sid}-l{leg}.parquet", compression="snappy")
        files += 1
    parquet_seconds = time.perf_counter() - t0
except ImportError:
    pass
print(json.dumps({"leg_samples": leg_samples, "seconds": seconds, "checksum": checksum,
                  "parquet_files": files, "parquet_seconds": parquet_seconds}))
"#;

fn numpy_baseline(
    args: &KernelArgs,
    sequences: &[dagbench_flight::Sequence],
    dir: &std::path::Path,
    parquet_files: usize,
) -> anyhow::Result<Option<Baseline>> {
    let table = |t: &tables::DelayTable| t.entries().collect::<Vec<_>>();
    let input = serde_json::json!({
        "run_seed": args.seed,
        "samples": args.samples,
        "parquet_files": parquet_files,
        "primary": table(tables::primary()),
        "enroute": table(tables::enroute()),
        "sequences": sequences.iter().map(|s| serde_json::json!({
            "id": s.sequence_id.0,
            "key": s.sequence_id.0.to_string(),
            "legs": s.flights.iter().map(|f| (f.takeoff, f.arrival)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let input_path = dir.join("kernel-input.json");
    std::fs::write(&input_path, serde_json::to_vec(&input)?)?;
    let out_dir = dir.join("baseline");
    std::fs::create_dir_all(&out_dir)?;
    let output = match Command::new(&args.python)
        .arg("-c")
        .arg(NUMPY)
        .arg(&input_path)
        .arg(&out_dir)
        // One core, like ours.
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            errln!(
                "note: {} not found; the numpy baseline is skipped",
                args.python
            );
            return Ok(None);
        }
        Err(e) => return Err(e).context(format!("cannot run {}", args.python)),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named 'numpy'") {
            errln!(
                "note: {} has no numpy (make venv installs it); the baseline is skipped",
                args.python
            );
            return Ok(None);
        }
        bail!("the numpy baseline failed: {}", stderr.trim());
    }
    Ok(Some(
        serde_json::from_slice(&output.stdout).context("unexpected baseline output")?,
    ))
}
