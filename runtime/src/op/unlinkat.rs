//! `IORING_OP_UNLINKAT` (unlinkat(2)): removes a file, or with `AT_REMOVEDIR` an empty
//! directory. Resources kept alive: the path. Result: 0, or `-errno`. Cancellation:
//! completes once started. Kernel 5.11. The epoll backend, and a thread without a ring,
//! call `std::fs::remove_file`/`remove_dir` on the blocking pool instead.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, types};

use super::path::Paths;
use crate::driver::op::Op;

/// Submits an unlinkat of `path` (a directory with `dir`).
pub(crate) fn unlinkat(path: CString, dir: bool) -> io::Result<Op<Paths>> {
    let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
    let sqe = opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .flags(flags)
        .build();
    let data = Paths::one(path);
    // SAFETY: the SQE points at the path's heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
