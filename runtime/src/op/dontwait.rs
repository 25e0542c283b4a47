//! Not an io_uring opcode: the non-blocking socket calls behind tokio's readiness API
//! (`poll_read`, `try_read`, `try_write`, `recv_from`, `accept`...), made directly on a
//! socket's fd beside the ring. Every call adds `MSG_DONTWAIT` (sends also
//! `MSG_NOSIGNAL`), so it fails with `WouldBlock` instead of waiting whatever the fd's mode.
//! Resources: none beyond the call. Result: as recv(2)/send(2)/accept4(2). Cancellation:
//! nothing is in flight. The calls live here because receiving into a caller's `&mut [u8]`
//! or `ReadBuf` through socket2 needs one unsafe view of it as `[MaybeUninit<u8>]` or one
//! `assume_init`. Both backends use them: `corio::net` waits for readiness (io_uring
//! `POLL_ADD` or tokio's reactor), then calls one of these.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use bytes::BufMut;
use socket2::{MaybeUninitSlice, SockAddr, SockRef};
use tokio::io::ReadBuf;

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

/// Marks the `n` bytes a receive call just wrote at the start of `buf`'s unfilled part as
/// initialized and filled.
fn advance(buf: &mut ReadBuf<'_>, n: usize) {
    // SAFETY: the receive call that returned `n` wrote `n` bytes at the start of the
    // unfilled part (recv(2) never returns more than it was given room for).
    unsafe { buf.assume_init(n) };
    buf.advance(n);
}

/// recv(2) into `buf` with `MSG_DONTWAIT | flags` (e.g. `MSG_PEEK`).
///
/// # Errors
///
/// `WouldBlock` when nothing is queued; otherwise as recv(2).
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: recv(2) only copies received (initialized) bytes into the view.
    let view = unsafe { uninit(buf) };
    SockRef::from(&fd).recv_with_flags(view, RECV_FLAGS | flags)
}

/// recv(2) into the unfilled part of `buf`, which then holds the bytes received.
///
/// # Errors
///
/// As [`recv`].
pub fn recv_buf(fd: BorrowedFd<'_>, buf: &mut ReadBuf<'_>, flags: i32) -> io::Result<usize> {
    // SAFETY: recv(2) only copies received (initialized) bytes into the unfilled part.
    let view = unsafe { buf.unfilled_mut() };
    // SAFETY: recvfrom(2) writes at most `view.len()` bytes into `view`, a live borrow,
    // and no address (the address arguments are null).
    let n = unsafe {
        syscall_result(libc::syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(fd.as_raw_fd()),
            view.as_mut_ptr(),
            view.len(),
            libc::c_long::from(RECV_FLAGS | flags),
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        ))
    }?;
    advance(buf, n);
    Ok(n)
}

/// The count a socket syscall made through syscall(2) returned, or its errno.
///
/// The hot calls go through syscall(2) rather than libc's `recv`/`send`, which are POSIX
/// cancellation points: around every call glibc switches the thread's asynchronous
/// cancellation on and off again (two calls, ~30 instructions), for `pthread_cancel`,
/// which Rust programs never use. The system call itself is the same.
fn syscall_result(ret: libc::c_long) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// recvmsg(2) into `bufs`, in order, with `MSG_DONTWAIT`.
///
/// # Errors
///
/// As [`recv`].
pub fn recv_vectored(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let mut views: Vec<MaybeUninitSlice<'_>> = bufs
        .iter_mut()
        // SAFETY: recvmsg(2) only copies received (initialized) bytes into the views.
        .map(|buf| MaybeUninitSlice::new(unsafe { uninit(buf) }))
        .collect();
    SockRef::from(&fd)
        .recv_vectored_with_flags(&mut views, RECV_FLAGS)
        .map(|(n, _)| n)
}

/// recvfrom(2) of one datagram into `buf` with `MSG_DONTWAIT | flags`.
///
/// # Errors
///
/// As [`recv`].
pub fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8], flags: i32) -> io::Result<(usize, SockAddr)> {
    // SAFETY: recvfrom(2) only copies received (initialized) bytes into the view.
    let view = unsafe { uninit(buf) };
    SockRef::from(&fd).recv_from_with_flags(view, RECV_FLAGS | flags)
}

/// recvfrom(2) of one datagram into the unfilled part of `buf`.
///
/// # Errors
///
/// As [`recv`].
pub fn recv_from_buf(
    fd: BorrowedFd<'_>,
    buf: &mut ReadBuf<'_>,
    flags: i32,
) -> io::Result<(usize, SockAddr)> {
    // SAFETY: recvfrom(2) only copies received (initialized) bytes into the unfilled part.
    let view = unsafe { buf.unfilled_mut() };
    let (n, addr) = SockRef::from(&fd).recv_from_with_flags(view, RECV_FLAGS | flags)?;
    advance(buf, n);
    Ok((n, addr))
}

