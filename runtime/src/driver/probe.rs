//! Ring setup and the opcode probe.
//!
//! A ring is created on the thread that will own it, with the flags measured best (see
//! docs/ARCHITECTURE.md: `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG`), falling back
//! to fewer flags when the kernel rejects them with `EINVAL`. Every opcode corio uses is
//! checked with `IORING_REGISTER_PROBE`; a missing one makes the backend unavailable.
//! The file-system opcodes are optional: recorded per process, and a call whose opcode is
//! missing falls back to the blocking pool (`corio::fs`). Last, one NOP is submitted
//! and waited for, so a ring whose `io_uring_enter` is refused (a seccomp filter that
//! allows only `io_uring_setup`) counts as unavailable instead of giving a runtime that
//! never completes an op.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use io_uring::{opcode, IoUring, Probe};
use slab::Slab;

use super::{EnterFd, Provided, RecvConfig, Remote, Ring, UNTRACKED};
use crate::error::{self, Unavailable};
use crate::metrics::Counters;

/// Parameters of a ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingConfig {
    /// Submission queue entries.
    pub(crate) entries: u32,
    /// Completion queue entries; `None` for [`cq_entries`] of `entries`.
    pub(crate) cq_entries: Option<u32>,
    /// How streams receive (`recv.rs`).
    pub(crate) recv: RecvConfig,
    /// Enter through a registered ring fd where the kernel allows it (`enter.rs`).
    pub(crate) register_fd: bool,
}

impl RingConfig {
    /// A ring of `entries` SQEs with the default CQ size.
    pub(crate) fn new(entries: u32) -> RingConfig {
        RingConfig {
            entries,
            cq_entries: None,
            recv: RecvConfig::default(),
            register_fd: true,
        }
    }
}

/// What the kernel accepted when the ring was set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setup {
    /// The setup flags in use, e.g. `SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG`.
    pub(crate) flags: &'static str,
    /// Submission queue entries.
    pub(crate) entries: u32,
    /// Completion queue entries, as the kernel sized the CQ.
    pub(crate) cq_entries: u32,
}

/// The opcodes corio submits (one `op/<opcode>.rs` each, plus `AsyncCancel`), with their
/// man-page names. Keep in step with `op/mod.rs`.
const REQUIRED: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "IORING_OP_NOP"),
    (opcode::Recv::CODE, "IORING_OP_RECV"),
    (opcode::Send::CODE, "IORING_OP_SEND"),
    (opcode::Writev::CODE, "IORING_OP_WRITEV"),
    (opcode::Readv::CODE, "IORING_OP_READV"),
    (opcode::RecvMsg::CODE, "IORING_OP_RECVMSG"),
    (opcode::SendMsg::CODE, "IORING_OP_SENDMSG"),
    (opcode::Accept::CODE, "IORING_OP_ACCEPT"),
    (opcode::Connect::CODE, "IORING_OP_CONNECT"),
    (opcode::PollAdd::CODE, "IORING_OP_POLL_ADD"),
    (opcode::Shutdown::CODE, "IORING_OP_SHUTDOWN"),
    (opcode::AsyncCancel::CODE, "IORING_OP_ASYNC_CANCEL"),
];

/// The opcodes of `corio::fs`: optional. Each ring records which the kernel has; a call
/// whose opcode is missing takes the blocking path instead (one `warn` per opcode).
const OPTIONAL: &[(u8, &str)] = &[
    (opcode::OpenAt::CODE, "IORING_OP_OPENAT"),
    (opcode::Read::CODE, "IORING_OP_READ"),
    (opcode::Write::CODE, "IORING_OP_WRITE"),
    (opcode::Fsync::CODE, "IORING_OP_FSYNC"),
    (opcode::Statx::CODE, "IORING_OP_STATX"),
    (opcode::UnlinkAt::CODE, "IORING_OP_UNLINKAT"),
    (opcode::RenameAt::CODE, "IORING_OP_RENAMEAT"),
    (opcode::MkDirAt::CODE, "IORING_OP_MKDIRAT"),
    (opcode::LinkAt::CODE, "IORING_OP_LINKAT"),
    (opcode::SymlinkAt::CODE, "IORING_OP_SYMLINKAT"),
    (opcode::Ftruncate::CODE, "IORING_OP_FTRUNCATE"),
    (opcode::Close::CODE, "IORING_OP_CLOSE"),
    (opcode::Splice::CODE, "IORING_OP_SPLICE"),
];

