//! The read half of a uring stream.
//!
//! A read submits a recv into a buffer the adapter owns and copies from it into the
//! caller's `ReadBuf`. Bytes received beyond what the caller asked for stay in the
//! adapter and are served first by the next read. The recv in flight belongs to the
//! stream, not to the read future: dropping a read future (a lost `select!` branch)
//! loses nothing, and the next read picks up the same recv. Dropping the stream cancels
//! the recv; its buffer is freed after the kernel lets go.
//!
//! The receive buffer starts at 8 KiB and doubles, up to 64 KiB, whenever a recv fills it.

use std::future::Future;
use std::io;
use std::task::{ready, Context, Poll};

use corio_runtime::{Recv, Socket};
use tokio::io::ReadBuf;

const MIN_BUF: usize = 8 * 1024;
const MAX_BUF: usize = 64 * 1024;

/// State of a stream's read half.
#[derive(Debug, Default)]
pub(crate) struct ReadState {
    /// Received bytes; `buf[pos..]` are not yet read.
    buf: Vec<u8>,
    pos: usize,
    /// Capacity of the next recv.
    size: usize,
    inflight: Option<Recv<Vec<u8>>>,
}

impl ReadState {
    /// Bytes received and not yet read.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` buffered bytes as read.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// True when a recv is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.inflight.is_some()
    }

    /// `AsyncRead::poll_read`: buffered bytes first, then one recv.
    pub(crate) fn poll_read(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if self.buffered().is_empty() {
            ready!(self.poll_fill(socket, cx))?;
        }
        let n = self.buffered().len().min(out.remaining());
        out.put_slice(&self.buffered()[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }

    /// Waits for one recv to complete into the (empty) buffer. `Ok` with nothing
    /// buffered means EOF.
    pub(crate) fn poll_fill(&mut self, socket: &Socket, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        debug_assert!(self.buffered().is_empty());
        if self.inflight.is_none() {
            self.inflight = Some(self.start(socket)?);
        }
        let Some(inflight) = &mut self.inflight else {
            unreachable!("recv just started");
        };
        let (result, buf) = ready!(std::pin::Pin::new(inflight).poll(cx));
        self.inflight = None;
        self.buf = buf;
        self.pos = 0;
        let n = result?;
        if n == self.size {
            self.size = (self.size * 2).min(MAX_BUF);
        }
        Poll::Ready(Ok(()))
    }

    fn start(&mut self, socket: &Socket) -> io::Result<Recv<Vec<u8>>> {
        self.size = self.size.max(MIN_BUF);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.reserve_exact(self.size);
        self.pos = 0;
        socket.recv(buf).map_err(|(err, buf)| {
            self.buf = buf;
            err
        })
    }
}
