//! `IORING_OP_WRITE` (pwrite(2), or write(2) at the file position): writes an owned
//! buffer's initialized bytes, from an index on, at an offset. Resources kept alive: the
//! buffer and the fd. Result: bytes written, or `-errno`. Cancellation: a write already
//! started completes; its buffer is freed after the CQE. Offset [`CURRENT`] uses (and
//! advances) the fd's file position: what an `O_APPEND` file's stream writes use, since
//! the kernel appends whatever offset is given. Kernel 5.6. The epoll backend, and a
//! thread without a ring, call [`pwrite`] on the blocking pool instead.

use std::io;

use io_uring::{opcode, types};

use super::read::MAX_RW;
use crate::buf::{as_slice, BufResult, IoBuf};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// The offset meaning "at the fd's file position, advancing it" (`-1`).
pub(crate) const CURRENT: u64 = u64::MAX;

/// A write in flight.
#[derive(Debug)]
pub(crate) struct Write<B> {
    _fd: SharedFd,
    buf: B,
}

impl<B: IoBuf> Orphan for Write<B> {
    fn discard(&mut self, _: Completion) {}
}

impl<B: IoBuf> Completable for Write<B> {
    type Output = BufResult<usize, B>;

    fn complete(self, completion: Completion) -> BufResult<usize, B> {
        (cqe_result(completion.result).map(|n| n as usize), self.buf)
    }
}

/// Submits a write of `buf`'s initialized bytes from index `from` on, at `pos`.
pub(crate) fn write_at<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    from: usize,
    pos: u64,
) -> Result<Op<Write<B>>, (io::Error, B)> {
    let bytes = &as_slice(&buf)[from..];
    let len = bytes.len().min(MAX_RW) as u32;
    let sqe = opcode::Write::new(types::Fd(fd.raw()), bytes.as_ptr(), len)
        .offset(pos)
        .build();
    let data = Write {
        _fd: fd.clone(),
        buf,
    };
    // SAFETY: the SQE points into `buf`'s heap memory (`IoBuf`: it does not move with
    // `buf`), owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}

/// pwrite(2) of `bytes` at `pos` — or write(2) at the file position for [`CURRENT`] —
/// on the calling thread.
pub(crate) fn pwrite(fd: &SharedFd, bytes: &[u8], pos: u64) -> io::Result<usize> {
    let (ptr, len) = (bytes.as_ptr().cast(), bytes.len().min(MAX_RW));
    let n = if pos == CURRENT {
        // SAFETY: `bytes` is readable for `len` bytes during the call; `fd` is open.
        unsafe { libc::write(fd.raw(), ptr, len) }
    } else {
        // SAFETY: as above.
        let n = unsafe { libc::pwrite64(fd.raw(), ptr, len, pos as i64) };
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESPIPE) {
            // Not seekable: io_uring ignores the offset; so do we.
            // SAFETY: as above.
            unsafe { libc::write(fd.raw(), ptr, len) }
        } else {
            n
        }
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The fd's file position (`lseek(fd, 0, SEEK_CUR)`: no I/O).
pub(crate) fn position(fd: &SharedFd) -> io::Result<u64> {
    // SAFETY: lseek takes no pointers; `fd` is open while borrowed.
    let pos = unsafe { libc::lseek64(fd.raw(), 0, libc::SEEK_CUR) };
    u64::try_from(pos).map_err(|_| io::Error::last_os_error())
}

/// True when the fd was opened with `O_APPEND` (`fcntl(F_GETFL)`).
pub(crate) fn is_append(fd: &SharedFd) -> bool {
    // SAFETY: F_GETFL takes no pointers; `fd` is open while borrowed.
    let flags = unsafe { libc::fcntl(fd.raw(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_APPEND != 0
}
