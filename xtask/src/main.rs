//! Project chores, run as `cargo xtask <task>` (see matklad's cargo-xtask):
//!
//! - `ci`: everything `make test` checks, in order: formatting, clippy with
//!   warnings denied, rustdoc with warnings denied, the core's purity, tests.
//! - `purity`: the pure crates must not link an async runtime or do I/O
//!   through one (`cargo tree -e normal -i tokio` finds nothing).

use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

/// Crates that must stay free of I/O runtimes.
const PURE_CRATES: &[&str] = &["dagbench-core"];
/// What a pure crate may not depend on, even indirectly.
const FORBIDDEN: &[&str] = &["tokio", "mio", "async-std"];

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("ci") => ci(),
        Some("purity") => purity(),
        _ => {
            eprintln!("usage: cargo xtask <ci|purity>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    eprintln!("==> cargo {}", args.join(" "));
    let status = Command::new(env!("CARGO"))
        .args(args)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    purity()?;
    let rustdoc = Command::new(env!("CARGO"))
        .args(["doc", "--workspace", "--no-deps", "--quiet"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .context("cannot run cargo doc")?;
    if !rustdoc.success() {
        bail!("cargo doc found warnings");
    }
    cargo(&["test", "--workspace"])
}

fn purity() -> anyhow::Result<()> {
    for krate in PURE_CRATES {
        for forbidden in FORBIDDEN {
            eprintln!("==> cargo tree -p {krate} -e normal -i {forbidden}");
            let output = Command::new(env!("CARGO"))
                .args(["tree", "-p", krate, "-e", "normal", "-i", forbidden])
                .output()
                .context("cannot run cargo tree")?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            // Either the package is not in the workspace at all ("did not
            // match any packages") or it is, but not under this crate
            // (nothing printed).
            let absent = stderr.contains("did not match any packages");
            if !absent && (!output.status.success() || !stdout.trim().is_empty()) {
                bail!("{krate} must stay pure but depends on {forbidden}:\n{stdout}{stderr}");
            }
        }
    }
    eprintln!("pure crates are pure: {}", PURE_CRATES.join(", "));
    Ok(())
}
