//! `UnixStream`: tokio's `UnixStream` API over a [`Source`], on either backend; the same
//! I/O as [`TcpStream`](crate::net::TcpStream).

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BufMut;
use corio_runtime::buf::{BufResult, IoBuf, IoBufMut};
use socket2::{Domain, SockAddr, SockRef, Type};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use super::{SocketAddr, UCred};
use crate::io::Source;

/// A Unix stream connection, like `tokio::net::UnixStream`.
///
/// Reads, writes and readiness behave as for [`TcpStream`](crate::net::TcpStream) on both
/// backends: one non-blocking syscall once the socket is ready, tokio's semantics.
pub struct UnixStream {
    pub(crate) io: Source,
}

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    ///
    /// As `connect(2)`, e.g. `NotFound` or `ConnectionRefused`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes its socket.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_sock_addr(&SockAddr::unix(path)?).await
    }

    /// Connects to the socket at `socket_addr` (a path or an abstract name).
    ///
    /// # Errors
    ///
    /// As [`UnixStream::connect`]; `InvalidInput` for an unnamed address.
    ///
    /// # Cancel safety
    ///
    /// As [`UnixStream::connect`].
    pub async fn connect_addr(socket_addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_sock_addr(&socket_addr.to_sock_addr()?).await
    }

    async fn connect_sock_addr(addr: &SockAddr) -> io::Result<UnixStream> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM, None)?;
        UnixStream::connect_socket(socket, addr).await
    }

    /// Connects an already configured socket.
    pub(crate) async fn connect_socket(
        socket: socket2::Socket,
        addr: &SockAddr,
    ) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: crate::io::connect(socket, addr).await?,
        })
    }

    /// Wraps a connected socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Source::new(fd)?,
        })
    }

    /// Two connected streams, like `socketpair(2)`.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`, e.g. `EMFILE`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        Ok((
            UnixStream::from_fd(a.into())?,
            UnixStream::from_fd(b.into())?,
        ))
    }

    /// Wraps a connected `std::os::unix::net::UnixStream` (set to non-blocking mode here).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_fd(OwnedFd::from(stream))
    }

    /// Turns the stream back into a `std::os::unix::net::UnixStream`, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors (see `TcpStream::into_std`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        self.io.into_fd().map(std::os::unix::net::UnixStream::from)
    }

    /// The local address (unnamed unless bound).
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&self.io.local_sock_addr()?))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&self.io.peer_sock_addr()?))
    }

    /// The credentials of the peer process (`SO_PEERCRED`).
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn peer_cred(&self) -> io::Result<UCred> {
        corio_runtime::sys::peer_cred(self.io.as_fd()).map(UCred::from)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(&self.io).take_error()
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

    /// Waits until the stream may be readable; then use [`UnixStream::try_read`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::ready`].
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
    /// As [`UnixStream::ready`].
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

    /// Like [`UnixStream::try_read`], filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::try_read`].
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.io.try_read_vectored(bufs)
    }

    /// Like [`UnixStream::try_read`], into the spare capacity of `buf` (which advances).
    ///
    /// # Errors
    ///
    /// As [`UnixStream::try_read`].
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.io.try_read_buf(buf)
    }

    /// Waits until the stream may be writable; then use [`UnixStream::try_write`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::ready`].
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
    /// As [`UnixStream::ready`].
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

    /// Like [`UnixStream::try_write`], from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::try_write`].
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
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// As [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_std(stream)
    }
}

impl AsRef<UnixStream> for UnixStream {
    fn as_ref(&self) -> &UnixStream {
        self
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("backend", &self.io.backend())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.poll_read(cx, buf)
    }
}

impl AsyncWrite for UnixStream {
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
