//! The write half of a uring stream.
//!
//! A write copies up to 64 KiB (the high-water mark) into a buffer the adapter owns,
//! submits it as one send (`MSG_WAITALL`, so the kernel sends all of it or fails) and
//! reports the bytes as written at once. At most one send is in flight: the next write
//! waits for its completion, so every byte reported written is already submitted and
//! reaches the peer without further polling. A send error is kept and returned by the
//! next write, flush or shutdown. `poll_flush` waits for the send in flight;
//! `poll_shutdown` flushes, then shuts down the write direction.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use corio_runtime::{Send, Shutdown, Socket};

/// Most bytes a single write copies (and so most bytes buffered per stream).
pub(crate) const HIGH_WATER: usize = 64 * 1024;

/// State of a stream's write half.
#[derive(Debug, Default)]
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

    /// `AsyncWrite::poll_write_vectored` (and `poll_write` with one slice).
    pub(crate) fn poll_write(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
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
            self.inflight = None;
            self.spare = buf;
            match result {
                Ok(n) if n == self.inflight_len => {}
                Ok(n) => {
                    self.error = Some(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("send wrote {n} of {} bytes", self.inflight_len),
                    ));
                }
                Err(err) => self.error = Some(err),
            }
        }
        match self.error.take() {
            Some(err) => Poll::Ready(Err(err)),
            None => Poll::Ready(Ok(())),
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
}
