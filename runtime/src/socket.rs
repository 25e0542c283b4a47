//! `Socket`: the native owned-buffer socket of the uring backend, for TCP and Unix
//! streams, listeners and datagram sockets alike. Each method submits one op to the
//! current worker's ring and returns its future; the public socket types of `corio::net`
//! build on it. The `try_*` methods are the exception: plain `MSG_DONTWAIT` syscalls for
//! tokio's readiness API, which never touch the ring.
//!
//! # Buffer ownership
//!
//! Every buffer moves into the op and comes back with its result, even on error; if the
//! future is dropped first, the buffer is freed only after the kernel lets go of it.
//!
//! # Cancel safety
//!
//! Dropping a future cancels its op. A recv or accept that already completed in the
//! kernel is lost with it (an accepted fd is closed), so keep the future across polls
//! rather than racing it in a `select!` loop (`corio::net` uses readiness and non-blocking
//! syscalls instead, which are cancel safe).

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::SockAddr;

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::driver::op::{Op, StreamOp};
use crate::error::cqe_result;
use crate::fd::SharedFd;
use crate::gate::Ticket;
use crate::op;

/// A socket whose I/O goes through the current worker's io_uring.
#[derive(Debug, Clone)]
pub struct Socket {
    fd: SharedFd,
}

