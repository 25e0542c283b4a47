//! `IORING_OP_SHUTDOWN` (shutdown(2)): shuts down one or both directions of a socket.
//! Resources kept alive: the fd. Result: 0, or `-errno` (`ENOTCONN`). Cancellation:
//! completes quickly either way. Kernel 5.11. The epoll backend calls shutdown(2) through
//! tokio instead.

use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// A shutdown in flight.
#[derive(Debug)]
pub(crate) struct Shutdown {
    _fd: SharedFd,
}

impl Orphan for Shutdown {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Shutdown {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}

/// Submits a shutdown of `fd` (`how` is `libc::SHUT_WR` etc.).
pub(crate) fn shutdown(fd: &SharedFd, how: i32) -> io::Result<Op<Shutdown>> {
    let sqe = opcode::Shutdown::new(types::Fd(fd.raw()), how).build();
    // SAFETY: a shutdown carries no pointers; `data` keeps the fd open until the CQE.
    unsafe { Op::submit(Shutdown { _fd: fd.clone() }, sqe) }.map_err(|(err, _)| err)
}
