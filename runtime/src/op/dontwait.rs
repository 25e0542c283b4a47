//! Not an io_uring opcode: the `MSG_DONTWAIT` socket calls behind tokio's `try_*` readiness
//! API (`try_read`, `try_write`, `try_recv_from`...), made directly on the socket's fd
//! beside the ring. Sockets of the uring backend stay in blocking mode (io_uring never
//! blocks on them), so every call here adds `MSG_DONTWAIT` and fails with `WouldBlock`
//! instead of waiting; sends add `MSG_NOSIGNAL`. Resources: none beyond the call. Result:
//! as recv(2)/send(2). Cancellation: nothing is in flight. The calls live here because
//! receiving into a caller's initialized `&mut [u8]` through socket2 needs one unsafe view
//! of it as `[MaybeUninit<u8>]`. The epoll backend uses tokio's `try_*` methods instead.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;

use socket2::{MaybeUninitSlice, SockAddr, SockRef};

use crate::fd::SharedFd;

const RECV_FLAGS: i32 = libc::MSG_DONTWAIT;
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

/// Views initialized bytes as possibly uninitialized ones, for socket2's receive calls.
///
/// # Safety
///
/// Nothing may write an uninitialized byte through the view: only pass it to calls that
/// copy received bytes in (socket2 documents this promise for its `recv*` functions).
unsafe fn uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the size and alignment of `u8`; the caller keeps
    // the bytes initialized (see this function's contract).
    unsafe { &mut *(std::ptr::from_mut(buf) as *mut [MaybeUninit<u8>]) }
}

/// recv(2) into `buf` with `MSG_DONTWAIT | flags` (e.g. `MSG_PEEK`).
pub(crate) fn recv(fd: &SharedFd, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: recv(2) only copies received (initialized) bytes into the view.
    let view = unsafe { uninit(buf) };
    SockRef::from(fd).recv_with_flags(view, RECV_FLAGS | flags)
}

/// recvmsg(2) into `bufs`, in order, with `MSG_DONTWAIT`.
pub(crate) fn recv_vectored(fd: &SharedFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let mut views: Vec<MaybeUninitSlice<'_>> = bufs
        .iter_mut()
        // SAFETY: recvmsg(2) only copies received (initialized) bytes into the views.
        .map(|buf| MaybeUninitSlice::new(unsafe { uninit(buf) }))
        .collect();
    SockRef::from(fd)
        .recv_vectored_with_flags(&mut views, RECV_FLAGS)
        .map(|(n, _)| n)
}

/// recvfrom(2) of one datagram into `buf` with `MSG_DONTWAIT | flags`.
pub(crate) fn recv_from(
    fd: &SharedFd,
    buf: &mut [u8],
    flags: i32,
) -> io::Result<(usize, SockAddr)> {
    // SAFETY: recvfrom(2) only copies received (initialized) bytes into the view.
    let view = unsafe { uninit(buf) };
    SockRef::from(fd).recv_from_with_flags(view, RECV_FLAGS | flags)
}

/// sendmsg(2) of `bufs`, in order, with `MSG_DONTWAIT | MSG_NOSIGNAL`; may send fewer.
pub(crate) fn send(fd: &SharedFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    SockRef::from(fd).send_vectored_with_flags(bufs, SEND_FLAGS)
}

/// sendto(2) of one datagram to `addr` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
pub(crate) fn send_to(fd: &SharedFd, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
    SockRef::from(fd).send_to_with_flags(buf, addr, SEND_FLAGS)
}
