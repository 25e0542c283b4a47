//! The short soak CI runs: `examples/soak` for 20 seconds on both backends at once (each
//! in its own process), which must exit 0 — no unexpected error, no lost, duplicated or
//! changed byte, no growth of fds or RSS. The long run is
//! `cargo run --release --example soak -- --secs 60`.

use std::process::Command;

#[test]
fn soak_20_seconds_on_both_backends() {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "soak", "--", "--secs", "20"])
        .args(["--backends", backends()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    assert!(output.status.success(), "the soak failed:\n{stdout}");
    assert!(stdout.contains("soak PASS"), "no verdict line:\n{stdout}");
}

/// Both backends, unless io_uring is unavailable here and `CORIO_REQUIRE_URING=1` is not set.
fn backends() -> &'static str {
    let probe = corio::probe();
    if probe.kind == corio::BackendKind::Uring || corio::__private::uring_required() {
        "uring,epoll"
    } else {
        eprintln!("io_uring is unavailable ({probe}): soaking epoll only");
        "epoll"
    }
}
