//! `IORING_OP_SYMLINKAT` (symlinkat(2)): creates `link` pointing at `target`. Resources
//! kept alive: both paths. Result: 0, or `-errno`. Cancellation: completes once started.
//! Kernel 5.15. The epoll backend, and a thread without a ring, call
//! `std::os::unix::fs::symlink` on the blocking pool instead.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, types};

use super::path::Paths;
use crate::driver::op::Op;

/// Submits a symlinkat creating `link`, whose content is `target`.
pub(crate) fn symlinkat(target: CString, link: CString) -> io::Result<Op<Paths>> {
    let sqe =
        opcode::SymlinkAt::new(types::Fd(libc::AT_FDCWD), target.as_ptr(), link.as_ptr()).build();
    let data = Paths::two(target, link);
    // SAFETY: the SQE points at both paths' heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
