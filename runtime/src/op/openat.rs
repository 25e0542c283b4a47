//! `IORING_OP_OPENAT` (openat(2)): opens a path relative to the current directory.
//! Resources kept alive: the NUL-terminated path. Result: the new fd, or `-errno`.
//! Cancellation: an open still waiting is cancelled with `ECANCELED`; one that already
//! opened its file completes, and the fd is closed when nobody waits for it (see
//! [`Orphan::discard`]). Kernel 5.6. The epoll backend, and a thread without a ring,
//! open with `std::fs::OpenOptions` (the same flags) on the blocking pool instead.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;

/// An open in flight.
#[derive(Debug)]
pub(crate) struct OpenAt {
    /// Read by the kernel until the CQE.
    _path: CString,
}

impl Orphan for OpenAt {
    fn discard(&mut self, completion: Completion) {
        if let Ok(fd) = cqe_result(completion.result) {
            // SAFETY: a successful CQE of an open carries a new fd nobody else owns; the
            // op was dropped, so closing it here is the only close.
            drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
    }
}

impl Completable for OpenAt {
    type Output = io::Result<OwnedFd>;

    fn complete(self, completion: Completion) -> io::Result<OwnedFd> {
        let fd = cqe_result(completion.result)?;
        // SAFETY: a successful CQE of an open carries a new fd that only this op owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// Submits an openat(2) of `path` (relative to the current directory) with `flags` and
/// `mode`.
pub(crate) fn openat(path: CString, flags: i32, mode: u32) -> io::Result<Op<OpenAt>> {
    let sqe = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .flags(flags)
        .mode(mode)
        .build();
    let data = OpenAt { _path: path };
    // SAFETY: the SQE points at the CString's heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
