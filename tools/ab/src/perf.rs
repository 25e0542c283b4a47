//! Counting the server's system calls with perf_event_open(2): one counter
//! of the `raw_syscalls:sys_enter` tracepoint per server thread (with
//! `inherit`, so threads started later by a counted thread count too), read
//! at the start and end of the measured window. When the kernel refuses, the
//! reason is kept and shown in the table instead of a number.
//!
//! The tracepoint's id comes from tracefs. If tracefs is not mounted (a
//! fresh machine or container) and corio-ab runs as root, it mounts tracefs
//! once, saying so on stderr; otherwise the reason names the command to run.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::OnceLock;

use crate::procfs;

/// Where tracefs is mounted, newest mount point first.
const TRACEFS_DIRS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
/// The tracepoint's id file under a tracefs mount.
const ID_FILE: &str = "events/raw_syscalls/sys_enter/id";
/// What a user without the permission to mount tracefs should run.
const MOUNT_COMMAND: &str = "sudo mount -t tracefs nodev /sys/kernel/tracing";
/// `PERF_TYPE_TRACEPOINT` from linux/perf_event.h.
const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `inherit` bit of the attr flags word.
const FLAG_INHERIT: u64 = 1 << 1;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// The first 64 bytes of `struct perf_event_attr` (PERF_ATTR_SIZE_VER0),
/// which is all a counting tracepoint event needs.
#[repr(C)]
#[derive(Debug, Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// Open syscall counters on every thread of a set of processes.
#[derive(Debug)]
pub(crate) struct SyscallCounter {
    counters: Vec<File>,
}

impl SyscallCounter {
    /// Starts counting the system calls of every thread of `pids`.
    ///
    /// # Errors
    /// A short reason for the table: tracefs missing, permission denied, ...
    pub(crate) fn open(pids: &[u32]) -> Result<SyscallCounter, String> {
        let id = tracepoint_id()?;
        let mut counters = Vec::new();
        for tid in pids.iter().flat_map(|&pid| procfs::threads(pid)) {
            match open_counter(id, tid) {
                Ok(file) => counters.push(file),
                // The thread exited between listing and opening.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(explain(&e)),
            }
        }
        match counters.is_empty() {
            true => Err("no server thread to count".to_string()),
            false => Ok(SyscallCounter { counters }),
        }
    }

    /// System calls entered so far by the counted threads.
    ///
    /// # Errors
    /// A failed read of a counter.
    pub(crate) fn read(&self) -> Result<u64, String> {
        let mut total = 0;
        for mut counter in &self.counters {
            let mut value = [0u8; 8];
            counter
                .read_exact(&mut value)
                .map_err(|e| format!("reading a perf counter: {e}"))?;
            total += u64::from_ne_bytes(value);
        }
        Ok(total)
    }
}

/// Finds the tracepoint id (mounting tracefs if needed) before the runs, so
/// that the line saying tracefs was mounted does not cut the progress bar.
pub(crate) fn prepare() {
    let _ = tracepoint_id();
}

/// The `raw_syscalls:sys_enter` id, looked up once per process.
fn tracepoint_id() -> Result<u64, String> {
    static ID: OnceLock<Result<u64, String>> = OnceLock::new();
    ID.get_or_init(find_tracepoint_id).clone()
}

fn find_tracepoint_id() -> Result<u64, String> {
    if let Some(id) = read_id() {
        return id;
    }
    let events = TRACEFS_DIRS
        .iter()
        .any(|dir| std::path::Path::new(dir).join("events").exists());
    // SAFETY: geteuid(2) takes no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = TRACEFS_DIRS
        .into_iter()
        .find(|dir| std::path::Path::new(dir).is_dir());
    let (dir, mounted) = match when_missing(events, root, dir) {
        Missing::Give(reason) => return Err(reason),
        Missing::Mount(dir) => (dir, mount_tracefs(dir)),
    };
    if let Err(e) = mounted {
        return Err(mount_failed(dir, &e));
    }
    eprintln!("corio-ab: mounted tracefs at {dir} to count system calls");
    read_id().unwrap_or_else(|| Err("kernel has no raw_syscalls tracepoint".to_string()))
}

/// The id from the first tracefs mount that has it, if any has.
fn read_id() -> Option<Result<u64, String>> {
    TRACEFS_DIRS.iter().find_map(|dir| {
        let path = format!("{dir}/{ID_FILE}");
        let s = std::fs::read_to_string(&path).ok()?;
        Some(
            s.trim()
                .parse()
                .map_err(|_| format!("bad tracepoint id in {path}")),
        )
    })
}

