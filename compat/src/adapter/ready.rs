//! Readiness on the uring backend: what tokio's `ready`, `readable`, `writable` and
//! `poll_*_ready` need, built on `IORING_OP_POLL_ADD`.
//!
//! Each direction of a socket keeps at most one one-shot poll in flight, owned by the
//! socket rather than by the future that asked, so a dropped `readable()` loses nothing and
//! the next call picks the same poll up. As in tokio, readiness is cached once reported and
//! cleared only when a `try_*` call fails with `WouldBlock`; it may be spurious (the next
//! `try_*` then says `WouldBlock`). Any completion of the poll counts as ready for its
//! direction, errors and hang-ups included, so a socket in error never makes a waiter spin:
//! the `try_*` call that follows reports the error.
//!
//! Several tasks may wait on one direction at once through `&self` (an `Arc<TcpStream>`
//! shared by tasks, a `UdpSocket` with two receivers). An op has a single waker slot, so
//! shared waits poll it with one [`Waiters`] waker that wakes every registered task.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll, Wake, Waker};

use corio_runtime::{PollEvents, Socket};
use tokio::io::{Interest, Ready};

/// Tasks waiting on the same shared op.
#[derive(Debug, Default)]
struct WaiterList(Mutex<Vec<Waker>>);

impl Wake for WaiterList {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiting = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// A waker that wakes every task registered with it: shared ops are polled with it.
#[derive(Debug)]
pub(crate) struct Waiters {
    list: Arc<WaiterList>,
    waker: Waker,
}

impl Default for Waiters {
    fn default() -> Waiters {
        let list = Arc::new(WaiterList::default());
        let waker = Waker::from(list.clone());
        Waiters { list, waker }
    }
}

impl Waiters {
    /// Adds the task of `cx` (once) and returns the waker to poll the shared op with.
    pub(crate) fn register(&self, cx: &Context<'_>) -> Waker {
        let mut list = self.list.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !list.iter().any(|w| w.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        self.waker.clone()
    }

    /// The shared waker, to poll the op without registering anyone (a `try_*` check that
    /// must not steal the op's waker from the tasks waiting on it).
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }
}

/// One direction's readiness: a one-shot POLL_ADD kept across polls, and the cached result.
#[derive(Debug)]
pub(crate) struct Readiness {
    events: u32,
    op: Option<PollEvents>,
    ready: Ready,
}

impl Readiness {
    /// Readiness for reads: `POLLIN`, and `POLLRDHUP` to see the peer's half-close.
    pub(crate) fn read() -> Readiness {
        Readiness::new((libc::POLLIN | libc::POLLRDHUP) as u32)
    }

    /// Readiness for writes: `POLLOUT`.
    pub(crate) fn write() -> Readiness {
        Readiness::new(libc::POLLOUT as u32)
    }

    fn new(events: u32) -> Readiness {
        Readiness {
            events,
            op: None,
            ready: Ready::EMPTY,
        }
    }

    /// The cached readiness, or waits for the poll in flight (submitting one if none).
    pub(crate) fn poll(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        if !self.ready.is_empty() {
            return Poll::Ready(Ok(self.ready));
        }
        let op = match &mut self.op {
            Some(op) => op,
            None => self.op.insert(socket.poll_events(self.events)?),
        };
        let result = ready!(Pin::new(op).poll(cx));
        self.op = None;
        self.ready = self.convert(result?);
        Poll::Ready(Ok(self.ready))
    }

    /// Records readiness learned another way (a send that completed).
    pub(crate) fn set(&mut self, ready: Ready) {
        self.ready |= ready;
    }

    /// Forgets `ready` after a `try_*` call found the socket not ready after all.
    pub(crate) fn clear(&mut self, ready: Ready) {
        self.ready = self.ready - ready;
    }

