//! Bad arguments exit non-zero with a message naming the problem.

mod support;

use std::time::Duration;

fn fails_with(args: &[&str], needle: &str) {
    let (out, _) = support::run(args, Duration::from_secs(20));
    let (stdout, stderr) = support::text(&out);
    assert!(!out.status.success(), "{args:?} succeeded: {stdout}");
    assert!(
        stderr.contains(needle),
        "{args:?}: stderr does not mention `{needle}`:\n{stderr}"
    );
}

#[test]
fn zero_reps() {
    fails_with(&["--reps", "0"], "--reps");
}

#[test]
fn duration_not_a_number() {
    fails_with(&["--duration", "abc"], "seconds");
}

#[test]
fn zero_duration() {
    fails_with(&["--duration", "0"], "greater than 0");
}

#[test]
fn unknown_option() {
    fails_with(&["--bogus"], "--bogus");
}

#[test]
fn unknown_variant() {
    fails_with(&["--variants", "tokio-ct,nope"], "nope");
}

#[test]
fn cpu_out_of_range() {
    fails_with(&["--server-cpus", "1000"], "CPU");
}

#[test]
fn cpu_not_usable() {
    fails_with(&["--load-cpus", "1023"], "may only use CPUs");
}

#[test]
fn tokio_rows_need_the_bundled_server() {
    fails_with(&["--variants", "tokio-ct", "--", "true"], "bundled server");
}

#[test]
fn raw_rows_need_the_bundled_hello_or_echo_server() {
    fails_with(&["--variants", "raw-epoll", "--", "true"], "bundled server");
    fails_with(
        &["--server", "file", "--variants", "tokio-ct,raw-uring"],
        "no file service",
    );
}

#[test]
fn body_in_echo_mode() {
    fails_with(&["--mode", "echo", "--body", "10"], "--body");
}

#[test]
fn more_connections_than_file_descriptors() {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -n 256 && exec "$0" --connections 300"#,
            support::BIN,
        ])
        .output()
        .expect("run sh");
    let (_, stderr) = support::text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("ulimit -n"), "{stderr}");
}

#[test]
fn bad_url() {
    fails_with(&["--url", "no-slash"], "path");
}

#[test]
fn help_lists_the_main_options() {
    let (out, _) = support::run(&["--help"], Duration::from_secs(20));
    let (stdout, _) = support::text(&out);
    assert!(out.status.success());
    for option in [
        "--duration",
        "--reps",
        "--rate",
        "--server-cpus",
        "--json",
        "--svg",
        "SERVER_CMD",
    ] {
        assert!(stdout.contains(option), "--help lacks {option}:\n{stdout}");
    }
    assert!(
        !stdout.contains("Commands:"),
        "hidden subcommands are listed:\n{stdout}"
    );
}

#[test]
fn idle_mode_refuses_load_options() {
    fails_with(
        &["--mode", "idle", "--rate", "100"],
        "--rate does not go with --mode idle",
    );
    fails_with(&["--mode", "idle", "--svg", "x.svg"], "--svg");
}

#[test]
fn idle_connections_beyond_the_hard_limit() {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -n 512 && exec "$0" --mode idle --connections 1000"#,
            support::BIN,
        ])
        .output()
        .expect("run sh");
    let (_, stderr) = support::text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--connections 1000") && stderr.contains("hard limit"),
        "{stderr}"
    );
}

#[test]
fn scheduler_knobs_are_positive_and_for_the_bundled_servers() {
    fails_with(&["--event-interval", "0"], "--event-interval");
    fails_with(&["--global-queue-interval", "0"], "--global-queue-interval");
    fails_with(
        &["--event-interval", "200", "--", "true"],
        "bundled servers",
    );
}
