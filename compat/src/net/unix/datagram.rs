//! `UnixDatagram`: tokio's `UnixDatagram` API on either backend, with the same datagram
//! adapter as [`UdpSocket`](crate::net::UdpSocket) on io_uring.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::task::{ready, Context, Poll};

use corio_runtime::Socket;
use socket2::{Domain, SockAddr, SockRef, Type};
use tokio::io::{Interest, ReadBuf, Ready};

use super::SocketAddr;
use crate::adapter::Datagram;

/// A Unix datagram socket, like `tokio::net::UnixDatagram`. Every method takes `&self`.
///
/// Receives and sends behave as for [`UdpSocket`](crate::net::UdpSocket): on io_uring the
/// socket keeps one receive in flight across dropped `recv_from` futures, so no datagram
/// is lost to a cancelled receive; `send` and `send_to` are not cancel safe there.
pub struct UnixDatagram {
    inner: Inner,
}

enum Inner {
    Uring(Datagram),
    Epoll(tokio::net::UnixDatagram),
}

impl UnixDatagram {
    /// A socket bound to the filesystem path `path` (which must not exist).
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse` when the path exists.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        UnixDatagram::from_socket(socket)
    }

    /// An unbound socket: it can send with [`send_to`](UnixDatagram::send_to), and its
    /// datagrams carry an unnamed sender address.
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_socket(socket2::Socket::new(Domain::UNIX, Type::DGRAM, None)?)
    }

    /// Two connected sockets, like `socketpair(2)`.
    ///
    /// # Errors
    ///
    /// As `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::DGRAM, None)?;
        Ok((UnixDatagram::from_socket(a)?, UnixDatagram::from_socket(b)?))
    }

    fn from_socket(socket: socket2::Socket) -> io::Result<UnixDatagram> {
        let inner = if corio_runtime::uring_active() {
            socket.set_nonblocking(false)?;
            Inner::Uring(Datagram::new(Socket::from_owned(OwnedFd::from(socket))))
        } else {
            socket.set_nonblocking(true)?;
            Inner::Epoll(tokio::net::UnixDatagram::from_std(socket.into())?)
        };
        Ok(UnixDatagram { inner })
    }

    /// Wraps a `std::os::unix::net::UnixDatagram` for the current worker's backend.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(datagram: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        UnixDatagram::from_socket(datagram.into())
    }

    /// Turns the socket back into a `std::os::unix::net::UnixDatagram`, in non-blocking
    /// mode.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation is still in flight on the uring backend.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        let socket = match self.inner {
            Inner::Epoll(socket) => socket.into_std()?,
            Inner::Uring(datagram) => {
                std::os::unix::net::UnixDatagram::from(datagram.into_owned_fd()?)
            }
        };
        socket.set_nonblocking(true)?;
        Ok(socket)
    }

    /// Connects to the socket bound at `path`: `send` and `recv` then talk to it only.
    ///
    /// # Errors
    ///
    /// As `connect(2)`, e.g. `NotFound`.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        SockRef::from(self).connect(&SockAddr::unix(path)?)
    }

    /// The local address (unnamed when unbound).
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&SockRef::from(self).local_addr()?))
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`connect`](UnixDatagram::connect).
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

    /// Shuts down the read, write or both directions (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        SockRef::from(self).shutdown(how)
    }

    /// Waits until the socket is ready for any of `interest`.
    ///
    /// # Errors
    ///
    /// On io_uring, `Unsupported` for `Interest::PRIORITY` or an interest with neither
    /// readable nor writable, and submission failures.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.ready(interest).await,
            Inner::Epoll(socket) => socket.ready(interest).await,
        }
    }

    /// Waits until a datagram can be received.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn readable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(datagram) => poll_fn(|cx| datagram.poll_recv_ready(cx)).await.map(drop),
            Inner::Epoll(socket) => socket.readable().await,
        }
    }

    /// Waits until a datagram can be sent.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn writable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(datagram) => poll_fn(|cx| datagram.poll_send_ready(cx)).await.map(drop),
            Inner::Epoll(socket) => socket.writable().await,
        }
    }

    /// Polls for receive readiness.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.poll_recv_ready(cx).map_ok(drop),
            Inner::Epoll(socket) => socket.poll_recv_ready(cx),
        }
    }

    /// Polls for send readiness.
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.poll_send_ready(cx).map_ok(drop),
            Inner::Epoll(socket) => socket.poll_send_ready(cx),
        }
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// As send(2), e.g. `ConnectionRefused` when the peer is gone.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.send(buf).await,
            Inner::Epoll(socket) => socket.send(buf).await,
        }
    }

    /// Sends `buf` to the connected peer now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the peer's queue is full; otherwise as send(2).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.try_send_to(buf, None),
            Inner::Epoll(socket) => socket.try_send(buf),
        }
    }

    /// Sends `buf` as one datagram to the socket bound at `target`.
    ///
    /// # Errors
    ///
    /// As sendto(2), e.g. `NotFound` or `ConnectionRefused`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.send_to(buf, SockAddr::unix(target)?).await,
            Inner::Epoll(socket) => socket.send_to(buf, target).await,
        }
    }

    /// Sends `buf` to `target` now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the peer's queue is full; otherwise as sendto(2).
    pub fn try_send_to<P: AsRef<Path>>(&self, buf: &[u8], target: P) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.try_send_to(buf, Some(&SockAddr::unix(target)?)),
            Inner::Epoll(socket) => socket.try_send_to(buf, target),
        }
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// Receives one datagram now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none is queued (on io_uring also while a receive is in flight).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_recv_from(buf).map(|(n, _)| n)
    }

    /// Receives one datagram into `buf`, with its sender.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match &self.inner {
            Inner::Uring(datagram) => {
                let (n, from) = datagram.recv_from(buf).await?;
                Ok((n, SocketAddr::from(&from)))
            }
            Inner::Epoll(socket) => {
                let (n, from) = socket.recv_from(buf).await?;
                Ok((n, std::os::unix::net::SocketAddr::from(from).into()))
            }
        }
    }

    /// Polls to receive one datagram into `buf`; returns its sender.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        match &self.inner {
            Inner::Uring(datagram) => {
                let from = ready!(datagram.poll_recv_from(cx, buf))?;
                Poll::Ready(Ok(SocketAddr::from(&from)))
            }
            Inner::Epoll(socket) => {
                let from = ready!(socket.poll_recv_from(cx, buf))?;
                Poll::Ready(Ok(std::os::unix::net::SocketAddr::from(from).into()))
            }
        }
    }

    /// Receives one datagram now, without waiting, with its sender.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none is queued (on io_uring also while a receive is in flight).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match &self.inner {
            Inner::Uring(datagram) => {
                let (n, from) = datagram.try_recv_from(buf)?;
                Ok((n, SocketAddr::from(&from)))
            }
            Inner::Epoll(socket) => {
                let (n, from) = socket.try_recv_from(buf)?;
                Ok((n, std::os::unix::net::SocketAddr::from(from).into()))
            }
        }
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.socket().as_fd(),
            Inner::Epoll(socket) => socket.as_fd(),
        }
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.inner {
            Inner::Uring(_) => "uring",
            Inner::Epoll(_) => "epoll",
        };
        f.debug_struct("UnixDatagram")
            .field("backend", &backend)
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
