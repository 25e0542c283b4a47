//! `IORING_OP_WRITEV` (writev(2)): writes the initialized bytes of several owned buffers
//! in order. Resources kept alive: the buffers, the iovec array and the fd. Result: bytes
//! written (may be fewer than asked), or `-errno`. Cancellation: as for send. Kernel 5.1.
//! The epoll backend uses tokio's `poll_write_vectored` instead.

use std::io;

use io_uring::{opcode, types};

use crate::buf::{BufResult, IoBuf};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// The iovec array the kernel reads during the op.
///
/// # Invariants
///
/// Each iovec points into one of the buffers owned by the same [`Writev`], which keeps
/// them alive and unmoved (heap memory) until the CQE.
struct IoVecs(#[allow(dead_code)] Vec<libc::iovec>);

// SAFETY: the raw pointers are only dereferenced by the kernel while the op is in flight;
// they point into buffers that move with the op (see `IoVecs`'s invariants).
unsafe impl std::marker::Send for IoVecs {}

/// A writev in flight.
pub(crate) struct Writev<B> {
    _fd: SharedFd,
    _iovecs: IoVecs,
    bufs: Vec<B>,
    /// The write direction's ticket, for a writev beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B> std::fmt::Debug for Writev<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writev")
            .field("buffers", &self.bufs.len())
            .finish()
    }
}

impl<B: IoBuf> Orphan for Writev<B> {
    fn discard(&mut self, _: Completion) {}
}

impl<B: IoBuf> Completable for Writev<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn complete(self, completion: Completion) -> BufResult<usize, Vec<B>> {
        (cqe_result(completion.result).map(|n| n as usize), self.bufs)
    }
}

/// Submits a writev of every buffer's initialized bytes.
pub(crate) fn writev<B: IoBuf>(
    fd: &SharedFd,
    bufs: Vec<B>,
) -> Result<Op<Writev<B>>, (io::Error, Vec<B>)> {
    let iovecs: Vec<libc::iovec> = bufs
        .iter()
        .map(|buf| libc::iovec {
            iov_base: buf.stable_ptr().cast_mut().cast(),
            iov_len: buf.bytes_init(),
        })
        .collect();
    let count = u32::try_from(iovecs.len()).unwrap_or(u32::MAX);
    let sqe = opcode::Writev::new(types::Fd(fd.raw()), iovecs.as_ptr(), count)
        .offset(u64::MAX)
        .build();
    let data = Writev {
        _fd: fd.clone(),
        _iovecs: IoVecs(iovecs),
        bufs,
        ticket: None,
    };
    // SAFETY: the SQE points at the iovec array and, through it, into the buffers' heap
    // memory; `data` owns all of them until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.bufs))
}
