//! The only thread-locals: the current worker (its id, the runtime it belongs to and its
//! `LocalSet`), the worker's Ring, and the runtime a non-worker thread is a guest of.
//!
//! A thread is a *guest* of a runtime while it runs [`Runtime::block_on`] or holds an
//! [`EnterGuard`]: `corio::spawn`, `corio::backend()` and socket creation then answer for
//! that runtime, with worker 0 as the guest's home. An entered guest takes precedence over
//! the worker a thread may also be, since it was set most recently.
//!
//! Borrows of the Ring are short: never held across `.await` or while waking a task.
//! Wakers released by the ring are collected inside the borrow and woken by
//! [`wake_ready`] after it.
//!
//! [`Runtime::block_on`]: crate::Runtime::block_on
//! [`EnterGuard`]: crate::EnterGuard

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::task::{JoinHandle, LocalSet};

use crate::driver::Ring;
use crate::metrics::Counters;
use crate::runtime::Shared;

/// What a worker thread knows about itself.
pub(crate) struct Worker {
    pub(crate) id: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) local: Rc<LocalSet>,
    /// Round-robin cursor of `corio::spawn` on this worker.
    pub(crate) next: Cell<usize>,
}

/// The corio runtime the current thread belongs to.
pub(crate) enum Current {
    /// One of the runtime's worker threads.
    Worker(Rc<Worker>),
    /// A thread inside `block_on` or an `EnterGuard` of the runtime.
    Guest(Arc<Shared>),
}

impl Current {
    /// The runtime's shared state.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        match self {
            Current::Worker(worker) => &worker.shared,
            Current::Guest(shared) => shared,
        }
    }

    /// The tokio handle of the worker that owns what this thread creates: the worker
    /// itself, or worker 0 for a guest.
    pub(crate) fn home(&self) -> &Handle {
        match self {
            Current::Worker(worker) => &worker.shared.handles[worker.id],
            Current::Guest(shared) => &shared.handles[0],
        }
    }

    /// The metrics counters of the worker that owns what this thread creates.
    pub(crate) fn home_counters(&self) -> &Arc<Counters> {
        match self {
            Current::Worker(worker) => &worker.shared.counters[worker.id],
            Current::Guest(shared) => &shared.counters[0],
        }
    }

    /// Spawns `future` where [`Shared::place`] puts the next cursor position: a worker
    /// uses its own cursor, so no state is shared on its path; a guest uses the runtime's.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Current::Worker(worker) => {
                let cursor = worker.next.get();
                worker.next.set(cursor.wrapping_add(1));
                worker.shared.spawn_on(worker.shared.place(cursor), future)
            }
            Current::Guest(shared) => shared.spawn(future),
        }
    }
}

thread_local! {
    static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
    static WORKER: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
    static GUEST: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on this thread's ring; `None` when the thread has none.
pub(crate) fn with_ring<R>(f: impl FnOnce(&mut Ring) -> R) -> Option<R> {
    RING.with(|ring| ring.borrow_mut().as_mut().map(f))
}

/// Runs `f` on this thread's ring unless the thread has none or the ring is borrowed
/// further up the stack (a drop that happens while the ring runs).
pub(crate) fn try_with_ring<R>(f: impl FnOnce(&mut Ring) -> R) -> Option<R> {
    RING.with(|ring| ring.try_borrow_mut().ok()?.as_mut().map(f))
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
        panic!(
            "{what} must be called from a corio worker (inside corio::main, \
             `Runtime::block_on_local` or a task the runtime runs)"
        )
    })
}

/// Installs (or removes) this thread's worker identity.
pub(crate) fn set_worker(worker: Option<Rc<Worker>>) {
    WORKER.with(|slot| *slot.borrow_mut() = worker);
}

/// The runtime this thread belongs to: the one it is a guest of, else the one it is a
/// worker of; `None` outside any.
pub(crate) fn current() -> Option<Current> {
    let guest = GUEST.with(|guest| guest.borrow().clone());
    guest
        .map(Current::Guest)
        .or_else(|| worker().map(Current::Worker))
}

/// The runtime this thread belongs to; panics with `what` named when there is none.
pub(crate) fn expect_current(what: &str) -> Current {
    current().unwrap_or_else(|| {
        panic!(
            "{what} must be called from a corio runtime: on a worker, or inside \
             `Runtime::block_on` or `Handle::enter`"
        )
    })
}

/// Makes this thread a guest of `shared` until the guard drops, which restores the
/// runtime it was a guest of before (guards nest).
pub(crate) fn enter_guest(shared: Arc<Shared>) -> GuestGuard {
    let previous = GUEST.with(|guest| guest.borrow_mut().replace(shared));
    GuestGuard {
        previous,
        _not_send: PhantomData,
    }
}

/// Restores the previous guest runtime of this thread on drop.
#[derive(Debug)]
pub(crate) struct GuestGuard {
    previous: Option<Arc<Shared>>,
    /// The guard restores a thread-local: it must drop on the thread that made it.
    _not_send: PhantomData<Rc<()>>,
}

impl Drop for GuestGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        GUEST.with(|guest| *guest.borrow_mut() = previous);
    }
}

/// Marks this thread as blocked on a runtime until the guard drops.
///
/// # Panics
///
/// On a worker thread, or while this thread already blocks on a runtime: blocking there
/// would stall the tasks the thread is driving.
#[track_caller]
pub(crate) fn enter_blocking() -> BlockingGuard {
    let nested = worker().is_some() || BLOCKING.with(|blocking| blocking.replace(true));
    assert!(
        !nested,
        "Cannot start a corio runtime from within a runtime. This happens because a \
         function (like `block_on`) attempted to block the current thread while the \
         thread is being used to drive asynchronous tasks; use `.await` or \
         `corio::spawn` instead."
    );
    BlockingGuard {
        _not_send: PhantomData,
    }
}

/// Clears the blocking mark of this thread on drop.
#[derive(Debug)]
pub(crate) struct BlockingGuard {
    /// The guard clears a thread-local: it must drop on the thread that made it.
    _not_send: PhantomData<Rc<()>>,
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        BLOCKING.with(|blocking| blocking.set(false));
    }
}
