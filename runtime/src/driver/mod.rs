//! `Ring`: one worker's io_uring, its op slab and its wake-up eventfd.
//!
//! A `Ring` lives in the worker's thread-local context (`context.rs`) and is only ever
//! touched by that thread. Ops push SQEs into it while tasks run (`submit.rs`); the SQ is
//! flushed, and the CQ reaped, by the worker's driver task and by tokio's park hook
//! (`wake.rs`, `complete.rs`). Ops dropped on another thread reach the ring through its
//! [`Remote`] handle. See `lifecycle.rs` for who owns an op's resources when, and
//! `poison.rs` for what a panic inside the driver turns into.

mod complete;
mod enter;
mod lifecycle;
mod msg;
pub(crate) mod op;
mod poison;
mod probe;
mod recv;
mod remote;
mod submit;
mod wake;

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::Waker;

use io_uring::IoUring;
use slab::Slab;

use crate::buf::ProvidedBufs;

pub(crate) use lifecycle::{Completion, Orphan};
pub use msg::{msg_ring_round_trips, MsgPark};
pub(crate) use poison::panic_in_driver_once;
pub(crate) use probe::{probe, RingConfig, Setup};
pub(crate) use recv::{refuse_multishot, RecvConfig};
pub use recv::{RecvMode, RECV_ENV};
pub(crate) use remote::Remote;
pub(crate) use wake::{on_park, DriverTask};

use crate::metrics::Counters;
use enter::EnterFd;
use lifecycle::Lifecycle;

/// `user_data` of SQEs whose CQE nobody waits for (`AsyncCancel` requests). Slab
/// indices never reach it.
pub(crate) const UNTRACKED: u64 = u64::MAX;

/// A worker's io_uring with the slab of ops in flight.
///
/// # Invariants
///
/// - Every SQE pushed with a slab index as `user_data` has a live slot in `ops` until its
///   final CQE has been reaped; the resources the SQE points into are owned either by the
///   `Op` future of that slot or by the slot itself (`Lifecycle::Cancelled`).
/// - The ring is only used from the thread that created it.
/// - Once poisoned (`poison.rs`) the ring submits and reaps nothing, and frees no slot
///   the kernel may still use: such slots are leaked with the slab.
pub(crate) struct Ring {
    /// Declared before `uring`: it unregisters the ring fd before the fd closes.
    enter: EnterFd,
    uring: IoUring,
    ops: Slab<Lifecycle>,
    /// Wakers collected while the ring was borrowed; woken once the borrow is released.
    ready: Vec<Waker>,
    /// The worker's driver task, woken when SQEs wait to be submitted.
    driver: Option<Waker>,
    /// True while the driver task has been woken and not yet run.
    driver_notified: bool,
    remote: Arc<Remote>,
    setup: Setup,
    /// The worker's metrics counters (`metrics.rs`).
    counters: Arc<Counters>,
    /// How streams receive, and the buffers they receive into (`recv.rs`).
    recv: RecvConfig,
    provided: Provided,
}

/// The provided buffers of a ring, registered by the first receive that needs them.
#[derive(Debug)]
enum Provided {
    Unregistered,
    Ready(ProvidedBufs),
    /// The kernel refused them (before Linux 5.19), or the ring is closing.
    Refused,
}

impl Ring {
    /// A process-unique id of this ring, stored in every op it owns.
    pub(crate) fn id(&self) -> usize {
        self.remote.id()
    }

    /// The eventfd the kernel signals when completions are ready.
    pub(crate) fn eventfd(&self) -> Arc<OwnedFd> {
        self.remote.eventfd()
    }

    /// Number of slots in use (ops in flight, or completed and not yet taken).
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// True when no woken task waits in the list.
    pub(crate) fn ready_is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// Takes the wakers collected while the ring was borrowed.
    pub(crate) fn take_ready(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.ready)
    }

    /// Returns an emptied waker list so its allocation is reused.
    pub(crate) fn recycle_ready(&mut self, list: Vec<Waker>) {
        debug_assert!(list.is_empty());
        if self.ready.is_empty() {
            self.ready = list;
        }
    }

    /// The body of [`Ring::turn`], which runs it with panics caught (`poison.rs`).
    fn turn_once(&mut self) -> usize {
        self.adopt_remote_orphans();
        if let Err(err) = self.flush() {
            tracing::error!(error = %err, "io_uring submit failed");
        }
        self.injected_panic();
        let reaped = self.reap();
        self.counters.ops_in_flight.set(self.ops.len() as u64);
        self.counters
            .cq_dropped
            .set(u64::from(self.uring.completion().overflow()));
        reaped
    }

    /// True while the kernel holds deferred completions this ring has not run yet
    /// (`IORING_SQ_TASKRUN`): one `io_uring_enter` runs at most a few dozen of them and
    /// sets the flag again for the rest.
    pub(crate) fn has_deferred_work(&mut self) -> bool {
        !self.is_poisoned() && self.uring.submission().taskrun()
    }

    /// Lets the kernel signal the eventfd for new completions (`quiet` false), or stops
    /// it (`IORING_CQ_EVENTFD_DISABLED`) while the driver task polls the ring on its own;
    /// returns whether the setting changed.
    pub(crate) fn quiet_eventfd(&mut self, quiet: bool) -> bool {
        let cq = self.uring.completion();
        if cq.eventfd_disabled() == quiet {
            return false;
        }
        if quiet {
            cq.disable_eventfd();
        } else {
            cq.enable_eventfd();
        }
        true
    }

    /// Counts an eventfd wake-up of the driver task.
    pub(crate) fn count_eventfd_wakeup(&self) {
        self.counters.eventfd_wakeups.add(1);
    }

    /// Records the driver task's waker; it is woken when SQEs wait for submission.
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        self.driver_notified = false;
        match &self.driver {
            Some(current) if current.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
    }

    fn notify_driver(&mut self) {
        if !self.driver_notified {
            if let Some(waker) = &self.driver {
                self.driver_notified = true;
                self.ready.push(waker.clone());
            }
        }
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("id", &self.id())
            .field("in_flight", &self.ops.len())
            .field("poisoned", &self.is_poisoned())
            .field("setup", &self.setup)
            .finish()
    }
}
