//! `SharedFd`: a file descriptor that stays open while any op in flight holds it.
//!
//! A socket's fd number must not be closed (and so reused by a new socket) while an SQE
//! naming it may still be waiting in the SQ or running in the kernel. Every op keeps a
//! clone in its resources; the fd closes when the socket and every op have let go.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

/// A reference-counted owned file descriptor. The number is kept next to the count, so
/// reading it (every `send(2)` and `recv(2)` does) touches no memory but the handle's own.
#[derive(Debug, Clone)]
pub(crate) struct SharedFd {
    raw: RawFd,
    owned: Arc<OwnedFd>,
}

impl SharedFd {
    /// Takes ownership of `fd`.
    pub(crate) fn new(fd: OwnedFd) -> SharedFd {
        SharedFd {
            raw: fd.as_raw_fd(),
            owned: Arc::new(fd),
        }
    }

    /// The raw fd, valid while this handle lives.
    pub(crate) fn raw(&self) -> RawFd {
        self.raw
    }

    /// The owned fd back, if no op holds it any more.
    pub(crate) fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        let raw = self.raw;
        Arc::try_unwrap(self.owned).map_err(|owned| SharedFd { raw, owned })
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: `raw` is the number of the `OwnedFd` that `owned` keeps open for as long
        // as `self`, which the returned borrow cannot outlive, lives.
        unsafe { BorrowedFd::borrow_raw(self.raw) }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `raw` names an open file description of this process.
    fn is_open(raw: RawFd) -> bool {
        std::fs::read_link(format!("/proc/self/fd/{raw}")).is_ok()
    }

    #[test]
    fn every_handle_names_the_fd_and_keeps_it_open() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let owned = OwnedFd::from(a);
        let raw = owned.as_raw_fd();
        let first = SharedFd::new(owned);
        let second = first.clone();
        drop(first);
        assert_eq!(second.as_fd().as_raw_fd(), raw);
        assert!(is_open(raw), "a clone keeps the fd open");
        let second = match second.clone().try_unwrap() {
            Ok(_) => panic!("two handles: the fd is shared"),
            Err(back) => {
                assert_eq!(back.raw(), raw, "a failed unwrap gives the same fd back");
                drop(second);
                back
            }
        };
        let owned = second.try_unwrap().expect("the last handle unwraps");
        assert_eq!(owned.as_raw_fd(), raw);
    }
}
