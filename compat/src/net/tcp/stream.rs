//! `TcpStream`: tokio's `TcpStream` API over a [`Source`], on either backend.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BufMut;
use corio_runtime::buf::{BufResult, IoBuf, IoBufMut};
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};
use tokio::net::ToSocketAddrs;

use crate::io::Source;
use crate::net::addr;

/// A TCP connection, like `tokio::net::TcpStream`.
///
/// Reads and writes are non-blocking syscalls made once the socket is ready; readiness
/// comes from the worker's io_uring (`POLL_ADD`) or from tokio's epoll reactor. So the
/// semantics are tokio's on both backends: a write returns once its bytes are in the
/// kernel's socket buffer (a program that then blocks or exits still delivers them),
/// `shutdown` never waits for the peer, errors are the kernel's and stay, and the stream
/// works from any thread (another worker, a plain thread, `Runtime::block_on`).
pub struct TcpStream {
    pub(crate) io: Source,
}

impl TcpStream {
    /// Opens a TCP connection to `addr`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last connect error, e.g. `ConnectionRefused`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes its socket.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        addr::each_addr(addr, |addr| async move {
            TcpStream::connect_socket(addr::tcp_socket(&addr)?, addr).await
        })
        .await
    }

    /// Connects an already configured socket.
    pub(crate) async fn connect_socket(
        socket: socket2::Socket,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let io = crate::io::connect(socket, &addr.into()).await?;
        Ok(TcpStream { io })
    }

    /// Wraps a connected socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Source::new(fd)?,
        })
    }

    /// Wraps a connected `std::net::TcpStream` (set to non-blocking mode here).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_fd(OwnedFd::from(stream))
    }

    /// Turns the stream back into a `std::net::TcpStream`, in non-blocking mode. Always
    /// works, whatever the stream did before (on io_uring the fd may be a duplicate of the
    /// original while a cancelled readiness poll still holds the original).
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors for that duplicate.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.io.into_fd().map(std::net::TcpStream::from)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.local_sock_addr()?)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`, e.g. `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.peer_sock_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
    }

    /// Waits for any of the readiness in `interest`; may be spurious.
    ///
    /// # Errors
    ///
    /// `Unsupported` on io_uring for an interest with neither readable nor writable.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future loses no readiness.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.io.ready(interest).await
    }

    /// Waits until the stream may be readable; then use [`TcpStream::try_read`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::ready`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Polls for read readiness; only the last task to call it is woken.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::ready`].
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::READABLE).map_ok(drop)
    }

    /// Reads what is available now, without waiting: `WouldBlock` when nothing is.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recv(2).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Like [`TcpStream::try_read`], filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::try_read`].
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_read_vectored(bufs)
    }

    /// Like [`TcpStream::try_read`], into the spare capacity of `buf` (which advances).
    ///
    /// # Errors
    ///
    /// As [`TcpStream::try_read`].
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io.try_read_buf(buf)
    }

    /// Waits until the stream may be writable; then use [`TcpStream::try_write`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::ready`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for write readiness; only the last task to call it is woken.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::ready`].
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::WRITABLE).map_ok(drop)
    }

    /// Writes what fits now, without waiting: `WouldBlock` when nothing does.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as send(2) (e.g. `BrokenPipe`).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Like [`TcpStream::try_write`], from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::try_write`].
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.io.try_write_vectored(bufs)
    }

    /// Runs `f`, a non-blocking I/O call of the caller's on this socket, once; a
    /// `WouldBlock` from it clears the readiness of `interest`.
    ///
    /// # Errors
    ///
    /// `f`'s error.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_io(interest, |_| f())
    }

    /// Waits for `interest` and runs `f` until it returns something other than
    /// `WouldBlock`.
    ///
    /// # Errors
    ///
    /// `f`'s error.
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as `f`: the future is dropped only between calls of `f`.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.async_io(interest, |_| f()).await
    }

    /// Receives bytes without removing them from the queue; waits until there are some.
    ///
    /// # Errors
    ///
    /// As recv(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.peek(buf).await
    }

    /// Polls [`TcpStream::peek`] into `buf`.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_peek(cx, buf)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock().tcp_nodelay()
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock().set_tcp_nodelay(nodelay)
    }

    /// Reads `TCP_QUICKACK`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn quickack(&self) -> io::Result<bool> {
        self.sock().tcp_quickack()
    }

    /// Sets `TCP_QUICKACK`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_quickack(&self, quickack: bool) -> io::Result<()> {
        self.sock().set_tcp_quickack(quickack)
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock().linger()
    }

    /// Sets `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    #[deprecated = "`SO_LINGER` causes the socket to block the thread on drop"]
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.sock().set_linger(dur)
    }

    /// Sets `SO_LINGER` to zero: closing the stream resets the connection (RST).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.sock().set_linger(Some(Duration::ZERO))
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock().ttl_v4()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock().set_ttl_v4(ttl)
    }

    /// Reads into an owned buffer, from its start up to `buf.bytes_total()` bytes; 0 means
    /// EOF (or a buffer without capacity). The kernel receives straight into `buf`.
    ///
    /// # Buffer ownership
    ///
    /// `buf` always comes back, with the bytes read marked initialized, even on error. The
    /// kernel touches it only inside the call that fills it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future has received nothing.
    ///
    /// # Errors
    ///
    /// As recv(2), e.g. `ConnectionReset`.
    pub async fn read_owned<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        self.io.read_owned(buf).await
    }

    /// Writes all initialized bytes of an owned buffer; the kernel sends straight from it.
    ///
    /// # Buffer ownership
    ///
    /// `buf` always comes back, even on error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: a dropped future may have sent a prefix of `buf`.
    ///
    /// # Errors
    ///
    /// As send(2), e.g. `BrokenPipe` or `ConnectionReset`.
    pub async fn write_all_owned<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        self.io.write_all_owned(buf).await
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.io)
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// As [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(stream)
    }
}

impl AsRef<TcpStream> for TcpStream {
    fn as_ref(&self) -> &TcpStream {
        self
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("backend", &self.io.backend())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_shutdown()
    }
}
