//! I/O on the halves of a [`TcpStream`](super::TcpStream): `AsyncRead` on the read halves,
//! `AsyncWrite` on the write halves, and tokio's readiness methods (`readable`,
//! `try_read`, `peek`; `writable`, `try_write`) on both kinds. tokio's `ready(Interest)`
//! on halves is not offered: use `readable` or `writable`.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::split::{OwnedReadInner, OwnedWriteInner, ReadInner, WriteInner};
use super::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::adapter::{ReadPart, WritePart};
use crate::net::addr;

impl ReadHalf<'_> {
    /// Waits until the stream is readable; see
    /// [`TcpStream::readable`](super::TcpStream::readable).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn readable(&self) -> io::Result<()> {
        self.read_ref().readable().await
    }

    /// Reads what is available now; see [`TcpStream::try_read`](super::TcpStream::try_read).
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_read`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_ref().try_read(buf)
    }

    /// Like [`try_read`](Self::try_read), filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_read`.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_ref().try_read_vectored(bufs)
    }

    /// Receives into `buf` without consuming; see [`TcpStream::peek`](super::TcpStream::peek).
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_ref().peek(buf).await
    }

    /// Polls for [`peek`](Self::peek).
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.read_ref().poll_peek(cx, buf)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.read_ref().sock_ref().peer_addr()?)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.read_ref().sock_ref().local_addr()?)
    }

    fn read_ref(&self) -> ReadRef<'_> {
        match &self.0 {
            ReadInner::Uring(part) => ReadRef::Uring(part),
            ReadInner::Epoll(half) => ReadRef::Epoll(half.as_ref()),
        }
    }
}

impl OwnedReadHalf {
    /// Waits until the stream is readable; see
    /// [`TcpStream::readable`](super::TcpStream::readable).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn readable(&self) -> io::Result<()> {
        self.read_ref().readable().await
    }

    /// Reads what is available now; see [`TcpStream::try_read`](super::TcpStream::try_read).
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_read`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_ref().try_read(buf)
    }

    /// Like [`try_read`](Self::try_read), filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_read`.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_ref().try_read_vectored(bufs)
    }

    /// Receives into `buf` without consuming; see [`TcpStream::peek`](super::TcpStream::peek).
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_ref().peek(buf).await
    }

    /// Polls for [`peek`](Self::peek).
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.read_ref().poll_peek(cx, buf)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.read_ref().sock_ref().peer_addr()?)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.read_ref().sock_ref().local_addr()?)
    }

    fn read_ref(&self) -> ReadRef<'_> {
        match &self.0 {
            OwnedReadInner::Uring(part) => ReadRef::Uring(part),
            OwnedReadInner::Epoll(half) => ReadRef::Epoll(half.as_ref()),
        }
    }
}

impl WriteHalf<'_> {
    /// Waits until the stream is writable; see
    /// [`TcpStream::writable`](super::TcpStream::writable).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn writable(&self) -> io::Result<()> {
        self.write_ref().writable().await
    }

    /// Writes what fits now; see [`TcpStream::try_write`](super::TcpStream::try_write).
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_write`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_ref().try_write(&[IoSlice::new(buf)])
    }

    /// Like [`try_write`](Self::try_write), from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_write`.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_ref().try_write(bufs)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.write_ref().sock_ref().peer_addr()?)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.write_ref().sock_ref().local_addr()?)
    }

    fn write_ref(&self) -> WriteRef<'_> {
        match &self.0 {
            WriteInner::Uring(part) => WriteRef::Uring(part),
            WriteInner::Epoll(half) => WriteRef::Epoll(half.as_ref()),
        }
    }
}

