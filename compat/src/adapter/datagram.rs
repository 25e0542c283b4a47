//! A uring datagram socket (UDP or Unix datagram): tokio's `&self` API over RECVMSG and
//! SENDMSG ops.
//!
//! Receiving: one recvmsg is kept in flight, owned by the socket rather than by the
//! `recv_from` future, so a dropped `recv_from` (a lost `select!` branch) loses no
//! datagram: the next receive takes it. The op receives into a buffer of at least 64 KiB
//! (more when the caller's buffer is larger), enough for any UDP datagram whoever takes it;
//! a datagram longer than the caller's buffer is truncated, as recvfrom(2) does. Several
//! tasks may receive at once; each datagram goes to one of them.
//!
//! Sending: each send copies the datagram and submits its own sendmsg, owned by its future.
//! Dropping that future cancels the send, which may or may not have left by then (tokio's
//! epoll backend guarantees it did not; io_uring cannot).
//!
//! Readiness works as for streams (see `read.rs`): a received datagram waiting here makes
//! the socket readable; while a recvmsg is in flight, readiness waits for it and
//! `try_recv_from` returns `WouldBlock` unless it completed (a direct recvfrom(2) could
//! overtake the datagram it took); otherwise POLL_ADD and `MSG_DONTWAIT` syscalls.

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};

use corio_runtime::{RecvMsg, Socket};
use socket2::SockAddr;
use tokio::io::{Interest, ReadBuf, Ready};

use super::ready::{self, Readiness, Waiters};
use super::stream::in_flight;

/// Smallest buffer a recvmsg receives into: more than the largest UDP datagram.
const MIN_DATAGRAM_BUF: usize = 64 * 1024;

/// A uring datagram socket's state.
#[derive(Debug)]
pub(crate) struct Datagram {
    socket: Socket,
    /// Boxed: the state is large, the socket type is moved around.
    recv: Box<Mutex<RecvState>>,
    send: Box<Mutex<SendState>>,
}

/// A datagram received and not yet taken: its bytes and sender, or the receive's error.
type Received = io::Result<(Vec<u8>, SockAddr)>;

#[derive(Debug)]
struct RecvState {
    inflight: Option<RecvMsg<Vec<u8>>>,
    received: Option<Received>,
    spare: Vec<u8>,
    readiness: Readiness,
    waiters: Waiters,
}

#[derive(Debug)]
struct SendState {
    readiness: Readiness,
    waiters: Waiters,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RecvState {
    /// Waits until a datagram (or an error) is waiting in `received`.
    fn poll_fill(&mut self, socket: &Socket, cx: &mut Context<'_>, capacity: usize) -> Poll<()> {
        if self.received.is_some() {
            return Poll::Ready(());
        }
        let inflight = match &mut self.inflight {
            Some(inflight) => inflight,
            None => match self.start(socket, capacity) {
                Ok(op) => self.inflight.insert(op),
                Err(err) => {
                    self.received = Some(Err(err));
                    return Poll::Ready(());
                }
            },
        };
        let (result, buf) = ready!(Pin::new(inflight).poll(cx));
        self.finish(result, buf);
        Poll::Ready(())
    }

    fn start(&mut self, socket: &Socket, capacity: usize) -> io::Result<RecvMsg<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        buf.reserve_exact(capacity.max(MIN_DATAGRAM_BUF));
        socket.recv_from(buf).map_err(|(err, buf)| {
            self.spare = buf;
            err
        })
    }

    fn finish(&mut self, result: io::Result<(usize, SockAddr)>, buf: Vec<u8>) {
        self.inflight = None;
        self.received = Some(match result {
            Ok((_, addr)) => Ok((buf, addr)),
            Err(err) => {
                self.spare = buf;
                Err(err)
            }
        });
    }