/// A set of opcodes (a bit per opcode number), shared by every ring of the process.
struct OpcodeSet([AtomicU64; 4]);

impl OpcodeSet {
    const fn new() -> OpcodeSet {
        OpcodeSet([const { AtomicU64::new(0) }; 4])
    }

    fn insert(&self, code: u8) -> bool {
        let bit = 1 << (code % 64);
        self.0[usize::from(code / 64)].fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    fn contains(&self, code: u8) -> bool {
        self.0[usize::from(code / 64)].load(Ordering::Relaxed) & (1 << (code % 64)) != 0
    }
}

/// Optional opcodes the probe of a ring found.
static SUPPORTED: OpcodeSet = OpcodeSet::new();
/// Opcodes a test declared missing ([`Ring::force_missing`],
/// [`Ring::force_required_missing`]).
static FORCED_MISSING: OpcodeSet = OpcodeSet::new();
/// Missing opcodes already logged.
static WARNED: OpcodeSet = OpcodeSet::new();
/// A failure a test scheduled for `Ring::new`: how many rings still start, then the
/// reason every later one fails with ([`Ring::fail_after`]).
static FORCED_FAILURE: Mutex<Option<(usize, Unavailable)>> = Mutex::new(None);

fn record_optional(supported: impl Fn(u8) -> bool) {
    for (code, _) in OPTIONAL.iter().filter(|(code, _)| supported(*code)) {
        SUPPORTED.insert(*code);
    }
}

impl Ring {
    /// True when this ring's kernel has the optional opcode `code`; the first time it
    /// lacks it, logs a `warn` naming it (the caller then takes the blocking path).
    pub(crate) fn has_opcode(&self, code: u8) -> bool {
        if SUPPORTED.contains(code) && !FORCED_MISSING.contains(code) {
            return true;
        }
        if WARNED.insert(code) {
            let name = OPTIONAL
                .iter()
                .find(|(c, _)| *c == code)
                .map_or("?", |o| o.1);
            tracing::warn!(
                opcode = name,
                "io_uring opcode unsupported by the kernel; these calls use the blocking pool"
            );
        }
        false
    }

    /// Makes every ring of the process treat the optional opcode `name` (e.g.
    /// `"IORING_OP_STATX"`) as missing, for tests of the fallback. False when `name` is
    /// not an optional opcode.
    pub(crate) fn force_missing(name: &str) -> bool {
        match OPTIONAL.iter().find(|(_, n)| *n == name) {
            Some((code, _)) => {
                FORCED_MISSING.insert(*code);
                true
            }
            None => false,
        }
    }

    /// Makes every later ring setup of the process (probe and `Ring::new`) treat the
    /// required opcode `name` (e.g. `"IORING_OP_SHUTDOWN"`) as missing, for tests of the
    /// epoll fallback. False when `name` is not a required opcode.
    pub(crate) fn force_required_missing(name: &str) -> bool {
        match REQUIRED.iter().find(|(_, n)| *n == name) {
            Some((code, _)) => {
                FORCED_MISSING.insert(*code);
                true
            }
            None => false,
        }
    }

