//! `TcpListener`: tokio's `TcpListener` API on either backend.
//!
//! On io_uring the listener keeps one multishot accept in flight (one SQE for many
//! connections); connections the kernel accepted but nobody took yet wait in the op.
//! Dropping the listener cancels the accept, which releases the port, and closes those
//! connections. After `EMFILE`/`ENFILE` the next accept first waits (10 ms, doubling up to
//! 1 s) so that an accept loop that retries on error does not spin (see
//! `adapter/accept.rs`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use corio_runtime::Socket;
use socket2::SockRef;
use tokio::net::ToSocketAddrs;

use super::TcpStream;
use crate::adapter::AcceptState;
use crate::net::addr;

/// A TCP listening socket, like `tokio::net::TcpListener`.
///
/// # Cancel safety
///
/// `accept` is cancel safe: a connection the kernel accepted while the future was
/// pending is kept for the next call.
pub struct TcpListener {
    inner: Inner,
}

enum Inner {
    Uring {
        socket: Socket,
        accept: Mutex<AcceptState>,
    },
    Epoll(tokio::net::TcpListener),
}

impl TcpListener {
    /// Binds to `addr` (`SO_REUSEADDR`; in sharded mode also `SO_REUSEPORT`) and listens.
    ///
    /// # Errors
    ///
    /// The last bind error over the resolved addresses, e.g. `AddrInUse`.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        addr::each_addr(addr, |addr| async move { TcpListener::bind_addr(addr) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        corio_runtime::bind_sharded(addr, |addr| {
            let socket = addr::tcp_socket(&addr, !corio_runtime::uring_active())?;
            socket.set_reuse_address(true)?;
            if corio_runtime::is_sharded() {
                socket.set_reuse_port(true)?;
            }
            socket.bind(&addr.into())?;
            socket.listen(addr::BACKLOG)?;
            let listener = TcpListener::from_socket(socket)?;
            let bound = listener.local_addr()?;
            Ok((listener, bound))
        })
    }

    /// Wraps a listening socket for the current worker's backend.
    pub(crate) fn from_socket(socket: socket2::Socket) -> io::Result<TcpListener> {
        let inner = if corio_runtime::uring_active() {
            socket.set_nonblocking(false)?;
            Inner::Uring {
                socket: Socket::from_owned(OwnedFd::from(socket)),
                accept: Mutex::new(AcceptState::default()),
            }
        } else {
            socket.set_nonblocking(true)?;
            Inner::Epoll(tokio::net::TcpListener::from_std(socket.into())?)
        };
        Ok(TcpListener { inner })
    }

    /// Wraps a listening `std::net::TcpListener`.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_socket(socket2::Socket::from(listener))
    }

    /// Turns the listener back into a `std::net::TcpListener`, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// `WouldBlock` on io_uring while the cancelled accept still holds the fd.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let listener = match self.inner {
            Inner::Epoll(listener) => listener.into_std()?,
            Inner::Uring { socket, accept } => {
                drop(accept);
                let fd = socket.into_owned().map_err(|_| {
                    io::Error::new(io::ErrorKind::WouldBlock, "an accept is still in flight")
                })?;
                std::net::TcpListener::from(fd)
            }
        };
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        SockRef::from(self).take_error()
    }

    /// Accepts a new connection.
    ///
    /// # Errors
    ///
    /// As `accept4(2)`: `EMFILE`/`ENFILE` show as errors with the raw errno; the next
    /// call backs off first.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        match &self.inner {
            Inner::Uring { .. } => std::future::poll_fn(|cx| self.poll_accept(cx)).await,
            Inner::Epoll(listener) => {
                let (stream, addr) = listener.accept().await?;
                Ok((TcpStream::from_tokio(stream), addr))
            }
        }
    }

    /// Polls for a new connection.
    ///
    /// # Errors
    ///
    /// As for [`TcpListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match &self.inner {
            Inner::Uring { socket, accept } => {
                let mut state = accept.lock().unwrap_or_else(PoisonError::into_inner);
                let fd = ready!(state.poll_accept(socket, cx))?;
                let stream = TcpStream::from_uring(Socket::from_owned(fd));
                Poll::Ready(stream.peer_addr().map(|addr| (stream, addr)))
            }
            Inner::Epoll(listener) => {
                let (stream, addr) = ready!(listener.poll_accept(cx))?;
                Poll::Ready(Ok((TcpStream::from_tokio(stream), addr)))
            }
        }
    }

    /// The local address, e.g. to learn the port after binding port 0.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        SockRef::from(self)
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an inet address"))
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
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Uring { socket, .. } => socket.as_fd(),
            Inner::Epoll(listener) => listener.as_fd(),
        }
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.inner {
            Inner::Uring { .. } => "uring",
            Inner::Epoll(_) => "epoll",
        };
        f.debug_struct("TcpListener")
            .field("backend", &backend)
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
