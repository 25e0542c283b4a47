//! `IORING_OP_LINKAT` (linkat(2), no flags: a symlink `src` is linked itself, as
//! `std::fs::hard_link` does on Linux). Resources kept alive: both paths. Result: 0, or
//! `-errno`. Cancellation: completes once started. Kernel 5.15. The epoll backend, and a
//! thread without a ring, call `std::fs::hard_link` on the blocking pool instead.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, types};

use super::path::Paths;
use crate::driver::op::Op;

/// Submits a linkat creating `dst` as a hard link to `src`.
pub(crate) fn linkat(src: CString, dst: CString) -> io::Result<Op<Paths>> {
    let cwd = types::Fd(libc::AT_FDCWD);
    let sqe = opcode::LinkAt::new(cwd, src.as_ptr(), cwd, dst.as_ptr()).build();
    let data = Paths::two(src, dst);
    // SAFETY: the SQE points at both paths' heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