/// Wraps an op future in a public, opaque future type.
macro_rules! op_future {
    ($(#[$doc:meta])* $name:ident<$($g:ident: $b:path),*> => $inner:ty, $out:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<$($g: $b),*>(Op<$inner>);

        impl<$($g: $b),*> Future for $name<$($g),*> {
            type Output = $out;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$out> {
                Pin::new(&mut self.0).poll(cx)
            }
        }
    };
}

op_future!(
    /// A recv in flight; see [`Socket::recv`].
    Recv<B: IoBufMut> => op::recv::Recv<B>, BufResult<usize, B>
);
op_future!(
    /// A send in flight; see [`Socket::send`]. (Not `Send`: that name is the marker trait's.)
    SendOp<B: IoBuf> => op::send::Send<B>, BufResult<usize, B>
);
op_future!(
    /// A writev in flight; see [`Socket::writev`].
    Writev<B: IoBuf> => op::writev::Writev<B>, BufResult<usize, Vec<B>>
);
op_future!(
    /// A readv in flight; see [`Socket::readv`].
    Readv<B: IoBufMut> => op::readv::Readv<B>, BufResult<usize, Vec<B>>
);
op_future!(
    /// A datagram receive in flight; see [`Socket::recv_from`].
    RecvMsg<B: IoBufMut> => op::recvmsg::RecvMsg<B>, BufResult<(usize, SockAddr), B>
);
op_future!(
    /// A datagram send in flight; see [`Socket::send_to`].
    SendMsg<B: IoBuf> => op::sendmsg::SendMsg<B>, BufResult<usize, B>
);
op_future!(
    /// A readiness poll in flight; see [`Socket::poll_events`].
    PollEvents<> => op::poll_add::PollAdd, io::Result<u32>
);
op_future!(
    /// A shutdown in flight; see [`Socket::shutdown`].
    Shutdown<> => op::shutdown::Shutdown, io::Result<()>
);
op_future!(
    /// A connect in flight; see [`Socket::connect`].
    Connect<> => op::connect::Connect, io::Result<()>
);
op_future!(
    /// An accept in flight; see [`Socket::accept`].
    Accept<> => op::accept::Accept, io::Result<(OwnedFd, SockAddr)>
);

impl PollEvents {
    /// True when this thread owns the ring the poll was submitted to, so polling it here
    /// is allowed. A poll from another thread's ring is dropped (which cancels it) and
    /// submitted again where it is awaited.
    pub fn is_local(&self) -> bool {
        self.0.is_local()
    }
}

/// `hold(ticket)` for the ops that can run beside readiness I/O (see [`Gate`](crate::Gate)).
macro_rules! holds_ticket {
    ($($name:ident<$g:ident: $b:path>),*) => {$(
        impl<$g: $b> $name<$g> {
            /// Keeps `ticket` until the op's final CQE, even if this future is dropped
            /// first; a receive then leaves what it took in the ticket's gate.
            pub fn hold(&mut self, ticket: Ticket) {
                if let Some(data) = self.0.data_mut() {
                    data.ticket = Some(ticket);
                }
            }
        }
    )*};
}

holds_ticket!(
    Recv<B: IoBufMut>,
    Readv<B: IoBufMut>,
    RecvMsg<B: IoBufMut>,
    SendOp<B: IoBuf>,
    Writev<B: IoBuf>,
    SendMsg<B: IoBuf>
);

impl<B: IoBuf> SendOp<B> {
    /// Lets the send finish without waiting for it: the bytes still go out, and the
    /// buffer is freed after the kernel is done. Dropping the future instead cancels it.
    pub fn detach(self) {
        self.0.detach();
    }

    /// Like [`detach`](Self::detach), then shuts down the write direction once the send
    /// has succeeded, from whichever thread this is called on: what dropping a write half
    /// means (the peer gets every byte, then EOF).
    pub fn detach_then_shutdown(mut self) {
        if let Some(send) = self.0.data_mut() {
            send.shutdown_after = true;
        }
        self.0.detach();
    }
}

impl Socket {
    /// Takes ownership of a socket fd. The fd may be blocking: io_uring does not block.
    pub fn from_owned(fd: OwnedFd) -> Socket {
        Socket {
            fd: SharedFd::new(fd),
        }
    }

    /// The fd, for ops beside the socket's own (`SplicePipe::drain_to`).
    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The owned fd back, when no op in flight holds it.
    ///
    /// # Errors
    ///
    /// The socket itself, while an op still holds the fd.
    pub fn into_owned(self) -> Result<OwnedFd, Socket> {
        self.fd.try_unwrap().map_err(|fd| Socket { fd })
    }

    /// Receives up to `buf.bytes_total()` bytes into the start of `buf`.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker; the buffer comes back with the error.
    pub fn recv<B: IoBufMut>(&self, buf: B) -> Result<Recv<B>, (io::Error, B)> {
        op::recv::recv(&self.fd, buf).map(Recv)
    }

    /// Sends all of `buf`'s initialized bytes (fewer only on a datagram socket).
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn send<B: IoBuf>(&self, buf: B) -> Result<SendOp<B>, (io::Error, B)> {
        op::send::send(&self.fd, buf, true).map(SendOp)
    }

    /// Sends what fits of `buf`'s initialized bytes: at least one byte, unless an error.
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn send_some<B: IoBuf>(&self, buf: B) -> Result<SendOp<B>, (io::Error, B)> {
        op::send::send(&self.fd, buf, false).map(SendOp)
    }

    /// Receives into `bufs` in order, each from its start up to its capacity.
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> Result<Readv<B>, (io::Error, Vec<B>)> {
        op::readv::readv(&self.fd, bufs).map(Readv)
    }

    /// Sends the initialized bytes of `bufs`, in order; may send fewer.
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> Result<Writev<B>, (io::Error, Vec<B>)> {
        op::writev::writev(&self.fd, bufs).map(Writev)
    }

    /// Receives one datagram of up to `buf.bytes_total()` bytes into the start of `buf`,
    /// with its sender's address (unnamed, of length 0, for an unbound Unix socket).
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn recv_from<B: IoBufMut>(&self, buf: B) -> Result<RecvMsg<B>, (io::Error, B)> {
        op::recvmsg::recvmsg(&self.fd, buf).map(RecvMsg)
    }

    /// Sends `buf`'s initialized bytes as one datagram to `addr`.
    ///
    /// # Errors
    ///
    /// As for [`Socket::recv`].
    pub fn send_to<B: IoBuf>(&self, buf: B, addr: SockAddr) -> Result<SendMsg<B>, (io::Error, B)> {
        op::sendmsg::sendmsg(&self.fd, buf, addr).map(SendMsg)
    }

    /// Receives into `buf` now, without the ring and without waiting (`MSG_DONTWAIT`,
    /// plus `flags` such as `libc::MSG_PEEK`).
    ///
    /// Do not call it while a [`Socket::recv`] is in flight on a stream socket: the
    /// bytes it returns could overtake bytes that recv already took.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is queued; otherwise as recv(2).
    pub fn try_recv(&self, buf: &mut [u8], flags: i32) -> io::Result<usize> {
        op::dontwait::recv(self.fd.as_fd(), buf, flags)
    }

    /// Like [`Socket::try_recv`], filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for [`Socket::try_recv`].
    pub fn try_recv_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        op::dontwait::recv_vectored(self.fd.as_fd(), bufs)
    }

    /// Receives one datagram now, with its sender's address, without waiting
    /// (`MSG_DONTWAIT`, plus `flags` such as `libc::MSG_PEEK`).
    ///
    /// # Errors
    ///
    /// As for [`Socket::try_recv`].
    pub fn try_recv_from(&self, buf: &mut [u8], flags: i32) -> io::Result<(usize, SockAddr)> {
        op::dontwait::recv_from(self.fd.as_fd(), buf, flags)
    }

    /// Sends `bufs` in order now, without the ring and without waiting; may send fewer
    /// bytes. Do not call it while a [`Socket::send`] is in flight on a stream socket.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full; otherwise as send(2) (`EPIPE` shows as
    /// `BrokenPipe`: no `SIGPIPE` is raised).
    pub fn try_send(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        op::dontwait::send(self.fd.as_fd(), bufs)
    }

    /// Sends `buf` as one datagram to `addr` now, without waiting.
    ///
    /// # Errors
    ///
    /// As for [`Socket::try_send`].
    pub fn try_send_to(&self, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
        op::dontwait::send_to(self.fd.as_fd(), buf, addr)
    }

    /// Waits until the socket is ready for `events` (`libc::POLLIN`, `POLLOUT`...) and
    /// returns the ready mask.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn poll_events(&self, events: u32) -> io::Result<PollEvents> {
        op::poll_add::poll_add(&self.fd, events).map(PollEvents)
    }

    /// Starts a multishot poll for `events`: one readiness mask per wake-up of the socket
    /// until the poll is dropped (which cancels it) or the kernel ends it.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn poll_events_multi(&self, events: u32) -> io::Result<PollEventsMulti> {
        op::poll_add::poll_add_multi(&self.fd, events).map(PollEventsMulti)
    }

    /// Shuts down the write half (`libc::SHUT_WR`), the read half or both.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn shutdown(&self, how: i32) -> io::Result<Shutdown> {
        op::shutdown::shutdown(&self.fd, how).map(Shutdown)
    }

    /// Connects to `addr`.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn connect(&self, addr: SockAddr) -> io::Result<Connect> {
        op::connect::connect(&self.fd, addr).map(Connect)
    }

    /// Accepts one connection on a listening socket.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn accept(&self) -> io::Result<Accept> {
        op::accept::accept(&self.fd).map(Accept)
    }

    /// Starts a multishot accept: one completion per connection, until the kernel ends
    /// it (an error, or a cancel). Dropping it cancels the accept, which releases the
    /// port; connections accepted but not taken are closed.
    ///
    /// # Errors
    ///
    /// Submission fails outside a uring worker.
    pub fn accept_multi(&self) -> io::Result<AcceptMulti> {
        op::accept::accept_multi(&self.fd).map(AcceptMulti)
    }
}

