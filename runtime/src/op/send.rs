//! `IORING_OP_SEND` (send(2) with `MSG_NOSIGNAL`, and `MSG_WAITALL` for a send of all):
//! sends the initialized bytes of an owned buffer; with `MSG_WAITALL` the kernel retries
//! partial sends on a stream socket itself. Resources kept alive: the buffer and the fd.
//! Result: bytes sent, or `-errno` (`EPIPE`, `ECONNRESET`). Cancellation: a send that
//! already queued bytes completes with their count. A send detached with `shutdown_after`
//! shuts down the write direction when its CQE reports success (a dropped write half).
//! Kernel 5.6.

use std::io;

use io_uring::{opcode, types};

use crate::buf::{BufResult, IoBuf};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// A send in flight.
#[derive(Debug)]
pub(crate) struct Send<B> {
    /// Keeps the fd open until the CQE.
    fd: SharedFd,
    buf: B,
    /// Shut down the write direction after a successful final CQE (detached sends).
    pub(crate) shutdown_after: bool,
    /// The write direction's ticket, for a send beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B: IoBuf> Orphan for Send<B> {
    fn discard(&mut self, completion: Completion) {
        if self.shutdown_after && completion.result >= 0 {
            let _ = socket2::SockRef::from(&self.fd).shutdown(std::net::Shutdown::Write);
        }
    }
}

impl<B: IoBuf> Completable for Send<B> {
    type Output = BufResult<usize, B>;

    fn complete(self, completion: Completion) -> BufResult<usize, B> {
        (cqe_result(completion.result).map(|n| n as usize), self.buf)
    }
}

/// Submits a send of `buf`'s initialized bytes: all of them when `all` (`MSG_WAITALL`),
/// else what fits (at least one byte, as send(2) on a blocking socket).
pub(crate) fn send<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    all: bool,
) -> Result<Op<Send<B>>, (io::Error, B)> {
    let len = u32::try_from(buf.bytes_init()).unwrap_or(u32::MAX);
    let wait_all = if all { libc::MSG_WAITALL } else { 0 };
    let sqe = opcode::Send::new(types::Fd(fd.raw()), buf.stable_ptr(), len)
        .flags(libc::MSG_NOSIGNAL | wait_all)
        .build();
    let data = Send {
        fd: fd.clone(),
        buf,
        shutdown_after: false,
        ticket: None,
    };
    // SAFETY: the SQE points into `buf`'s heap memory, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}
