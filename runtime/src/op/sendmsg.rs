//! `IORING_OP_SENDMSG` (sendmsg(2) with `MSG_NOSIGNAL`): sends all initialized bytes of an
//! owned buffer as one datagram to an owned, boxed address. Resources kept alive: the
//! buffer, the boxed `msghdr` with its iovec and address, and the fd. Result: bytes sent,
//! or `-errno` (`EMSGSIZE`, `ECONNREFUSED` after an ICMP error, `ENOBUFS`...).
//! Cancellation: a pending sendmsg is cancelled with `ECANCELED`; one that already queued
//! its datagram completes with its size. Kernel 5.3. The epoll backend sends through
//! tokio's `UdpSocket`/`UnixDatagram` instead.

use std::io;

use io_uring::{opcode, types};
use socket2::SockAddr;

use crate::buf::{BufResult, IoBuf};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// The `msghdr` the kernel reads, with the iovec and the address it points to.
struct Header {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
}

/// A boxed [`Header`].
///
/// # Invariants
///
/// `msg.msg_iov` points at `iov` and `msg.msg_name` at `addr`, both in the same box (which
/// never moves while the op is in flight); `iov` points into the heap memory of the buffer
/// owned by the same [`SendMsg`].
struct MsgHeader(#[allow(dead_code)] Box<Header>);

// SAFETY: the raw pointers are only dereferenced by the kernel while the op is in flight
// and point into memory that moves with the op (see `MsgHeader`'s invariants).
unsafe impl Send for MsgHeader {}

/// A sendmsg in flight.
pub(crate) struct SendMsg<B> {
    _fd: SharedFd,
    _header: MsgHeader,
    buf: B,
    /// The write direction's ticket, for a sendmsg beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B> std::fmt::Debug for SendMsg<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMsg").finish_non_exhaustive()
    }
}

impl<B: IoBuf> Orphan for SendMsg<B> {
    fn discard(&mut self, _: Completion) {}
}

impl<B: IoBuf> Completable for SendMsg<B> {
    type Output = BufResult<usize, B>;

    fn complete(self, completion: Completion) -> BufResult<usize, B> {
        (cqe_result(completion.result).map(|n| n as usize), self.buf)
    }
}

/// Submits a sendmsg of `buf`'s initialized bytes to `addr`.
pub(crate) fn sendmsg<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    addr: SockAddr,
) -> Result<Op<SendMsg<B>>, (io::Error, B)> {
    let mut header = Box::new(Header {
        // SAFETY: an all-zero msghdr is valid: null pointers and zero lengths.
        msg: unsafe { std::mem::zeroed() },
        iov: libc::iovec {
            iov_base: buf.stable_ptr().cast_mut().cast(),
            iov_len: buf.bytes_init(),
        },
        addr,
    });
    header.msg.msg_name = header.addr.as_ptr().cast_mut().cast();
    header.msg.msg_namelen = header.addr.len();
    header.msg.msg_iov = std::ptr::from_mut(&mut header.iov);
    header.msg.msg_iovlen = 1;
    let sqe = opcode::SendMsg::new(types::Fd(fd.raw()), &header.msg)
        .flags(libc::MSG_NOSIGNAL as u32)
        .build();
    let data = SendMsg {
        _fd: fd.clone(),
        _header: MsgHeader(header),
        buf,
        ticket: None,
    };
    // SAFETY: the SQE points at the boxed msghdr, which points at its own iovec and
    // address and, through the iovec, into `buf`'s heap memory; `data` owns all of them
    // until the CQE (see `MsgHeader`'s invariants).
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}
