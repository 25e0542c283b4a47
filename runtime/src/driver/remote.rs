//! The part of a ring other threads may touch: a queue of ops dropped on a thread that
//! does not own them, the eventfd that wakes the owner to take them, and the ring's
//! identity and poison (see `poison.rs`).
//!
//! An op moved to another thread and dropped there cannot touch the owner's slab; it
//! sends its resources here instead. The owner adopts them on its next turn, exactly as
//! if the op had been dropped locally (cancel, keep the resources until the final CQE).
//! A sink (`recv.rs`) stopped from another thread is cancelled the same way, by serial.
//! A ring that did not drain (poisoned, or past its drain timeout) stays registered, so
//! what is sent to it afterwards is leaked with its queue rather than freed.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::{Orphan, Ring};

/// What another thread asks of the ring.
pub(super) enum Message {
    /// An op dropped there: the slot index, the op's resources and whether to cancel the
    /// op (or let it finish).
    Orphan(usize, Box<dyn Orphan + Send>, bool),
    /// Cancel the sink with this serial, if slot `index` still holds it.
    CancelSink(usize, u64),
}

/// The cross-thread handle of one ring.
pub(crate) struct Remote {
    id: usize,
    eventfd: Arc<OwnedFd>,
    /// `None` once the ring has drained and closed: the kernel is done with every op.
    orphans: Mutex<Option<Vec<Message>>>,
    pending: AtomicBool,
    /// The worker that owns the ring, for error messages; set once when it starts.
    worker: OnceLock<usize>,
    /// Why the ring's ops cannot complete, once its driver panicked.
    poison: OnceLock<String>,
    /// Armed by `__private::panic_in_driver_once`: the ring's next turn panics.
    panic_armed: AtomicBool,
}

fn registry() -> &'static Mutex<HashMap<usize, Arc<Remote>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<usize, Arc<Remote>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl Remote {
    /// Creates and registers the remote handle of a new ring.
    pub(super) fn register(eventfd: Arc<OwnedFd>) -> Arc<Remote> {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
        let remote = Arc::new(Remote {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            eventfd,
            orphans: Mutex::new(Some(Vec::new())),
            pending: AtomicBool::new(false),
            worker: OnceLock::new(),
            poison: OnceLock::new(),
            panic_armed: AtomicBool::new(false),
        });
        registry()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(remote.id, remote.clone());
        remote
    }

    /// Finds the ring with this id, if it still runs.
    pub(crate) fn find(id: usize) -> Option<Arc<Remote>> {
        registry()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    pub(super) fn id(&self) -> usize {
        self.id
    }

    pub(super) fn eventfd(&self) -> Arc<OwnedFd> {
        self.eventfd.clone()
    }

    /// Records the worker that owns the ring (the first call wins).
    pub(super) fn set_worker(&self, worker: usize) {
        let _ = self.worker.set(worker);
    }

    /// The worker that owns the ring, if it said so.
    pub(super) fn worker(&self) -> Option<usize> {
        self.worker.get().copied()
    }

    /// Marks the ring poisoned with `message` (the first call wins).
    pub(super) fn poison(&self, message: String) {
        let _ = self.poison.set(message);
    }

    /// Why the ring's ops cannot complete, once it is poisoned.
    pub(super) fn poisoned(&self) -> Option<&str> {
        self.poison.get().map(String::as_str)
    }

    /// Makes the ring's next turn panic.
    pub(super) fn arm_panic(&self) {
        self.panic_armed.store(true, Ordering::Relaxed);
    }

    /// True once after [`Remote::arm_panic`]: the turn asking must panic.
    pub(super) fn take_armed_panic(&self) -> bool {
        self.panic_armed.load(Ordering::Relaxed) && self.panic_armed.swap(false, Ordering::Relaxed)
    }

    /// Hands a dropped op's resources to the owning ring and wakes it. When the ring
    /// has already drained and closed, the resources are dropped here: the kernel has
    /// let go of them.
    pub(crate) fn send_orphan(&self, index: usize, orphan: Box<dyn Orphan + Send>, cancel: bool) {
        self.send(Message::Orphan(index, orphan, cancel));
    }

    /// Asks the owning ring to cancel the sink `serial` in slot `index`, if the slot still
    /// holds it; nothing when the ring has closed (its sinks ended with it).
    pub(crate) fn cancel_sink(&self, index: usize, serial: u64) {
        self.send(Message::CancelSink(index, serial));
    }

    fn send(&self, message: Message) {
        let mut queue = self.orphans.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_mut() else {
            return;
        };
        queue.push(message);
        self.pending.store(true, Ordering::Release);
        self.signal();
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd this handle keeps open.
        let written = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                std::ptr::from_ref(&one).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        if written < 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "eventfd write failed");
        }
    }

    fn take(&self) -> Vec<Message> {
        if !self.pending.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        let mut queue = self.orphans.lock().unwrap_or_else(PoisonError::into_inner);
        queue.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Marks the ring closed and unregisters it; later orphans are dropped by the sender.
    pub(super) fn close(&self) -> Vec<Message> {
        registry()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        let mut queue = self.orphans.lock().unwrap_or_else(PoisonError::into_inner);
        queue.take().unwrap_or_default()
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("id", &self.id)
            .field("worker", &self.worker())
            .field("poisoned", &self.poisoned())
            .finish()
    }
}

impl Ring {
    /// Adopts ops that were dropped on other threads.
    pub(super) fn adopt_remote_orphans(&mut self) {
        for message in self.remote.take() {
            self.counters.remote_orphans.add(1);
            match message {
                Message::Orphan(index, orphan, true) => self.orphan(index, orphan),
                Message::Orphan(index, orphan, false) => self.detach(index, orphan),
                Message::CancelSink(index, serial) => self.cancel_sink(index, serial),
            }
        }
    }
}
