//! Poisoning: what a panic inside the driver turns into.
//!
//! The ring is turned by the driver task and by tokio's park hook (`wake.rs`), and by
//! `release_cancelled`; all of them go through [`Ring::turn`], which catches a panic
//! instead of letting it kill the driver task or unwind out of the worker. After such a
//! panic the slab may be inconsistent (a CQE reaped and never applied, a slot half
//! moved), so the ring is *poisoned*: it logs the panic, never turns again, wakes every
//! task waiting on one of its ops, and from then on every poll of an op still in flight
//! and every new push fails with the same error, naming the worker and the panic (a
//! multishot op ends instead, and the caller's next submission gets the error).
//!
//! A poisoned ring never frees what the kernel may still use: an op that fails this way
//! leaves its resources in its slot, and the slab, the remote queue and the ring's
//! registration are leaked when the ring drops (see the table in `lifecycle.rs`). An op
//! whose output carries its buffer (`BufResult`) cannot return it, so its poll panics
//! with the error instead: the task fails with a clear message rather than hanging.

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::Ring;
use crate::context;

impl Ring {
    /// One turn of the driver: take ops dropped on other threads, submit queued SQEs,
    /// run deferred completions and reap the CQ; returns how many CQEs it reaped. A
    /// panic poisons the ring; a poisoned ring does nothing.
    pub(crate) fn turn(&mut self) -> usize {
        let mut reaped = 0;
        // A poisoned ring has nothing left to turn; its error reaches the ops' polls.
        let _ = self.guarded(|ring| reaped = ring.turn_once());
        reaped
    }

    /// Runs `f` on the ring unless it is poisoned; a panic in `f` poisons it.
    ///
    /// # Errors
    ///
    /// The poisoned error, when the ring was poisoned before or by `f`.
    pub(super) fn guarded(&mut self, f: impl FnOnce(&mut Ring)) -> io::Result<()> {
        if let Some(err) = self.poisoned() {
            return Err(err);
        }
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(()) => Ok(()),
            Err(payload) => Err(self.poison(&panic_message(&*payload))),
        }
    }

    /// Fails the ring: records why, and collects the waker of every task waiting on an
    /// op so it sees the error (woken after the ring's borrow ends). Returns the error.
    fn poison(&mut self, panic: &str) -> io::Error {
        let worker = self.remote.worker();
        tracing::error!(
            ring = self.id(),
            worker,
            panic,
            "the io_uring driver panicked; the operations of this worker's ring fail from now on"
        );
        let owner = worker.map_or_else(|| format!("ring {}", self.id()), |w| format!("worker {w}"));
        let message = format!(
            "corio: the io_uring driver of {owner} panicked: {panic}; its operations cannot \
             complete"
        );
        self.remote.poison(message.clone());
        self.ready.extend(
            self.ops
                .iter_mut()
                .filter_map(|(_, slot)| slot.take_waker()),
        );
        if let Some(driver) = self.driver.take() {
            self.ready.push(driver);
        }
        io::Error::other(message)
    }

    /// True once the driver panicked.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.remote.poisoned().is_some()
    }

    /// The error every op of a poisoned ring fails with; `None` while it is healthy.
    pub(crate) fn poisoned(&self) -> Option<io::Error> {
        self.remote.poisoned().map(io::Error::other)
    }

    /// Records the worker that owns this ring, for the poisoned error.
    pub(crate) fn set_worker(&self, worker: usize) {
        self.remote.set_worker(worker);
    }

    /// Panics when [`panic_in_driver_once`] armed this ring.
    pub(super) fn injected_panic(&self) {
        if self.remote.take_armed_panic() {
            panic!("corio: injected driver panic (corio::__private::panic_in_driver_once)");
        }
    }
}

/// Makes this thread's ring panic at its next turn, for tests of poisoning. False on a
/// thread without a ring, where it does nothing.
pub(crate) fn panic_in_driver_once() -> bool {
    context::with_ring(|ring| ring.remote.arm_panic()).is_some()
}

