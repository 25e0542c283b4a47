//! `Backed<E>`: a stream on one backend or the other, the state behind both `TcpStream`
//! and `UnixStream`. The uring side is the owned-buffer adapter pair, the epoll side
//! tokio's own stream type `E`; the tokio I/O traits dispatch here once for both.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::adapter::UringStream;

/// A stream on the uring backend (adapters) or the epoll backend (tokio's `E`).
pub(crate) enum Backed<E> {
    Uring(UringStream),
    Epoll(E),
}

impl<E> Backed<E> {
    /// The backend's name, for `Debug` output.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Backed::Uring(_) => "uring",
            Backed::Epoll(_) => "epoll",
        }
    }
}

impl<E: AsFd> AsFd for Backed<E> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Backed::Uring(stream) => stream.socket().as_fd(),
            Backed::Epoll(stream) => stream.as_fd(),
        }
    }
}

impl<E: AsyncRead + Unpin> AsyncRead for Backed<E> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Backed::Uring(stream) => stream.read.poll_read(cx, buf),
            Backed::Epoll(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl<E: AsyncWrite + Unpin> AsyncWrite for Backed<E> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Backed::Uring(stream) => stream.write.poll_write(cx, &[IoSlice::new(buf)]),
            Backed::Epoll(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Backed::Uring(stream) => stream.write.poll_write(cx, bufs),
            Backed::Epoll(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Backed::Uring(stream) => stream.write.poll_flush(cx),
            Backed::Epoll(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Backed::Uring(stream) => stream.write.poll_shutdown(cx),
            Backed::Epoll(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
