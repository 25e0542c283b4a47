//! `IORING_OP_ACCEPT` (accept4(2) with `SOCK_CLOEXEC`): accepts one connection and writes
//! the peer's address into an owned, boxed `sockaddr_storage`. Resources kept alive: the
//! address box and the listener's fd. Result: the new fd, or `-errno` (`EMFILE`,
//! `ENFILE`, `ECONNABORTED`...). Cancellation: a pending accept is cancelled with
//! `ECANCELED` — which also releases the listening port; an accept that already
//! completed hands back an fd, closed by [`Orphan::discard`]. Kernel 5.5. The epoll
//! backend accepts through tokio's `TcpListener` instead.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use io_uring::{opcode, types};
use socket2::{SockAddr, SockAddrStorage};

use crate::driver::op::{Completable, Op, StreamOp};
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;
use crate::fd::SharedFd;

/// Where the kernel writes the peer address.
struct PeerAddr {
    storage: SockAddrStorage,
    len: libc::socklen_t,
}

/// An accept in flight.
pub(crate) struct Accept {
    _fd: SharedFd,
    addr: Box<PeerAddr>,
}

impl std::fmt::Debug for Accept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept").finish_non_exhaustive()
    }
}

/// Takes ownership of the fd a successful accept CQE carries.
fn owned_fd(completion: Completion) -> io::Result<OwnedFd> {
    let fd = cqe_result(completion.result)?;
    // SAFETY: a successful accept returns a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Orphan for Accept {
    fn discard(&mut self, completion: Completion) {
        drop(owned_fd(completion));
    }
}

impl Completable for Accept {
    type Output = io::Result<(OwnedFd, SockAddr)>;

    fn complete(self, completion: Completion) -> io::Result<(OwnedFd, SockAddr)> {
        let fd = owned_fd(completion)?;
        let PeerAddr { storage, len } = *self.addr;
        // SAFETY: the kernel wrote a valid address of `len` bytes into `storage`.
        let addr = unsafe { SockAddr::new(storage, len) };
        Ok((fd, addr))
    }
}

/// Submits an accept on the listening socket `fd`.
pub(crate) fn accept(fd: &SharedFd) -> io::Result<Op<Accept>> {
    let mut addr = Box::new(PeerAddr {
        storage: SockAddrStorage::zeroed(),
        len: 0,
    });
    addr.len = addr.storage.size_of();
    let sqe = opcode::Accept::new(
        types::Fd(fd.raw()),
        std::ptr::from_mut(&mut addr.storage).cast(),
        &mut addr.len,
    )
    .flags(libc::SOCK_CLOEXEC)
    .build();
    let data = Accept {
        _fd: fd.clone(),
        addr,
    };
    // SAFETY: the SQE points into the boxed address, owned by `data` until the CQE.
    unsafe { Op::submit(data, sqe) }.map_err(|(err, _)| err)
}

/// A multishot accept in flight: one CQE per connection until the final one.
#[derive(Debug)]
pub(crate) struct AcceptMulti {
    _fd: SharedFd,
}

impl Orphan for AcceptMulti {
    fn discard(&mut self, completion: Completion) {
        drop(owned_fd(completion));
    }
}

/// Submits a multishot accept (kernel 5.19) on the listening socket `fd`. The peer
/// address is not reported; ask the new socket with `getpeername`.
pub(crate) fn accept_multi(fd: &SharedFd) -> io::Result<StreamOp<AcceptMulti>> {
    let sqe = opcode::AcceptMulti::new(types::Fd(fd.raw()))
        .flags(libc::SOCK_CLOEXEC)
        .build();
    let data = AcceptMulti { _fd: fd.clone() };
    // SAFETY: a multishot accept without an address buffer carries no pointers.
    unsafe { StreamOp::submit(data, sqe) }.map_err(|(err, _)| err)
}

/// Turns one multishot accept CQE into the accepted fd.
pub(crate) fn accepted(completion: Completion) -> io::Result<OwnedFd> {
    owned_fd(completion)
}
