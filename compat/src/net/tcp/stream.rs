//! `TcpStream`: tokio's `TcpStream` API on either backend.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use corio_runtime::Socket;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::ToSocketAddrs;

use crate::adapter::{ReadState, WriteState};
use crate::net::addr;

/// A TCP connection, like `tokio::net::TcpStream`.
///
/// On the uring backend reads and writes go through the worker's io_uring (see the
/// adapter notes below); on the epoll backend this is a `tokio::net::TcpStream`.
///
/// # Reads and writes on io_uring
///
/// A read copies from a buffer the stream owns (8–64 KiB); bytes not yet read stay there
/// and come first on the next read, so dropping a read future loses nothing. A write
/// copies up to 64 KiB and is reported as written once submitted; a send error comes back
/// from the next write, flush or shutdown. `flush` waits for the send in flight; `shutdown`
/// also shuts down the write direction. Dropping the stream cancels a pending read and
/// lets a pending send finish; the fd closes once the kernel is done with both.
///
/// A stream can move to another worker while it has no operation in flight; polling it
/// on another worker while one is in flight panics.
pub struct TcpStream {
    inner: Inner,
}

enum Inner {
    Uring(Uring),
    Epoll(tokio::net::TcpStream),
}

struct Uring {
    socket: Socket,
    read: ReadState,
    write: WriteState,
}

impl TcpStream {
    /// Opens a TCP connection to `addr`, trying each resolved address in turn.
    ///
    /// # Errors
    ///
    /// The last connect error, e.g. `ConnectionRefused`.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        if !corio_runtime::uring_active() {
            return Ok(TcpStream::from_tokio(tokio::net::TcpStream::connect(addr).await?));
        }
        addr::each_addr(addr, |addr| async move {
            let socket = addr::tcp_socket(&addr, false)?;
            TcpStream::connect_socket(socket, addr).await
        })
        .await
    }

    /// Connects an already configured socket (see `TcpSocket`).
    pub(crate) async fn connect_socket(socket: socket2::Socket, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::from_owned(OwnedFd::from(socket));
        socket.connect(addr.into())?.await?;
        Ok(TcpStream::from_uring(socket))
    }

    pub(crate) fn from_uring(socket: Socket) -> TcpStream {
        TcpStream {
            inner: Inner::Uring(Uring {
                socket,
                read: ReadState::default(),
                write: WriteState::default(),
            }),
        }
    }

    pub(crate) fn from_tokio(stream: tokio::net::TcpStream) -> TcpStream {
        TcpStream {
            inner: Inner::Epoll(stream),
        }
    }

    /// Wraps a connected `std::net::TcpStream` for the current worker's backend.
    ///
    /// # Errors
    ///
    /// Registering with tokio's reactor fails (epoll backend, outside a runtime).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        if corio_runtime::uring_active() {
            stream.set_nonblocking(false)?;
            Ok(TcpStream::from_uring(Socket::from_owned(OwnedFd::from(stream))))
        } else {
            stream.set_nonblocking(true)?;
            Ok(TcpStream::from_tokio(tokio::net::TcpStream::from_std(stream)?))
        }
    }

    /// Turns the stream back into a `std::net::TcpStream` (in non-blocking mode, as
    /// tokio does). Bytes received but not yet read are lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation is still in flight on the uring backend.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let stream = match self.inner {
            Inner::Epoll(stream) => stream.into_std()?,
            Inner::Uring(Uring {
                socket,
                read,
                write,
            }) => {
                if read.in_flight() || write.in_flight() {
                    return Err(in_flight());
                }
                std::net::TcpStream::from(socket.into_owned().map_err(|_| in_flight())?)
            }
        };
        stream.set_nonblocking(true)?;
        Ok(stream)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.sock_ref().local_addr()?)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`, e.g. `NotConnected`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet(self.sock_ref().peer_addr()?)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.sock_ref().set_tcp_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.sock_ref().tcp_nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock_ref().set_ttl_v4(ttl)
    }

    /// Reads `IP_TTL`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.sock_ref().ttl_v4()
    }

    /// Sets `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `setsockopt(2)`.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        self.sock_ref().set_linger(linger)
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt(2)`.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        self.sock_ref().linger()
    }

    /// Shuts down the read, write or both directions right away (`shutdown(2)`).
    ///
    /// # Errors
    ///
    /// As `shutdown(2)`, e.g. `NotConnected`.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.sock_ref().shutdown(how)
    }

    fn sock_ref(&self) -> SockRef<'_> {
        SockRef::from(self)
    }
}

fn in_flight() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "an io_uring operation is still in flight on this stream",
    )
}

fn inet(addr: socket2::SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an inet address"))
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.inner {
            Inner::Uring(uring) => uring.socket.as_fd(),
            Inner::Epoll(stream) => stream.as_fd(),
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.inner {
            Inner::Uring(_) => "uring",
            Inner::Epoll(_) => "epoll",
        };
        f.debug_struct("TcpStream")
            .field("backend", &backend)
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Uring(uring) => uring.read.poll_read(&uring.socket, cx, buf),
            Inner::Epoll(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Uring(uring) => uring.write.poll_write(&uring.socket, cx, &[io::IoSlice::new(buf)]),
            Inner::Epoll(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Uring(uring) => uring.write.poll_write(&uring.socket, cx, bufs),
            Inner::Epoll(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Uring(uring) => uring.write.poll_flush(cx),
            Inner::Epoll(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Uring(uring) => uring.write.poll_shutdown(&uring.socket, cx),
            Inner::Epoll(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
