//! `IORING_OP_POLL_ADD` (poll(2) semantics): waits until the fd is ready for the requested
//! events, once (kernel 5.1) or, with `IORING_POLL_ADD_MULTI` (kernel 5.13), once per
//! wake-up of the fd until cancelled — armed once per socket, like an edge-triggered epoll
//! registration. Resources kept alive: the fd. Result: the ready event mask (`POLLIN`,
//! `POLLOUT`, `POLLERR`, `POLLHUP`...), or `-errno` (`EINVAL` for the multishot flag on an
//! older kernel). Cancellation: cancelled with `ECANCELED`. The epoll backend uses tokio's
//! readiness instead.

use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op, StreamOp};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// A poll in flight.
#[derive(Debug)]
pub(crate) struct PollAdd {
    _fd: SharedFd,
}

impl Orphan for PollAdd {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for PollAdd {
    type Output = io::Result<u32>;

    fn complete(self, completion: Completion) -> io::Result<u32> {
        cqe_result(completion.result)
    }
}

/// Submits a one-shot poll of `fd` for `events` (`libc::POLLIN` etc.).
pub(crate) fn poll_add(fd: &SharedFd, events: u32) -> io::Result<Op<PollAdd>> {
    let sqe = opcode::PollAdd::new(types::Fd(fd.raw()), events).build();
    // SAFETY: a poll carries no pointers; `data` keeps the fd open until the CQE.
    unsafe { Op::submit(PollAdd { _fd: fd.clone() }, sqe) }.map_err(|(err, _)| err)
}

/// Submits a multishot poll of `fd` for `events`: one CQE per wake-up until cancelled (or
/// until the kernel ends it with a final CQE).
pub(crate) fn poll_add_multi(fd: &SharedFd, events: u32) -> io::Result<StreamOp<PollAdd>> {
    let sqe = opcode::PollAdd::new(types::Fd(fd.raw()), events)
        .multi(true)
        .build();
    // SAFETY: a poll carries no pointers; `data` keeps the fd open until the final CQE.
    unsafe { StreamOp::submit(PollAdd { _fd: fd.clone() }, sqe) }.map_err(|(err, _)| err)
}
