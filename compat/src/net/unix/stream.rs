//! `UnixStream`: tokio's `UnixStream` API on either backend, with the same owned-buffer
//! adapters as [`TcpStream`](crate::net::TcpStream) on io_uring. `split`/`into_split` are
//! in `split.rs`.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use corio_runtime::Socket;
use socket2::{Domain, SockAddr, SockRef, Type};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use super::SocketAddr;
use crate::adapter::UringStream;
use crate::net::backed::Backed;

/// A Unix stream connection, like `tokio::net::UnixStream`.
///
/// Reads, writes and readiness behave as for [`TcpStream`](crate::net::TcpStream) on both
/// backends: on io_uring, bytes not yet read stay in the stream (dropping a read future
/// loses nothing), writes are buffered up to 64 KiB with errors reported by the next
/// call, and the readiness API shares that state with `AsyncRead`/`AsyncWrite`.
pub struct UnixStream {
    pub(super) inner: Inner,
}

pub(super) type Inner = Backed<tokio::net::UnixStream>;

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    ///
    /// As `connect(2)`, e.g. `NotFound` or `ConnectionRefused`.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        if !corio_runtime::uring_active() {
            return Ok(UnixStream::from_tokio(
                tokio::net::UnixStream::connect(path).await?,
            ));
        }
        let addr = SockAddr::unix(path)?;
        let socket =
            Socket::from_owned(socket2::Socket::new(Domain::UNIX, Type::STREAM, None)?.into());
        socket.connect(addr)?.await?;
        Ok(UnixStream::from_uring(socket))
    }

    /// Two connected streams, like `socketpair(2)`.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`, e.g. `EMFILE`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        Ok((UnixStream::from_socket(a)?, UnixStream::from_socket(b)?))
    }

    fn from_socket(socket: socket2::Socket) -> io::Result<UnixStream> {
        if corio_runtime::uring_active() {
            socket.set_nonblocking(false)?;
            Ok(UnixStream::from_uring(Socket::from_owned(OwnedFd::from(
                socket,
            ))))
        } else {
            socket.set_nonblocking(true)?;
            Ok(UnixStream::from_tokio(tokio::net::UnixStream::from_std(
                socket.into(),
            )?))
        }
    }

    pub(crate) fn from_uring(socket: Socket) -> UnixStream {
        UnixStream::from_parts(UringStream::new(socket))
    }

    pub(super) fn from_parts(stream: UringStream) -> UnixStream {
        UnixStream {
            inner: Inner::Uring(stream),
        }
    }

    pub(crate) fn from_tokio(stream: tokio::net::UnixStream) -> UnixStream {
        UnixStream {
            inner: Inner::Epoll(stream),
        }
    }

    /// Wraps a connected `std::os::unix::net::UnixStream` for the current worker's
    /// backend.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_socket(stream.into())
    }

    /// Turns the stream back into a `std::os::unix::net::UnixStream`, in non-blocking
    /// mode. Bytes received but not yet read are lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation is still in flight on the uring backend.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        let stream = match self.inner {
            Inner::Epoll(stream) => stream.into_std()?,
            Inner::Uring(stream) => std::os::unix::net::UnixStream::from(stream.into_owned_fd()?),
        };
        stream.set_nonblocking(true)?;
        Ok(stream)
    }

    /// The local address (usually unnamed for a connecting side).
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&SockRef::from(self).local_addr()?))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&SockRef::from(self).peer_addr()?))
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(self).take_error()
    }

    /// Waits until the stream is ready for any of `interest`; see
    /// [`TcpStream::ready`](crate::net::TcpStream::ready).
    ///
    /// # Errors
    ///
    /// On io_uring, `Unsupported` for `Interest::PRIORITY` or an interest with neither
    /// readable nor writable, and submission failures.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        match &self.inner {
            Inner::Uring(stream) => stream.ready(interest).await,
            Inner::Epoll(stream) => stream.ready(interest).await,
        }
    }

    /// Waits until the stream is readable.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn readable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(stream) => poll_fn(|cx| stream.read.poll_ready(cx)).await.map(drop),
            Inner::Epoll(stream) => stream.readable().await,
        }
    }

    /// Waits until the stream is writable.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn writable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(stream) => poll_fn(|cx| stream.write.poll_ready(cx)).await.map(drop),
            Inner::Epoll(stream) => stream.writable().await,
        }
    }

    /// Polls for read readiness.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.poll_ready(cx).map_ok(drop),
            Inner::Epoll(stream) => stream.poll_read_ready(cx),
        }
    }

    /// Polls for write readiness.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(stream) => stream.write.poll_ready(cx).map_ok(drop),
            Inner::Epoll(stream) => stream.poll_write_ready(cx),
        }
    }

    /// Reads what is available now; see
    /// [`TcpStream::try_read`](crate::net::TcpStream::try_read).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is available; otherwise as recv(2).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.try_read(buf),
            Inner::Epoll(stream) => stream.try_read(buf),
        }
    }

    /// Like [`try_read`](UnixStream::try_read), filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for [`try_read`](UnixStream::try_read).
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.try_read_vectored(bufs),
            Inner::Epoll(stream) => stream.try_read_vectored(bufs),
        }
    }

    /// Writes what fits now; see
    /// [`TcpStream::try_write`](crate::net::TcpStream::try_write).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full; otherwise as send(2).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(&[IoSlice::new(buf)])
    }

    /// Like [`try_write`](UnixStream::try_write), from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for [`try_write`](UnixStream::try_write).
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.write.try_write(bufs),
            Inner::Epoll(stream) => stream.try_write_vectored(bufs),
        }
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
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
            .field("backend", &self.inner.backend())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for UnixStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for UnixStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
