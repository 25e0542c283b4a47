//! `TcpStream`: tokio's `TcpStream` API over a [`Source`], on either backend.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::SockRef;
use tokio::io::ReadBuf;
use tokio::net::ToSocketAddrs;

use corio_runtime::metrics::ConnectionTally;

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
    /// Counts the stream in its worker's `corio::metrics` connections.
    _tally: ConnectionTally,
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
        Ok(TcpStream {
            io,
            _tally: ConnectionTally::new(),
        })
    }

    /// Wraps a connected socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Source::connected(fd)?,
            _tally: ConnectionTally::new(),
        })
    }

    /// Wraps a connection fresh from the listener's accept (already non-blocking).
    pub(crate) fn accepted(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Source::accepted(fd)?,
            _tally: ConnectionTally::new(),
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
    /// On io_uring, reads on a worker receive ahead into the stream's buffer
    /// ([`RecvMode`](corio_runtime::RecvMode)); bytes received that way and not yet read are not
    /// in the socket any more and are dropped here. Read them first, or build the runtime
    /// with `RecvMode::Readiness` to keep every unread byte in the kernel as tokio does.
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

    readiness_api!(read_ready: poll_read_ready, write_ready: poll_write_ready);
    stream_api!();

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

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("backend", &self.io.backend())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

stream_traits!(TcpStream);