    /// Lets the next `rings` calls of `Ring::new` in the process succeed and makes every
    /// later one fail with `reason`, for tests of a worker that fails after the probe
    /// succeeded. The probe itself is not affected.
    pub(crate) fn fail_after(rings: usize, reason: Unavailable) {
        *lock_forced_failure() = Some((rings, reason));
    }
}

fn lock_forced_failure() -> MutexGuard<'static, Option<(usize, Unavailable)>> {
    FORCED_FAILURE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The failure [`Ring::fail_after`] scheduled for this ring, if any.
fn forced_failure() -> Result<(), Unavailable> {
    match &mut *lock_forced_failure() {
        Some((0, reason)) => Err(reason.clone()),
        Some((left, _)) => {
            *left -= 1;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Flag sets tried in order; the first the kernel accepts wins. `NO_SQARRAY` (6.6+)
/// drops the SQ index array: the kernel reads SQEs in ring order.
const ATTEMPTS: &[&str] = &[
    "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL|NO_SQARRAY",
    "SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL",
    "COOP_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL",
    "none",
];

/// Sets up a ring on the calling thread, probes it and drops it: what the uring
/// backend would get here.
pub(crate) fn probe(config: RingConfig) -> Result<Setup, Unavailable> {
    create(config).map(|(_, setup)| setup)
}

fn create(config: RingConfig) -> Result<(IoUring, Setup), Unavailable> {
    let mut last = libc::EINVAL;
    for flags in ATTEMPTS {
        let cq = config.cq_entries.unwrap_or(cq_entries(config.entries));
        match builder(flags, cq).build(config.entries) {
            Ok(mut uring) => {
                check_opcodes(&uring)?;
                check_enter(&mut uring)?;
                let setup = Setup {
                    flags,
                    entries: config.entries,
                    cq_entries: uring.params().cq_entries(),
                };
                return Ok((uring, setup));
            }
            Err(err) => {
                last = err.raw_os_error().unwrap_or(libc::EINVAL);
                if last != libc::EINVAL {
                    break;
                }
            }
        }
    }
    Err(setup_error(last))
}

/// Where the kernel says whether io_uring is restricted (Linux 6.6+).
const IO_URING_DISABLED: &str = "/proc/sys/kernel/io_uring_disabled";

/// The reason for a failed `io_uring_setup`: EPERM while `kernel.io_uring_disabled`
/// restricts io_uring names the sysctl.
fn setup_error(errno: i32) -> Unavailable {
    let disabled = match errno {
        libc::EPERM => std::fs::read_to_string(IO_URING_DISABLED)
            .ok()
            .and_then(|contents| error::io_uring_disabled(&contents)),
        _ => None,
    };
    match disabled {
        Some(level) => Unavailable::Disabled { level },
        None => Unavailable::Setup { errno },
    }
}

/// The smallest completion queue a ring gets by default: one CQE for every multishot poll of a
/// thousand busy connections and their sends, without relying on the kernel's overflow
/// list (64 KiB of CQEs).
const MIN_CQ_ENTRIES: u32 = 4096;

/// Completion queue entries for a ring of `entries` SQEs: at least twice as many, and
/// at least [`MIN_CQ_ENTRIES`] (the kernel clamps to its maximum).
fn cq_entries(entries: u32) -> u32 {
    entries.saturating_mul(2).max(MIN_CQ_ENTRIES)
}

fn builder(flags: &str, cq_entries: u32) -> io_uring::Builder {
    let mut builder = IoUring::builder();
    builder.setup_cqsize(cq_entries).setup_clamp();
    for flag in flags.split('|') {
        match flag {
            "SINGLE_ISSUER" => builder.setup_single_issuer(),
            "DEFER_TASKRUN" => builder.setup_defer_taskrun(),
            "TASKRUN_FLAG" => builder.setup_taskrun_flag(),
            "COOP_TASKRUN" => builder.setup_coop_taskrun(),
            "SUBMIT_ALL" => builder.setup_submit_all(),
            "NO_SQARRAY" => builder.setup_no_sqarray(),
            _ => &mut builder,
        };
    }
    builder
}

fn check_opcodes(uring: &IoUring) -> Result<(), Unavailable> {
    let mut probe = Probe::new();
    uring
        .submitter()
        .register_probe(&mut probe)
        .map_err(|err| Unavailable::Register {
            what: "probe",
            errno: err.raw_os_error().unwrap_or(0),
        })?;
    record_optional(|code| probe.is_supported(code));
    require_opcodes(|code| probe.is_supported(code) && !FORCED_MISSING.contains(code))
}

/// Submits one NOP on the fresh ring and waits for its completion: proves that
/// `io_uring_enter` works before a runtime relies on it.
fn check_enter(uring: &mut IoUring) -> Result<(), Unavailable> {
    let nop = opcode::Nop::new().build().user_data(UNTRACKED);
    // SAFETY: a NOP points to no memory, so nothing must outlive the SQE.
    let pushed = unsafe { uring.submission().push(&nop) };
    pushed.expect("a fresh ring's submission queue has room for one NOP");
    let enter = |err: io::Error| Unavailable::Enter {
        errno: err.raw_os_error().unwrap_or(0),
    };
    loop {
        match uring.submit_and_wait(1) {
            Ok(_) => {}
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
            Err(err) => return Err(enter(err)),
        }
        if let Some(cqe) = uring.completion().next() {
            return error::cqe_result(cqe.result()).map(drop).map_err(enter);
        }
    }
}

/// Fails with the first opcode in [`REQUIRED`] that `supported` rejects.
fn require_opcodes(supported: impl Fn(u8) -> bool) -> Result<(), Unavailable> {
    match REQUIRED.iter().find(|(code, _)| !supported(*code)) {
        Some((_, name)) => Err(Unavailable::MissingOpcode { name }),
        None => Ok(()),
    }
}

/// io-wq threads a ring may start for unbounded work (sockets and pipes: the splices of
/// `copy_file_to` that wait for a slow peer), so a crowd of stalled clients cannot start
/// thousands of threads. Bounded work (regular files) keeps the kernel's limit,
/// min(SQ entries, 4 × CPUs).
const MAX_UNBOUNDED_IOWQ: u32 = 256;

/// Caps the ring's unbounded io-wq workers; a kernel without the register op (before
/// 5.15) keeps its default.
fn cap_iowq(uring: &IoUring) {
    let mut max = [0, MAX_UNBOUNDED_IOWQ];
    if let Err(err) = uring.submitter().register_iowq_max_workers(&mut max) {
        tracing::debug!(error = %err, "io-wq worker cap not set");
    }
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; the result is checked before use.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Ring {
    /// Creates this thread's ring, probes its opcodes and `io_uring_enter`, and registers
    /// its eventfd.
    pub(crate) fn new(config: RingConfig, counters: Arc<Counters>) -> Result<Ring, Unavailable> {
        forced_failure()?;
        let (uring, setup) = create(config)?;
        let register = |what, err: io::Error| Unavailable::Register {
            what,
            errno: err.raw_os_error().unwrap_or(0),
        };
        cap_iowq(&uring);
        let eventfd = Arc::new(eventfd().map_err(|err| register("eventfd", err))?);
        uring
            .submitter()
            .register_eventfd(eventfd.as_raw_fd())
            .map_err(|err| register("eventfd", err))?;
        Ok(Ring {
            enter: EnterFd::new(uring.as_raw_fd(), config.register_fd),
            uring,
            ops: Slab::with_capacity(config.entries as usize),
            ready: Vec::new(),
            driver: None,
            driver_notified: false,
            remote: Remote::register(eventfd),
            setup,
            counters,
            recv: config.recv,
            provided: Provided::Unregistered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_opcode_is_named() {
        let without_shutdown = |code| code != opcode::Shutdown::CODE;
        let reason = require_opcodes(without_shutdown).unwrap_err();
        assert_eq!(
            reason,
            Unavailable::MissingOpcode {
                name: "IORING_OP_SHUTDOWN"
            }
        );
        assert!(
            reason.to_string().contains("IORING_OP_SHUTDOWN"),
            "{reason}"
        );
        assert!(require_opcodes(|_| true).is_ok());
    }

    #[test]
    fn this_kernel_has_every_required_opcode() {
        match IoUring::new(8) {
            Ok(uring) => check_opcodes(&uring).expect("kernel 5.19+ has them all"),
            Err(err) if crate::__private::uring_required() => {
                panic!("io_uring unavailable: {err}")
            }
            Err(err) => eprintln!("skipping: io_uring unavailable: {err}"),
        }
    }

    #[test]
    fn a_fresh_ring_completes_a_nop_and_is_left_empty() {
        match IoUring::new(8) {
            Ok(mut uring) => {
                check_enter(&mut uring).expect("io_uring_enter works here");
                assert!(uring.completion().is_empty(), "the NOP's CQE was taken");
            }
            Err(err) if crate::__private::uring_required() => {
                panic!("io_uring unavailable: {err}")
            }
            Err(err) => eprintln!("skipping: io_uring unavailable: {err}"),
        }
    }

    #[test]
    fn a_ring_gets_a_large_cq_and_a_capped_io_wq() {
        match create(RingConfig::new(8)) {
            Ok((uring, setup)) => {
                assert_eq!(setup.cq_entries, MIN_CQ_ENTRIES, "{setup:?}");
                cap_iowq(&uring);
                // Zeros ask for the current limits without changing them.
                let mut max = [0, 0];
                uring
                    .submitter()
                    .register_iowq_max_workers(&mut max)
                    .expect("kernel 5.15+");
                assert_eq!(max[1], MAX_UNBOUNDED_IOWQ, "{max:?}");
            }
            Err(err) if crate::__private::uring_required() => {
                panic!("io_uring unavailable: {err}")
            }
            Err(err) => eprintln!("skipping: io_uring unavailable: {err}"),
        }
        assert_eq!(cq_entries(32768), 65536);
    }

    #[test]
    fn only_eperm_reads_the_sysctl() {
        let errno = libc::ENOSYS;
        assert_eq!(setup_error(errno), Unavailable::Setup { errno });
    }
}
