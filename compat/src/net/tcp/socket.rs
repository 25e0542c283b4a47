//! `TcpSocket`: a TCP socket not yet connected or listening, to set options (and bind)
//! first, like `tokio::net::TcpSocket`. The backend is chosen when it becomes a stream or
//! a listener: [`TcpSocket::connect`] and [`TcpSocket::listen`] use the backend of the
//! worker they run on.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Type};

use super::{TcpListener, TcpStream};

/// A TCP socket to configure before it connects or listens, like `tokio::net::TcpSocket`.
///
/// # Examples
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// let socket = corio_compat::net::TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(128)?;
/// # drop(listener);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: socket2::Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// As `socket(2)`, e.g. `EMFILE`.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// As `socket(2)`, e.g. `EAFNOSUPPORT` without IPv6.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = socket2::Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        Ok(TcpSocket { inner })
    }

    /// Sets `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    /// Reads `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// Sets `SO_REUSEADDR`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.inner.set_reuse_address(reuseaddr)
    }

    /// Reads `SO_REUSEADDR`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// Sets `SO_REUSEPORT`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        self.inner.set_reuse_port(reuseport)
    }

    /// Reads `SO_REUSEPORT`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// Sets `SO_SNDBUF` (the kernel doubles the value it stores).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// Reads `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(saturate)
    }

    /// Sets `SO_RCVBUF` (the kernel doubles the value it stores).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// Reads `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(saturate)
    }

    /// Sets `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    #[deprecated = "`SO_LINGER` causes the socket to block the thread on drop"]
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(dur)
    }

    /// Sets `SO_LINGER` to zero: closing the socket resets the connection (RST).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.inner.set_linger(Some(Duration::ZERO))
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Reads `IPV6_TCLASS`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.inner.tclass_v6()
    }

    /// Sets `IPV6_TCLASS` (the traffic class of IPv6 packets).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        self.inner.set_tclass_v6(tclass)
    }

    /// Reads `IP_TOS`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.inner.tos_v4()
    }

    /// Reads `IP_TOS`; the old name of [`TcpSocket::tos_v4`].
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

    /// Sets `IP_TOS` (the type-of-service field of IPv4 packets).
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.inner.set_tos_v4(tos)
    }

    /// Sets `IP_TOS`; the old name of [`TcpSocket::set_tos_v4`].
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
        self.inner.device()
    }

    /// Binds to a network interface (`SO_BINDTODEVICE`); `None` removes the binding.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`, e.g. `PermissionDenied` without `CAP_NET_RAW`.
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.inner.bind_device(interface)
    }

    /// The local address, once bound.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        crate::net::addr::inet(self.inner.local_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Binds to `addr`, e.g. to pick the local port before connecting.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse`.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// Connects to `addr`, turning the socket into a [`TcpStream`] of the current
    /// worker's backend.
    ///
    /// # Errors
    ///
    /// As `connect(2)`, e.g. `ConnectionRefused`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_socket(self.inner, addr).await
    }

    /// Listens with a queue of `backlog` connections, turning the socket into a
    /// [`TcpListener`] of the current worker's backend.
    ///
    /// # Errors
    ///
    /// As `listen(2)`; registering with tokio's reactor on the epoll backend.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_fd(OwnedFd::from(self.inner))
    }

    /// Wraps a `std::net::TcpStream` (connected or not) to set options on it.
    pub fn from_std_stream(std_stream: std::net::TcpStream) -> TcpSocket {
        TcpSocket {
            inner: std_stream.into(),
        }
    }
}

fn saturate(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

#[allow(unsafe_code)]
impl FromRawFd for TcpSocket {
    /// Takes ownership of a TCP socket fd.
    ///
    /// # Safety
    ///
    /// `fd` must be an open TCP socket that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        TcpSocket {
            // SAFETY: forwarded from this function's contract.
            inner: unsafe { socket2::Socket::from_raw_fd(fd) },
        }
    }
}
