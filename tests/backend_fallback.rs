//! Backend selection when io_uring is refused, in every way the kernel refuses it. Each
//! case re-runs this test binary as a child with one test selected (`CORIO_TEST_FALLBACK`
//! names the case); the child refuses io_uring (a seccomp filter on `io_uring_setup`,
//! `io_uring_enter` or `io_uring_register`, a required opcode forced missing, a worker
//! ring that fails after the probe succeeded, `RLIMIT_MEMLOCK` 0, or
//! `kernel.io_uring_disabled` bind-mounted to 1 or 2 in a private mount namespace) and
//! runs the checks of `support/fallback_child.rs`. The parent prints the child's
//! `CHILD-OK` line, so `--nocapture` shows each reason.

#[path = "support/fallback_child.rs"]
mod fallback_child;
mod support;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use corio::{Backend, BackendKind, Builder};

/// Names the case a child process runs.
const CHILD_ENV: &str = "CORIO_TEST_FALLBACK";

/// What the parent runs the child under.
#[derive(Debug, Clone, Copy)]
enum Wrapper {
    None,
    /// `prlimit --memlock=0:0`.
    Memlock,
    /// A private mount namespace in which a file holding this value is bind-mounted over
    /// `/proc/sys/kernel/io_uring_disabled`; the machine's sysctl is left alone.
    Sysctl(&'static str),
}

/// In the parent, runs `test` (the calling test's name) as a child for case `label` under
/// `wrapper` and prints its `CHILD-OK` line; in the child, runs the case.
fn in_child(test: &str, label: &str, wrapper: Wrapper) {
    if let Ok(case) = std::env::var(CHILD_ENV) {
        assert_eq!(case, label, "the child runs the case it was started for");
        return fallback_child::run(label);
    }
    let stand_in = match wrapper {
        Wrapper::Sysctl(value) => Some(SysctlFile::new(label, value)),
        _ => None,
    };
    let exe = std::env::current_exe().expect("the test binary");
    let mut line: Vec<&OsStr> = match (wrapper, &stand_in) {
        (Wrapper::Memlock, _) => vec!["prlimit".as_ref(), "--memlock=0:0".as_ref()],
        (Wrapper::Sysctl(_), Some(file)) => {
            let mut line: Vec<&OsStr> = UNSHARE.iter().map(|arg| arg.as_ref()).collect();
            line.push(file.0.as_os_str());
            line
        }
        _ => vec![],
    };
    line.push(exe.as_os_str());
    line.extend([test, "--exact", "--nocapture", "--test-threads=1"].map(OsStr::new));
    let output = Command::new(line[0])
        .args(&line[1..])
        .env(CHILD_ENV, label)
        .env_remove("CORIO_BACKEND")
        .env_remove("CORIO_WORKERS")
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let prefix = format!("CHILD-OK {label}: ");
    // libtest prints `test <name> ... ` on the line the child's output starts.
    let ok = stdout
        .lines()
        .find_map(|line| line.find(&prefix).map(|at| &line[at..]));
    match ok {
        Some(line) if output.status.success() => println!("{line}"),
        _ => panic!("child {label} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"),
    }
}

/// Runs the rest of the line in a private mount namespace with the file named after it
/// (`$0`) bind-mounted over the sysctl.
const UNSHARE: [&str; 7] = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    r#"mount --bind "$0" /proc/sys/kernel/io_uring_disabled && exec "$@""#,
];

/// A temporary file standing in for the sysctl; removed on drop.
#[derive(Debug)]
struct SysctlFile(PathBuf);

impl SysctlFile {
    fn new(label: &str, value: &str) -> SysctlFile {
        let name = format!("corio-{label}-{}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, format!("{value}\n")).expect("write the sysctl stand-in");
        SysctlFile(path)
    }
}

impl Drop for SysctlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn auto_falls_back_when_io_uring_setup_gives_enosys() {
    in_child(
        "auto_falls_back_when_io_uring_setup_gives_enosys",
        "setup-ENOSYS",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_io_uring_setup_gives_eperm() {
    in_child(
        "auto_falls_back_when_io_uring_setup_gives_eperm",
        "setup-EPERM",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_io_uring_setup_gives_enomem() {
    in_child(
        "auto_falls_back_when_io_uring_setup_gives_enomem",
        "setup-ENOMEM",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_io_uring_enter_gives_enosys() {
    in_child(
        "auto_falls_back_when_io_uring_enter_gives_enosys",
        "enter-ENOSYS",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_io_uring_enter_gives_eperm() {
    in_child(
        "auto_falls_back_when_io_uring_enter_gives_eperm",
        "enter-EPERM",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_io_uring_register_gives_eperm() {
    in_child(
        "auto_falls_back_when_io_uring_register_gives_eperm",
        "register-EPERM",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_the_workers_cannot_register_their_eventfd() {
    in_child(
        "auto_falls_back_when_the_workers_cannot_register_their_eventfd",
        "register-eventfd-EPERM",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_and_joins_the_started_worker_when_a_later_ring_fails() {
    in_child(
        "auto_falls_back_and_joins_the_started_worker_when_a_later_ring_fails",
        "second-worker-ring",
        Wrapper::None,
    );
}

#[test]
fn auto_falls_back_when_a_required_opcode_is_missing() {
    in_child(
        "auto_falls_back_when_a_required_opcode_is_missing",
        "missing-IORING_OP_SHUTDOWN",
        Wrapper::None,
    );
}

#[test]
fn a_zero_memlock_limit_gives_a_coherent_backend() {
    in_child(
        "a_zero_memlock_limit_gives_a_coherent_backend",
        "memlock-0",
        Wrapper::Memlock,
    );
}

#[test]
fn the_reason_names_io_uring_disabled_1() {
    in_child(
        "the_reason_names_io_uring_disabled_1",
        "sysctl-1",
        Wrapper::Sysctl("1"),
    );
}

#[test]
fn the_reason_names_io_uring_disabled_2() {
    in_child(
        "the_reason_names_io_uring_disabled_2",
        "sysctl-2",
        Wrapper::Sysctl("2"),
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
