//! `IORING_OP_STATX` (statx(2)): file status by path, or of an open fd (empty path with
//! `AT_EMPTY_PATH`). Resources kept alive: the path, the boxed `struct statx` the kernel
//! fills, and the fd when there is one. Result: 0, or `-errno`. Cancellation: completes
//! once started; the resources are freed after the CQE. Kernel 5.6. The epoll backend, and
//! a thread without a ring, call [`blocking`] (the same statx(2)) on the blocking pool.

use std::ffi::{CStr, CString};
use std::io;

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// What corio asks statx for: the basic stats and the birth time.
pub(crate) const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// Which file a statx is about.
#[derive(Debug)]
pub(crate) enum Target {
    /// A path relative to the current directory.
    Path(CString),
    /// An open file.
    Fd(SharedFd),
}

impl Target {
    fn dirfd(&self) -> i32 {
        match self {
            Target::Path(_) => libc::AT_FDCWD,
            Target::Fd(fd) => fd.raw(),
        }
    }

    fn path(&self) -> &CStr {
        match self {
            Target::Path(path) => path,
            Target::Fd(_) => c"",
        }
    }

    fn flags(&self, follow: bool) -> i32 {
        match (self, follow) {
            (Target::Fd(_), _) => libc::AT_EMPTY_PATH,
            (Target::Path(_), true) => 0,
            (Target::Path(_), false) => libc::AT_SYMLINK_NOFOLLOW,
        }
    }
}

/// A statx in flight.
pub(crate) struct Statx {
    target: Target,
    buf: Box<libc::statx>,
}

impl std::fmt::Debug for Statx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Orphan for Statx {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Statx {
    type Output = io::Result<libc::statx>;

    fn complete(self, completion: Completion) -> io::Result<libc::statx> {
        cqe_result(completion.result).map(|_| *self.buf)
    }
}

fn zeroed() -> Box<libc::statx> {
    // SAFETY: `struct statx` is plain integers: all zeroes is a valid value.
    Box::new(unsafe { std::mem::zeroed() })
}

/// Submits a statx of `target`; `follow` = false does not follow a final symlink.
pub(crate) fn statx(target: Target, follow: bool) -> io::Result<Op<Statx>> {
    let mut buf = zeroed();
    let sqe = opcode::Statx::new(
        types::Fd(target.dirfd()),
        target.path().as_ptr(),
        std::ptr::from_mut(&mut *buf).cast(),
    )
    .flags(target.flags(follow))
    .mask(MASK)
    .build();
    let data = Statx { target, buf };
    // SAFETY: the SQE points at the path's heap bytes (or a static empty string) and at
    // the boxed statx, both owned by `data` until the CQE; the fd stays open with it.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}

/// statx(2) of `target` on the calling thread.
pub(crate) fn blocking(target: &Target, follow: bool) -> io::Result<libc::statx> {
    let mut buf = zeroed();
    // SAFETY: the path is NUL-terminated and `buf` a writable statx, both borrowed for
    // the call; the fd (if any) is open while `target` lives.
    let rc = unsafe {
        libc::statx(
            target.dirfd(),
            target.path().as_ptr(),
            target.flags(follow),
            MASK,
            &mut *buf,
        )
    };
    if rc == 0 {
        Ok(*buf)
    } else {
        Err(io::Error::last_os_error())
    }
}
