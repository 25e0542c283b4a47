//! Helpers shared by corio-ab's integration tests: run the binary with a
//! time limit and read its JSON report.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The corio-ab binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_corio-ab");

/// Runs corio-ab with `args`, killing it after `limit`.
pub(crate) fn run(args: &[&str], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corio-ab");
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("corio-ab {args:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (out, start.elapsed())
}

/// Both output streams as text, for assertion messages.
pub(crate) fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh path in the temp dir for `--json` / `--svg`.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("corio-ab-test-{}-{name}", std::process::id()))
}

/// The `--json` report.
pub(crate) fn read_json(path: &PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("json written");
    serde_json::from_str(&text).expect("valid json")
}

/// Runs corio-ab with `args` plus `--json` (named `name` in the temp dir), at
/// most 60 s; asserts that it succeeded and returns the report and stdout.
pub(crate) fn run_report(name: &str, args: &[&str]) -> (serde_json::Value, String) {
    let json = temp_path(name);
    let mut args = args.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let (out, _) = run(&args, Duration::from_secs(60));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report = read_json(&json);
    let _ = std::fs::remove_file(&json);
    (report, stdout)
}

/// The runs of one row in a `--json` report.
pub(crate) fn runs_of<'a>(
    report: &'a serde_json::Value,
    variant: &str,
) -> Vec<&'a serde_json::Value> {
    report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["variant"] == variant)
        .collect()
}

/// Options for a short run (add `--duration`).
pub(crate) const SHORT: [&str; 6] = ["--warmup", "0.2", "--reps", "1", "--connections", "8"];
