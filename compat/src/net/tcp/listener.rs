//! `TcpListener`: tokio's `TcpListener` API over an [`Acceptor`], on either backend.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{ready, Context, Poll};

use socket2::SockRef;
use tokio::net::ToSocketAddrs;

use super::TcpStream;
use crate::io::{Acceptor, Source};
use crate::net::addr;

/// A TCP listening socket, like `tokio::net::TcpListener`.
///
/// Connections wait in the kernel's listen queue until `accept` takes them (the queue's
/// length is the backlog: 1024 for [`TcpListener::bind`]), from any task on any thread.
/// After `EMFILE`/`ENFILE` the next accept first waits (10 ms, doubling up to 1 s), so an
/// accept loop that retries on error does not spin.
pub struct TcpListener {
    accept: Acceptor,
}

impl TcpListener {
    /// Binds to `addr` (`SO_REUSEADDR`; in sharded mode also `SO_REUSEPORT`) and listens,
    /// trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last bind error over the resolved addresses, e.g. `AddrInUse`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future (during name resolution) binds nothing.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        addr::each_addr(addr, |addr| async move { TcpListener::bind_addr(addr) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        corio_runtime::bind_sharded(addr, |addr| {
            let socket = addr::tcp_socket(&addr)?;
            socket.set_reuse_address(true)?;
            if corio_runtime::is_sharded() {
                socket.set_reuse_port(true)?;
            }
            socket.bind(&addr.into())?;
            socket.listen(addr::BACKLOG)?;
            let listener = TcpListener::from_fd(OwnedFd::from(socket))?;
            let bound = listener.local_addr()?;
            Ok((listener, bound))
        })
    }

    /// Wraps a listening socket fd for the current backend.
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener {
            accept: Acceptor::new(Source::new(fd)?),
        })
    }

    /// Accepts the next connection, with its peer's address.
    ///
    /// # Errors
    ///
    /// As accept4(2), e.g. `EMFILE` (then the next call waits first; see the type docs).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future accepted nothing; the connection stays queued.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, peer) = self.accept.accept().await?;
        Ok((TcpStream::accepted(fd)?, addr::inet(peer)?))
    }

    /// Polls for the next connection; only the last task to call it is woken.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`].
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, peer) = ready!(self.accept.poll_accept(cx))?;
        Poll::Ready(Ok((TcpStream::accepted(fd)?, addr::inet(peer)?)))
    }

    /// Wraps a listening `std::net::TcpListener` (set to non-blocking mode here).
    ///
    /// # Errors
    ///
    /// Outside a corio (or tokio) runtime.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_fd(OwnedFd::from(listener))
    }

    /// Turns the listener back into a `std::net::TcpListener`, in non-blocking mode.
    ///
    /// # Errors
    ///
    /// Only when the process is out of file descriptors (see `TcpStream::into_std`).
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.accept
            .into_source()
            .into_fd()
            .map(std::net::TcpListener::from)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.accept.source().local_sock_addr()?)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock().take_error()
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

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self.accept.source())
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// As [`TcpListener::from_std`].
    fn try_from(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.accept.source().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("backend", &self.accept.source().backend())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}
