//! Owned-buffer I/O on a [`Source`]: `read_owned`, `readv_owned`, `write_owned`,
//! `write_all_owned`, `writev_owned`, `recv_from_owned`, `send_to_owned`.
//!
//! On io_uring, on a thread that owns a ring, each call is one ring op on the caller's
//! buffer (`IORING_OP_RECV`, `READV`, `SEND`, `WRITEV`, `RECVMSG`, `SENDMSG`): the kernel
//! reads or writes it directly and no readiness poll is involved. Elsewhere (the epoll
//! backend, or a thread without a ring) each call is the readiness loop plus one
//! non-blocking syscall into or out of the same buffer.
//!
//! # Mixing with `AsyncRead`/`AsyncWrite`
//!
//! A ring op holds its direction's [`Gate`](corio_runtime::Gate) ticket until its final
//! CQE, and the readiness I/O of that direction waits for it, so bytes keep their order
//! whichever API reads or writes them next. A receive whose future is dropped after the
//! kernel filled its buffer leaves the bytes (or the datagram) in the gate; the next read
//! of any kind returns them first. So nothing is lost or reordered when `read_owned`,
//! `AsyncRead::poll_read` and the `try_read` family take turns on one stream, and a
//! dropped receive loses nothing. Sends are the exception tokio has too: a dropped
//! `write_owned` or `write_all_owned` may have sent part of its buffer.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::task::Poll;

use corio_runtime::buf::{self, BufResult, IoBuf, IoBufMut};
use corio_runtime::{Gate, Stashed, Ticket};
use socket2::SockAddr;
use tokio::io::Interest;

use super::Source;

