//! The child side of `tests/backend_fallback.rs`: refuses io_uring in one way, then checks
//! that `Auto` ends on a working epoll runtime whose reason names the refusal, that no
//! worker thread of a failed start survives, that a hyper HTTP/1.1 request succeeds, and
//! that an explicit `Uring` fails with `Unsupported` and the same reason.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use corio::{Backend, BackendInfo, BackendKind, Builder, Unavailable};
use libc::{ENOMEM, ENOSYS, EPERM};
use seccompiler::{
    apply_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule,
};

use crate::support::http::{connect_http1, fetch, get, Placement, Protocol, Server};

/// `IORING_REGISTER_EVENTFD`, the second argument of `io_uring_register` when a worker
/// registers its wake-up eventfd (the probe never registers one).
const IORING_REGISTER_EVENTFD: u64 = 4;

/// How a child is refused io_uring.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// A seccomp filter makes `syscall` fail with `errno`; with `arg1`, only the calls
    /// whose second argument is that value.
    Seccomp {
        syscall: i64,
        errno: i32,
        arg1: Option<u64>,
    },
    /// The probe override: a required opcode counts as missing.
    MissingOpcode(&'static str),
    /// Every worker ring after the first fails (the probe succeeds).
    LaterWorkerRings,
    /// The parent ran the child under `prlimit --memlock=0:0`; either backend may win.
    Memlock,
}

/// One way of refusing io_uring and what the fallback reason must then say.
#[derive(Debug)]
struct Case {
    label: &'static str,
    refusal: Refusal,
    /// Texts the fallback reason and the explicit-uring error contain.
    expect: &'static [&'static str],
    /// True when `corio::probe()` sees the refusal; false when only the workers hit it.
    probe_refused: bool,
    workers: usize,
}

const fn seccomp(syscall: i64, errno: i32) -> Refusal {
    Refusal::Seccomp {
        syscall,
        errno,
        arg1: None,
    }
}