/// What to do when no id file could be read.
#[derive(Debug, PartialEq, Eq)]
enum Missing {
    /// Give this reason instead of figures.
    Give(String),
    /// Mount tracefs here, then look again.
    Mount(&'static str),
}

/// Decides, given whether a tracefs `events` directory exists, whether we
/// are root, and the first existing mount point.
fn when_missing(events: bool, root: bool, dir: Option<&'static str>) -> Missing {
    match (events, root, dir) {
        (true, _, _) => Missing::Give("kernel has no raw_syscalls tracepoint".to_string()),
        (false, false, _) => Missing::Give(format!("tracefs not mounted; run `{MOUNT_COMMAND}`")),
        (false, true, None) => Missing::Give(format!(
            "tracefs not mounted and neither {} nor {} exists",
            TRACEFS_DIRS[0], TRACEFS_DIRS[1]
        )),
        (false, true, Some(dir)) => Missing::Mount(dir),
    }
}

/// The reason when mounting tracefs at `dir` failed with `e`.
fn mount_failed(dir: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            format!("tracefs not mounted (mounting it was refused); run `{MOUNT_COMMAND}`")
        }
        _ => format!("tracefs not mounted; mounting it at {dir} failed: {e}"),
    }
}

/// `mount -t tracefs nodev DIR`.
fn mount_tracefs(dir: &str) -> io::Result<()> {
    let target = CString::new(dir).map_err(io::Error::other)?;
    // SAFETY: mount(2) reads three NUL-terminated strings that live across
    // the call (two literals and `target`) and no data (null pointer).
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn open_counter(id: u64, tid: u32) -> io::Result<File> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        flags: FLAG_INHERIT,
        ..PerfEventAttr::default()
    };
    // SAFETY: perf_event_open(2) reads `attr.size` bytes from `attr`, a live,
    // fully initialised repr(C) struct of exactly that size; the other
    // arguments are plain integers (this thread id, any CPU, no group).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            tid as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// A short reason for the table.
fn explain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".to_string());
            format!("perf_event_open denied (perf_event_paranoid={paranoid}; needs root or CAP_PERFMON)")
        }
        Some(libc::ENOSYS) | Some(libc::ENOENT) | Some(libc::ENODEV) => {
            "kernel without perf tracepoint events".to_string()
        }
        _ => format!("perf_event_open: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_is_version_0_sized() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 64);
    }

    #[test]
    fn missing_tracefs_is_mounted_by_root_only() {
        let mount_hint = "run `sudo mount -t tracefs nodev /sys/kernel/tracing`";
        let dir = Some(TRACEFS_DIRS[0]);
        assert_eq!(
            when_missing(false, true, dir),
            Missing::Mount(TRACEFS_DIRS[0])
        );
        let debug = Some(TRACEFS_DIRS[1]);
        assert_eq!(
            when_missing(false, true, debug),
            Missing::Mount(TRACEFS_DIRS[1])
        );
        let Missing::Give(reason) = when_missing(false, false, dir) else {
            panic!("a user who is not root cannot mount");
        };
        assert!(reason.contains(mount_hint), "{reason}");
        let Missing::Give(reason) = when_missing(true, true, dir) else {
            panic!("tracefs is mounted");
        };
        assert!(reason.contains("no raw_syscalls"), "{reason}");
        assert!(matches!(when_missing(false, true, None), Missing::Give(_)));
    }

    #[test]
    fn refused_mounts_name_the_command() {
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        let reason = mount_failed(TRACEFS_DIRS[0], &eperm);
        assert!(reason.contains(&format!("`{MOUNT_COMMAND}`")), "{reason}");
        let enodev = io::Error::from_raw_os_error(libc::ENODEV);
        let reason = mount_failed(TRACEFS_DIRS[0], &enodev);
        assert!(reason.contains("/sys/kernel/tracing failed"), "{reason}");
    }

    #[test]
    fn counts_own_syscalls_or_explains() {
        match SyscallCounter::open(&[std::process::id()]) {
            Ok(c) => {
                let before = c.read().unwrap();
                for _ in 0..100 {
                    let _ = std::fs::metadata("/");
                }
                assert!(c.read().unwrap() >= before + 100);
            }
            Err(reason) => assert!(!reason.is_empty()),
        }
    }
}
