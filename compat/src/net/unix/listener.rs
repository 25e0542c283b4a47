//! `UnixListener`: tokio's `UnixListener` API on either backend. On io_uring it accepts
//! like [`TcpListener`](crate::net::TcpListener): one multishot accept kept in flight,
//! with a backoff after `EMFILE`/`ENFILE` (see `adapter/accept.rs`).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use corio_runtime::Socket;
use socket2::{Domain, SockAddr, SockRef, Type};

use super::{SocketAddr, UnixStream};
use crate::adapter::AcceptState;
use crate::net::addr::BACKLOG;

/// A Unix stream listening socket, like `tokio::net::UnixListener`.
///
/// # Cancel safety
///
/// `accept` is cancel safe: a connection the kernel accepted while the future was
/// pending is kept for the next call.
pub struct UnixListener {
    inner: Inner,
}

enum Inner {
    Uring {
        socket: Socket,
        accept: Mutex<AcceptState>,
    },
    Epoll(tokio::net::UnixListener),
}

impl UnixListener {
    /// Binds to the filesystem path `path` (which must not exist) and listens.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse` when the path exists.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let socket = socket2::Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(BACKLOG)?;
        UnixListener::from_socket(socket)
    }

    fn from_socket(socket: socket2::Socket) -> io::Result<UnixListener> {
        let inner = if corio_runtime::uring_active() {
            socket.set_nonblocking(false)?;
            Inner::Uring {
                socket: Socket::from_owned(OwnedFd::from(socket)),
                accept: Mutex::default(),
            }
        } else {
            socket.set_nonblocking(true)?;
            Inner::Epoll(tokio::net::UnixListener::from_std(socket.into())?)
        };
        Ok(UnixListener { inner })
    }

    /// Wraps a listening `std::os::unix::net::UnixListener`.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_socket(listener.into())
    }

    /// Turns the listener back into a `std::os::unix::net::UnixListener`, in non-blocking
    /// mode.
    ///
    /// # Errors
    ///
    /// `WouldBlock` on io_uring while the cancelled accept still holds the fd.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let listener = match self.inner {
            Inner::Epoll(listener) => listener.into_std()?,
            Inner::Uring { socket, accept } => {
                drop(accept);
                let fd = socket.into_owned().map_err(|_| {
                    io::Error::new(io::ErrorKind::WouldBlock, "an accept is still in flight")
                })?;
                std::os::unix::net::UnixListener::from(fd)
            }
        };
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(&SockRef::from(self).local_addr()?))
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(self).take_error()
    }

    /// Accepts a new connection, with the peer's address (usually unnamed).
    ///
    /// # Errors
    ///
    /// As `accept4(2)`: `EMFILE`/`ENFILE` show as errors with the raw errno; on io_uring
    /// the next call backs off first.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        match &self.inner {
            Inner::Uring { .. } => std::future::poll_fn(|cx| self.poll_accept(cx)).await,
            Inner::Epoll(listener) => {
                let (stream, addr) = listener.accept().await?;
                let addr = std::os::unix::net::SocketAddr::from(addr);
                Ok((UnixStream::from_tokio(stream), addr.into()))
            }
        }
    }

    /// Polls for a new connection.
    ///
    /// # Errors
    ///
    /// As for [`UnixListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        match &self.inner {
            Inner::Uring { socket, accept } => {
                let mut state = accept.lock().unwrap_or_else(PoisonError::into_inner);
                let fd = ready!(state.poll_accept(socket, cx))?;
                let stream = UnixStream::from_uring(Socket::from_owned(fd));
                Poll::Ready(stream.peer_addr().map(|addr| (stream, addr)))
            }
            Inner::Epoll(listener) => {
                let (stream, addr) = ready!(listener.poll_accept(cx))?;
                let addr = std::os::unix::net::SocketAddr::from(addr);
                Poll::Ready(Ok((UnixStream::from_tokio(stream), addr.into())))
            }
        }
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Uring { socket, .. } => socket.as_fd(),
            Inner::Epoll(listener) => listener.as_fd(),
        }
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.inner {
            Inner::Uring { .. } => "uring",
            Inner::Epoll(_) => "epoll",
        };
        f.debug_struct("UnixListener")
            .field("backend", &backend)
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
