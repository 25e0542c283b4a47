//! Backend selection when io_uring is blocked: a child process (this test binary, re-run
//! with one test selected) installs a seccomp filter that makes `io_uring_setup` fail,
//! then checks that `Auto` falls back to epoll with the errno in the reason and still
//! serves TCP, and that an explicit `Uring` fails to build with that reason.

use std::collections::BTreeMap;
use std::process::Command;

use corio::{Backend, BackendKind, Builder};
use seccompiler::{apply_filter, BpfProgram, SeccompAction, SeccompFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD_ENV: &str = "CORIO_TEST_SECCOMP_ERRNO";

/// Makes `io_uring_setup` fail with `errno` for this thread and threads it starts.
fn block_io_uring(errno: i32) {
    let rules = BTreeMap::from([(libc::SYS_io_uring_setup, vec![])]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        std::env::consts::ARCH.try_into().expect("supported arch"),
    )
    .expect("seccomp filter");
    let program: BpfProgram = filter.try_into().expect("compile filter");
    apply_filter(&program).expect("install seccomp filter");
}

/// The child's side: everything runs under the filter.
fn child(errno: i32, name: &str) {
    block_io_uring(errno);
    let probe = corio::probe();
    assert_eq!(probe.kind, BackendKind::Epoll, "{probe}");
    assert!(
        probe.reason.contains(name),
        "probe reason names {name}: {probe}"
    );

    let rt = Builder::new()
        .workers(1)
        .backend(Backend::Auto)
        .build()
        .expect("auto falls back instead of failing");
    let (info, echoed) = rt.block_on(async {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = corio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        server.await.unwrap();
        (corio::backend(), buf)
    });
    assert_eq!(info.kind, BackendKind::Epoll);
    assert!(
        info.reason.contains(name),
        "backend reason names {name}: {info}"
    );
    assert_eq!(&echoed, b"ping");
    drop(rt);

    let err = Builder::new()
        .workers(1)
        .backend(Backend::Uring)
        .build()
        .expect_err("explicit uring must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert!(err.to_string().contains(name), "error names {name}: {err}");
    println!("CHILD-OK {name}: {info}");
}

/// Re-runs this binary with only `test` selected and the child variable set.
fn run_child(test: &str, errno: i32, name: &str) {
    if std::env::var(CHILD_ENV).is_ok() {
        return child(errno, name);
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, errno.to_string())
        .env_remove("CORIO_BACKEND")
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(&format!("CHILD-OK {name}")),
        "child failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn auto_falls_back_when_io_uring_setup_gives_enosys() {
    run_child(
        "auto_falls_back_when_io_uring_setup_gives_enosys",
        libc::ENOSYS,
        "ENOSYS",
    );
}

#[test]
fn auto_falls_back_when_io_uring_setup_gives_eperm() {
    run_child(
        "auto_falls_back_when_io_uring_setup_gives_eperm",
        libc::EPERM,
        "EPERM",
    );
}

#[test]
fn corio_backend_env_overrides_the_builder() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["env_override_child", "--exact", "--nocapture", "--ignored"])
        .env("CORIO_BACKEND", "epoll")
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ENV-OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run by `corio_backend_env_overrides_the_builder` with `CORIO_BACKEND=epoll`.
#[test]
#[ignore = "child of corio_backend_env_overrides_the_builder"]
fn env_override_child() {
    let rt = Builder::new()
        .workers(1)
        .backend(Backend::Uring)
        .build()
        .unwrap();
    let info = rt.block_on(async { corio::backend() });
    assert_eq!(info.kind, BackendKind::Epoll);
    assert!(info.reason.contains("CORIO_BACKEND"), "{info}");
    std::env::set_var("CORIO_BACKEND", "bogus");
    let err = Builder::new().workers(1).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("bogus"), "{err}");
    println!("ENV-OK");
}
