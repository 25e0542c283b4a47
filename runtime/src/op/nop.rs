//! `IORING_OP_NOP` (io_uring_enter(2)): completes at once with 0. Resources: none.
//! Cancellation: nothing to cancel. Kernel 5.1. Used by tests and the ring benchmark; the
//! epoll backend has no equivalent.

use std::io;

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;

/// A no-op round trip through the ring.
#[derive(Debug)]
pub(crate) struct Nop;

impl Orphan for Nop {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Nop {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}

/// Submits a NOP on this thread's ring.
pub(crate) fn nop() -> io::Result<Op<Nop>> {
    let sqe = io_uring::opcode::Nop::new().build();
    // SAFETY: a NOP carries no pointers.
    unsafe { Op::submit(Nop, sqe) }.map_err(|(err, _)| err)
}
