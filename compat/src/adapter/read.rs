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
//!
//! EOF is sticky: once a recv returned 0, reads return 0 at once. A recv error that
//! readiness (below) collected is kept and returned by the next read.
//!
//! # Readiness
//!
//! tokio's readiness API (`readable`, `try_read`, `peek`) shares this state, so mixing it
//! with `AsyncRead` neither loses nor reorders bytes:
//! - bytes buffered here (or EOF, or a kept error) make the stream readable at once, and
//!   `try_read` serves them first;
//! - while a recv is in flight, readiness waits for that recv (its bytes land here) and
//!   `try_read` returns `WouldBlock` unless it has already completed: a direct recv(2)
//!   could overtake bytes the recv took but whose completion was not yet reaped;
//! - otherwise readiness is a POLL_ADD (see `ready.rs`) and `try_read` one `MSG_DONTWAIT`
//!   recv(2) straight into the caller's buffer.
//!
//! `peek` fills the adapter buffer with a recv and copies without consuming.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use corio_runtime::{Recv, Socket};
use tokio::io::{ReadBuf, Ready};

use super::ready::{Readiness, Waiters};

const MIN_BUF: usize = 8 * 1024;
const MAX_BUF: usize = 64 * 1024;

/// State of a stream's read half.
#[derive(Debug)]
pub(crate) struct ReadState {
    /// Received bytes; `buf[pos..]` are not yet read.
    buf: Vec<u8>,
    pos: usize,
    /// Capacity of the next recv.
    size: usize,
    inflight: Option<Recv<Vec<u8>>>,
    /// A recv returned 0.
    eof: bool,
    /// The error of a completed recv, for the next read.
    error: Option<io::Error>,
    readiness: Readiness,
    waiters: Waiters,
}

impl Default for ReadState {
    fn default() -> ReadState {
        ReadState {
            buf: Vec::new(),
            pos: 0,
            size: MIN_BUF,
            inflight: None,
            eof: false,
            error: None,
            readiness: Readiness::read(),
            waiters: Waiters::default(),
        }
    }
}

impl ReadState {
    /// Bytes received and not yet read.
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// True when the next read is served from here: bytes, EOF or a kept error.
    fn has_pending(&self) -> bool {
        self.pos < self.buf.len() || self.eof || self.error.is_some()
    }