/// send(2) of one slice, sendmsg(2) of several, in order, with `MSG_DONTWAIT |
/// MSG_NOSIGNAL`; may send fewer. (One slice takes send(2): the kernel then has no
/// `msghdr` and iovec array to copy in.)
///
/// # Errors
///
/// `WouldBlock` when the send buffer is full; otherwise as send(2) (`EPIPE` shows as
/// `BrokenPipe`: no `SIGPIPE` is raised).
pub fn send(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    match bufs {
        // SAFETY: sendto(2) reads `one.len()` bytes of `one`, a live borrow, and no
        // address (the address arguments are null and 0).
        [one] => unsafe {
            syscall_result(libc::syscall(
                libc::SYS_sendto,
                libc::c_long::from(fd.as_raw_fd()),
                one.as_ptr(),
                one.len(),
                libc::c_long::from(SEND_FLAGS),
                std::ptr::null::<libc::sockaddr>(),
                0 as libc::c_long,
            ))
        },
        _ => SockRef::from(&fd).send_vectored_with_flags(bufs, SEND_FLAGS),
    }
}

/// sendto(2) of one datagram to `addr` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
///
/// # Errors
///
/// As [`send`].
pub fn send_to(fd: BorrowedFd<'_>, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
    SockRef::from(&fd).send_to_with_flags(buf, addr, SEND_FLAGS)
}

/// accept4(2) with `SOCK_CLOEXEC | SOCK_NONBLOCK`: the connection and its peer's address,
/// which the kernel reports with the connection (no `getpeername` that a reset could fail).
///
/// # Errors
///
/// `WouldBlock` when no connection waits; otherwise as accept4(2) (`EMFILE`...).
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, SockAddr)> {
    // SAFETY: accept4 writes at most `*len` bytes of address into the zeroed storage
    // `try_init` lends it and sets `*len` to what it wrote; the fd it returns is new, so
    // the `OwnedFd` made of it is its only owner.
    unsafe {
        SockAddr::try_init(|storage, len| {
            let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
            match libc::accept4(fd.as_raw_fd(), storage.cast(), len, flags) {
                -1 => Err(io::Error::last_os_error()),
                conn => Ok(OwnedFd::from_raw_fd(conn)),
            }
        })
    }
}

/// recv(2) into the spare capacity of `out` (tokio's `try_read_buf`), advancing it by the
/// bytes received.
///
/// # Errors
///
/// As [`recv`].
pub fn recv_buf_mut<B: BufMut>(fd: BorrowedFd<'_>, out: &mut B, flags: i32) -> io::Result<usize> {
    // SAFETY: recv(2) only copies received (initialized) bytes into the view.
    let view = unsafe { out.chunk_mut().as_uninit_slice_mut() };
    let n = SockRef::from(&fd).recv_with_flags(view, RECV_FLAGS | flags)?;
    // SAFETY: recv(2) wrote `n` bytes at the start of the chunk it was given.
    unsafe { out.advance_mut(n) };
    Ok(n)
}

/// recvfrom(2) of one datagram into the spare capacity of `out` (tokio's `recv_buf_from`).
///
/// # Errors
///
/// As [`recv`].
pub fn recv_from_buf_mut<B: BufMut>(
    fd: BorrowedFd<'_>,
    out: &mut B,
    flags: i32,
) -> io::Result<(usize, SockAddr)> {
    // SAFETY: recvfrom(2) only copies received (initialized) bytes into the view.
    let view = unsafe { out.chunk_mut().as_uninit_slice_mut() };
    let (n, addr) = SockRef::from(&fd).recv_from_with_flags(view, RECV_FLAGS | flags)?;
    // SAFETY: recvfrom(2) wrote `n` bytes at the start of the chunk it was given.
    unsafe { out.advance_mut(n) };
    Ok((n, addr))
}

/// The credentials of a Unix socket's peer (`SO_PEERCRED`).
///
/// # Errors
///
/// As getsockopt(2), e.g. `ENOTCONN`.
pub fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live locals of the size SO_PEERCRED writes and reports.
    let rc = unsafe {
        libc::getsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::from_mut(&mut cred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred)
}

/// sendfile(2) of up to `len` bytes of `file` from `*offset` (advanced by what was sent)
/// to the socket `out`, which must be non-blocking: `WouldBlock` when its buffer is full.
///
/// # Errors
///
/// As sendfile(2), e.g. `BrokenPipe` (no `SIGPIPE` is raised for a socket corio made:
/// Rust programs ignore it), `EINVAL` for a file that cannot be mapped.
pub fn sendfile(
    out: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: &mut u64,
    len: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both fds are open for the call (borrowed); `off` is a valid off_t the call
    // updates in place.
    let n = unsafe { libc::sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}