/// A multishot readiness poll in flight; see [`Socket::poll_events_multi`].
#[derive(Debug)]
pub struct PollEventsMulti(StreamOp<op::poll_add::PollAdd>);

impl PollEventsMulti {
    /// The next ready mask (`Err` with the kernel's error, e.g. `EINVAL` before kernel
    /// 5.13); `None` once the kernel ended the poll (submit a new one to go on).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<u32>>> {
        self.0
            .poll_next(cx)
            .map(|next| next.map(|completion| cqe_result(completion.result)))
    }

    /// True when this thread owns the ring the poll was submitted to (see
    /// [`PollEvents::is_local`]).
    pub fn is_local(&self) -> bool {
        self.0.is_local()
    }
}

/// A multishot accept in flight; see [`Socket::accept_multi`].
#[derive(Debug)]
pub struct AcceptMulti(StreamOp<op::accept::AcceptMulti>);

impl AcceptMulti {
    /// The next accepted connection; `None` when the kernel ended the multishot (submit
    /// a new one to go on).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<OwnedFd>>> {
        self.0
            .poll_next(cx)
            .map(|next| next.map(op::accept::accepted))
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Submits a NOP to the current worker's ring and waits for it: the cost of one ring
/// round trip. For benchmarks and tests of the driver.
///
/// # Errors
///
/// Outside a uring worker.
///
/// # Cancel safety
///
/// Dropping the future cancels the NOP; nothing else is affected.
pub async fn nop() -> io::Result<()> {
    op::nop::nop()?.await
}
