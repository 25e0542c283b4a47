//! `IORING_OP_RENAMEAT` (renameat2(2), no flags): renames `from` to `to`, replacing `to`
//! as rename(2) does. Resources kept alive: both paths. Result: 0, or `-errno`.
//! Cancellation: completes once started. Kernel 5.11. The epoll backend, and a thread
//! without a ring, call `std::fs::rename` on the blocking pool instead.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, types};

use super::path::Paths;
use crate::driver::op::Op;

/// Submits a renameat of `from` to `to`.
pub(crate) fn renameat(from: CString, to: CString) -> io::Result<Op<Paths>> {
    let cwd = types::Fd(libc::AT_FDCWD);
    let sqe = opcode::RenameAt::new(cwd, from.as_ptr(), cwd, to.as_ptr()).build();
    let data = Paths::two(from, to);
    // SAFETY: the SQE points at both paths' heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
