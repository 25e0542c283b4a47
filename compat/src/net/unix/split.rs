//! [`UnixStream::split`] and [`UnixStream::into_split`], like tokio's `unix::{ReadHalf,
//! WriteHalf, OwnedReadHalf, OwnedWriteHalf}`: the same design as the TCP halves (see
//! `tcp/split.rs`). The halves offer `AsyncRead`/`AsyncWrite`, addresses and `reunite`;
//! tokio's readiness methods on Unix halves are not offered (they are on `UnixStream`).

use std::error::Error;
use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::stream::Inner;
use super::{SocketAddr, UnixStream};
use crate::adapter::{ReadPart, UringStream, WritePart};

impl UnixStream {
    /// Splits the stream into a read half and a write half borrowing it.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        match &mut self.inner {
            Inner::Uring(stream) => (
                ReadHalf(Read::Uring(&mut stream.read)),
                WriteHalf(Write::Uring(&mut stream.write)),
            ),
            Inner::Epoll(stream) => {
                let (read, write) = stream.split();
                (ReadHalf(Read::Epoll(read)), WriteHalf(Write::Epoll(write)))
            }
        }
    }

    /// Splits the stream into owned halves that can move to different tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        match self.inner {
            Inner::Uring(stream) => {
                let (read, write) = stream.into_parts();
                (
                    OwnedReadHalf(Read::Uring(read)),
                    OwnedWriteHalf(Write::Uring(write)),
                )
            }
            Inner::Epoll(stream) => {
                let (read, write) = stream.into_split();
                (
                    OwnedReadHalf(Read::Epoll(read)),
                    OwnedWriteHalf(Write::Epoll(write)),
                )
            }
        }
    }
}

/// A read half: the uring part (borrowed or owned) or tokio's half.
#[derive(Debug)]
enum Read<P, E> {
    Uring(P),
    Epoll(E),
}

/// A write half; `Gone` once taken apart by `reunite` or `forget`.
#[derive(Debug)]
enum Write<P, E> {
    Uring(P),
    Epoll(E),
    Gone,
}

/// The read half of a borrowed [`UnixStream`], from [`UnixStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(Read<&'a mut ReadPart, tokio::net::unix::ReadHalf<'a>>);

/// The write half of a borrowed [`UnixStream`], from [`UnixStream::split`].
#[derive(Debug)]
pub struct WriteHalf<'a>(Write<&'a mut WritePart, tokio::net::unix::WriteHalf<'a>>);

/// The owned read half of a [`UnixStream`], from [`UnixStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf(Read<ReadPart, tokio::net::unix::OwnedReadHalf>);

/// The owned write half of a [`UnixStream`], from [`UnixStream::into_split`]. Dropping it
/// shuts down the write direction once a send still in flight has completed, like tokio's.
#[derive(Debug)]
pub struct OwnedWriteHalf(Write<WritePart, tokio::net::unix::OwnedWriteHalf>);

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

impl OwnedReadHalf {
    /// Puts the stream back together with its write half.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves when they come from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<UnixStream, ReuniteError> {
        let mut write = other;
        let (read, inner) = match (self.0, std::mem::replace(&mut write.0, Write::Gone)) {
            (Read::Uring(read), Write::Uring(part)) => match UringStream::reunite(read, part) {
                Ok(stream) => return Ok(UnixStream::from_parts(stream)),
                Err((read, part)) => (Read::Uring(read), Write::Uring(part)),
            },
            (Read::Epoll(read), Write::Epoll(half)) => match read.reunite(half) {
                Ok(stream) => return Ok(UnixStream::from_tokio(stream)),
                Err(tokio::net::unix::ReuniteError(read, half)) => {
                    (Read::Epoll(read), Write::Epoll(half))
                }
            },
            mismatched => mismatched,
        };
        write.0 = inner;
        Err(ReuniteError(OwnedReadHalf(read), write))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let sock = match &self.0 {
            Read::Uring(part) => SockRef::from(part.socket()),
            Read::Epoll(half) => SockRef::from(half.as_ref()),
        };
        Ok(SocketAddr::from(&sock.peer_addr()?))
    }
}

impl OwnedWriteHalf {
    /// Drops the half without shutting down the write direction.
    pub fn forget(mut self) {
        if let Write::Epoll(half) = std::mem::replace(&mut self.0, Write::Gone) {
            half.forget();
        }
    }

    /// Puts the stream back together with its read half; see [`OwnedReadHalf::reunite`].
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves when they come from different streams.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<UnixStream, ReuniteError> {
        other.reunite(self)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if let Write::Uring(part) = &mut self.0 {
            part.shutdown_when_sent();
        }
    }
}

impl<P: AsMut<ReadPart>, E: AsyncRead + Unpin> Read<P, E> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self {
            Read::Uring(part) => part.as_mut().poll_read(cx, buf),
            Read::Epoll(half) => Pin::new(half).poll_read(cx, buf),
        }
    }
}

impl<P: AsMut<WritePart>, E: AsyncWrite + Unpin> Write<P, E> {
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            Write::Uring(part) => part.as_mut().poll_write(cx, bufs),
            Write::Epoll(half) => Pin::new(half).poll_write_vectored(cx, bufs),
            Write::Gone => unreachable!("Gone: the half was taken apart"),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Write::Uring(part) => part.as_mut().poll_flush(cx),
            Write::Epoll(half) => Pin::new(half).poll_flush(cx),
            Write::Gone => unreachable!("Gone: the half was taken apart"),
        }
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Write::Uring(part) => part.as_mut().poll_shutdown(cx),
            Write::Epoll(half) => Pin::new(half).poll_shutdown(cx),
            Write::Gone => unreachable!("Gone: the half was taken apart"),
        }
    }
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_read(cx, buf)
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_shutdown(cx)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.poll_shutdown(cx)
    }
}
