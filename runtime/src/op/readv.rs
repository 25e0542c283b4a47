//! `IORING_OP_READV` (readv(2)): reads into several owned buffers in order, each from its
//! start up to its capacity. Resources kept alive: the buffers, the iovec array and the
//! fd. Result: bytes read (0 at EOF), or `-errno`. Cancellation: as for recv; a readv
//! holding its direction's ticket stashes what it took when nobody waits for it any more.
//! Kernel 5.1.

use std::io;

use io_uring::{opcode, types};

use crate::buf::{self, BufResult, IoBufMut};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// The iovec array the kernel writes through during the op.
///
/// # Invariants
///
/// Each iovec points at the spare capacity of one of the buffers owned by the same
/// [`Readv`], which keeps them alive and unmoved (heap memory) until the CQE.
struct IoVecs(#[allow(dead_code)] Vec<libc::iovec>);

// SAFETY: the raw pointers are only dereferenced by the kernel while the op is in flight;
// they point into buffers that move with the op (see `IoVecs`'s invariants).
unsafe impl Send for IoVecs {}

/// A readv in flight.
pub(crate) struct Readv<B> {
    _fd: SharedFd,
    _iovecs: IoVecs,
    bufs: Vec<B>,
    /// The read direction's ticket, for a readv beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B> std::fmt::Debug for Readv<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readv")
            .field("buffers", &self.bufs.len())
            .finish()
    }
}

impl<B: IoBufMut> Readv<B> {
    /// Marks the `n` bytes the kernel wrote initialized, buffer by buffer.
    fn filled(&mut self, mut n: usize) {
        for buf in &mut self.bufs {
            let here = n.min(buf.bytes_total());
            // SAFETY: the kernel filled the buffers in order, each up to its capacity, so
            // the first `here <= bytes_total` bytes of this one are initialized.
            unsafe { buf.set_init(here) };
            n -= here;
        }
    }
}

impl<B: IoBufMut> Orphan for Readv<B> {
    /// Bytes read for a dropped future go to the gate's stash, for the next read.
    fn discard(&mut self, completion: Completion) {
        let Ok(n @ 1..) = cqe_result(completion.result) else {
            return;
        };
        self.filled(n as usize);
        if let Some(ticket) = &self.ticket {
            let mut data = Vec::with_capacity(n as usize);
            let mut left = n as usize;
            for buf in &self.bufs {
                let bytes = buf::as_slice(buf);
                let here = left.min(bytes.len());
                data.extend_from_slice(&bytes[..here]);
                left -= here;
            }
            ticket.stash(data, None);
        }
    }
}

impl<B: IoBufMut> Completable for Readv<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn complete(mut self, completion: Completion) -> BufResult<usize, Vec<B>> {
        let result = cqe_result(completion.result).map(|n| n as usize);
        if let Ok(n) = result {
            self.filled(n);
        }
        (result, self.bufs)
    }
}

/// Submits a readv into `bufs`, each from its start up to its capacity.
pub(crate) fn readv<B: IoBufMut>(
    fd: &SharedFd,
    mut bufs: Vec<B>,
) -> Result<Op<Readv<B>>, (io::Error, Vec<B>)> {
    let iovecs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|buf| libc::iovec {
            iov_base: buf.stable_mut_ptr().cast(),
            iov_len: buf.bytes_total(),
        })
        .collect();
    let count = u32::try_from(iovecs.len()).unwrap_or(u32::MAX);
    let sqe = opcode::Readv::new(types::Fd(fd.raw()), iovecs.as_ptr(), count)
        .offset(u64::MAX)
        .build();
    let data = Readv {
        _fd: fd.clone(),
        _iovecs: IoVecs(iovecs),
        bufs,
        ticket: None,
    };
    // SAFETY: the SQE points at the iovec array and, through it, into the buffers' heap
    // memory; `data` owns all of them until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.bufs))
}
