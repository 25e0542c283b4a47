//! `IORING_OP_MKDIRAT` (mkdirat(2)): creates a directory, mode 0o777 less the umask (as
//! `std::fs::create_dir`). Resources kept alive: the path. Result: 0, or `-errno`.
//! Cancellation: completes once started. Kernel 5.15. The epoll backend, and a thread
//! without a ring, call `std::fs::create_dir` on the blocking pool instead.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, types};

use super::path::Paths;
use crate::driver::op::Op;

/// Submits a mkdirat of `path`.
pub(crate) fn mkdirat(path: CString) -> io::Result<Op<Paths>> {
    let sqe = opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
        .mode(0o777)
        .build();
    let data = Paths::one(path);
    // SAFETY: the SQE points at the path's heap bytes, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
