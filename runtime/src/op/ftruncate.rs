//! `IORING_OP_FTRUNCATE` (ftruncate(2)). Resources kept alive: the fd. Result: 0, or
//! `-errno`. Cancellation: completes once started. Kernel 6.9 (optional: on older kernels
//! `File::set_len` falls back to the blocking pool). The epoll backend, and a thread
//! without a ring, call [`blocking`] on the blocking pool.

use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// An ftruncate in flight.
#[derive(Debug)]
pub(crate) struct Ftruncate {
    _fd: SharedFd,
}

impl Orphan for Ftruncate {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Ftruncate {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}

/// Submits an ftruncate to `len` bytes.
pub(crate) fn ftruncate(fd: &SharedFd, len: u64) -> io::Result<Op<Ftruncate>> {
    let sqe = opcode::Ftruncate::new(types::Fd(fd.raw()), len).build();
    let data = Ftruncate { _fd: fd.clone() };
    // SAFETY: the SQE holds no pointers; `data` keeps the fd open until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}

/// ftruncate(2) on the calling thread.
pub(crate) fn blocking(fd: &SharedFd, len: u64) -> io::Result<()> {
    let len = i64::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: ftruncate takes no pointers; `fd` is open while borrowed.
    if unsafe { libc::ftruncate64(fd.raw(), len) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
