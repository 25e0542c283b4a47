//! `UnixListener`: tokio's `UnixListener` API over an [`Acceptor`], on either backend.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::task::{ready, Context, Poll};

use socket2::{Domain, SockAddr, SockRef, Type};

use super::{SocketAddr, UnixStream};
use crate::io::{Acceptor, Source};
use crate::net::addr::BACKLOG;

/// A Unix listening socket, like `tokio::net::UnixListener`. Accepting works as for
/// [`TcpListener`](crate::net::TcpListener).
pub struct UnixListener {
    accept: Acceptor,
}

impl UnixListener {
    /// Binds to `path` and listens. The socket file is not removed on drop, as in tokio.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse` when the path exists.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_sock_addr(&SockAddr::unix(path)?)
    }

    /// Binds to `socket_addr` (a path or an abstract name) and listens.
    ///
    /// # Errors
    ///
    /// As [`UnixListener::bind`]; `InvalidInput` for an unnamed address.
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::bind_sock_addr(&socket_addr.to_sock_addr()?)
    }

    fn bind_sock_addr(addr: &SockAddr) -> io::Result<UnixListener> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(addr)?;
        socket.listen(BACKLOG)?;
        UnixListener::from_fd(OwnedFd::from(socket))
    }

    /// Wraps a listening socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<UnixListener> {
        Ok(UnixListener {
            accept: Acceptor::new(Source::new(fd)?),
        })
    }

    /// Wraps a listening `std::os::unix::net::UnixListener` (set to non-blocking mode).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_fd(OwnedFd::from(listener))
    }

    /// Turns the listener back into a `std::os::unix::net::UnixListener`, non-blocking.
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors (see `TcpStream::into_std`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.accept
            .into_source()
            .into_fd()
            .map(std::os::unix::net::UnixListener::from)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&self.accept.source().local_sock_addr()?))
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(self.accept.source()).take_error()
    }

    /// Accepts the next connection, with its peer's address (usually unnamed).
    ///
    /// # Errors
    ///
    /// As accept4(2), e.g. `EMFILE` (then the next call waits first).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future accepted nothing.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, peer) = self.accept.accept().await?;
        Ok((UnixStream::accepted(fd)?, SocketAddr::from(&peer)))
    }

    /// Polls for the next connection; only the last task to call it is woken.
    ///
    /// # Errors
    ///
    /// As [`UnixListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (fd, peer) = ready!(self.accept.poll_accept(cx))?;
        Poll::Ready(Ok((UnixStream::accepted(fd)?, SocketAddr::from(&peer))))
    }
}

impl TryFrom<std::os::unix::net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// As [`UnixListener::from_std`].
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_std(listener)
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.accept.source().as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("backend", &self.accept.source().backend())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
