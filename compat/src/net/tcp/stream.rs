//! `TcpStream`: tokio's `TcpStream` API on either backend. Readiness methods are in
//! `ready.rs`, `split`/`into_split` in `split.rs`.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use corio_runtime::buf::{self, BufResult, IoBuf, IoBufMut};
use corio_runtime::Socket;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::ToSocketAddrs;

use crate::adapter::UringStream;
use crate::net::addr;
use crate::net::backed::Backed;

/// A TCP connection, like `tokio::net::TcpStream`.
///
/// On the uring backend reads and writes go through the worker's io_uring (see the
/// adapter notes below); on the epoll backend this is a `tokio::net::TcpStream`.
///
/// # Reads and writes on io_uring
///
/// A read copies from a buffer the stream owns (8–64 KiB); bytes not yet read stay there
/// and come first on the next read, so dropping a read future loses nothing. A write
/// copies up to 64 KiB (the high-water mark: at most that much is buffered before
/// `poll_write` returns `Pending`) and is reported as written once submitted; a send error
/// comes back from the next write, flush or shutdown. `flush` waits for the send in flight;
/// `shutdown` also shuts down the write direction. Dropping the stream cancels a pending
/// read and lets a pending send finish; the fd closes once the kernel is done with both.
///
/// The readiness API (`readable`, `try_read`, `peek`...) shares that state: bytes the
/// stream already holds count as readable and are returned first, so it can be mixed with
/// `AsyncRead` without losing or reordering bytes.
///
/// A stream can move to another worker while it has no operation in flight; polling it
/// on another worker while one is in flight panics.
pub struct TcpStream {
    pub(super) inner: Inner,
}

pub(super) type Inner = Backed<tokio::net::TcpStream>;

impl TcpStream {
    /// Opens a TCP connection to `addr`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last connect error, e.g. `ConnectionRefused`.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        if !corio_runtime::uring_active() {
            return Ok(TcpStream::from_tokio(
                tokio::net::TcpStream::connect(addr).await?,
            ));
        }
        addr::each_addr(addr, |addr| async move {
            let socket = addr::tcp_socket(&addr, false)?;
            TcpStream::connect_socket(socket, addr).await
        })
        .await
    }

    /// Connects an already configured blocking socket through the ring.
    pub(crate) async fn connect_socket(
        socket: socket2::Socket,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let socket = Socket::from_owned(OwnedFd::from(socket));
        socket.connect(addr.into())?.await?;
        Ok(TcpStream::from_uring(socket))
    }

    pub(crate) fn from_uring(socket: Socket) -> TcpStream {
        TcpStream::from_parts(UringStream::new(socket))
    }

    pub(super) fn from_parts(stream: UringStream) -> TcpStream {
        TcpStream {
            inner: Inner::Uring(stream),
        }
    }

    pub(crate) fn from_tokio(stream: tokio::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Inner::Epoll(stream),
        }
    }

    /// Wraps a connected `std::net::TcpStream` for the current worker's backend.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        if corio_runtime::uring_active() {
            stream.set_nonblocking(false)?;
            Ok(TcpStream::from_uring(Socket::from_owned(OwnedFd::from(
                stream,
            ))))
        } else {
            stream.set_nonblocking(true)?;
            Ok(TcpStream::from_tokio(tokio::net::TcpStream::from_std(
                stream,
            )?))
        }
    }

    /// Turns the stream back into a `std::net::TcpStream` (in non-blocking mode, as
    /// tokio does). Bytes received but not yet read are lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation is still in flight on the uring backend.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let stream = match self.inner {
            Inner::Epoll(stream) => stream.into_std()?,
            Inner::Uring(stream) => std::net::TcpStream::from(stream.into_owned_fd()?),
        };
        stream.set_nonblocking(true)?;
        Ok(stream)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.sock_ref().local_addr()?)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`, e.g. `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.sock_ref().peer_addr()?)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock_ref().set_tcp_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock_ref().tcp_nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock_ref().set_ttl_v4(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock_ref().ttl_v4()
    }

    /// Sets `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.sock_ref().set_linger(linger)
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        self.sock_ref().linger()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock_ref().take_error()
    }

    /// Shuts down the read, write or both directions right away (`shutdown(2)`), without
    /// waiting for a send in flight; prefer `AsyncWriteExt::shutdown` for the write half.
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`, e.g. `NotConnected`.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.sock_ref().shutdown(how)
    }

    /// Reads into an owned buffer, from its start up to `buf.bytes_total()` bytes; 0 means
    /// EOF (or a buffer without capacity). On io_uring, bytes an `AsyncRead` left in the
    /// stream come first; otherwise the kernel receives straight into `buf`.
    ///
    /// # Buffer ownership
    ///
    /// `buf` always comes back, with the bytes read marked initialized, even on error. If
    /// the future is dropped while the kernel receives into `buf`, the buffer is freed only
    /// after the kernel lets go of it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: bytes the kernel already received into `buf` are lost with it when
    /// the future is dropped. Use `AsyncRead` (or `readable` and `try_read`) in `select!`.
    ///
    /// # Errors
    ///
    /// As recv(2): e.g. `ConnectionReset`; also a submission failure outside a worker.
    pub async fn read_owned<B: IoBufMut>(&mut self, mut buf: B) -> BufResult<usize, B> {
        match &mut self.inner {
            Inner::Uring(stream) => stream.read.read_owned(buf).await,
            Inner::Epoll(stream) => {
                let result = std::future::poll_fn(|cx| {
                    buf::fill(&mut buf, |out| {
                        Pin::new(&mut *stream)
                            .poll_read(cx, out)
                            .map_ok(|()| out.filled().len())
                    })
                })
                .await;
                (result, buf)
            }
        }
    }

    /// Writes all initialized bytes of an owned buffer. On io_uring, a send the stream
    /// already has in flight completes first, then the kernel sends straight from `buf`.
    ///
    /// # Buffer ownership
    ///
    /// `buf` always comes back, even on error. If the future is dropped while the kernel
    /// sends from `buf`, the buffer is freed only after the kernel lets go of it.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future cancels the send, and an unknown prefix of
    /// `buf` may have been sent.
    ///
    /// # Errors
    ///
    /// As send(2), e.g. `BrokenPipe` or `ConnectionReset`; `WriteZero` if the kernel sent
    /// only part of `buf` without an error; a kept error from an earlier write.
    pub async fn write_all_owned<B: IoBuf>(&mut self, buf: B) -> BufResult<(), B> {
        match &mut self.inner {
            Inner::Uring(stream) => stream.write.write_all_owned(buf).await,
            Inner::Epoll(stream) => {
                let result = stream.write_all(buf::as_slice(&buf)).await;
                (result, buf)
            }
        }
    }

    fn sock_ref(&self) -> SockRef<'_> {
        SockRef::from(self)
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
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
            .field("backend", &self.inner.backend())
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
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