const fn refused(label: &'static str, refusal: Refusal, expect: &'static [&'static str]) -> Case {
    Case {
        label,
        refusal,
        expect,
        probe_refused: true,
        workers: 1,
    }
}

const SETUP: i64 = libc::SYS_io_uring_setup;
const ENTER: i64 = libc::SYS_io_uring_enter;
const REGISTER: i64 = libc::SYS_io_uring_register;

const CASES: &[Case] = &[
    refused(
        "setup-ENOSYS",
        seccomp(SETUP, ENOSYS),
        &["io_uring_setup", "ENOSYS"],
    ),
    refused(
        "setup-EPERM",
        seccomp(SETUP, EPERM),
        &["io_uring_setup", "EPERM"],
    ),
    refused(
        "setup-ENOMEM",
        seccomp(SETUP, ENOMEM),
        &["ENOMEM", "RLIMIT_MEMLOCK"],
    ),
    refused(
        "enter-ENOSYS",
        seccomp(ENTER, ENOSYS),
        &["io_uring_enter", "ENOSYS", "seccomp"],
    ),
    refused(
        "enter-EPERM",
        seccomp(ENTER, EPERM),
        &["io_uring_enter", "EPERM", "seccomp"],
    ),
    refused(
        "register-EPERM",
        seccomp(REGISTER, EPERM),
        &["io_uring_register(probe)", "EPERM"],
    ),
    Case {
        label: "register-eventfd-EPERM",
        refusal: Refusal::Seccomp {
            syscall: REGISTER,
            errno: EPERM,
            arg1: Some(IORING_REGISTER_EVENTFD),
        },
        expect: &["failed to start", "io_uring_register(eventfd)", "EPERM"],
        probe_refused: false,
        workers: 2,
    },
    Case {
        label: "second-worker-ring",
        refusal: Refusal::LaterWorkerRings,
        expect: &["failed to start", "io_uring_enter", "EPERM"],
        probe_refused: false,
        workers: 2,
    },
    refused(
        "missing-IORING_OP_SHUTDOWN",
        MISSING_SHUTDOWN,
        &["IORING_OP_SHUTDOWN"],
    ),
    refused("memlock-0", Refusal::Memlock, &["RLIMIT_MEMLOCK"]),
    refused("sysctl-1", seccomp(SETUP, EPERM), &["EPERM", DISABLED_1]),
    refused("sysctl-2", seccomp(SETUP, EPERM), &["EPERM", DISABLED_2]),
];

const MISSING_SHUTDOWN: Refusal = Refusal::MissingOpcode("IORING_OP_SHUTDOWN");
const DISABLED_1: &str = "kernel.io_uring_disabled=1: only processes in \
                          kernel.io_uring_group or with CAP_SYS_ADMIN may create rings";
const DISABLED_2: &str = "kernel.io_uring_disabled=2: io_uring is disabled for every process";

/// Runs the case `label` in this (child) process and prints `CHILD-OK <label>: <backend>`.
pub(crate) fn run(label: &str) {
    let case = CASES
        .iter()
        .find(|case| case.label == label)
        .unwrap_or_else(|| panic!("no fallback case {label:?}"));
    if let Some(level) = label.strip_prefix("sysctl-") {
        let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled");
        assert_eq!(
            sysctl.expect("read the sysctl").trim(),
            level,
            "the bind mount is in place"
        );
    }
    refuse(case.refusal);
    let probe = corio::probe();
    let info = serve_hello(case.workers, Backend::Auto);
    if let (Refusal::Memlock, BackendKind::Uring) = (case.refusal, info.kind) {
        assert_eq!(probe.kind, BackendKind::Uring, "the probe agrees: {probe}");
        println!("CHILD-OK {label}: {info}; io_uring_setup succeeded under RLIMIT_MEMLOCK=0");
        return;
    }
    assert_refused(case, &info, "auto");
    match case.probe_refused {
        true => assert_refused(case, &probe, "probe"),
        false => assert_eq!(
            probe.kind,
            BackendKind::Uring,
            "only workers are refused: {probe}"
        ),
    }
    let err = Builder::new()
        .workers(case.workers)
        .backend(Backend::Uring)
        .build()
        .expect_err("explicit uring must fail");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(
        cause(&err.to_string()),
        cause(&info.reason),
        "same reason: {err}"
    );
    println!("CHILD-OK {label}: {info}");
}

/// Installs the refusal for this thread and every thread it starts from now on.
fn refuse(refusal: Refusal) {
    match refusal {
        Refusal::Seccomp {
            syscall,
            errno,
            arg1,
        } => block(syscall, errno, arg1),
        Refusal::MissingOpcode(name) => {
            assert!(
                corio::__private::force_required_opcode_missing(name),
                "{name}"
            );
        }
        Refusal::LaterWorkerRings => {
            let reason = Unavailable::Enter { errno: EPERM };
            corio::__private::fail_worker_rings_after(1, reason);
        }
        Refusal::Memlock => assert_eq!(memlock_limit(), "0 0", "run under prlimit --memlock=0:0"),
    }
}

fn block(syscall: i64, errno: i32, arg1: Option<u64>) {
    let rules = match arg1 {
        Some(value) => {
            let condition =
                SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
                    .expect("seccomp condition");
            vec![SeccompRule::new(vec![condition]).expect("seccomp rule")]
        }
        None => vec![],
    };
    let filter = SeccompFilter::new(
        BTreeMap::from([(syscall, rules)]),
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        std::env::consts::ARCH.try_into().expect("supported arch"),
    )
    .expect("seccomp filter");
    let program: BpfProgram = filter.try_into().expect("compile filter");
    apply_filter(&program).expect("install seccomp filter");
}

/// The soft and hard `RLIMIT_MEMLOCK` of this process, from `/proc/self/limits`.
fn memlock_limit() -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read limits");
    let line = (limits.lines())
        .find_map(|line| line.strip_prefix("Max locked memory"))
        .expect("a memlock line");
    let fields: Vec<&str> = line.split_whitespace().take(2).collect();
    fields.join(" ")
}

fn assert_refused(case: &Case, info: &BackendInfo, what: &str) {
    assert_eq!(info.kind, BackendKind::Epoll, "{what}: {info}");
    for text in case.expect {
        assert!(
            info.reason.contains(text),
            "{what} reason names {text:?}: {info}"
        );
    }
}

/// Builds a runtime, serves one hyper HTTP/1.1 request of the hello service on it and
/// returns its backend. Checks that a start that fell back left no worker thread behind.
fn serve_hello(workers: usize, backend: Backend) -> BackendInfo {
    let before = threads();
    let rt = Builder::new()
        .workers(workers)
        .backend(backend)
        .build()
        .expect("auto ends on a working backend");
    assert_eq!(
        threads(),
        before + workers,
        "only this runtime's workers run"
    );
    let info = rt.block_on(async {
        let server = Server::start(Protocol::Http1, Placement::Local).await;
        let mut client = connect_http1(server.addr).await;
        let reply = fetch(&mut client, get("/")).await;
        assert_eq!(reply.text(), "Hello, World!");
        drop(client);
        server.shutdown().await;
        corio::backend()
    });
    assert_eq!(&info, rt.backend());
    drop(rt);
    assert_eq!(threads_settled(before), before, "every worker was joined");
    info
}

/// Threads of this process once the count reaches `want`, or after 2 s: a thread that was
/// joined can stay listed in `/proc/self/task` for a moment while the kernel reaps it.
fn threads_settled(want: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while threads() != want && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    threads()
}

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .count()
}

/// The reason proper in an auto fallback reason or an explicit-uring error: what follows
/// `corio worker N failed to start: ` or, failing that, `unavailable: `.
fn cause(text: &str) -> &str {
    ["failed to start: ", "unavailable: "]
        .iter()
        .find_map(|prefix| text.split_once(prefix).map(|(_, cause)| cause))
        .unwrap_or(text)
}
