//! Stream I/O on a [`Source`], shared by TCP and Unix streams and their halves: tokio's
//! `AsyncRead`/`AsyncWrite`, `peek`, the `try_*` family and the owned-buffer reads and
//! writes, each one non-blocking syscall inside the readiness loop.
//!
//! # The write contract
//!
//! `poll_write` returns `Ready(n)` only after send(2) took the `n` bytes: they are in the
//! kernel's socket buffer, so a program that then blocks its thread or exits still delivers
//! them. When the buffer is full it returns `Pending` and nothing was sent, so a dropped
//! write sent nothing (tokio's cancel safety). `poll_flush` has nothing to do.
//! `poll_shutdown` is shutdown(2) of the write direction, right away: the FIN follows the
//! bytes already written, and nobody waits for the peer. A failed send fails again on the
//! next call, as the kernel reports it. Dropping a stream closes its fd at once.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::task::{Context, Poll};

use bytes::BufMut;
use socket2::SockRef;
use tokio::io::{Interest, ReadBuf};

use super::Source;

impl Source {
    /// `AsyncRead::poll_read`; a short read clears the read readiness, as in tokio.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let wanted = out.remaining();
        if wanted == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some(fed) = self.poll_read_fed(cx, out) {
            return fed.map_ok(drop);
        }
        self.poll_io_with(
            cx,
            Interest::READABLE,
            |io| io.recv_buf(out, 0),
            |&n| n > 0 && n < wanted,
        )
        .map_ok(drop)
    }

    /// `poll_peek`: waits for bytes and copies them without consuming them.
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Interest::READABLE, |io| {
            io.recv_buf(out, libc::MSG_PEEK)
        })
    }

    /// `peek`.
    pub(crate) async fn peek(&self, out: &mut [u8]) -> io::Result<usize> {
        self.async_io(Interest::READABLE, |io| io.recv(out, libc::MSG_PEEK))
            .await
    }

    /// `AsyncWrite::poll_write_vectored` (and `poll_write` with one slice).
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Interest::WRITABLE, |io| io.send(bufs))
    }

    /// `AsyncWrite::poll_shutdown`: shutdown(2) of the write direction, at once. A stream
    /// already shut down, or whose connection has fully closed (the kernel says
    /// `NotConnected`, e.g. after the peer reset it), has nothing left to shut down: that
    /// is success, so a protocol that shuts down on its way out (hyper's HTTP/2 does, more
    /// than once) does not turn a finished connection into an error.
    pub(crate) fn poll_shutdown(&self) -> Poll<io::Result<()>> {
        if self.mark_write_shut() {
            return Poll::Ready(Ok(()));
        }
        match self.shutdown(Shutdown::Write) {
            Err(err) if err.kind() != io::ErrorKind::NotConnected => {
                self.unmark_write_shut();
                Poll::Ready(Err(err))
            }
            _ => Poll::Ready(Ok(())),
        }
    }

    /// shutdown(2).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        SockRef::from(self).shutdown(how)
    }

    /// `try_read`.
    pub(crate) fn try_read(&self, out: &mut [u8]) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |io| io.recv(out, 0))
    }

    /// `try_read_vectored`.
    pub(crate) fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |io| io.recv_vectored(bufs))
    }

    /// `try_read_buf`: receives into the spare capacity of `out` and advances it.
    pub(crate) fn try_read_buf<B: BufMut>(&self, out: &mut B) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |io| io.recv_buf_mut(out, 0))
    }

    /// `try_write`.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(&[IoSlice::new(buf)])
    }

    /// `try_write_vectored`.
    pub(crate) fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |io| io.send(bufs))
    }
}
