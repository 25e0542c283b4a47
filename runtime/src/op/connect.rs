//! `IORING_OP_CONNECT` (connect(2)): connects a socket to an owned, boxed address.
//! Resources kept alive: the address box and the fd. Result: 0, or `-errno`
//! (`ECONNREFUSED`, `ETIMEDOUT`...). Cancellation: a pending connect is cancelled with
//! `ECANCELED`. Kernel 5.5. The epoll backend connects through tokio instead.

use std::io;

use io_uring::{opcode, types};
use socket2::SockAddr;

use crate::driver::op::{Completable, Op};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// A connect in flight.
pub(crate) struct Connect {
    _fd: SharedFd,
    _addr: Box<SockAddr>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect").finish_non_exhaustive()
    }
}

impl Orphan for Connect {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Connect {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}

/// Submits a connect of `fd` to `addr`.
pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> io::Result<Op<Connect>> {
    let addr = Box::new(addr);
    let sqe = opcode::Connect::new(types::Fd(fd.raw()), addr.as_ptr().cast(), addr.len()).build();
    let data = Connect {
        _fd: fd.clone(),
        _addr: addr,
    };
    // SAFETY: the SQE points into the boxed address, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}
