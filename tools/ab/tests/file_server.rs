//! `--server file`: corio's file service and tower-http's ServeDir under the
//! same load, every response's status, Content-Length and body length
//! checked, ratios to the tokio row in the table and the chart.

mod support;

use std::time::Duration;

/// Runs `--server file` with `extra` options; the report and stdout.
fn file_run(name: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["--server", "file"];
    args.extend(support::SHORT);
    args.extend(["--duration", "1"]);
    args.extend(extra);
    support::run_report(name, &args)
}

fn figures<'a>(report: &'a serde_json::Value, row: &str) -> &'a serde_json::Value {
    let runs = support::runs_of(report, row);
    assert!(runs[0]["figures"].is_object(), "{row} failed: {}", runs[0]);
    &runs[0]["figures"]
}

#[test]
fn corio_and_serve_dir_serve_the_64k_file() {
    let svg = support::temp_path("file.svg");
    let (report, stdout) = file_run(
        "file.json",
        &[
            "--variants",
            "corio-uring,corio-epoll,tokio-ct",
            "--svg",
            svg.to_str().unwrap(),
        ],
    );
    for row in ["corio-uring", "corio-epoll", "tokio-ct"] {
        let load = &figures(&report, row)["load"];
        assert!(load["responses"].as_u64().unwrap() > 20, "{row}: {load}");
        assert_eq!(load["error_total"], 0, "{row}: {load}");
        assert_eq!(load["body_len"], 65536, "{row}: {load}");
    }
    assert!(stdout.contains("GET /file-64k (65,536 B)"), "{stdout}");
    assert!(stdout.contains("tower-http ServeDir"), "{stdout}");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("runtime"))
        .expect("header");
    assert!(
        header.contains("req/s") && header.contains("÷tokio-ct") && header.contains("MB/s"),
        "{header}"
    );
    let tokio_row = stdout.lines().find(|l| l.starts_with("tokio-ct")).unwrap();
    assert!(tokio_row.matches(" 1.00 ").count() >= 2, "{tokio_row}");
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    let _ = std::fs::remove_file(&svg);
    assert!(chart.contains("static file servers"), "chart title");
    assert!(chart.contains("(1.00×)"), "ratios in the chart");
}

#[test]
fn a_wrong_length_is_an_error_not_throughput() {
    let args = [
        "--variants",
        "tokio-ct",
        "--url",
        "/file-4k",
        "--expect-len",
        "65536",
    ];
    let (report, _) = file_run("file-len.json", &args);
    let load = &figures(&report, "tokio-ct")["load"];
    assert_eq!(load["responses"], 0, "{load}");
    assert!(load["errors"]["wrong body length"].as_u64().unwrap() > 0);
}

#[test]
fn a_missing_file_is_refused_before_running() {
    let (out, _) = support::run(
        &["--server", "file", "--url", "/nope"],
        Duration::from_secs(20),
    );
    let (_, stderr) = support::text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/nope") && stderr.contains("/file-64k"),
        "{stderr}"
    );
}

#[test]
fn file_options_are_checked() {
    for (args, needle) in [
        (&["--root", "/tmp"][..], "--server file"),
        (&["--server", "file", "--mode", "echo"][..], "--mode echo"),
        (
            &["--server", "file", "--root", "/nonexistent-dir"][..],
            "--root",
        ),
    ] {
        let (out, _) = support::run(args, Duration::from_secs(20));
        let (_, stderr) = support::text(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
