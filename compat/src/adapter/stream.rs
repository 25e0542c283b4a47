//! A uring stream (TCP or Unix) as two parts, each a clone of the socket with one
//! direction's state, so that `split` borrows them and `into_split` moves them into halves
//! that different tasks (or workers) drive.
//!
//! The state sits behind a `Mutex` because tokio's readiness API takes `&self`; `AsyncRead`
//! and `AsyncWrite` take `&mut self` and reach it with `get_mut`, without locking. The lock
//! is never held across an `.await` or while waking a task.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use corio_runtime::buf::{self, BufResult, IoBuf, IoBufMut};
use corio_runtime::Socket;
use socket2::SockRef;
use tokio::io::{Interest, ReadBuf, Ready};

use super::ready;
use super::{ReadState, WriteState};

/// The reading direction of a uring stream.
#[derive(Debug)]
pub(crate) struct ReadPart {
    socket: Socket,
    /// Boxed: the state is large, the part is moved around in futures.
    state: Box<Mutex<ReadState>>,
}

/// The writing direction of a uring stream.
#[derive(Debug)]
pub(crate) struct WritePart {
    socket: Socket,
    state: Box<Mutex<WriteState>>,
}

/// Both directions of a uring stream.
#[derive(Debug)]
pub(crate) struct UringStream {
    pub(crate) read: ReadPart,
    pub(crate) write: WritePart,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn get_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut().unwrap_or_else(PoisonError::into_inner)
}

impl ReadPart {
    /// The socket this part reads from.
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// `AsyncRead::poll_read`.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        get_mut(&mut self.state).poll_read(&self.socket, cx, out)
    }

    /// `poll_read_ready`, for any number of tasks sharing the part.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        lock(&self.state).poll_ready(&self.socket, cx)
    }

    /// `try_read`.
    pub(crate) fn try_read(&self, out: &mut [u8]) -> io::Result<usize> {
        lock(&self.state).try_read(&self.socket, out)
    }

    /// `try_read_vectored`.
    pub(crate) fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        lock(&self.state).try_read_vectored(&self.socket, bufs)
    }

    /// `poll_peek`.
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        lock(&self.state).poll_peek(&self.socket, cx, out)
    }

    /// `read_owned`: adapter leftovers (or the adapter's recv in flight) first, otherwise
    /// a recv straight into `buf`.
    pub(crate) async fn read_owned<B: IoBufMut>(&mut self, mut buf: B) -> BufResult<usize, B> {
        let state = get_mut(&mut self.state);
        if state.owns_next_read() {
            let socket = &self.socket;
            let result = poll_fn(|cx| {
                buf::fill(&mut buf, |out| {
                    state
                        .poll_read(socket, cx, out)
                        .map_ok(|()| out.filled().len())
                })
            })
            .await;
            return (result, buf);
        }
        match self.socket.recv(buf) {
            Ok(recv) => recv.await,
            Err((err, buf)) => (Err(err), buf),
        }
    }
}

impl WritePart {
    /// The socket this part writes to.
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// `AsyncWrite::poll_write_vectored`.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        get_mut(&mut self.state).poll_write(&self.socket, cx, bufs)
    }

    /// `AsyncWrite::poll_flush`.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        get_mut(&mut self.state).poll_flush(cx)
    }

    /// `AsyncWrite::poll_shutdown`.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        get_mut(&mut self.state).poll_shutdown(&self.socket, cx)
    }

    /// `poll_write_ready`, for any number of tasks sharing the part.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        lock(&self.state).poll_ready(&self.socket, cx)
    }

    /// `try_write_vectored` (and `try_write` with one slice).
    pub(crate) fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        lock(&self.state).try_write(&self.socket, bufs)
    }

    /// Shuts down the write direction once the send in flight (if any) has completed, for
    /// a write half dropped without `shutdown`: the peer sees every byte reported written,
    /// then EOF. The send is detached with the shutdown attached, so this works on any
    /// worker; a send that failed is not followed by a shutdown.
    pub(crate) fn shutdown_when_sent(&mut self) {
        let state = get_mut(&mut self.state);
        if state.is_closed() {
            return;
        }
        match state.take_inflight() {
            Some(send) => send.detach_then_shutdown(),
            None => {
                let _ = SockRef::from(&self.socket).shutdown(Shutdown::Write);
            }
        }
    }

    /// `write_all_owned`: waits for the adapter's send in flight, then sends all of
    /// `buf` as one send.
    pub(crate) async fn write_all_owned<B: IoBuf>(&mut self, buf: B) -> BufResult<(), B> {
        let state = get_mut(&mut self.state);
        if let Err(err) = poll_fn(|cx| state.poll_flush(cx)).await {
            return (Err(err), buf);
        }
        if state.is_closed() {
            let err = io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown");
            return (Err(err), buf);
        }
        let len = buf.bytes_init();
        if len == 0 {
            return (Ok(()), buf);
        }
        let (result, buf) = match self.socket.send(buf) {
            Ok(send) => send.await,
            Err((err, buf)) => return (Err(err), buf),
        };
        let result = result.and_then(|n| match n {
            n if n == len => Ok(()),
            n => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("send wrote {n} of {len} bytes"),
            )),
        });
        (result, buf)
    }
}

impl UringStream {
    /// A stream over a connected socket.
    pub(crate) fn new(socket: Socket) -> UringStream {
        UringStream {
            read: ReadPart {
                socket: socket.clone(),
                state: Box::default(),
            },
            write: WritePart {
                socket,
                state: Box::default(),
            },
        }
    }

    /// The stream's socket.
    pub(crate) fn socket(&self) -> &Socket {
        &self.write.socket
    }

    /// tokio's `ready(interest)` as a poll: readable, writable or both.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        ready::combine(
            interest,
            cx,
            |cx| self.read.poll_ready(cx),
            |cx| self.write.poll_ready(cx),
        )
    }

    /// tokio's `ready(interest)`.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.poll_ready(cx, interest)).await
    }

    /// The parts, for `into_split`.
    pub(crate) fn into_parts(self) -> (ReadPart, WritePart) {
        (self.read, self.write)
    }

    /// Puts two parts back together; gives them back when they belong to different
    /// streams. Both parts are alive, so their fds are open and equal numbers mean the
    /// same socket.
    pub(crate) fn reunite(
        read: ReadPart,
        write: WritePart,
    ) -> Result<UringStream, (ReadPart, WritePart)> {
        if read.socket.as_raw_fd() == write.socket.as_raw_fd() {
            Ok(UringStream { read, write })
        } else {
            Err((read, write))
        }
    }

    /// The fd back, for `into_std`. Bytes buffered but not read are lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` while an operation still holds the fd.
    pub(crate) fn into_owned_fd(self) -> io::Result<OwnedFd> {
        let UringStream { read, write } = self;
        let ReadPart { socket, state } = read;
        let busy = lock(&state).in_flight() || lock(&write.state).in_flight();
        drop((socket, state));
        if busy {
            return Err(in_flight());
        }
        let WritePart { socket, state } = write;
        drop(state);
        socket.into_owned().map_err(|_| in_flight())
    }
}

pub(crate) fn in_flight() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "an io_uring operation is still in flight on this socket",
    )
}

impl AsMut<ReadPart> for ReadPart {
    fn as_mut(&mut self) -> &mut ReadPart {
        self
    }
}

impl AsMut<WritePart> for WritePart {
    fn as_mut(&mut self) -> &mut WritePart {
        self
    }
}
