//! `IORING_OP_SPLICE` (splice(2)): moves up to `len` bytes from one fd to another, one of
//! them a pipe, without copying them through user memory. corio uses it for file → pipe
//! (at an offset) and pipe → socket. Resources kept alive: both fds. Result: bytes moved
//! (0 at the file's end), or `-errno` (`EINVAL` where the file system cannot splice,
//! `EAGAIN` from a full non-blocking socket). Cancellation: a splice that already moved
//! bytes completes with their count. Kernel 5.7.

use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// A splice in flight.
#[derive(Debug)]
pub(crate) struct Splice {
    _from: SharedFd,
    _to: SharedFd,
    /// The socket's write ticket, for a splice into a socket beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl Orphan for Splice {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Splice {
    type Output = io::Result<usize>;

    fn complete(self, completion: Completion) -> io::Result<usize> {
        cqe_result(completion.result).map(|n| n as usize)
    }
}

/// Submits a splice of up to `len` bytes from `from` (at `offset`, or its position when
/// `None`) to `to` (at its position).
pub(crate) fn splice(
    from: &SharedFd,
    offset: Option<u64>,
    to: &SharedFd,
    len: u32,
) -> io::Result<Op<Splice>> {
    let off_in = offset.map_or(-1, |off| i64::try_from(off).unwrap_or(i64::MAX));
    let sqe =
        opcode::Splice::new(types::Fd(from.raw()), off_in, types::Fd(to.raw()), -1, len).build();
    let data = Splice {
        _from: from.clone(),
        _to: to.clone(),
        ticket: None,
    };
    // SAFETY: the SQE carries only fd numbers and offsets, no pointers; `data` keeps both
    // fds open until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
