//! `IORING_OP_RECV` (recv(2)): receives into the start of an owned buffer, up to its
//! capacity. Resources kept alive: the buffer and the fd. Result: bytes received (0 at
//! EOF), or `-errno`. Cancellation: a pending recv is cancelled with `ECANCELED`; a recv
//! that already took data still completes with it; a recv holding its direction's ticket
//! stashes what it took when nobody waits for it any more (see `gate.rs`). Kernel 5.6. The epoll backend reads
//! through tokio's `TcpStream` instead.

use std::io;

use io_uring::{opcode, types};

use crate::buf::{self, BufResult, IoBufMut};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// A recv in flight.
#[derive(Debug)]
pub(crate) struct Recv<B> {
    /// Keeps the fd open until the CQE.
    _fd: SharedFd,
    buf: B,
    /// The read direction's ticket, for a recv beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B: IoBufMut> Orphan for Recv<B> {
    /// Bytes received for a dropped future go to the gate's stash, for the next read.
    fn discard(&mut self, completion: Completion) {
        if let (Some(ticket), Ok(n @ 1..)) = (&self.ticket, cqe_result(completion.result)) {
            // SAFETY: the kernel initialized the first `n` bytes, `n <= bytes_total`.
            unsafe { self.buf.set_init(n as usize) };
            ticket.stash(buf::as_slice(&self.buf)[..n as usize].to_vec(), None);
        }
    }
}

impl<B: IoBufMut> Completable for Recv<B> {
    type Output = BufResult<usize, B>;

    fn complete(self, completion: Completion) -> BufResult<usize, B> {
        super::filled(self.buf, completion)
    }
}

/// Submits a recv of up to `buf.bytes_total()` bytes into `buf`.
pub(crate) fn recv<B: IoBufMut>(fd: &SharedFd, mut buf: B) -> Result<Op<Recv<B>>, (io::Error, B)> {
    let len = u32::try_from(buf.bytes_total()).unwrap_or(u32::MAX);
    let sqe = opcode::Recv::new(types::Fd(fd.raw()), buf.stable_mut_ptr(), len).build();
    let data = Recv {
        _fd: fd.clone(),
        buf,
        ticket: None,
    };
    // SAFETY: the SQE points into `buf`'s heap memory, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}
