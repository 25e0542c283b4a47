//! `IORING_OP_CLOSE` (close(2)): closes a file's fd without a syscall of its own (it is
//! submitted with the next batch). Resources kept alive: none — the fd number belongs to
//! the op from submission on, and nothing else names it. Result: 0, or `-errno` (ignored,
//! as `close` in `Drop` ignores it). Cancellation: a close is never cancelled (it is
//! detached). Kernel 5.6. The epoll backend, and a thread without a ring, close in `Drop`.

use std::os::fd::{IntoRawFd, OwnedFd};

use io_uring::{opcode, types};

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};

/// A close in flight: owns nothing, the kernel closes the fd.
#[derive(Debug)]
pub(crate) struct Close;

impl Orphan for Close {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Close {
    type Output = ();

    fn complete(self, _: Completion) {}
}

/// Closes `fd` through the ring, without waiting; closes it at once when the ring cannot
/// take the SQE.
pub(crate) fn close(fd: OwnedFd) {
    let raw = fd.into_raw_fd();
    let sqe = opcode::Close::new(types::Fd(raw)).build();
    // SAFETY: the SQE holds no pointers. The raw fd was owned (`into_raw_fd` released it
    // to this op), so nothing else closes or names it.
    match unsafe { Op::submit(Close, sqe) } {
        Ok(op) => op.detach(),
        Err(_) => {
            // SAFETY: submission failed, so the kernel never saw the fd; it is still ours.
            drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
        }
    }
}
