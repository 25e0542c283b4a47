//! Datagram I/O on a [`Source`], shared by `UdpSocket` and `UnixDatagram`: every receive,
//! send and peek tokio offers, each one non-blocking syscall inside the readiness loop.
//! Addresses are `SockAddr` here; each socket type converts to its own address type.
//!
//! Cancel safety follows from the design: a send that returned `Pending` sent nothing, and
//! a receive that returned `Pending` received nothing, so a dropped future loses no
//! datagram and sends none (what tokio documents for `send`, `send_to`, `recv`,
//! `recv_from`).

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use bytes::BufMut;
use socket2::{SockAddr, SockRef};
use tokio::io::{Interest, ReadBuf};

use super::Source;

const PEEK: i32 = libc::MSG_PEEK;

impl Source {
    /// `recv` (and `peek` with `flags = MSG_PEEK`) on a connected socket.
    pub(crate) async fn recv_flags(&self, out: &mut [u8], flags: i32) -> io::Result<usize> {
        self.async_io(Interest::READABLE, |io| io.recv(out, flags))
            .await
    }

    /// `poll_recv` (and `poll_peek`).
    pub(crate) fn poll_recv_flags(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
        flags: i32,
    ) -> Poll<io::Result<()>> {
        self.poll_io(cx, Interest::READABLE, |io| io.recv_buf(out, flags))
            .map_ok(drop)
    }

    /// `try_recv` (and `try_peek`).
    pub(crate) fn try_recv_flags(&self, out: &mut [u8], flags: i32) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |io| io.recv(out, flags))
    }

    /// `recv_buf`: one datagram into the spare capacity of `out`.
    pub(crate) async fn recv_buf<B: BufMut>(&self, out: &mut B) -> io::Result<usize> {
        self.async_io(Interest::READABLE, |io| io.recv_buf_mut(out, 0))
            .await
    }

    /// `try_recv_buf`.
    pub(crate) fn try_recv_buf<B: BufMut>(&self, out: &mut B) -> io::Result<usize> {
        self.try_io(Interest::READABLE, |io| io.recv_buf_mut(out, 0))
    }

    /// `recv_from` (and `peek_from`).
    pub(crate) async fn recv_from_flags(
        &self,
        out: &mut [u8],
        flags: i32,
    ) -> io::Result<(usize, SockAddr)> {
        self.async_io(Interest::READABLE, |io| io.recv_from(out, flags))
            .await
    }

    /// `poll_recv_from` (and `poll_peek_from`).
    pub(crate) fn poll_recv_from_flags(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
        flags: i32,
    ) -> Poll<io::Result<SockAddr>> {
        self.poll_io(cx, Interest::READABLE, |io| io.recv_from_buf(out, flags))
            .map_ok(|(_, addr)| addr)
    }

    /// `try_recv_from` (and `try_peek_from`).
    pub(crate) fn try_recv_from_flags(
        &self,
        out: &mut [u8],
        flags: i32,
    ) -> io::Result<(usize, SockAddr)> {
        self.try_io(Interest::READABLE, |io| io.recv_from(out, flags))
    }

    /// `recv_buf_from`.
    pub(crate) async fn recv_buf_from<B: BufMut>(
        &self,
        out: &mut B,
    ) -> io::Result<(usize, SockAddr)> {
        self.async_io(Interest::READABLE, |io| io.recv_from_buf_mut(out, 0))
            .await
    }

    /// `try_recv_buf_from`.
    pub(crate) fn try_recv_buf_from<B: BufMut>(
        &self,
        out: &mut B,
    ) -> io::Result<(usize, SockAddr)> {
        self.try_io(Interest::READABLE, |io| io.recv_from_buf_mut(out, 0))
    }

    /// `peek_sender`: the next datagram's source, without receiving it.
    pub(crate) async fn peek_sender(&self) -> io::Result<SockAddr> {
        self.async_io(Interest::READABLE, |io| {
            io.recv_from(&mut [], PEEK).map(|(_, addr)| addr)
        })
        .await
    }

    /// `poll_peek_sender`.
    pub(crate) fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<SockAddr>> {
        self.poll_io(cx, Interest::READABLE, |io| {
            io.recv_from(&mut [], PEEK).map(|(_, addr)| addr)
        })
    }

    /// `try_peek_sender`.
    pub(crate) fn try_peek_sender(&self) -> io::Result<SockAddr> {
        self.try_io(Interest::READABLE, |io| {
            io.recv_from(&mut [], PEEK).map(|(_, addr)| addr)
        })
    }

    /// `send` on a connected socket.
    pub(crate) async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.async_io(Interest::WRITABLE, |io| io.send(&[IoSlice::new(buf)]))
            .await
    }

    /// `poll_send`.
    pub(crate) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Interest::WRITABLE, |io| io.send(&[IoSlice::new(buf)]))
    }

    /// `try_send`.
    pub(crate) fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |io| io.send(&[IoSlice::new(buf)]))
    }

    /// `send_to`.
    pub(crate) async fn send_to(&self, buf: &[u8], target: &SockAddr) -> io::Result<usize> {
        self.async_io(Interest::WRITABLE, |io| io.send_to(buf, target))
            .await
    }

    /// `poll_send_to`.
    pub(crate) fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &SockAddr,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Interest::WRITABLE, |io| io.send_to(buf, target))
    }

    /// `try_send_to`.
    pub(crate) fn try_send_to(&self, buf: &[u8], target: &SockAddr) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, |io| io.send_to(buf, target))
    }

    /// The socket's own address.
    pub(crate) fn local_sock_addr(&self) -> io::Result<SockAddr> {
        SockRef::from(self).local_addr()
    }

    /// The connected peer's address.
    pub(crate) fn peer_sock_addr(&self) -> io::Result<SockAddr> {
        SockRef::from(self).peer_addr()
    }
}