    fn convert(&self, mask: u32) -> Ready {
        let mask = mask as i16;
        let hup = mask & libc::POLLHUP != 0;
        let mut ready = if self.events & libc::POLLOUT as u32 != 0 {
            let mut ready = Ready::WRITABLE;
            if hup || mask & libc::POLLERR != 0 {
                ready |= Ready::WRITE_CLOSED;
            }
            ready
        } else {
            let mut ready = Ready::READABLE;
            if hup || mask & libc::POLLRDHUP != 0 {
                ready |= Ready::READ_CLOSED;
            }
            ready
        };
        if mask & libc::POLLERR != 0 {
            ready |= Ready::ERROR;
        }
        ready
    }
}

/// The readiness bits an `interest` waits for, as tokio reports them.
pub(crate) fn mask(interest: Interest) -> Ready {
    let mut mask = Ready::ERROR;
    if interest.is_readable() {
        mask |= Ready::READABLE | Ready::READ_CLOSED;
    }
    if interest.is_writable() {
        mask |= Ready::WRITABLE | Ready::WRITE_CLOSED;
    }
    mask
}

/// Rejects interests the uring backend does not poll for: `PRIORITY`, or none of
/// readable/writable.
pub(crate) fn check(interest: Interest) -> io::Result<()> {
    if interest.is_priority() || !(interest.is_readable() || interest.is_writable()) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "corio: on io_uring, readiness supports Interest::READABLE and WRITABLE only",
        ));
    }
    Ok(())
}

/// Combines the readiness of the two directions for `interest`: ready when either is.
pub(crate) fn combine(
    interest: Interest,
    cx: &mut Context<'_>,
    read: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<Ready>>,
    write: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<Ready>>,
) -> Poll<io::Result<Ready>> {
    if let Err(err) = check(interest) {
        return Poll::Ready(Err(err));
    }
    let mut ready = Ready::EMPTY;
    if interest.is_readable() {
        if let Poll::Ready(result) = read(cx) {
            ready |= result?;
        }
    }
    if interest.is_writable() {
        if let Poll::Ready(result) = write(cx) {
            ready |= result?;
        }
    }
    let ready = ready & mask(interest);
    if ready.is_empty() {
        Poll::Pending
    } else {
        Poll::Ready(Ok(ready))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn shared_waker_wakes_every_task_once() {
        let waiters = Waiters::default();
        let a = Arc::new(Count(AtomicUsize::new(0)));
        let b = Arc::new(Count(AtomicUsize::new(0)));
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let shared = waiters.register(&Context::from_waker(&wa));
        waiters.register(&Context::from_waker(&wa));
        waiters.register(&Context::from_waker(&wb));
        shared.wake_by_ref();
        shared.wake_by_ref();
        assert_eq!(
            a.0.load(Ordering::SeqCst),
            1,
            "registered twice, woken once"
        );
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn poll_masks_map_to_tokio_readiness() {
        let read = Readiness::read();
        let ready = read.convert((libc::POLLIN | libc::POLLRDHUP) as u32);
        assert!(ready.is_readable() && ready.is_read_closed() && !ready.is_writable());
        let ready = read.convert((libc::POLLERR | libc::POLLHUP) as u32);
        assert!(
            ready.is_readable() && ready.is_error(),
            "errors wake readers"
        );
        let write = Readiness::write();
        let ready = write.convert(libc::POLLOUT as u32);
        assert!(ready.is_writable() && !ready.is_write_closed());
        let ready = write.convert(libc::POLLHUP as u32);
        assert!(ready.is_writable() && ready.is_write_closed());
    }

    #[test]
    fn cached_readiness_is_cleared_by_would_block() {
        let mut write = Readiness::write();
        write.set(Ready::WRITABLE);
        assert!(write.ready.is_writable());
        write.clear(Ready::WRITABLE);
        assert!(write.ready.is_empty());
    }

    #[test]
    fn interests_map_like_tokio() {
        assert!(check(Interest::PRIORITY).is_err());
        assert!(check(Interest::ERROR).is_err());
        assert!(check(Interest::READABLE | Interest::WRITABLE).is_ok());
        let m = mask(Interest::READABLE);
        assert!(m.is_readable() && m.is_read_closed() && !m.is_writable());
    }
}
