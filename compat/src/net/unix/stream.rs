//! `UnixStream`: tokio's `UnixStream` API over a [`Source`], on either backend; the same
//! I/O as [`TcpStream`](crate::net::TcpStream).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use socket2::{Domain, SockAddr, SockRef, Type};

use super::{SocketAddr, UCred};
use corio_runtime::metrics::ConnectionTally;

use crate::io::Source;

/// A Unix stream connection, like `tokio::net::UnixStream`.
///
/// Reads, writes and readiness behave as for [`TcpStream`](crate::net::TcpStream) on both
/// backends: one non-blocking syscall once the socket is ready, tokio's semantics.
pub struct UnixStream {
    pub(crate) io: Source,
    /// Counts the stream in its worker's `corio::metrics` connections.
    _tally: ConnectionTally,
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
            _tally: ConnectionTally::new(),
        })
    }

    /// Wraps a connected socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Source::connected(fd)?,
            _tally: ConnectionTally::new(),
        })
    }

    /// Wraps a connection fresh from the listener's accept (already non-blocking).
    pub(crate) fn accepted(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Source::accepted(fd)?,
            _tally: ConnectionTally::new(),
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

    readiness_api!(read_ready: poll_read_ready, write_ready: poll_write_ready);
    stream_api!();
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// As [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_std(stream)
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

stream_traits!(UnixStream);
