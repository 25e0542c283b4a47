//! The write half of a uring stream.
//!
//! A write copies up to 64 KiB ([`HIGH_WATER`]) into a buffer the adapter owns, submits it
//! as one send (`MSG_WAITALL`, so the kernel sends all of it or fails) and reports the
//! bytes as written at once. At most one send is in flight: the next write waits for its
//! completion, so at most 64 KiB are ever buffered per stream, and every byte reported
//! written is already submitted and reaches the peer without further polling. A send
//! error is kept and returned by the next write, flush, shutdown or `try_write`.
//! `poll_flush` waits for the send in flight; `poll_shutdown` flushes, then shuts down
//! the write direction. Dropping the state lets a send in flight finish.
//!
//! # Readiness
//!
//! `writable` waits for the send in flight, if any (a completed send reports the stream
//! writable), otherwise for a POLL_ADD(`POLLOUT`). `try_write` returns `WouldBlock` while
//! a send is in flight (a direct send(2) would overtake its bytes), otherwise makes one
//! `MSG_DONTWAIT` send(2).

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use corio_runtime::{Send, Shutdown, Socket};
use tokio::io::Ready;

use super::ready::{Readiness, Waiters};

/// Most bytes a single write copies, and so most bytes buffered per stream.
pub(crate) const HIGH_WATER: usize = 64 * 1024;

/// State of a stream's write half.
#[derive(Debug)]
pub(crate) struct WriteState {
    /// A spare buffer, reused for the next send.
    spare: Vec<u8>,
    inflight: Option<Send<Vec<u8>>>,
    /// Length of the send in flight.
    inflight_len: usize,
    /// An error from a completed send, reported by the next call.
    error: Option<io::Error>,
    shutdown: Option<Shutdown>,
    closed: bool,
    readiness: Readiness,
    waiters: Waiters,
}

impl Default for WriteState {
    fn default() -> WriteState {
        WriteState {
            spare: Vec::new(),
            inflight: None,
            inflight_len: 0,
            error: None,
            shutdown: None,
            closed: false,
            readiness: Readiness::write(),
            waiters: Waiters::default(),
        }
    }
}

impl Drop for WriteState {
    fn drop(&mut self) {
        // The bytes were reported as written: let the send finish rather than cancel it.
        if let Some(send) = self.inflight.take() {
            send.detach();
        }
    }
}

impl WriteState {
    /// True when a send or shutdown is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.inflight.is_some() || self.shutdown.is_some()
    }

    /// Takes the send in flight, if any, to let it finish on its own.
    pub(crate) fn take_inflight(&mut self) -> Option<Send<Vec<u8>>> {
        self.inflight.take()
    }

    /// True once the write direction was shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// `AsyncWrite::poll_write_vectored` (and `poll_write` with one slice).
    pub(crate) fn poll_write(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_flush(cx))?;
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        for slice in bufs {
            let room = HIGH_WATER - buf.len();
            if room == 0 {
                break;
            }
            buf.extend_from_slice(&slice[..slice.len().min(room)]);
        }
        let len = buf.len();
        if len == 0 {
            self.spare = buf;
            return Poll::Ready(Ok(0));
        }
        match socket.send(buf) {
            Ok(send) => {
                self.inflight = Some(send);
                self.inflight_len = len;
                Poll::Ready(Ok(len))
            }
            Err((err, buf)) => {
                self.spare = buf;
                Poll::Ready(Err(err))
            }
        }
    }

    /// `AsyncWrite::poll_flush`: waits for the send in flight; reports its error.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(inflight) = &mut self.inflight {
            let (result, buf) = ready!(Pin::new(inflight).poll(cx));
            self.finish(result, buf);
        }
        match self.error.take() {
            Some(err) => Poll::Ready(Err(err)),
            None => Poll::Ready(Ok(())),
        }
    }

    fn finish(&mut self, result: io::Result<usize>, buf: Vec<u8>) {
        self.inflight = None;
        self.spare = buf;
        match result {
            Ok(n) if n == self.inflight_len => self.readiness.set(Ready::WRITABLE),
            Ok(n) => {
                self.error = Some(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("send wrote {n} of {} bytes", self.inflight_len),
                ));
            }
            Err(err) => self.error = Some(err),
        }
    }

    /// `AsyncWrite::poll_shutdown`: flushes, then shuts down the write direction once.
    pub(crate) fn poll_shutdown(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_flush(cx))?;
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        let shutdown = match &mut self.shutdown {
            Some(shutdown) => shutdown,
            None => self.shutdown.insert(socket.shutdown(libc::SHUT_WR)?),
        };
        let result = ready!(Pin::new(shutdown).poll(cx));
        self.shutdown = None;
        self.closed = true;
        Poll::Ready(result)
    }

    /// Completes a send in flight if the kernel already has; false while it runs.
    fn settle(&mut self) -> bool {
        let Some(inflight) = &mut self.inflight else {
            return true;
        };
        let mut cx = Context::from_waker(self.waiters.waker());
        match Pin::new(inflight).poll(&mut cx) {
            Poll::Ready((result, buf)) => {
                self.finish(result, buf);
                true
            }
            Poll::Pending => false,
        }
    }

    /// `poll_write_ready` for callers that share the stream: see the module docs.
    pub(crate) fn poll_ready(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        if self.error.is_some() {
            return Poll::Ready(Ok(Ready::WRITABLE));
        }
        let waker = self.waiters.register(cx);
        let mut cx = Context::from_waker(&waker);
        if let Some(inflight) = &mut self.inflight {
            let (result, buf) = ready!(Pin::new(inflight).poll(&mut cx));
            self.finish(result, buf);
            return Poll::Ready(Ok(Ready::WRITABLE));
        }
        self.readiness.poll(socket, &mut cx)
    }

    /// `try_write_vectored`: a kept error first; `WouldBlock` while a send is in flight;
    /// otherwise one `MSG_DONTWAIT` send(2).
    pub(crate) fn try_write(&mut self, socket: &Socket, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.settle() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        let result = socket.try_send(bufs);
        if matches!(&result, Err(err) if err.kind() == io::ErrorKind::WouldBlock) {
            self.readiness.clear(Ready::WRITABLE | Ready::WRITE_CLOSED);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_send_and_errors_surface_on_the_next_call() {
        let mut state = WriteState::default();
        state.inflight_len = 10;
        state.finish(Ok(4), Vec::new());
        let err = state.error.take().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        state.finish(Err(io::ErrorKind::BrokenPipe.into()), Vec::new());
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match state.poll_flush(&mut cx) {
            Poll::Ready(Err(err)) => assert_eq!(err.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("expected the kept error, got {other:?}"),
        }
        assert!(
            matches!(state.poll_flush(&mut cx), Poll::Ready(Ok(()))),
            "reported once"
        );
    }
}