    /// Completes a recvmsg in flight if the kernel already has; false while it runs.
    fn settle(&mut self) -> bool {
        let Some(inflight) = &mut self.inflight else {
            return true;
        };
        let mut cx = Context::from_waker(self.waiters.waker());
        match Pin::new(inflight).poll(&mut cx) {
            Poll::Ready((result, buf)) => {
                self.finish(result, buf);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Copies the waiting datagram into `out` (truncating it) and recycles its buffer.
    fn take(&mut self, out: &mut ReadBuf<'_>) -> io::Result<SockAddr> {
        let Some(received) = self.received.take() else {
            unreachable!("take without a received datagram");
        };
        let (buf, addr) = received?;
        let n = buf.len().min(out.remaining());
        out.put_slice(&buf[..n]);
        self.spare = buf;
        Ok(addr)
    }
}

impl Datagram {
    /// The state of a bound (or connected) datagram socket.
    pub(crate) fn new(socket: Socket) -> Datagram {
        Datagram {
            socket,
            recv: Box::new(Mutex::new(RecvState {
                inflight: None,
                received: None,
                spare: Vec::new(),
                readiness: Readiness::read(),
                waiters: Waiters::default(),
            })),
            send: Box::new(Mutex::new(SendState {
                readiness: Readiness::write(),
                waiters: Waiters::default(),
            })),
        }
    }

    /// The socket.
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The fd back, for `into_std`. A datagram received but not taken is lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation still holds the fd.
    pub(crate) fn into_owned_fd(self) -> io::Result<OwnedFd> {
        let busy = lock(&self.recv).inflight.is_some();
        let Datagram { socket, recv, send } = self;
        drop((recv, send));
        if busy {
            return Err(in_flight());
        }
        socket.into_owned().map_err(|_| in_flight())
    }

    /// `poll_recv_from`: the next datagram into `out`, with its sender.
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SockAddr>> {
        let mut state = lock(&self.recv);
        let waker = state.waiters.register(cx);
        let capacity = out.remaining();
        ready!(state.poll_fill(&self.socket, &mut Context::from_waker(&waker), capacity));
        Poll::Ready(state.take(out))
    }

    /// `recv_from`: the next datagram into `buf`, with its sender.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
        let mut out = ReadBuf::new(buf);
        let addr = poll_fn(|cx| self.poll_recv_from(cx, &mut out)).await?;
        Ok((out.filled().len(), addr))
    }

    /// `poll_recv_ready`.
    pub(crate) fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        let mut state = lock(&self.recv);
        if state.received.is_none() {
            let waker = state.waiters.register(cx);
            let mut cx = Context::from_waker(&waker);
            if state.inflight.is_none() {
                return state.readiness.poll(&self.socket, &mut cx);
            }
            ready!(state.poll_fill(&self.socket, &mut cx, 0));
        }
        Poll::Ready(Ok(Ready::READABLE))
    }

    /// `try_recv_from`: a waiting datagram, else one `MSG_DONTWAIT` recvfrom(2) when no
    /// recvmsg is in flight.
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
        let mut state = lock(&self.recv);
        if !state.settle() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if state.received.is_some() {
            let mut out = ReadBuf::new(buf);
            let addr = state.take(&mut out)?;
            return Ok((out.filled().len(), addr));
        }
        let result = self.socket.try_recv_from(buf, 0);
        if matches!(&result, Err(err) if err.kind() == io::ErrorKind::WouldBlock) {
            state.readiness.clear(Ready::READABLE | Ready::READ_CLOSED);
        }
        result
    }

    /// `send_to`: copies `data` and sends it as one datagram to `addr`.
    pub(crate) async fn send_to(&self, data: &[u8], addr: SockAddr) -> io::Result<usize> {
        match self.socket.send_to(data.to_vec(), addr) {
            Ok(send) => send.await.0,
            Err((err, _)) => Err(err),
        }
    }

    /// `send`: copies `data` and sends it to the connected peer.
    pub(crate) async fn send(&self, data: &[u8]) -> io::Result<usize> {
        match self.socket.send(data.to_vec()) {
            Ok(send) => send.await.0,
            Err((err, _)) => Err(err),
        }
    }

    /// `poll_send_ready`.
    pub(crate) fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        let mut state = lock(&self.send);
        let waker = state.waiters.register(cx);
        state
            .readiness
            .poll(&self.socket, &mut Context::from_waker(&waker))
    }

    /// `try_send_to` (or `try_send` with no address).
    pub(crate) fn try_send_to(&self, data: &[u8], addr: Option<&SockAddr>) -> io::Result<usize> {
        let result = match addr {
            Some(addr) => self.socket.try_send_to(data, addr),
            None => self.socket.try_send(&[io::IoSlice::new(data)]),
        };
        if matches!(&result, Err(err) if err.kind() == io::ErrorKind::WouldBlock) {
            lock(&self.send)
                .readiness
                .clear(Ready::WRITABLE | Ready::WRITE_CLOSED);
        }
        result
    }

    /// tokio's `ready(interest)`.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| {
            ready::combine(
                interest,
                cx,
                |cx| self.poll_recv_ready(cx),
                |cx| self.poll_send_ready(cx),
            )
        })
        .await
    }
}
