//! The bundled server under each load shape: closed loop, open loop, fixed
//! request count, pipelining with bodies, echo; JSON and SVG outputs.

mod support;

/// Runs `tokio-ct` with `extra` options and returns its one run's figures.
fn tokio_ct_run(name: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["--variants", "tokio-ct"];
    args.extend(support::SHORT);
    if !extra.contains(&"--duration") {
        args.extend(["--duration", "1"]);
    }
    args.extend(extra);
    let (report, stdout) = support::run_report(name, &args);
    let figures = support::runs_of(&report, "tokio-ct")[0]["figures"].clone();
    assert!(figures.is_object(), "run failed: {report}");
    (figures, stdout)
}

#[test]
fn closed_loop_hello_with_chart() {
    let svg = support::temp_path("chart.svg");
    let (f, stdout) = tokio_ct_run("closed.json", &["--svg", svg.to_str().unwrap()]);
    let load = &f["load"];
    assert!(load["responses"].as_u64().unwrap() > 100, "{load}");
    assert_eq!(load["error_total"], 0, "{load}");
    assert_eq!(load["body_len"], 13, "{load}");
    assert!(load["latency"]["p99_us"].as_f64().unwrap() > 0.0);
    assert!(f["cpu_us_per_req"].as_f64().unwrap() > 0.0, "{f}");
    assert!(f["peak_rss_kib"].as_u64().unwrap() > 0, "{f}");
    assert!(
        stdout.contains("tokio-ct") && stdout.contains("machine:"),
        "{stdout}"
    );
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    let _ = std::fs::remove_file(&svg);
    assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
    for label in [
        "Throughput",
        "requests per second",
        "Latency percentiles",
        "tokio-ct",
    ] {
        assert!(chart.contains(label), "chart lacks {label}");
    }
}

#[test]
fn scheduler_knobs_reach_the_server() {
    let args = ["--event-interval", "255", "--global-queue-interval", "7"];
    let (f, stdout) = tokio_ct_run("scheduler.json", &args);
    assert!(f["load"]["responses"].as_u64().unwrap() > 100, "{f}");
    assert!(stdout.contains(&args.join(" ")), "{stdout}");
}

#[test]
fn open_loop_keeps_the_rate() {
    let (f, _) = tokio_ct_run("open.json", &["--rate", "2000"]);
    let rps = f["load"]["requests_per_sec"].as_f64().unwrap();
    assert!(
        (1600.0..2400.0).contains(&rps),
        "{rps} req/s at --rate 2000"
    );
    assert_eq!(f["load"]["error_total"], 0);
}

#[test]
fn request_count_ends_the_window() {
    let (f, _) = tokio_ct_run("count.json", &["--requests", "500", "--duration", "20"]);
    assert_eq!(f["load"]["responses"], 500);
    assert!(f["load"]["window_secs"].as_f64().unwrap() < 10.0);
}

#[test]
fn pipelined_posts() {
    let (f, _) = tokio_ct_run("pipeline.json", &["--pipeline", "4", "--body", "300"]);
    assert!(f["load"]["responses"].as_u64().unwrap() > 100);
    assert_eq!(f["load"]["error_total"], 0, "{}", f["load"]);
}

#[test]
fn echo_mode() {
    let (f, _) = tokio_ct_run("echo.json", &["--mode", "echo", "--size", "64"]);
    assert!(f["load"]["responses"].as_u64().unwrap() > 100);
    assert_eq!(f["load"]["error_total"], 0, "{}", f["load"]);
}

#[test]
fn wrong_expected_length_is_an_error() {
    let (f, _) = tokio_ct_run("len.json", &["--expect-len", "12"]);
    assert_eq!(f["load"]["responses"], 0);
    assert!(f["load"]["errors"]["wrong body length"].as_u64().unwrap() > 0);
}

#[test]
fn corio_rows_report_their_ring_counters() {
    let mut args = vec!["--variants", "corio-uring,corio-epoll", "--duration", "1"];
    args.extend(support::SHORT);
    let (report, stdout) = support::run_report("ring.json", &args);
    let ring = |row: &str| support::runs_of(&report, row)[0]["figures"]["ring"].clone();
    let uring = ring("corio-uring");
    assert!(uring["cqes"].as_u64().unwrap() > 0, "{uring}");
    assert!(uring["enters"].as_u64().unwrap() > 0, "{uring}");
    let epoll = ring("corio-epoll");
    assert_eq!(epoll["cqes"], 0, "{epoll}");
    assert!(epoll["parks"].as_u64().is_some(), "{epoll}");
    assert!(
        stdout.contains("per response") && stdout.contains("eventfd wake-ups"),
        "{stdout}"
    );
}
