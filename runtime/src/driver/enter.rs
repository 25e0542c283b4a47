//! `io_uring_enter` through the ring's registered fd.
//!
//! A process with more than one thread shares its fd table, so every `io_uring_enter` on a
//! plain ring fd takes and drops a reference on the ring's file. Registering the fd
//! (`IORING_REGISTER_RING_FDS`, Linux 5.18) puts it in the calling thread's io_uring
//! context, and enters then name its index with `IORING_ENTER_REGISTERED_RING` instead.
//! The registration belongs to the thread that made it: a ring is registered, entered and
//! dropped on its worker thread only. The `io-uring` crate keeps a registered index in a
//! `Submitter`, which is a new value at every `submitter()` call, hence this module.

use std::io;
use std::os::fd::RawFd;

use io_uring::EnterFlags;

/// `IORING_REGISTER_RING_FDS` and `IORING_UNREGISTER_RING_FDS` (`io_uring_register(2)`).
const REGISTER_RING_FDS: libc::c_uint = 20;
const UNREGISTER_RING_FDS: libc::c_uint = 21;

/// `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// The fd a ring is entered through: its registered index, or the ring fd itself.
#[derive(Debug)]
pub(crate) struct EnterFd {
    fd: RawFd,
    /// `IORING_ENTER_REGISTERED_RING` when `fd` is a registered index.
    flags: u32,
    /// The ring fd, which unregistering names; the owner drops this before closing it.
    ring: RawFd,
}

impl EnterFd {
    /// Registers `ring` with the calling thread when `register` is set and the kernel
    /// accepts it; otherwise enters go through `ring` itself.
    pub(crate) fn new(ring: RawFd, register: bool) -> EnterFd {
        let plain = EnterFd {
            fd: ring,
            flags: 0,
            ring,
        };
        if !register {
            return plain;
        }
        let mut update = RsrcUpdate {
            // Any free slot: the kernel writes the one it chose back here.
            offset: u32::MAX,
            resv: 0,
            data: ring as u64,
        };
        // SAFETY: `update` is a live io_uring_rsrc_update and the count passed is one; the
        // kernel reads it and writes its `offset` during the call only.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring,
                REGISTER_RING_FDS,
                &mut update as *mut RsrcUpdate,
                1,
            )
        };
        if rc != 1 {
            let err = io::Error::last_os_error();
            tracing::debug!(error = %err, "ring fd not registered; entering through the fd");
            return plain;
        }
        EnterFd {
            fd: update.offset as RawFd,
            flags: EnterFlags::REGISTERED_RING.bits(),
            ring,
        }
    }

    /// Whether enters go through a registered index.
    pub(crate) fn is_registered(&self) -> bool {
        self.flags != 0
    }

    /// `io_uring_enter(2)` submitting `to_submit` SQEs, with `GETEVENTS` when `getevents`
    /// (deferred completions to run, or an overflow to flush); waits for none. Returns the
    /// SQEs the kernel consumed.
    pub(crate) fn submit(&self, to_submit: usize, getevents: bool) -> io::Result<usize> {
        let mut flags = self.flags;
        if getevents {
            flags |= EnterFlags::GETEVENTS.bits();
        }
        // SAFETY: no argument structure is passed (null, size 0); the SQEs the kernel
        // reads were published by `SubmissionQueue`'s tail store, and each one's memory
        // outlives its CQE (the callers of `Ring::push` promise it).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.fd,
                to_submit as libc::c_uint,
                0 as libc::c_uint,
                flags,
                std::ptr::null::<libc::c_void>(),
                0usize,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }
}

impl Drop for EnterFd {
    /// Frees the thread's slot, which would otherwise hold the ring's file open until the
    /// thread exits.
    fn drop(&mut self) {
        if !self.is_registered() {
            return;
        }
        let update = RsrcUpdate {
            offset: self.fd as u32,
            resv: 0,
            data: 0,
        };
        // SAFETY: `update` is a live io_uring_rsrc_update naming this thread's slot; the
        // kernel reads it during the call only. `ring` is still open (the owner drops this
        // first), and the slot is this thread's: a ring is dropped on its own thread.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring,
                UNREGISTER_RING_FDS,
                &update as *const RsrcUpdate,
                1,
            )
        };
        if rc != 1 {
            tracing::debug!(error = %io::Error::last_os_error(), "ring fd not unregistered");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use io_uring::{opcode, IoUring};

    use super::*;

    /// A ring for the calling thread, or `None` where io_uring is unavailable.
    fn ring() -> Option<IoUring> {
        IoUring::new(8)
            .inspect_err(|err| eprintln!("io_uring unavailable, skipped: {err}"))
            .ok()
    }

    /// Pushes a NOP, submits it through `enter` and waits for its CQE.
    fn nop_through(uring: &mut IoUring, enter: &EnterFd) {
        let nop = opcode::Nop::new().build().user_data(7);
        // SAFETY: a NOP points to no memory.
        unsafe { uring.submission().push(&nop) }.expect("room for one NOP");
        let queued = uring.submission().len();
        assert_eq!(enter.submit(queued, false).expect("enter"), 1);
        uring.submitter().submit_and_wait(1).expect("wait");
        let cqe = uring.completion().next().expect("the NOP's CQE");
        assert_eq!((cqe.user_data(), cqe.result()), (7, 0));
    }

    #[test]
    fn enters_through_the_registered_index_and_through_the_fd() {
        let Some(mut uring) = ring() else { return };
        for register in [true, false] {
            let enter = EnterFd::new(uring.as_raw_fd(), register);
            assert_eq!(enter.is_registered(), register, "Linux 5.18+ registers");
            nop_through(&mut uring, &enter);
        }
    }

    /// A thread has 16 slots: without unregistering on drop, the 17th ring would enter
    /// through its fd.
    #[test]
    fn dropping_frees_the_threads_slot() {
        for round in 0..40 {
            let Some(mut uring) = ring() else { return };
            let enter = EnterFd::new(uring.as_raw_fd(), true);
            assert!(enter.is_registered(), "round {round}: no free slot");
            nop_through(&mut uring, &enter);
            drop(enter);
        }
    }
}
