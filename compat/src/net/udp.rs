//! `UdpSocket`: tokio's `UdpSocket` API on either backend.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{ready, Context, Poll};

use corio_runtime::Socket;
use socket2::{Domain, Protocol, SockRef, Type};
use tokio::io::{Interest, ReadBuf, Ready};
use tokio::net::ToSocketAddrs;

use crate::adapter::Datagram;
use crate::net::addr;

/// A UDP socket, like `tokio::net::UdpSocket`. Every method takes `&self`, so one socket
/// can be shared by tasks through an `Arc`.
///
/// On the uring backend receives and sends go through the worker's io_uring (see below);
/// on the epoll backend this is a `tokio::net::UdpSocket`.
///
/// # Receiving on io_uring
///
/// The socket keeps one receive in flight, owned by the socket rather than by the
/// `recv_from` future: a datagram that arrives while the future is dropped (a lost
/// `select!` branch) is kept for the next receive. Datagrams longer than the caller's
/// buffer are truncated, as with recvfrom(2).
///
/// # Cancel safety
///
/// `recv`, `recv_from`, `readable`, `writable` and `ready` are cancel safe. `send` and
/// `send_to` are not on io_uring: dropping the future cancels the send, which may already
/// have left (tokio guarantees it did not).
pub struct UdpSocket {
    inner: Inner,
}

enum Inner {
    Uring(Datagram),
    Epoll(tokio::net::UdpSocket),
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last bind error, e.g. `AddrInUse`.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        addr::each_addr(addr, |addr| async move {
            let socket =
                socket2::Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            socket.bind(&addr.into())?;
            UdpSocket::from_socket(socket)
        })
        .await
    }

    fn from_socket(socket: socket2::Socket) -> io::Result<UdpSocket> {
        let inner = if corio_runtime::uring_active() {
            socket.set_nonblocking(false)?;
            Inner::Uring(Datagram::new(Socket::from_owned(OwnedFd::from(socket))))
        } else {
            socket.set_nonblocking(true)?;
            Inner::Epoll(tokio::net::UdpSocket::from_std(socket.into())?)
        };
        Ok(UdpSocket { inner })
    }

    /// Wraps a bound `std::net::UdpSocket` for the current worker's backend.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_socket(socket.into())
    }

    /// Turns the socket back into a `std::net::UdpSocket`, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation is still in flight on the uring backend.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let socket = match self.inner {
            Inner::Epoll(socket) => socket.into_std()?,
            Inner::Uring(datagram) => std::net::UdpSocket::from(datagram.into_owned_fd()?),
        };
        socket.set_nonblocking(true)?;
        Ok(socket)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(SockRef::from(self).local_addr()?)
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(SockRef::from(self).peer_addr()?)
    }

    /// Connects to `addr` (the first resolved address that works): `send` and `recv` then
    /// talk to it only.
    ///
    /// # Errors
    ///
    /// The last connect error.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        addr::each_addr(addr, |addr| async move {
            SockRef::from(self).connect(&addr.into())
        })
        .await
    }

    /// Waits until the socket is ready for any of `interest`; see
    /// `TcpStream::ready`.
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
    /// As send(2), e.g. `ConnectionRefused` after the peer's port answered with ICMP.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.send(buf).await,
            Inner::Epoll(socket) => socket.send(buf).await,
        }
    }

    /// Polls to send `buf` to the connected peer.
    ///
    /// # Errors
    ///
    /// As for [`send`](UdpSocket::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Uring(_) => self.poll_try(cx, |socket| socket.try_send(buf)),
            Inner::Epoll(socket) => socket.poll_send(cx, buf),
        }
    }

    /// Sends `buf` to the connected peer now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full; otherwise as send(2).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.try_send_to(buf, None),
            Inner::Epoll(socket) => socket.try_send(buf),
        }
    }

    /// Sends `buf` as one datagram to `target` (its first resolved address).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `target` resolves to nothing; otherwise as sendto(2).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = addr::resolve(target).await?[0];
        match &self.inner {
            Inner::Uring(datagram) => datagram.send_to(buf, target.into()).await,
            Inner::Epoll(socket) => socket.send_to(buf, target).await,
        }
    }

    /// Polls to send `buf` to `target`.
    ///
    /// # Errors
    ///
    /// As sendto(2).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Uring(_) => self.poll_try(cx, |socket| socket.try_send_to(buf, target)),
            Inner::Epoll(socket) => socket.poll_send_to(cx, buf, target),
        }
    }

    /// Sends `buf` to `target` now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full; otherwise as sendto(2).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.try_send_to(buf, Some(&target.into())),
            Inner::Epoll(socket) => socket.try_send_to(buf, target),
        }
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// As recv(2), e.g. `ConnectionRefused` after an ICMP port unreachable.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.recv_from(buf).await.map(|(n, _)| n),
            Inner::Epoll(socket) => socket.recv(buf).await,
        }
    }

    /// Polls to receive one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// As for [`recv`](UdpSocket::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.poll_recv_from(cx, buf).map_ok(drop),
            Inner::Epoll(socket) => socket.poll_recv(cx, buf),
        }
    }

    /// Receives one datagram from the connected peer now, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none is queued (on io_uring also while a receive is in flight);
    /// otherwise as recv(2).
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
                Ok((n, addr::inet(from)?))
            }
            Inner::Epoll(socket) => socket.recv_from(buf).await,
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
                Poll::Ready(addr::inet(from))
            }
            Inner::Epoll(socket) => socket.poll_recv_from(cx, buf),
        }
    }

    /// Receives one datagram now, without waiting, with its sender.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when none is queued (on io_uring also while a receive is in flight);
    /// otherwise as recvfrom(2).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match &self.inner {
            Inner::Uring(datagram) => {
                let (n, from) = datagram.try_recv_from(buf)?;
                Ok((n, addr::inet(from)?))
            }
            Inner::Epoll(socket) => socket.try_recv_from(buf),
        }
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        SockRef::from(self).set_broadcast(on)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn broadcast(&self) -> io::Result<bool> {
        SockRef::from(self).broadcast()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        SockRef::from(self).set_ttl_v4(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn ttl(&self) -> io::Result<u32> {
        SockRef::from(self).ttl_v4()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(self).take_error()
    }

    /// On io_uring, a poll-style send: waits for send readiness, then tries once.
    fn poll_try(
        &self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(&UdpSocket) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_send_ready(cx))?;
            match send(self) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
        }
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Uring(datagram) => datagram.socket().as_fd(),
            Inner::Epoll(socket) => socket.as_fd(),
        }
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.inner {
            Inner::Uring(_) => "uring",
            Inner::Epoll(_) => "epoll",
        };
        f.debug_struct("UdpSocket")
            .field("backend", &backend)
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
