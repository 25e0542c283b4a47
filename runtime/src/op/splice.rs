//! `IORING_OP_SPLICE` (splice(2)): moves up to `len` bytes from one fd to another, one of
//! them a pipe, without copying them through user memory. corio uses it for file → pipe
//! (at an offset), pipe → socket, socket → pipe and pipe → file (at an offset). Resources kept alive: both fds. Result: bytes moved
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
    /// The socket's ticket, for a splice into or out of a socket beside readiness I/O.
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
    submit(from, offset.map_or(-1, as_offset), to, -1, len)
}

/// Submits a splice of up to `len` bytes from `from` (at its position) to `to` at `offset`.
pub(crate) fn splice_to(
    from: &SharedFd,
    to: &SharedFd,
    offset: u64,
    len: u32,
) -> io::Result<Op<Splice>> {
    submit(from, -1, to, as_offset(offset), len)
}

/// A file offset as splice(2) takes it (-1 means "the fd's position").
fn as_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

fn submit(
    from: &SharedFd,
    off_in: i64,
    to: &SharedFd,
    off_out: i64,
    len: u32,
) -> io::Result<Op<Splice>> {
    let (fd_in, fd_out) = (types::Fd(from.raw()), types::Fd(to.raw()));
    let sqe = opcode::Splice::new(fd_in, off_in, fd_out, off_out, len).build();
    let data = Splice {
        _from: from.clone(),
        _to: to.clone(),
        ticket: None,
    };
    // SAFETY: the SQE carries only fd numbers and offsets, no pointers; `data` keeps both
    // fds open until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
