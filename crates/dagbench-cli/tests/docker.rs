//! The worker image's Dockerfile: lint-clean under hadolint (it cannot be
//! built here: no Docker engine), and it runs `dagbench worker`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_dockerfile_is_lint_clean_and_runs_the_worker() {
    let dockerfile = root().join("docker/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(
        text.contains("--bin dagbench"),
        "builds the dagbench binary"
    );
    assert!(
        text.contains("--no-default-features --features worker"),
        "builds the worker's features only"
    );
    assert!(
        text.contains("CMD [\"worker\"]"),
        "runs the worker by default"
    );
    assert!(text.contains("USER "), "does not run as root");
    let hadolint = root().join(".venv/bin/hadolint");
    if !hadolint.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: `make venv` installs it",
            hadolint.display()
        );
        eprintln!(
            "skipped the lint: {} is missing (`make venv` installs it)",
            hadolint.display()
        );
        return;
    }
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg(&dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
