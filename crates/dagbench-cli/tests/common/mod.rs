//! Helpers shared by the CLI tests: run the binary, read its output, a
//! scratch directory removed at the end.

#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Output};

pub fn dagbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(args)
        .output()
        .expect("the dagbench binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory per test, removed at the end.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Self {
        Scratch(dagbench_testkit::scratch(name))
    }

    /// The directory.
    pub fn root(&self) -> &std::path::Path {
        self.0.path()
    }

    /// The directory as a command-line argument.
    pub fn s(&self) -> String {
        self.root().display().to_string()
    }

    pub fn path(&self, name: &str) -> String {
        self.root().join(name).display().to_string()
    }

    /// Writes `contents` to `name` and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> String {
        let path = self.root().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }
}

/// Headless Chromium: `DAGBENCH_CHROMIUM`, else the first of Chromium's and
/// Chrome's usual commands that runs — the lookup `make browser` does
/// before installing Debian's package. Its absence is a failure under CI
/// and a skip elsewhere.
pub fn chromium() -> Option<String> {
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
