//! Runs `scripts/curl_examples.sh`: the example binaries checked by a real external client,
//! curl, over HTTP/1.1 and HTTP/2 with prior knowledge, on both backends, each stopped with
//! SIGTERM and required to exit 0. Without curl the test is skipped with a note, except under
//! CI (`CI=true`), where a missing curl is a failure.

use std::process::Command;

#[test]
fn examples_answer_curl() {
    let curl = Command::new("curl").arg("--version").output();
    if !curl.is_ok_and(|output| output.status.success()) {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "curl is not installed; CI needs it for this test (apt-get install -y curl)"
        );
        eprintln!("skipping: curl is not installed");
        return;
    }
    let output = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/curl_examples.sh"
        ))
        // Build the examples with this cargo and this test's features: usually a no-op,
        // since `cargo test` has built them already.
        .env("CARGO", env!("CARGO"))
        .env(
            "CARGO_FEATURES",
            if cfg!(feature = "axum") { "axum" } else { "" },
        )
        .env("BACKENDS", backends())
        .output()
        .expect("run bash");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(output.status.success(), "scripts/curl_examples.sh failed");
}

/// Both backends, unless io_uring is unavailable here and `CORIO_REQUIRE_URING=1` is not set.
fn backends() -> &'static str {
    let probe = corio::probe();
    if probe.kind == corio::BackendKind::Uring || corio::__private::uring_required() {
        "uring epoll"
    } else {
        eprintln!("io_uring is unavailable ({probe}): checking the examples on epoll only");
        "epoll"
    }
}
