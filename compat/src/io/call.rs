//! `Io`: the non-blocking syscalls a readiness loop makes on a socket, with reads served
//! first from what a dropped owned-buffer receive left in the read gate's stash (see
//! `corio_runtime::Gate`). On the epoll backend, and on io_uring before any owned-buffer
//! call, there is no gate and every call is the bare syscall.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};

use bytes::BufMut;
use corio_runtime::{sys, Gate, Stashed};
use socket2::SockAddr;
use tokio::io::ReadBuf;

/// A socket fd and, when it has one, its read gate.
#[derive(Clone, Copy)]
pub(crate) struct Io<'a> {
    fd: BorrowedFd<'a>,
    stash: Option<&'a Gate>,
}

impl<'a> Io<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, read_gate: Option<&'a Gate>) -> Io<'a> {
        Io {
            fd,
            stash: read_gate,
        }
    }

    /// Runs `copy` on the oldest stashed data, if any; `copy` returns the bytes it used.
    /// After the stash, the error a feed ended with, if any.
    fn stashed<R>(
        &self,
        flags: i32,
        copy: impl FnOnce(&Stashed) -> (usize, R),
    ) -> Option<io::Result<R>> {
        let gate = self.stash?;
        match gate.take(flags & libc::MSG_PEEK != 0, copy) {
            Some(got) => Some(Ok(got)),
            None => gate.take_error().map(Err),
        }
    }

    /// What the stash (or a feed's error) holds for the unfilled part of `out`; `None`
    /// when it is empty, without calling recv(2).
    pub(crate) fn take_buf(self, out: &mut ReadBuf<'_>, flags: i32) -> Option<io::Result<usize>> {
        self.stashed(flags, |s| {
            let n = s.data.len().min(out.remaining());
            out.put_slice(&s.data[..n]);
            (n, n)
        })
    }

    /// recv(2) into `out`.
    pub(crate) fn recv(self, out: &mut [u8], flags: i32) -> io::Result<usize> {
        if let Some(n) = self.stashed(flags, |s| {
            let n = copy(&s.data, out);
            (n, n)
        }) {
            return n;
        }
        sys::recv(self.fd, out, flags)
    }

    /// recv(2) into the unfilled part of `out`, which it advances.
    pub(crate) fn recv_buf(self, out: &mut ReadBuf<'_>, flags: i32) -> io::Result<usize> {
        match self.take_buf(out, flags) {
            Some(n) => n,
            None => sys::recv_buf(self.fd, out, flags),
        }
    }

    /// recv(2) into the spare capacity of `out`, which it advances.
    pub(crate) fn recv_buf_mut<B: BufMut>(self, out: &mut B, flags: i32) -> io::Result<usize> {
        if let Some(n) = self.stashed(flags, |s| {
            let n = s.data.len().min(out.chunk_mut().len());
            out.put_slice(&s.data[..n]);
            (n, n)
        }) {
            return n;
        }
        sys::recv_buf_mut(self.fd, out, flags)
    }

    /// recvmsg(2) into `bufs` in order.
    pub(crate) fn recv_vectored(self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if let Some(n) = self.stashed(0, |s| {
            let mut n = 0;
            for buf in bufs.iter_mut() {
                n += copy(&s.data[n..], buf);
            }
            (n, n)
        }) {
            return n;
        }
        sys::recv_vectored(self.fd, bufs)
    }

    /// recvfrom(2) into `out`, with the sender.
    pub(crate) fn recv_from(self, out: &mut [u8], flags: i32) -> io::Result<(usize, SockAddr)> {
        if let Some(got) = self.stashed(flags, |s| {
            let n = copy(&s.data, out);
            (n, (n, sender(s)))
        }) {
            return got;
        }
        sys::recv_from(self.fd, out, flags)
    }

    /// recvfrom(2) into the unfilled part of `out`, which it advances.
    pub(crate) fn recv_from_buf(
        self,
        out: &mut ReadBuf<'_>,
        flags: i32,
    ) -> io::Result<(usize, SockAddr)> {
        if let Some(got) = self.stashed(flags, |s| {
            let n = s.data.len().min(out.remaining());
            out.put_slice(&s.data[..n]);
            (n, (n, sender(s)))
        }) {
            return got;
        }
        sys::recv_from_buf(self.fd, out, flags)
    }

    /// recvfrom(2) into the spare capacity of `out`, which it advances.
    pub(crate) fn recv_from_buf_mut<B: BufMut>(
        self,
        out: &mut B,
        flags: i32,
    ) -> io::Result<(usize, SockAddr)> {
        if let Some(got) = self.stashed(flags, |s| {
            let n = s.data.len().min(out.chunk_mut().len());
            out.put_slice(&s.data[..n]);
            (n, (n, sender(s)))
        }) {
            return got;
        }
        sys::recv_from_buf_mut(self.fd, out, flags)
    }

    /// send(2) of `bufs` in order.
    pub(crate) fn send(self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::send(self.fd, bufs)
    }

    /// sendto(2) of `buf` to `addr`.
    pub(crate) fn send_to(self, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
        sys::send_to(self.fd, buf, addr)
    }

    /// The fd, for calls that need nothing else.
    pub(crate) fn fd(self) -> BorrowedFd<'a> {
        self.fd
    }

    /// accept4(2).
    pub(crate) fn accept(self) -> io::Result<(OwnedFd, SockAddr)> {
        sys::accept(self.fd)
    }
}

/// Copies what fits of `from` into `to`.
fn copy(from: &[u8], to: &mut [u8]) -> usize {
    let n = from.len().min(to.len());
    to[..n].copy_from_slice(&from[..n]);
    n
}

/// A stashed datagram's sender (an unnamed address for stream bytes, which have none).
fn sender(stashed: &Stashed) -> SockAddr {
    stashed.from.as_deref().cloned().unwrap_or_else(|| {
        SockAddr::unix("").unwrap_or_else(|_| unreachable!("an empty path is valid"))
    })
}