    /// True when a recv is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.inflight.is_some()
    }

    /// True when the next read must come from this state (pending bytes, EOF, an error,
    /// or a recv in flight) rather than from a recv into a caller's own buffer.
    pub(crate) fn owns_next_read(&self) -> bool {
        self.has_pending() || self.inflight.is_some()
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
        if !self.has_pending() {
            ready!(self.poll_fill(socket, cx));
        }
        Poll::Ready(self.take_into(out))
    }

    /// Moves pending bytes (or the kept error) into `out`; nothing at EOF.
    fn take_into(&mut self, out: &mut ReadBuf<'_>) -> io::Result<()> {
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        let n = self.buffered().len().min(out.remaining());
        out.put_slice(&self.buffered()[..n]);
        self.pos += n;
        Ok(())
    }

    /// Waits for one recv to complete into the (empty) buffer; afterwards bytes, EOF or
    /// an error are pending.
    fn poll_fill(&mut self, socket: &Socket, cx: &mut Context<'_>) -> Poll<()> {
        debug_assert!(!self.has_pending());
        let inflight = match &mut self.inflight {
            Some(inflight) => inflight,
            None => match self.start(socket) {
                Ok(recv) => self.inflight.insert(recv),
                Err(err) => {
                    self.error = Some(err);
                    return Poll::Ready(());
                }
            },
        };
        let (result, buf) = ready!(Pin::new(inflight).poll(cx));
        self.inflight = None;
        self.finish(result, buf);
        Poll::Ready(())
    }

    fn start(&mut self, socket: &Socket) -> io::Result<Recv<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.reserve_exact(self.size);
        self.pos = 0;
        socket.recv(buf).map_err(|(err, buf)| {
            self.buf = buf;
            err
        })
    }

    fn finish(&mut self, result: io::Result<usize>, buf: Vec<u8>) {
        self.buf = buf;
        self.pos = 0;
        match result {
            Ok(0) => self.eof = true,
            Ok(n) if n == self.size => self.size = (self.size * 2).min(MAX_BUF),
            Ok(_) => {}
            Err(err) => self.error = Some(err),
        }
    }

    /// Completes a recv in flight if the kernel already has; false when it is still
    /// running. Polls with the shared waker so that no waiting task loses its wake-up.
    fn settle(&mut self) -> bool {
        let Some(inflight) = &mut self.inflight else {
            return true;
        };
        let mut cx = Context::from_waker(self.waiters.waker());
        match Pin::new(inflight).poll(&mut cx) {
            Poll::Ready((result, buf)) => {
                self.inflight = None;
                self.finish(result, buf);
                true
            }
            Poll::Pending => false,
        }
    }

    /// `poll_read_ready` for callers that share the stream: see the module docs.
    pub(crate) fn poll_ready(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        if !self.has_pending() {
            let waker = self.waiters.register(cx);
            let mut cx = Context::from_waker(&waker);
            if self.inflight.is_none() {
                return self.readiness.poll(socket, &mut cx);
            }
            ready!(self.poll_fill(socket, &mut cx));
        }
        let closed = if self.eof {
            Ready::READ_CLOSED
        } else {
            Ready::EMPTY
        };
        Poll::Ready(Ok(Ready::READABLE | closed))
    }

    /// `try_read`: pending bytes, else one `MSG_DONTWAIT` recv(2) when no recv is in flight.
    pub(crate) fn try_read(&mut self, socket: &Socket, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.settle() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.has_pending() {
            let mut out = ReadBuf::new(out);
            self.take_into(&mut out)?;
            return Ok(out.filled().len());
        }
        let result = socket.try_recv(out, 0);
        self.after_try(result)
    }

    /// `try_read_vectored`: as [`ReadState::try_read`], filling `bufs` in order.
    pub(crate) fn try_read_vectored(
        &mut self,
        socket: &Socket,
        bufs: &mut [IoSliceMut<'_>],
    ) -> io::Result<usize> {
        if !self.settle() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.has_pending() {
            if let Some(err) = self.error.take() {
                return Err(err);
            }
            let mut total = 0;
            for buf in bufs.iter_mut() {
                let mut out = ReadBuf::new(buf);
                self.take_into(&mut out)?;
                total += out.filled().len();
            }
            return Ok(total);
        }
        let result = socket.try_recv_vectored(bufs);
        self.after_try(result)
    }

    fn after_try(&mut self, result: io::Result<usize>) -> io::Result<usize> {
        match &result {
            Ok(0) => self.eof = true,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.readiness.clear(Ready::READABLE | Ready::READ_CLOSED);
            }
            _ => {}
        }
        result
    }

    /// `poll_peek`: waits for bytes like a read, copies them without consuming them.
    pub(crate) fn poll_peek(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        if !self.has_pending() {
            let waker = self.waiters.register(cx);
            ready!(self.poll_fill(socket, &mut Context::from_waker(&waker)));
        }
        if let Some(err) = self.error.take() {
            return Poll::Ready(Err(err));
        }
        let n = self.buffered().len().min(out.remaining());
        out.put_slice(&self.buffered()[..n]);
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(bytes: &[u8]) -> ReadState {
        ReadState {
            buf: bytes.to_vec(),
            ..ReadState::default()
        }
    }

    #[test]
    fn leftover_bytes_are_served_in_order_across_reads() {
        let mut state = state_with(b"hello world");
        let mut first = [0u8; 5];
        let mut out = ReadBuf::new(&mut first);
        state.take_into(&mut out).unwrap();
        assert_eq!(out.filled(), b"hello");
        assert!(state.owns_next_read());
        let mut rest = [0u8; 64];
        let mut out = ReadBuf::new(&mut rest);
        state.take_into(&mut out).unwrap();
        assert_eq!(out.filled(), b" world");
        assert!(!state.owns_next_read());
    }

    #[test]
    fn completion_records_eof_error_and_growth() {
        let mut state = ReadState::default();
        state.finish(Ok(MIN_BUF), vec![7; MIN_BUF]);
        assert_eq!(state.size, 2 * MIN_BUF, "a full recv doubles the next one");
        state.pos = MIN_BUF;
        state.finish(Err(io::ErrorKind::ConnectionReset.into()), Vec::new());
        let mut out = [0u8; 4];
        let err = state.take_into(&mut ReadBuf::new(&mut out)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        state.finish(Ok(0), Vec::new());
        assert!(state.eof && state.has_pending(), "EOF is sticky");
    }
}
