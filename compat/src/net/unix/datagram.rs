//! `UnixDatagram`: tokio's `UnixDatagram` API over a [`Source`], on either backend; the
//! same I/O as [`UdpSocket`](crate::net::UdpSocket).

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::task::{ready, Context, Poll};

use bytes::BufMut;
use socket2::{Domain, SockAddr, SockRef, Type};
use tokio::io::ReadBuf;

use super::SocketAddr;
use crate::io::Source;

/// A Unix datagram socket, like `tokio::net::UnixDatagram`. Every method takes `&self`.
///
/// # Cancel safety
///
/// As in tokio, every async method is cancel safe: a dropped `send`/`send_to` sent
/// nothing, a dropped `recv`/`recv_from` received nothing.
pub struct UnixDatagram {
    io: Source,
}

impl UnixDatagram {
    /// A socket bound to `path`.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        UnixDatagram::from_fd(OwnedFd::from(socket))
    }

    /// An unbound socket: it can send with [`UnixDatagram::send_to`], and its datagrams
    /// carry an unnamed sender address.
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        UnixDatagram::from_fd(OwnedFd::from(socket))
    }

    /// Two connected sockets, like `socketpair(2)`.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::DGRAM, None)?;
        Ok((
            UnixDatagram::from_fd(a.into())?,
            UnixDatagram::from_fd(b.into())?,
        ))
    }

    /// Wraps a datagram socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Source::new(fd)?,
        })
    }

    /// Wraps a `std::os::unix::net::UnixDatagram` (set to non-blocking mode here).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(datagram: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        UnixDatagram::from_fd(OwnedFd::from(datagram))
    }

    /// Turns the socket back into a `std::os::unix::net::UnixDatagram`, non-blocking.
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors (see `TcpStream::into_std`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        self.io
            .into_fd()
            .map(std::os::unix::net::UnixDatagram::from)
    }

    /// Sets the default destination for `send` and the only source `recv` accepts.
    ///
    /// # Errors
    ///
    /// As `connect(2)`, e.g. `NotFound`.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.sock().connect(&SockAddr::unix(path)?)
    }

    /// Like [`UnixDatagram::try_recv_from`], into the spare capacity of `buf`.
    ///
    /// # Errors
    ///
    /// As [`UnixDatagram::try_recv_from`].
    pub fn try_recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        with_unix(self.io.try_recv_buf_from(buf))
    }

    /// Like [`UnixDatagram::recv_from`], into the spare capacity of `buf`.
    ///
    /// # Errors
    ///
    /// As [`UnixDatagram::recv_from`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        with_unix(self.io.recv_buf_from(buf).await)
    }

    /// Sends `buf` as one datagram to the socket bound at `target`.
    ///
    /// # Errors
    ///
    /// As sendto(2), e.g. `NotFound`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future sent nothing.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        self.io.send_to(buf, &SockAddr::unix(target)?).await
    }

    /// Polls a send of `buf` to `target`.
    ///
    /// # Errors
    ///
    /// As sendto(2).
    pub fn poll_send_to<P: AsRef<Path>>(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: P,
    ) -> Poll<io::Result<usize>> {
        let target = SockAddr::unix(target)?;
        self.io.poll_send_to(cx, buf, &target)
    }

    /// Sends to `target` now if the socket is ready: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as sendto(2).
    pub fn try_send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        self.io.try_send_to(buf, &SockAddr::unix(target)?)
    }

    /// [`Self::recv_owned`] from any sender, with its address: one `IORING_OP_RECVMSG`
    /// straight into `buf` on io_uring. Ownership and cancel safety as there.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub async fn recv_from_owned<B: corio_runtime::buf::IoBufMut>(
        &self,
        buf: B,
    ) -> corio_runtime::buf::BufResult<(usize, SocketAddr), B> {
        let (received, buf) = self.io.recv_from_owned(buf).await;
        (with_unix(received), buf)
    }

    /// [`Self::send_owned`] to `target`: one `IORING_OP_SENDMSG` on io_uring. Ownership and
    /// cancel safety as there.
    ///
    /// # Errors
    ///
    /// As sendto(2).
    pub async fn send_to_owned<B: corio_runtime::buf::IoBuf, P: AsRef<Path>>(
        &self,
        buf: B,
        target: P,
    ) -> corio_runtime::buf::BufResult<usize, B> {
        match SockAddr::unix(target) {
            Ok(target) => self.io.send_to_owned(buf, target).await,
            Err(err) => (Err(err), buf),
        }
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future received nothing.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_unix(self.io.recv_from_flags(buf, 0).await)
    }

    /// Polls [`UnixDatagram::recv_from`] into `buf`.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.io.poll_recv_from_flags(cx, buf, 0))?;
        Poll::Ready(Ok(SocketAddr::from(&from)))
    }

    /// Receives now if a datagram waits: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recvfrom(2).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_unix(self.io.try_recv_from_flags(buf, 0))
    }

    /// The local address (unnamed when unbound).
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&self.io.local_sock_addr()?))
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`UnixDatagram::connect`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&self.io.peer_sock_addr()?))
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
    }

    /// Shuts down the read, write or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    readiness_api!(read_ready: poll_recv_ready, write_ready: poll_send_ready);
    datagram_api!();

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.io)
    }
}

fn with_unix(received: io::Result<(usize, SockAddr)>) -> io::Result<(usize, SocketAddr)> {
    let (n, from) = received?;
    Ok((n, SocketAddr::from(&from)))
}

impl TryFrom<std::os::unix::net::UnixDatagram> for UnixDatagram {
    type Error = io::Error;

    /// As [`UnixDatagram::from_std`].
    fn try_from(datagram: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(datagram)
    }
}

fd_traits!(UnixDatagram);

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("backend", &self.io.backend())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