/// The text of a panic payload (`panic!` with a message gives a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use super::*;
    use crate::driver::{Lifecycle, RingConfig};
    use crate::Socket;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Installs a ring for worker 7 on this test thread; false (skip) without io_uring.
    fn install_ring() -> bool {
        match Ring::new(RingConfig::new(16), Default::default()) {
            Ok(ring) => {
                ring.set_worker(7);
                context::set_ring(Some(ring));
                true
            }
            Err(reason) if !crate::__private::uring_required() => {
                eprintln!("skipping: no io_uring here: {reason}");
                false
            }
            Err(reason) => panic!("no io_uring: {reason}"),
        }
    }

    fn turn() {
        context::with_ring(Ring::turn).expect("a ring");
        context::wake_ready();
    }

    fn in_flight() -> usize {
        context::with_ring(|ring| ring.in_flight()).expect("a ring")
    }

    const MESSAGE: &str = "corio: the io_uring driver of worker 7 panicked: corio: injected \
                           driver panic (corio::__private::panic_in_driver_once); its \
                           operations cannot complete";

    #[test]
    fn a_driver_panic_fails_every_op_and_leaks_what_the_kernel_holds() {
        if !install_ring() {
            return;
        }
        let (ours, _peer) = UnixStream::pair().unwrap();
        let socket = Socket::from_owned(OwnedFd::from(ours));
        let recv = socket
            .recv(Vec::with_capacity(64))
            .map_err(|(e, _)| e)
            .unwrap();
        let poll = socket.poll_events(libc::POLLIN as u32).unwrap();
        let mut multi = socket.poll_events_multi(libc::POLLIN as u32).unwrap();
        let unpolled = socket
            .recv(Vec::with_capacity(64))
            .map_err(|(e, _)| e)
            .unwrap();
        let (mut recv, mut poll) = (pin!(recv), pin!(poll));
        let woken = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        assert!(poll.as_mut().poll(&mut cx).is_pending());
        assert!(multi.poll_next(&mut cx).is_pending());
        turn();
        assert_eq!(in_flight(), 4, "the peer never writes: all four wait");

        assert!(panic_in_driver_once());
        turn();
        assert_eq!(
            woken.0.load(Ordering::SeqCst),
            3,
            "every waiting task is woken"
        );
        match poll.as_mut().poll(&mut cx) {
            Poll::Ready(Err(err)) => assert_eq!(err.to_string(), MESSAGE),
            other => panic!("the poll must fail, got {other:?}"),
        }
        assert!(
            matches!(multi.poll_next(&mut cx), Poll::Ready(None)),
            "a multishot poll ends"
        );
        let panicked = catch_unwind(AssertUnwindSafe(|| recv.as_mut().poll(&mut cx)))
            .expect_err("a recv cannot give back the buffer the kernel holds");
        let text = panic_message(&*panicked);
        assert!(text.starts_with(MESSAGE), "{text}");
        drop(unpolled);
        let err = socket.poll_events(libc::POLLIN as u32).unwrap_err();
        assert_eq!(err.to_string(), MESSAGE, "a new op fails too");
        drop(multi);
        turn();
        assert_eq!(in_flight(), 4, "every op's resources stay in the slab");

        drop(context::set_ring(None));
        assert!(
            socket.into_owned().is_err(),
            "the leaked ops still hold the socket: the kernel may use it"
        );
    }

    #[test]
    fn a_completed_op_keeps_its_result_on_a_poisoned_ring() {
        if !install_ring() {
            return;
        }
        let mut nop = pin!(crate::nop());
        let waker = Waker::from(Arc::new(CountWake(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        assert!(nop.as_mut().poll(&mut cx).is_pending());
        let completed = |ring: &mut Ring| {
            ring.ops
                .iter()
                .any(|(_, slot)| matches!(slot, Lifecycle::Completed(_)))
        };
        for _ in 0..100 {
            if context::with_ring(completed) == Some(true) {
                break;
            }
            turn();
        }
        assert_eq!(
            context::with_ring(completed),
            Some(true),
            "the NOP completed"
        );
        assert!(panic_in_driver_once());
        turn();
        assert!(matches!(nop.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
        assert_eq!(in_flight(), 0, "the kernel had let go: the slot is freed");
        drop(context::set_ring(None));
    }

    #[test]
    fn without_a_ring_the_hook_does_nothing() {
        assert!(!panic_in_driver_once());
    }
}
