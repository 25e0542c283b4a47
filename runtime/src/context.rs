//! The only thread-locals: the current worker (its id, the runtime it belongs to and its
//! `LocalSet`) and the worker's Ring.
//!
//! Borrows of the Ring are short: never held across `.await` or while waking a task.
//! Wakers released by the ring are collected inside the borrow and woken by
//! [`wake_ready`] after it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use tokio::task::LocalSet;

use crate::driver::Ring;
use crate::runtime::Shared;

/// What a worker thread knows about itself.
pub(crate) struct Worker {
    pub(crate) id: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) local: Rc<LocalSet>,
    /// Round-robin cursor of `corio::spawn` on this worker.
    pub(crate) next: Cell<usize>,
}

thread_local! {
    static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
    static WORKER: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's ring; `None` when the thread has none.
pub(crate) fn with_ring<R>(f: impl FnOnce(&mut Ring) -> R) -> Option<R> {
    RING.with(|ring| ring.borrow_mut().as_mut().map(f))
}

/// True when this thread has a ring (a worker of the uring backend).
pub(crate) fn has_ring() -> bool {
    RING.with(|ring| ring.borrow().is_some())
}

/// Installs (or with `None`, removes and returns) this thread's ring.
pub(crate) fn set_ring(ring: Option<Ring>) -> Option<Ring> {
    RING.with(|slot| std::mem::replace(&mut *slot.borrow_mut(), ring))
}

/// Wakes the tasks the ring released while it was borrowed.
pub(crate) fn wake_ready() {
    let Some(Some(mut ready)) =
        with_ring(|ring| (!ring.ready_is_empty()).then(|| ring.take_ready()))
    else {
        return;
    };
    ready.drain(..).for_each(std::task::Waker::wake);
    with_ring(|ring| ring.recycle_ready(ready));
}

/// The current worker, if this thread is one.
pub(crate) fn worker() -> Option<Rc<Worker>> {
    WORKER.with(|worker| worker.borrow().clone())
}

/// The current worker; panics with `what` named when called outside one.
pub(crate) fn expect_worker(what: &str) -> Rc<Worker> {
    worker().unwrap_or_else(|| {
        panic!("{what} must be called from a corio worker (inside corio::main, a corio::Runtime or a task it runs)")
    })
}

/// Installs (or removes) this thread's worker identity.
pub(crate) fn set_worker(worker: Option<Rc<Worker>>) {
    WORKER.with(|slot| *slot.borrow_mut() = worker);
}
