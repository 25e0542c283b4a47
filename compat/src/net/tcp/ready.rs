//! tokio's readiness API on [`TcpStream`]: `ready`, `readable`, `writable`, the
//! `poll_*_ready` and `try_*` methods, and `peek`. On io_uring it shares state with
//! `AsyncRead`/`AsyncWrite` (see `adapter/read.rs` and `adapter/write.rs`), so the two
//! styles can be mixed on one stream without losing or reordering bytes.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::task::{Context, Poll};

use tokio::io::{Interest, ReadBuf, Ready};

use super::stream::Inner;
use super::TcpStream;

impl TcpStream {
    /// Waits until the stream is ready for any of `interest`, like tokio's
    /// `TcpStream::ready`. Usually paired with [`try_read`](TcpStream::try_read) or
    /// [`try_write`](TcpStream::try_write). Readiness may be spurious: the `try_*` call
    /// then fails with `WouldBlock`, and the next wait really waits.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the readiness poll belongs to the stream, and readiness stays reported
    /// until a `try_*` call fails with `WouldBlock`.
    ///
    /// # Errors
    ///
    /// On io_uring, `Unsupported` for `Interest::PRIORITY` or an interest with neither
    /// readable nor writable, and submission failures.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        match &self.inner {
            Inner::Uring(stream) => stream.ready(interest).await,
            Inner::Epoll(stream) => stream.ready(interest).await,
        }
    }

    /// Waits until the stream is readable: bytes (or EOF, or an error) can be read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`ready`](TcpStream::ready).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn readable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(stream) => poll_fn(|cx| stream.read.poll_ready(cx)).await.map(drop),
            Inner::Epoll(stream) => stream.readable().await,
        }
    }

    /// Waits until the stream is writable.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`ready`](TcpStream::ready).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub async fn writable(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Uring(stream) => poll_fn(|cx| stream.write.poll_ready(cx)).await.map(drop),
            Inner::Epoll(stream) => stream.writable().await,
        }
    }

    /// Polls for read readiness. On io_uring every task that polls is woken (tokio
    /// keeps only the last waker).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.poll_ready(cx).map_ok(drop),
            Inner::Epoll(stream) => stream.poll_read_ready(cx),
        }
    }

    /// Polls for write readiness; see [`poll_read_ready`](TcpStream::poll_read_ready).
    ///
    /// # Errors
    ///
    /// Submission failures on io_uring.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Uring(stream) => stream.write.poll_ready(cx).map_ok(drop),
            Inner::Epoll(stream) => stream.poll_write_ready(cx),
        }
    }

    /// Reads what is available now into `buf`, without waiting; `Ok(0)` means EOF (or an
    /// empty `buf`).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is available (on io_uring also while a read started by
    /// `AsyncRead` is still in flight); otherwise as recv(2), e.g. `ConnectionReset`.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.try_read(buf),
            Inner::Epoll(stream) => stream.try_read(buf),
        }
    }

    /// Like [`try_read`](TcpStream::try_read), filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for [`try_read`](TcpStream::try_read).
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.try_read_vectored(bufs),
            Inner::Epoll(stream) => stream.try_read_vectored(bufs),
        }
    }

    /// Writes what fits now from `buf`, without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the send buffer is full (on io_uring also while a write started
    /// by `AsyncWrite` is still in flight); an error kept from an earlier write; otherwise
    /// as send(2), e.g. `BrokenPipe`.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(&[IoSlice::new(buf)])
    }

    /// Like [`try_write`](TcpStream::try_write), from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As for [`try_write`](TcpStream::try_write).
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => stream.write.try_write(bufs),
            Inner::Epoll(stream) => stream.try_write_vectored(bufs),
        }
    }

    /// Receives into `buf` without consuming: the next read returns the same bytes.
    /// Waits until at least one byte (or EOF) is available.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: on io_uring the bytes land in the stream's own buffer.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Uring(stream) => {
                let mut buf = ReadBuf::new(buf);
                poll_fn(|cx| stream.read.poll_peek(cx, &mut buf)).await
            }
            Inner::Epoll(stream) => stream.peek(buf).await,
        }
    }

    /// Polls for [`peek`](TcpStream::peek): copies available bytes into `buf` without
    /// consuming them and returns how many.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        match &self.inner {
            Inner::Uring(stream) => stream.read.poll_peek(cx, buf),
            Inner::Epoll(stream) => stream.poll_peek(cx, buf),
        }
    }
}
