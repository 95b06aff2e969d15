//! Project chores, run as `cargo xtask <task>` (see matklad's cargo-xtask):
//!
//! - `ci`: everything `make test` checks, in order: formatting, unused
//!   dependencies (cargo-machete), clippy with warnings denied (the
//!   workspace, and the worker image's `--no-default-features --features
//!   worker` build), the pure crates' purity, rustdoc with warnings denied,
//!   tests. Every cargo call is `--locked`: CI builds what `Cargo.lock` says.
//! - `purity`: the pure crates must not link an async runtime or do I/O
//!   through one (`cargo tree -e normal -i tokio` finds nothing); their
//!   `clippy.toml` forbids files, the environment and the clock in code.

use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

/// Crates that must stay free of I/O runtimes.
const PURE_CRATES: &[&str] = &["dagbench-core", "dagbench-flight", "dagbench-infra"];
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
    unused_dependencies()?;
    cargo(&[
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // What the Scenario 2 image builds (docker/Dockerfile).
    cargo(&[
        "clippy",
        "--locked",
        "--package",
        "dagbench-cli",
        "--no-default-features",
        "--features",
        "worker",
        "--bins",
        "--",
        "-D",
        "warnings",
    ])?;
    purity()?;
    let rustdoc = Command::new(env!("CARGO"))
        .args(["doc", "--locked", "--workspace", "--no-deps", "--quiet"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .context("cannot run cargo doc")?;
    if !rustdoc.success() {
        bail!("cargo doc found warnings");
    }
    test_workspace()
}

/// cargo-machete: a dependency no source file names fails CI. The binary
/// comes from `DAGBENCH_MACHETE` (`make tools` installs the pinned version
/// and sets it); without it, CI fails and a developer's run says so.
fn unused_dependencies() -> anyhow::Result<()> {
    let Some(machete) = std::env::var_os("DAGBENCH_MACHETE") else {
        if std::env::var_os("CI").is_some() {
            bail!(
                "DAGBENCH_MACHETE is not set: run through `make test`, which installs cargo-machete"
            );
        }
        eprintln!(
            "==> skipped the unused-dependency check: DAGBENCH_MACHETE is not set (`make test` sets it)"
        );
        return Ok(());
    };
    eprintln!("==> cargo-machete");
    let status = Command::new(&machete)
        .arg("--skip-target-dir")
        .status()
        .with_context(|| format!("cannot run {}", std::path::Path::new(&machete).display()))?;
    if !status.success() {
        bail!("cargo-machete found unused dependencies (above): remove them from Cargo.toml");
    }
    Ok(())
}

/// `cargo test --workspace`, its output passed through, then one closing
/// line with the totals (`tests: N passed, N failed`), so the last line of a
/// CI log tells how many tests ran rather than a doc-test suite's zero.
fn test_workspace() -> anyhow::Result<()> {
    use std::io::{BufRead as _, BufReader};
    eprintln!("==> cargo test --locked --workspace");
    // CI=1: tests that need an installed tool (moto, pyarrow, cfn-lint,
    // chromium) fail instead of skipping, so a missing install step shows.
    let mut child = Command::new(env!("CARGO"))
        .args(["test", "--locked", "--workspace"])
        .env("CI", std::env::var("CI").unwrap_or_else(|_| "1".into()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some((p, f)) = parse_test_result(&line) {
            passed += p;
            failed += f;
        }
    }
    let status = child.wait()?;
    println!("tests: {passed} passed, {failed} failed");
    if !status.success() || failed > 0 {
        bail!("cargo test failed ({status})");
    }
    if passed == 0 {
        bail!("cargo test ran no test");
    }
    Ok(())
}

/// `test result: ok. 24 passed; 0 failed; …` → (24, 0).
fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<u64> {
        rest.split(';')
            .find_map(|part| {
                part.trim()
                    .trim_start_matches("ok. ")
                    .trim_start_matches("FAILED. ")
                    .strip_suffix(word)
            })
            .and_then(|n| n.trim().parse().ok())
    };
    Some((count(" passed")?, count(" failed")?))
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

#[cfg(test)]
mod tests {
    #[test]
    fn parses_cargo_test_summaries() {
        use super::parse_test_result as parse;
        assert_eq!(
            parse(
                "test result: ok. 24 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.05s"
            ),
            Some((24, 0))
        );
        assert_eq!(
            parse("test result: FAILED. 6 passed; 1 failed; 0 ignored"),
            Some((6, 1))
        );
        assert_eq!(parse("running 7 tests"), None);
    }
}
