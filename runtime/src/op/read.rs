//! `IORING_OP_READ` (pread(2)): reads from a file at an offset into an owned buffer —
//! from the buffer's start up to its capacity ([`read_at`]) or into a `Vec`'s spare
//! capacity ([`read_spare`]). Resources kept alive: the buffer and the fd. Result: bytes
//! read (0 at end of file), or `-errno`. Cancellation: a read waiting on a pipe or FIFO is
//! cancelled with `ECANCELED`; a regular-file read usually completes anyway, and its buffer
//! is freed after the CQE. On a file that
//! cannot seek (pipe, FIFO) the offset is ignored, by the kernel's io_uring and by
//! [`pread`] alike. Kernel 5.6. The epoll backend, and a thread without a ring, call
//! [`pread`] / [`pread_spare`] on the blocking pool instead.

use std::io;

use io_uring::{opcode, types};

use crate::buf::{BufResult, IoBufMut};
use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// The largest count a single read(2) or write(2) transfers on Linux (`MAX_RW_COUNT`).
pub(crate) const MAX_RW: usize = 0x7fff_f000;

/// A read at an offset in flight, filling `buf` from its start.
#[derive(Debug)]
pub(crate) struct Read<B> {
    /// Keeps the fd open until the CQE.
    _fd: SharedFd,
    buf: B,
}

impl<B: IoBufMut> Orphan for Read<B> {
    fn discard(&mut self, _: Completion) {}
}

impl<B: IoBufMut> Completable for Read<B> {
    type Output = BufResult<usize, B>;

    fn complete(self, completion: Completion) -> BufResult<usize, B> {
        super::filled(self.buf, completion)
    }
}

/// Submits a read of up to `buf.bytes_total()` bytes at `pos` into the start of `buf`.
pub(crate) fn read_at<B: IoBufMut>(
    fd: &SharedFd,
    mut buf: B,
    pos: u64,
) -> Result<Op<Read<B>>, (io::Error, B)> {
    let len = buf.bytes_total().min(MAX_RW) as u32;
    let sqe = opcode::Read::new(types::Fd(fd.raw()), buf.stable_mut_ptr(), len)
        .offset(pos)
        .build();
    let data = Read {
        _fd: fd.clone(),
        buf,
    };
    // SAFETY: the SQE points into `buf`'s heap memory, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.buf))
}

/// A read at an offset in flight, appending to a `Vec`'s initialized bytes.
#[derive(Debug)]
pub(crate) struct ReadSpare {
    _fd: SharedFd,
    vec: Vec<u8>,
}

impl Orphan for ReadSpare {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for ReadSpare {
    type Output = BufResult<usize, Vec<u8>>;

    fn complete(mut self, completion: Completion) -> BufResult<usize, Vec<u8>> {
        let result = cqe_result(completion.result).map(|n| n as usize);
        if let Ok(n) = result {
            // SAFETY: the kernel initialized the `n <= capacity - len` bytes after `len`.
            unsafe { self.vec.set_len(self.vec.len() + n) };
        }
        (result, self.vec)
    }
}

/// Submits a read at `pos` into the spare capacity of `vec` (after its `len` bytes).
pub(crate) fn read_spare(
    fd: &SharedFd,
    mut vec: Vec<u8>,
    pos: u64,
) -> Result<Op<ReadSpare>, (io::Error, Vec<u8>)> {
    let spare = vec.spare_capacity_mut();
    let len = spare.len().min(MAX_RW) as u32;
    let ptr = spare.as_mut_ptr().cast::<u8>();
    let sqe = opcode::Read::new(types::Fd(fd.raw()), ptr, len)
        .offset(pos)
        .build();
    let data = ReadSpare {
        _fd: fd.clone(),
        vec,
    };
    // SAFETY: the SQE points into the Vec's heap allocation (which does not move with
    // the Vec and is not resized while `data` owns it) until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, data)| (err, data.vec))
}

/// pread(2) into the start of `buf`, up to its capacity, on the calling thread.
pub(crate) fn pread<B: IoBufMut>(fd: &SharedFd, buf: &mut B, pos: u64) -> io::Result<usize> {
    let len = buf.bytes_total().min(MAX_RW);
    let ptr = buf.stable_mut_ptr().cast();
    // SAFETY: `IoBufMut`'s contract: `stable_mut_ptr` points to `bytes_total >= len`
    // writable bytes while `buf` is mutably borrowed; `fd` is open while borrowed.
    let mut n = unsafe { libc::pread64(fd.raw(), ptr, len, pos as i64) };
    if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESPIPE) {
        // Not seekable (a pipe, FIFO or socket): io_uring ignores the offset; so do we.
        // SAFETY: as above.
        n = unsafe { libc::read(fd.raw(), ptr, len) };
    }
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: pread initialized the first `n <= len` bytes.
    unsafe { buf.set_init(n) };
    Ok(n)
}

/// pread(2) into the spare capacity of `vec`, on the calling thread.
pub(crate) fn pread_spare(fd: &SharedFd, vec: &mut Vec<u8>, pos: u64) -> io::Result<usize> {
    let spare = vec.spare_capacity_mut();
    let len = spare.len().min(MAX_RW);
    // SAFETY: `spare` is `len` writable bytes of the Vec, borrowed for the call.
    let n = unsafe { libc::pread64(fd.raw(), spare.as_mut_ptr().cast(), len, pos as i64) };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: pread initialized the `n <= capacity - len` bytes after the Vec's `len`.
    unsafe { vec.set_len(vec.len() + n) };
    Ok(n)
}
