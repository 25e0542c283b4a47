//! `--mode idle`: the connections are held (the server's fds show them),
//! closed (its fds go back to baseline), and lost connections are counted.

mod support;

/// Runs idle mode on `tokio-ct` with `extra` options; its one run's figures
/// and the printed table.
fn idle_run(name: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["--mode", "idle", "--variants", "tokio-ct", "--reps", "1"];
    args.extend(extra);
    let (report, stdout) = support::run_report(name, &args);
    assert_eq!(report["mode"], "idle");
    let figures = support::runs_of(&report, "tokio-ct")[0]["figures"].clone();
    assert!(figures.is_object(), "run failed: {report}");
    (figures, stdout)
}

#[test]
fn connections_are_held_then_closed() {
    let (f, stdout) = idle_run("idle.json", &["--connections", "300"]);
    assert_eq!(f["open"]["held"], 300, "{f}");
    assert_eq!(f["open"]["error_total"], 0, "{f}");
    let fds = |sample: &str| f[sample]["fds"].as_u64().unwrap();
    assert!(fds("idle") >= fds("baseline") + 300, "{f}");
    assert!(fds("after_close") <= fds("baseline"), "{f}");
    assert!(f["fds_back_secs"].is_number(), "{f}");
    let rss = |sample: &str| f[sample]["rss_kib"].as_u64().unwrap();
    assert!(rss("idle") > rss("baseline"), "{f}");
    // hyper keeps buffers per connection: more than 1 KB, less than 1 MB.
    let per_conn = f["bytes_per_conn"].as_f64().unwrap();
    assert!((1e3..1e6).contains(&per_conn), "{per_conn} B/conn");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("tokio-ct"))
        .expect("row in table");
    assert!(line.contains("300"), "{line}");
    assert!(
        stdout.contains("B/conn") && stdout.contains("returned"),
        "{stdout}"
    );
}

#[test]
fn unexpected_answers_are_lost_connections() {
    let (f, stdout) = idle_run(
        "idle-status.json",
        &["--connections", "50", "--expect-status", "500"],
    );
    assert_eq!(f["open"]["held"], 0, "{f}");
    assert_eq!(f["open"]["errors"]["status 200"], 50, "{f}");
    assert!(
        stdout.contains("connections lost over the runs: status 200 50"),
        "{stdout}"
    );
}

#[test]
fn a_low_soft_limit_of_open_files_is_raised() {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -Sn 256 && exec "$0" --mode idle --connections 400 --variants tokio-ct --reps 1"#,
            support::BIN,
        ])
        .output()
        .expect("run sh");
    let (stdout, stderr) = support::text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("tokio-ct"))
        .expect("row in table");
    let mut cells = line.split_whitespace().skip(1);
    assert_eq!(cells.next(), Some("400"), "held: {line}");
    assert_eq!(cells.next(), Some("0"), "errors: {line}");
}