impl OwnedWriteHalf {
    /// Waits until the stream is writable; see
    /// [`TcpStream::writable`](super::TcpStream::writable).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn writable(&self) -> io::Result<()> {
        self.write_ref().writable().await
    }

    /// Writes what fits now; see [`TcpStream::try_write`](super::TcpStream::try_write).
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_write`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_ref().try_write(&[IoSlice::new(buf)])
    }

    /// Like [`try_write`](Self::try_write), from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for `TcpStream::try_write`.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_ref().try_write(bufs)
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.write_ref().sock_ref().peer_addr()?)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(self.write_ref().sock_ref().local_addr()?)
    }

    fn write_ref(&self) -> WriteRef<'_> {
        match &self.inner {
            OwnedWriteInner::Uring(part) => WriteRef::Uring(part),
            OwnedWriteInner::Epoll(half) => WriteRef::Epoll(half.as_ref()),
            OwnedWriteInner::Gone => unreachable!("Gone: the half was taken apart"),
        }
    }
}

impl AsyncRead for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            ReadInner::Uring(part) => part.poll_read(cx, buf),
            ReadInner::Epoll(half) => Pin::new(half).poll_read(cx, buf),
        }
    }
}

impl AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().0 {
            OwnedReadInner::Uring(part) => part.poll_read(cx, buf),
            OwnedReadInner::Epoll(half) => Pin::new(half).poll_read(cx, buf),
        }
    }
}

/// The write half's target: the uring part, or something with tokio's `AsyncWrite`.
enum WriteTarget<'a, W> {
    Uring(&'a mut WritePart),
    Epoll(Pin<&'a mut W>),
}

impl<W: AsyncWrite> WriteTarget<'_, W> {
    fn poll_write(self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            WriteTarget::Uring(part) => part.poll_write(cx, bufs),
            WriteTarget::Epoll(half) => half.poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            WriteTarget::Uring(part) => part.poll_flush(cx),
            WriteTarget::Epoll(half) => half.poll_flush(cx),
        }
    }

    fn poll_shutdown(self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            WriteTarget::Uring(part) => part.poll_shutdown(cx),
            WriteTarget::Epoll(half) => half.poll_shutdown(cx),
        }
    }
}

impl<'a> WriteHalf<'a> {
    fn target(&mut self) -> WriteTarget<'_, tokio::net::tcp::WriteHalf<'a>> {
        match &mut self.0 {
            WriteInner::Uring(part) => WriteTarget::Uring(part),
            WriteInner::Epoll(half) => WriteTarget::Epoll(Pin::new(half)),
        }
    }
}

impl OwnedWriteHalf {
    fn target(&mut self) -> WriteTarget<'_, tokio::net::tcp::OwnedWriteHalf> {
        match &mut self.inner {
            OwnedWriteInner::Uring(part) => WriteTarget::Uring(part),
            OwnedWriteInner::Epoll(half) => WriteTarget::Epoll(Pin::new(half)),
            OwnedWriteInner::Gone => unreachable!("Gone: the half was taken apart"),
        }
    }
}

impl AsyncWrite for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().target().poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().target().poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().target().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().target().poll_shutdown(cx)
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().target().poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().target().poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().target().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().target().poll_shutdown(cx)
    }
}
/// What the read-side methods of both read halves work on.
enum ReadRef<'a> {
    Uring(&'a ReadPart),
    Epoll(&'a tokio::net::TcpStream),
}

impl ReadRef<'_> {
    async fn readable(&self) -> io::Result<()> {
        match self {
            ReadRef::Uring(part) => poll_fn(|cx| part.poll_ready(cx)).await.map(drop),
            ReadRef::Epoll(stream) => stream.readable().await,
        }
    }

    async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadRef::Uring(part) => {
                let mut buf = ReadBuf::new(buf);
                poll_fn(|cx| part.poll_peek(cx, &mut buf)).await
            }
            ReadRef::Epoll(stream) => stream.peek(buf).await,
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadRef::Uring(part) => part.try_read(buf),
            ReadRef::Epoll(stream) => stream.try_read(buf),
        }
    }

    fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        match self {
            ReadRef::Uring(part) => part.try_read_vectored(bufs),
            ReadRef::Epoll(stream) => stream.try_read_vectored(bufs),
        }
    }

    fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        match self {
            ReadRef::Uring(part) => part.poll_peek(cx, buf),
            ReadRef::Epoll(stream) => stream.poll_peek(cx, buf),
        }
    }

    fn sock_ref(&self) -> SockRef<'_> {
        match self {
            ReadRef::Uring(part) => SockRef::from(part.socket()),
            ReadRef::Epoll(stream) => SockRef::from(*stream),
        }
    }
}

/// What the write-side methods of both write halves work on.
enum WriteRef<'a> {
    Uring(&'a WritePart),
    Epoll(&'a tokio::net::TcpStream),
}

impl WriteRef<'_> {
    async fn writable(&self) -> io::Result<()> {
        match self {
            WriteRef::Uring(part) => poll_fn(|cx| part.poll_ready(cx)).await.map(drop),
            WriteRef::Epoll(stream) => stream.writable().await,
        }
    }

    fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            WriteRef::Uring(part) => part.try_write(bufs),
            WriteRef::Epoll(stream) => stream.try_write_vectored(bufs),
        }
    }

    fn sock_ref(&self) -> SockRef<'_> {
        match self {
            WriteRef::Uring(part) => SockRef::from(part.socket()),
            WriteRef::Epoll(stream) => SockRef::from(*stream),
        }
    }
}
