//! `SharedFd`: a file descriptor that stays open while any op in flight holds it.
//!
//! A socket's fd number must not be closed (and so reused by a new socket) while an SQE
//! naming it may still be waiting in the SQ or running in the kernel. Every op keeps a
//! clone in its resources; the fd closes when the socket and every op have let go.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

/// A reference-counted owned file descriptor.
#[derive(Debug, Clone)]
pub(crate) struct SharedFd(Arc<OwnedFd>);

impl SharedFd {
    /// Takes ownership of `fd`.
    pub(crate) fn new(fd: OwnedFd) -> SharedFd {
        SharedFd(Arc::new(fd))
    }

    /// The raw fd, valid while this handle lives.
    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// The owned fd back, if no op holds it any more.
    pub(crate) fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Arc::try_unwrap(self.0).map_err(SharedFd)
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

/// Registers an owned fd with the current tokio runtime's reactor, for both directions.
///
/// # Errors
///
/// When the reactor refuses the fd.
///
/// # Panics
///
/// Outside a tokio runtime, as tokio's `AsyncFd` does.
pub fn register(fd: OwnedFd) -> std::io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    let interest = tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE;
    // SAFETY: the `AsyncFd` owns `fd`, so the raw fd it registers stays open and names the
    // same file description until the `AsyncFd` is dropped or gives it back.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, interest) }
        .map_err(std::io::Error::from)
}
