//! `IORING_OP_RECVMSG` (recvmsg(2)): receives one datagram into the start of an owned
//! buffer, up to its capacity, and the sender's address into an owned, boxed
//! `sockaddr_storage`. Resources kept alive: the buffer, the boxed `msghdr` with its iovec
//! and address, and the fd. Result: bytes received (a datagram longer than the buffer is
//! truncated, as recvmsg(2) does), or `-errno`. Cancellation: a pending recvmsg is
//! cancelled with `ECANCELED`; one that already took a datagram completes with it, and the
//! datagram is dropped with the buffer if nobody waits for it. Kernel 5.3. The epoll
//! backend receives through tokio's `UdpSocket`/`UnixDatagram` instead.

use std::io;

use io_uring::{opcode, types};
use socket2::{SockAddr, SockAddrStorage};

use crate::buf::{self, BufResult, IoBufMut};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;

/// The `msghdr` the kernel reads, with the iovec and the address it points to.
struct Header {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddrStorage,
}

/// A boxed [`Header`].
///
/// # Invariants
///
/// `msg.msg_iov` points at `iov` and `msg.msg_name` at `addr`, both in the same box (which
/// never moves while the op is in flight); `iov` points into the heap memory of the buffer
/// owned by the same [`RecvMsg`].
struct MsgHeader(Box<Header>);

// SAFETY: the raw pointers are only dereferenced by the kernel while the op is in flight
// and point into memory that moves with the op (see `MsgHeader`'s invariants).
unsafe impl Send for MsgHeader {}

/// A recvmsg in flight.
pub(crate) struct RecvMsg<B> {
    _fd: SharedFd,
    header: MsgHeader,
    buf: B,
    /// The read direction's ticket, for a recvmsg beside readiness I/O.
    pub(crate) ticket: Option<Ticket>,
}

impl<B> std::fmt::Debug for RecvMsg<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvMsg").finish_non_exhaustive()
    }
}

impl<B: IoBufMut> Orphan for RecvMsg<B> {
    /// A datagram received for a dropped future goes to the gate's stash, with its sender.
    fn discard(&mut self, completion: Completion) {
        let (Some(ticket), Ok(n)) = (&self.ticket, cqe_result(completion.result)) else {
            return;
        };
        let n = n as usize;
        // SAFETY: the kernel initialized the first `n` bytes, `n <= bytes_total`.
        unsafe { self.buf.set_init(n) };
        let header = &mut self.header.0;
        let addr = std::mem::replace(&mut header.addr, SockAddrStorage::zeroed());
        // SAFETY: the kernel wrote an address of `msg_namelen` bytes (0 for an unnamed
        // sender) into `addr`, which is large enough for any address.
        let from = unsafe { SockAddr::new(addr, header.msg.msg_namelen) };
        ticket.stash(buf::as_slice(&self.buf)[..n].to_vec(), Some(from));
    }
}

impl<B: IoBufMut> Completable for RecvMsg<B> {
    type Output = BufResult<(usize, SockAddr), B>;

    fn complete(mut self, completion: Completion) -> BufResult<(usize, SockAddr), B> {
        let n = match cqe_result(completion.result) {
            Ok(n) => n as usize,
            Err(err) => return (Err(err), self.buf),
        };
        // SAFETY: the kernel initialized the first `n` bytes, `n <= bytes_total`.
        unsafe { self.buf.set_init(n) };
        let Header { msg, addr, .. } = *self.header.0;
        // SAFETY: the kernel wrote an address of `msg_namelen` bytes (0 for an unnamed
        // sender) into `addr`, which is large enough for any address.
        let addr = unsafe { SockAddr::new(addr, msg.msg_namelen) };
        (Ok((n, addr)), self.buf)
    }
}

/// Submits a recvmsg of one datagram of up to `buf.bytes_total()` bytes into `buf`.
pub(crate) fn recvmsg<B: IoBufMut>(
    fd: &SharedFd,
    mut buf: B,
) -> Result<Op<RecvMsg<B>>, (io::Error, B)> {
    let mut header = Box::new(Header {
        // SAFETY: an all-zero msghdr is valid: null pointers and zero lengths.
        msg: unsafe { std::mem::zeroed() },
        iov: libc::iovec {
            iov_base: buf.stable_mut_ptr().cast(),
            iov_len: buf.bytes_total(),
        },
        addr: SockAddrStorage::zeroed(),
    });
    header.msg.msg_name = std::ptr::from_mut(&mut header.addr).cast();
    header.msg.msg_namelen = header.addr.size_of();
    header.msg.msg_iov = std::ptr::from_mut(&mut header.iov);
    header.msg.msg_iovlen = 1;
    let sqe = opcode::RecvMsg::new(types::Fd(fd.raw()), &mut header.msg).build();
    let data = RecvMsg {
        _fd: fd.clone(),
        header: MsgHeader(header),
        buf,
        ticket: None,
    };
    // SAFETY: the SQE points at the boxed msghdr, which points at its own iovec and
    // address and, through the iovec, into `buf`'s heap memory; `data` owns all of them
    // until the CQE (see `MsgHeader`'s invariants).
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}
