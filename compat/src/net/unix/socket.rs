//! `UnixSocket`: a Unix socket not yet connected, listening or used for datagrams, to bind
//! first, like `tokio::net::UnixSocket`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

use socket2::{Domain, SockAddr, Type};

use super::{UnixDatagram, UnixListener, UnixStream};

/// A Unix socket to bind before it connects, listens or becomes a datagram socket, like
/// `tokio::net::UnixSocket`.
#[derive(Debug)]
pub struct UnixSocket {
    inner: socket2::Socket,
}

impl UnixSocket {
    /// A new datagram socket, for [`UnixSocket::datagram`].
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    pub fn new_datagram() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::DGRAM)
    }

    /// A new stream socket, for [`UnixSocket::connect`] or [`UnixSocket::listen`].
    ///
    /// # Errors
    ///
    /// As `socket(2)`.
    pub fn new_stream() -> io::Result<UnixSocket> {
        UnixSocket::new(Type::STREAM)
    }

    fn new(ty: Type) -> io::Result<UnixSocket> {
        let inner = socket2::Socket::new(Domain::UNIX, ty, None)?;
        inner.set_nonblocking(true)?;
        Ok(UnixSocket { inner })
    }

    fn is_stream(&self) -> io::Result<bool> {
        Ok(self.inner.r#type()? == Type::STREAM)
    }

    /// Binds to `path`.
    ///
    /// # Errors
    ///
    /// As `bind(2)`, e.g. `AddrInUse`.
    pub fn bind(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.inner.bind(&SockAddr::unix(path)?)
    }

    /// Listens with a queue of `backlog` connections.
    ///
    /// # Errors
    ///
    /// `InvalidInput` on a datagram socket; as `listen(2)`.
    pub fn listen(self, backlog: u32) -> io::Result<UnixListener> {
        if !self.is_stream()? {
            return Err(wrong_type("listen on a datagram socket"));
        }
        self.inner
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        UnixListener::from_fd(OwnedFd::from(self.inner))
    }

    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` on a datagram socket; as `connect(2)`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the attempt and closes the socket.
    pub async fn connect(self, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        if !self.is_stream()? {
            return Err(wrong_type("connect a datagram socket as a stream"));
        }
        UnixStream::connect_socket(self.inner, &SockAddr::unix(path)?).await
    }

    /// Turns the socket into a [`UnixDatagram`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` on a stream socket.
    pub fn datagram(self) -> io::Result<UnixDatagram> {
        if self.is_stream()? {
            return Err(wrong_type("use a stream socket for datagrams"));
        }
        UnixDatagram::from_fd(OwnedFd::from(self.inner))
    }
}

fn wrong_type(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("cannot {what}"))
}

impl AsFd for UnixSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UnixSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl IntoRawFd for UnixSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

#[allow(unsafe_code)]
impl FromRawFd for UnixSocket {
    /// Takes ownership of a Unix socket fd.
    ///
    /// # Safety
    ///
    /// `fd` must be an open Unix socket that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> UnixSocket {
        UnixSocket {
            // SAFETY: forwarded from this function's contract.
            inner: unsafe { socket2::Socket::from_raw_fd(fd) },
        }
    }
}
