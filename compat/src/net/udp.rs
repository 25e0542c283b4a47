//! `UdpSocket`: tokio's `UdpSocket` API over a [`Source`], on either backend.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::task::{ready, Context, Poll};

use bytes::BufMut;
use socket2::{Domain, Protocol, SockAddr, SockRef, Type};
use tokio::io::ReadBuf;
use tokio::net::ToSocketAddrs;

use crate::io::Source;
use crate::net::addr;

const PEEK: i32 = libc::MSG_PEEK;

/// A UDP socket, like `tokio::net::UdpSocket`. Every method takes `&self`, so one socket
/// can be shared by tasks (and threads) through an `Arc`.
///
/// Each receive and send is one non-blocking syscall once the socket is ready; readiness
/// comes from the worker's io_uring or tokio's reactor. A datagram longer than the buffer
/// is truncated, as with recvfrom(2).
///
/// # Cancel safety
///
/// As in tokio, every async method is cancel safe: a dropped `send`/`send_to` sent
/// nothing, a dropped `recv`/`recv_from`/`peek*` received nothing.
pub struct UdpSocket {
    io: Source,
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last bind error, e.g. `AddrInUse`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future (during name resolution) binds nothing.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        addr::each_addr(addr, |addr| async move {
            let socket =
                socket2::Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            socket.bind(&addr.into())?;
            UdpSocket::from_fd(OwnedFd::from(socket))
        })
        .await
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Source::new(fd)?,
        })
    }

    /// Wraps a bound `std::net::UdpSocket` (set to non-blocking mode here).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_fd(OwnedFd::from(socket))
    }

    /// Turns the socket back into a `std::net::UdpSocket`, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors (see `TcpStream::into_std`).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.io.into_fd().map(std::net::UdpSocket::from)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.local_sock_addr()?)
    }

    /// The address the socket is connected to.
    ///
    /// # Errors
    ///
    /// `NotConnected` before [`UdpSocket::connect`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.peer_sock_addr()?)
    }

    /// Sets the default destination for `send` and the only source `recv` accepts,
    /// trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last connect error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future during name resolution leaves the socket as it was.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        addr::each_addr(
            addr,
            |addr| async move { self.sock().connect(&addr.into()) },
        )
        .await
    }

    /// Like [`UdpSocket::try_recv_from`], into the spare capacity of `buf`.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::try_recv_from`].
    pub fn try_recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        with_inet(self.io.try_recv_buf_from(buf))
    }

    /// Like [`UdpSocket::recv_from`], into the spare capacity of `buf`.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::recv_from`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv_buf_from<B: BufMut>(&self, buf: &mut B) -> io::Result<(usize, SocketAddr)> {
        with_inet(self.io.recv_buf_from(buf).await)
    }

    /// Sends `buf` as one datagram to `addr` (the first address it resolves to).
    ///
    /// # Errors
    ///
    /// As sendto(2); `InvalidInput` when `addr` resolves to nothing.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future sent nothing.
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = addr::resolve(addr).await?[0];
        self.io.send_to(buf, &target.into()).await
    }

    /// Polls a send of `buf` to `target`.
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
        self.io.poll_send_to(cx, buf, &target.into())
    }

    /// Sends to `target` now if the socket is ready: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as sendto(2).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_send_to(buf, &target.into())
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
        with_inet(self.io.recv_from_flags(buf, 0).await)
    }

    /// Polls [`UdpSocket::recv_from`] into `buf`.
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
        Poll::Ready(addr::inet(from))
    }

    /// Receives now if a datagram waits: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recvfrom(2).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_inet(self.io.try_recv_from_flags(buf, 0))
    }

    /// Receives the next datagram from the connected peer without removing it.
    ///
    /// # Errors
    ///
    /// As recv(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.recv_flags(buf, PEEK).await
    }

    /// Polls [`UdpSocket::peek`] into `buf`.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.io.poll_recv_flags(cx, buf, PEEK)
    }

    /// Peeks now if a datagram waits: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recv(2).
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_recv_flags(buf, PEEK)
    }

    /// Receives the next datagram and its sender without removing it.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_inet(self.io.recv_from_flags(buf, PEEK).await)
    }

    /// Polls [`UdpSocket::peek_from`] into `buf`.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.io.poll_recv_from_flags(cx, buf, PEEK))?;
        Poll::Ready(addr::inet(from))
    }

    /// Peeks now with the sender if a datagram waits: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recvfrom(2).
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        with_inet(self.io.try_recv_from_flags(buf, PEEK))
    }

    /// The sender of the next datagram, without receiving it.
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.peek_sender().await?)
    }

    /// Polls [`UdpSocket::peek_sender`].
    ///
    /// # Errors
    ///
    /// As recvfrom(2).
    pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketAddr>> {
        let from = ready!(self.io.poll_peek_sender(cx))?;
        Poll::Ready(addr::inet(from))
    }

    /// The next datagram's sender now if one waits: `WouldBlock` otherwise.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recvfrom(2).
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        addr::inet(self.io.try_peek_sender()?)
    }

    /// Reads `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.sock().broadcast()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.sock().set_broadcast(on)
    }

    /// Reads `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.sock().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.sock().set_multicast_loop_v4(on)
    }

    /// Reads `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.sock().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.sock().set_multicast_ttl_v4(ttl)
    }

    /// Reads `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.sock().multicast_loop_v6()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.sock().set_multicast_loop_v6(on)
    }

    /// Reads `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.sock().tclass_v6()
    }

    /// Sets `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        self.sock().set_tclass_v6(tclass)
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

    /// Reads `IP_TOS`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.sock().tos_v4()
    }

    /// Reads `IP_TOS`; the old name of [`UdpSocket::tos_v4`].
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    #[deprecated(
        note = "`tos` related methods have been renamed `tos_v4` since they are IPv4-specific."
    )]
    pub fn tos(&self) -> io::Result<u32> {
        self.tos_v4()
    }

    /// Sets `IP_TOS`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.sock().set_tos_v4(tos)
    }

    /// Sets `IP_TOS`; the old name of [`UdpSocket::set_tos_v4`].
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    #[deprecated(
        note = "`tos` related methods have been renamed `set_tos_v4` since they are IPv4-specific."
    )]
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        self.set_tos_v4(tos)
    }

    /// The network interface this socket is bound to (`SO_BINDTODEVICE`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.sock().device()
    }

    /// Binds to a network interface (`SO_BINDTODEVICE`); `None` removes the binding.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`, e.g. `PermissionDenied` without `CAP_NET_RAW`.
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.sock().bind_device(interface)
    }

    /// Joins an IPv4 multicast group (`IP_ADD_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.sock().join_multicast_v4(&multiaddr, &interface)
    }

    /// Joins an IPv6 multicast group (`IPV6_ADD_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group (`IP_DROP_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.sock().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv6 multicast group (`IPV6_DROP_MEMBERSHIP`).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock().leave_multicast_v6(multiaddr, interface)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
    }

    readiness_api!(read_ready: poll_recv_ready, write_ready: poll_send_ready);
    datagram_api!();

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(&self.io)
    }
}

impl UdpSocket {
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
        (with_inet(received), buf)
    }

    /// [`Self::send_owned`] to `target`: one `IORING_OP_SENDMSG` on io_uring. Ownership and
    /// cancel safety as there.
    ///
    /// # Errors
    ///
    /// As sendto(2).
    pub async fn send_to_owned<B: corio_runtime::buf::IoBuf, A: ToSocketAddrs>(
        &self,
        buf: B,
        target: A,
    ) -> corio_runtime::buf::BufResult<usize, B> {
        match addr::resolve(target).await {
            Ok(targets) => self.io.send_to_owned(buf, targets[0].into()).await,
            Err(err) => (Err(err), buf),
        }
    }
}

fn with_inet(received: io::Result<(usize, SockAddr)>) -> io::Result<(usize, SocketAddr)> {
    let (n, from) = received?;
    Ok((n, addr::inet(from)?))
}

impl TryFrom<std::net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    /// As [`UdpSocket::from_std`].
    fn try_from(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_std(socket)
    }
}

fd_traits!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("backend", &self.io.backend())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
