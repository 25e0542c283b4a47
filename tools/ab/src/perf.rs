//! Counting the server's system calls with perf_event_open(2): one counter
//! of the `raw_syscalls:sys_enter` tracepoint per server thread (with
//! `inherit`, so threads started later by a counted thread count too), read
//! at the start and end of the measured window. When the kernel refuses, the
//! reason is kept and shown in the table instead of a number.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};

use crate::procfs;

/// Where tracefs shows the tracepoint's id, newest mount point first.
const ID_FILES: [&str; 2] = [
    "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
    "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
];
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

fn tracepoint_id() -> Result<u64, String> {
    for path in ID_FILES {
        if let Ok(s) = std::fs::read_to_string(path) {
            return s
                .trim()
                .parse()
                .map_err(|_| format!("bad tracepoint id in {path}"));
        }
    }
    match std::path::Path::new("/sys/kernel/tracing/events").exists() {
        true => Err("kernel has no raw_syscalls tracepoint".to_string()),
        false => Err("tracefs not mounted: mount -t tracefs nodev /sys/kernel/tracing".to_string()),
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
