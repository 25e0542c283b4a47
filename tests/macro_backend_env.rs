//! `CORIO_BACKEND` and the entry-point attributes: `#[corio::test]` and `#[corio::main]`
//! without `backend = ".."` run on the backend the variable names; with one, they keep the
//! backend they name. Each parent test re-runs this binary with `CORIO_BACKEND` set and
//! one ignored child test selected; the child asserts which backend it got.

use std::process::Command;

use corio::{Backend, BackendKind};

/// Checks, inside a child, that the runtime runs on `expected`, and tells the parent.
fn report_backend(expected: BackendKind) {
    let info = corio::backend();
    assert_eq!(info.kind, expected, "{info}");
    println!("CHILD-OK {info}");
}

/// The backend `CORIO_BACKEND` asks for in this (child) process; `auto` when unset.
fn env_backend() -> BackendKind {
    let value = std::env::var(corio::BACKEND_ENV).unwrap_or_default();
    match Backend::parse(&value).expect("a valid CORIO_BACKEND") {
        Backend::Uring => BackendKind::Uring,
        Backend::Epoll => BackendKind::Epoll,
        Backend::Auto => corio::probe().kind,
    }
}

#[corio::test]
#[ignore = "child of the plain_test_follows_corio_backend_* tests"]
async fn plain_test_child() {
    report_backend(env_backend());
}

#[corio::test(backend = "epoll")]
#[ignore = "child of named_test_backend_is_kept_over_corio_backend"]
async fn named_epoll_test_child() {
    report_backend(BackendKind::Epoll);
}

/// `#[corio::main]` entry points, called as plain functions by the child tests below.
mod entry {
    use super::*;

    #[corio::main(workers = 1)]
    pub async fn plain() {
        report_backend(env_backend());
    }

    #[corio::main(workers = 1, backend = "epoll")]
    pub async fn named_epoll() {
        report_backend(BackendKind::Epoll);
    }
}

#[test]
#[ignore = "child of the plain_main_follows_corio_backend_* tests"]
fn plain_main_child() {
    entry::plain();
}

#[test]
#[ignore = "child of named_main_backend_is_kept_over_corio_backend"]
fn named_epoll_main_child() {
    entry::named_epoll();
}

/// Re-runs this binary with only the ignored test `child` selected and
/// `CORIO_BACKEND=backend`, and requires it to pass and report.
fn run_child(child: &str, backend: &str) {
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            child,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(corio::BACKEND_ENV, backend)
        .output()
        .expect("spawn the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("CHILD-OK"),
        "child {child} with CORIO_BACKEND={backend} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

/// Whether io_uring can run here, for a child that asks for it; prints why not (and
/// fails under `CORIO_REQUIRE_URING=1`).
fn uring_available() -> bool {
    let probe = corio::probe();
    if probe.kind == BackendKind::Uring {
        return true;
    }
    assert!(
        !corio::__private::uring_required(),
        "CORIO_REQUIRE_URING=1 but io_uring is unavailable: {probe}"
    );
    eprintln!("skipping the io_uring half of this test: {probe}");
    false
}

#[test]
fn plain_test_follows_corio_backend_epoll() {
    run_child("plain_test_child", "epoll");
}

#[test]
fn plain_test_follows_corio_backend_uring() {
    if uring_available() {
        run_child("plain_test_child", "uring");
    }
}

#[test]
fn named_test_backend_is_kept_over_corio_backend() {
    run_child("named_epoll_test_child", "uring");
}

#[test]
fn plain_main_follows_corio_backend_epoll() {
    run_child("plain_main_child", "epoll");
}

#[test]
fn plain_main_follows_corio_backend_uring() {
    if uring_available() {
        run_child("plain_main_child", "uring");
    }
}

#[test]
fn named_main_backend_is_kept_over_corio_backend() {
    run_child("named_epoll_main_child", "uring");
}
