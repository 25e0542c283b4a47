//! `IORING_OP_FSYNC` (fsync(2), or fdatasync(2) with `DATASYNC`). Resources kept alive:
//! the fd. Result: 0, or `-errno`. Cancellation: a started sync completes. Kernel 5.1.
//! The epoll backend, and a thread without a ring, call [`fsync`] on the blocking pool.

use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// An fsync in flight.
#[derive(Debug)]
pub(crate) struct Fsync {
    _fd: SharedFd,
}

impl Orphan for Fsync {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Fsync {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}

/// Submits an fsync (data only with `datasync`).
pub(crate) fn fsync(fd: &SharedFd, datasync: bool) -> io::Result<Op<Fsync>> {
    let flags = if datasync {
        types::FsyncFlags::DATASYNC
    } else {
        types::FsyncFlags::empty()
    };
    let sqe = opcode::Fsync::new(types::Fd(fd.raw())).flags(flags).build();
    let data = Fsync { _fd: fd.clone() };
    // SAFETY: the SQE holds no pointers; `data` keeps the fd open until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}

/// fsync(2) or fdatasync(2) on the calling thread.
pub(crate) fn blocking(fd: &SharedFd, datasync: bool) -> io::Result<()> {
    // SAFETY: neither call takes pointers; `fd` is open while borrowed.
    let rc = unsafe {
        if datasync {
            libc::fdatasync(fd.raw())
        } else {
            libc::fsync(fd.raw())
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