impl Source {
    /// `read_owned`: into `buf` from its start, up to its capacity.
    pub(crate) async fn read_owned<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        let Some((socket, gates)) = self.ring() else {
            let result = poll_fn(|cx| {
                buf::fill(&mut buf, |out| {
                    self.poll_read(cx, out).map_ok(|()| out.filled().len())
                })
            })
            .await;
            return (result, buf);
        };
        let ticket = acquire(&gates.read).await;
        if let Some(n) = gates.read.take(false, |s| fill_from(s, &mut buf)) {
            return (Ok(n), buf);
        }
        match socket.recv(buf) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, buf)) => (Err(err), buf),
        }
    }

    /// `readv_owned`: into `bufs` in order, each from its start up to its capacity.
    pub(crate) async fn readv_owned<B: IoBufMut>(
        &self,
        mut bufs: Vec<B>,
    ) -> BufResult<usize, Vec<B>> {
        let Some((socket, gates)) = self.ring() else {
            return self.readv_ready(bufs).await;
        };
        let ticket = acquire(&gates.read).await;
        if let Some(n) = gates.read.take(false, |s| {
            let mut n = 0;
            for buf in &mut bufs {
                n += fill_from_offset(s, n, buf);
            }
            (n, n)
        }) {
            return (Ok(n), bufs);
        }
        match socket.readv(bufs) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, bufs)) => (Err(err), bufs),
        }
    }

    /// `readv_owned` through readiness: the first buffer waits for bytes, the next ones
    /// take what is already there, as readv(2) would.
    async fn readv_ready<B: IoBufMut>(&self, mut bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let mut total = 0;
        for (i, buf) in bufs.iter_mut().enumerate() {
            let wanted = buf.bytes_total();
            if wanted == 0 {
                continue;
            }
            let result = if i == 0 || total == 0 {
                poll_fn(|cx| {
                    buf::fill(buf, |out| {
                        self.poll_read(cx, out).map_ok(|()| out.filled().len())
                    })
                })
                .await
            } else {
                buf::fill(buf, |out| {
                    self.try_io(Interest::READABLE, |io| io.recv_buf(out, 0))
                })
            };
            match result {
                Ok(n) => {
                    total += n;
                    if n < wanted {
                        break;
                    }
                }
                Err(err) if total == 0 => return (Err(err), bufs),
                Err(_) => break,
            }
        }
        (Ok(total), bufs)
    }

    /// `write_owned`: what fits of `buf`'s initialized bytes, at least one.
    pub(crate) async fn write_owned<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let Some((socket, gates)) = self.ring() else {
            let result =
                poll_fn(|cx| self.poll_write(cx, &[IoSlice::new(buf::as_slice(&buf))])).await;
            return (result, buf);
        };
        let ticket = acquire(gates.write()).await;
        match socket.send_some(buf) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, buf)) => (Err(err), buf),
        }
    }

    /// `write_all_owned`: all of `buf`'s initialized bytes.
    pub(crate) async fn write_all_owned<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        let len = buf.bytes_init();
        let Some((socket, gates)) = self.ring() else {
            let mut sent = 0;
            let result = poll_fn(|cx| {
                let bytes = buf::as_slice(&buf);
                while sent < len {
                    let n =
                        std::task::ready!(self.poll_write(cx, &[IoSlice::new(&bytes[sent..])]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    sent += n;
                }
                Poll::Ready(Ok(()))
            })
            .await;
            return (result, buf);
        };
        // With `MSG_WAITALL` the kernel sends it all in one op; a short count comes only
        // from an error after a partial send, which the next round reports.
        let (mut sent, mut buf) = (0, buf);
        while sent < len {
            let ticket = acquire(gates.write()).await;
            let view = buf.slice(sent..len);
            let (result, view) = match socket.send(view) {
                Ok(mut op) => {
                    op.hold(ticket);
                    op.await
                }
                Err((err, view)) => (Err(err), view),
            };
            buf = view.into_inner();
            match result {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => sent += n,
                Err(err) => return (Err(err), buf),
            }
        }
        (Ok(()), buf)
    }

    /// `writev_owned`: the initialized bytes of `bufs` in order; may send fewer.
    pub(crate) async fn writev_owned<B: IoBuf>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        let Some((socket, gates)) = self.ring() else {
            let result = poll_fn(|cx| {
                let slices: Vec<IoSlice<'_>> = bufs
                    .iter()
                    .map(|b| IoSlice::new(buf::as_slice(b)))
                    .collect();
                self.poll_write(cx, &slices)
            })
            .await;
            return (result, bufs);
        };
        let ticket = acquire(gates.write()).await;
        match socket.writev(bufs) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, bufs)) => (Err(err), bufs),
        }
    }

    /// `recv_from_owned`: one datagram into `buf` (truncated to its capacity), and its
    /// sender.
    pub(crate) async fn recv_from_owned<B: IoBufMut>(
        &self,
        mut buf: B,
    ) -> BufResult<(usize, SockAddr), B> {
        let Some((socket, gates)) = self.ring() else {
            let result = poll_fn(|cx| {
                buf::fill(&mut buf, |out| {
                    self.poll_recv_from_flags(cx, out, 0)
                        .map_ok(|from| (out.filled().len(), from))
                })
            })
            .await;
            return (result, buf);
        };
        let ticket = acquire(&gates.read).await;
        if let Some((n, from)) = gates.read.take(false, |s| {
            let (used, n) = fill_from(s, &mut buf);
            (used, (n, s.from.as_deref().cloned()))
        }) {
            // Only datagrams are stashed on a datagram socket: each has its sender.
            let from = from.unwrap_or_else(|| unreachable!("a datagram without a sender"));
            return (Ok((n, from)), buf);
        }
        match socket.recv_from(buf) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, buf)) => (Err(err), buf),
        }
    }

    /// `send_to_owned`: `buf`'s initialized bytes as one datagram to `target`.
    pub(crate) async fn send_to_owned<B: IoBuf>(
        &self,
        buf: B,
        target: SockAddr,
    ) -> BufResult<usize, B> {
        let Some((socket, gates)) = self.ring() else {
            let result = self.send_to(buf::as_slice(&buf), &target).await;
            return (result, buf);
        };
        let ticket = acquire(gates.write()).await;
        match socket.send_to(buf, target) {
            Ok(mut op) => {
                op.hold(ticket);
                op.await
            }
            Err((err, buf)) => (Err(err), buf),
        }
    }
}

/// Waits for `gate`'s ticket.
async fn acquire(gate: &Gate) -> Ticket {
    poll_fn(|cx| gate.poll_acquire(cx)).await
}

/// Copies stashed bytes into `buf` from its start; returns (bytes used, bytes copied).
fn fill_from<B: IoBufMut>(stashed: &Stashed, buf: &mut B) -> (usize, usize) {
    let n = fill_from_offset(stashed, 0, buf);
    (n, n)
}

/// Copies stashed bytes from `offset` on into `buf` from its start; returns how many.
fn fill_from_offset<B: IoBufMut>(stashed: &Stashed, offset: usize, buf: &mut B) -> usize {
    let data = stashed.data.get(offset..).unwrap_or_default();
    buf::fill(buf, |out| {
        let n = data.len().min(out.remaining());
        out.put_slice(&data[..n]);
        n
    })
}
