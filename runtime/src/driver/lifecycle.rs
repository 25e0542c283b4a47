//! The state of one slot in the Ring's op slab, and its transitions.
//!
//! `user_data` of every SQE is the slot's index in the slab (see the reserved values
//! in `driver/mod.rs`). The op future ([`Op`](super::op::Op)) owns its resources (buffers,
//! fds, addresses) while it is alive; the slab owns them once the future is dropped.
//!
//! | state        | resources owned by           | moved on                          | to          |
//! |--------------|------------------------------|-----------------------------------|-------------|
//! | `Submitted`  | the `Op` future              | `Op` polled                       | `Waiting`   |
//! |              |                              | final CQE                         | `Completed` |
//! |              |                              | `Op` dropped (or detached)        | `Cancelled` |
//! | `Waiting`    | the `Op` future              | final CQE (waker woken)           | `Completed` |
//! |              |                              | `Op` dropped                      | `Cancelled` |
//! | `Completed`  | the `Op` future              | `Op` polled: result taken, slot freed by the poll | (free) |
//! |              |                              | `Op` dropped: slot freed by the drop | (free)   |
//! | `Cancelled`  | the slab (`Box<dyn Orphan>`) | final CQE: resources dropped, slot freed by reaping | (free) |
//! | `Streaming`  | the `Op` future              | CQE with `F_MORE`: queued, waker woken | `Streaming` |
//! |              |                              | final CQE: queued, `finished` set | `Streaming` |
//! |              |                              | `Op` dropped before `finished`    | `Cancelled` |
//! | `Sink`       | the slab (a gate's `Feed`)   | CQE with `F_MORE`: delivered      | `Sink`      |
//! |              |                              | final CQE: delivered, slot freed by reaping | (free) |
//!
//! A sink has no future: its CQEs are delivered as they are reaped, with the bytes of the
//! provided buffer they name, which goes back to the kernel right after. Whoever armed it
//! stops it with [`Ring::cancel_sink`](super::Ring::cancel_sink), naming its serial, so a
//! late request never reaches an op that reused the slot.
//!
//! A detached op (a send already reported to the user as written) moves to `Cancelled`
//! without an `AsyncCancel`: the kernel finishes it, then its resources are dropped.
//!
//! Rules: a slot is freed only after its final CQE (one without `IORING_CQE_F_MORE`) has
//! been seen; dropping an op never blocks (it pushes an `AsyncCancel` and leaves the
//! resources in the slot); only `Ring`'s `Drop` at shutdown waits for CQEs.
//!
//! # A poisoned ring
//!
//! When the ring's driver panics (see `poison.rs`), no CQE is applied any more, so no
//! slot moves on its own again:
//!
//! | state        | on poisoning                  | then                                   |
//! |--------------|-------------------------------|----------------------------------------|
//! | `Submitted`  | —                             | `Op` polled: resources move into the slot (`Cancelled`), the op fails |
//! | `Waiting`    | waker taken and woken: `Submitted` | as `Submitted`                    |
//! | `Completed`  | —                             | `Op` polled: its result, slot freed (the kernel let go) |
//! | `Cancelled`  | —                             | never freed: leaked with the slab when the ring drops |
//! | `Streaming`  | waker taken and woken         | queued CQEs still delivered, then the op ends: resources move into the slot (`Cancelled`) |
//! | `Sink`       | told it is abandoned (`Feed::abandon`) | never freed: leaked with the slab |
//!
//! An op dropped after poisoning moves its resources into its slot too, without an
//! `AsyncCancel` (a poisoned ring submits nothing). Resources the kernel may still use
//! are never freed: they end leaked, with the slab.

use std::collections::VecDeque;
use std::task::Waker;

use crate::gate::Feed;

/// One CQE's payload: `res` and `flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The CQE's `res`: a count or a handle when non-negative, `-errno` otherwise.
    pub(crate) result: i32,
    /// The CQE's `flags` (`IORING_CQE_F_*`).
    pub(crate) flags: u32,
}

impl Completion {
    /// True when more CQEs will follow for the same SQE (multishot).
    pub(crate) fn has_more(&self) -> bool {
        io_uring::cqueue::more(self.flags)
    }
}

/// Resources of an op that was dropped before its final CQE. Every CQE still arriving
/// for it is shown to [`Orphan::discard`] so it can release what the kernel handed out
/// (an accepted fd, a provided buffer) before the slot is freed.
pub(crate) trait Orphan {
    /// Releases whatever `completion` carries.
    fn discard(&mut self, completion: Completion);
}

/// The state of one op slot. See the table in the module docs.
pub(crate) enum Lifecycle {
    /// Pushed to the SQ; no task has polled it yet.
    Submitted,
    /// A task polled the op and waits for its final CQE.
    Waiting(Waker),
    /// The final CQE arrived and waits for the op's next poll.
    Completed(Completion),
    /// The op was dropped; the resources stay here until the final CQE.
    Cancelled(Box<dyn Orphan>),
    /// A multishot op: CQEs queue here until the op is polled.
    Streaming {
        /// The task to wake on the next CQE.
        waker: Option<Waker>,
        /// CQEs not yet taken by the op.
        queue: VecDeque<Completion>,
        /// The final CQE (without `F_MORE`) is in `queue` or was taken.
        finished: bool,
    },
    /// A receive into provided buffers whose CQEs go to a stream's [`Feed`] as they are
    /// reaped, on the ring's thread, instead of to a polled future. Held in the slot
    /// itself, so a CQE reaches the stream's gate through one pointer.
    Sink(Feed),
}

/// What the reaper must do after a CQE was applied to a slot.
#[derive(Debug)]
pub(crate) enum Transition {
    /// Nothing more to do.
    Stay,
    /// Wake this task.
    Wake(Waker),
    /// The slot's final CQE arrived for a dropped op or a sink: free the slot.
    Free,
    /// A sink asked to be cancelled.
    Cancel,
}

impl Lifecycle {
    /// The state of a freshly pushed op.
    pub(crate) fn new(multishot: bool) -> Lifecycle {
        if multishot {
            Lifecycle::Streaming {
                waker: None,
                queue: VecDeque::new(),
                finished: false,
            }
        } else {
            Lifecycle::Submitted
        }
    }

    /// Applies a CQE to this slot and says what the reaper must do next; `bytes` are the
    /// contents of the provided buffer the CQE names (only a sink's CQEs name one).
    pub(crate) fn complete(&mut self, completion: Completion, bytes: &[u8]) -> Transition {
        let last = !completion.has_more();
        match self {
            Lifecycle::Sink(sink) => {
                let keep = sink.deliver(completion, bytes);
                match (last, keep) {
                    (true, _) => Transition::Free,
                    (false, true) => Transition::Stay,
                    (false, false) => Transition::Cancel,
                }
            }
            Lifecycle::Submitted => {
                *self = Lifecycle::Completed(completion);
                Transition::Stay
            }
            Lifecycle::Waiting(_) => {
                match std::mem::replace(self, Lifecycle::Completed(completion)) {
                    Lifecycle::Waiting(waker) => Transition::Wake(waker),
                    _ => unreachable!("Waiting"),
                }
            }
            Lifecycle::Cancelled(orphan) => {
                orphan.discard(completion);
                if last {
                    Transition::Free
                } else {
                    Transition::Stay
                }
            }
            Lifecycle::Streaming {
                waker,
                queue,
                finished,
            } => {
                debug_assert!(!*finished, "CQE after the final one of a multishot op");
                queue.push_back(completion);
                *finished = last;
                waker.take().map_or(Transition::Stay, Transition::Wake)
            }
            Lifecycle::Completed(_) => unreachable!("CQE for a Completed op"),
        }
    }

    /// The ring was poisoned: takes the waker of the task waiting on this slot, which
    /// must be woken to see the error. The resources stay where they are.
    pub(crate) fn take_waker(&mut self) -> Option<Waker> {
        match self {
            Lifecycle::Waiting(_) => match std::mem::replace(self, Lifecycle::Submitted) {
                Lifecycle::Waiting(waker) => Some(waker),
                _ => unreachable!("Waiting"),
            },
            Lifecycle::Streaming { waker, .. } => waker.take(),
            Lifecycle::Sink(sink) => {
                sink.abandon();
                None
            }
            Lifecycle::Submitted | Lifecycle::Completed(_) | Lifecycle::Cancelled(_) => None,
        }
    }

    /// True when the kernel has let go of this op (no CQE will follow).
    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Lifecycle::Completed(_) => true,
            Lifecycle::Streaming {
                finished, queue, ..
            } => *finished && queue.is_empty(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// `IORING_CQE_F_MORE`, from io_uring.h.
    const MORE: u32 = 1 << 1;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Recorder(Arc<AtomicUsize>);
    impl Orphan for Recorder {
        fn discard(&mut self, _: Completion) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Lifecycle {
        fn complete_test(&mut self, completion: Completion) -> Transition {
            self.complete(completion, &[])
        }
    }

    fn cqe(result: i32, flags: u32) -> Completion {
        Completion { result, flags }
    }

    #[test]
    fn waiting_op_is_woken_and_completed() {
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let mut slot = Lifecycle::Waiting(Waker::from(counter.clone()));
        match slot.complete_test(cqe(5, 0)) {
            Transition::Wake(w) => w.wake(),
            other => panic!("expected a wake, got {other:?}"),
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(slot, Lifecycle::Completed(c) if c.result == 5));
        assert!(slot.is_finished());
    }

    #[test]
    fn cancelled_op_keeps_resources_until_final_cqe() {
        let seen = Arc::new(AtomicUsize::new(0));
        let mut slot = Lifecycle::Cancelled(Box::new(Recorder(seen.clone())));
        assert!(matches!(slot.complete_test(cqe(3, MORE)), Transition::Stay));
        assert!(matches!(slot.complete_test(cqe(-125, 0)), Transition::Free));
        assert_eq!(seen.load(Ordering::SeqCst), 2, "every CQE reaches discard");
    }

    #[test]
    fn streaming_queues_until_final() {
        assert!(cqe(0, MORE).has_more());
        let mut slot = Lifecycle::new(true);
        slot.complete_test(cqe(1, MORE));
        assert!(!slot.is_finished());
        slot.complete_test(cqe(2, 0));
        match &mut slot {
            Lifecycle::Streaming {
                queue, finished, ..
            } => {
                assert!(*finished);
                assert_eq!(queue.pop_front().map(|c| c.result), Some(1));
                assert_eq!(queue.pop_front().map(|c| c.result), Some(2));
            }
            _ => panic!("not streaming"),
        }
        assert!(slot.is_finished());
    }

    /// Counts its drops: resources the slot must keep alive.
    struct Kept(Arc<AtomicUsize>);
    impl Orphan for Kept {
        fn discard(&mut self, _: Completion) {}
    }
    impl Drop for Kept {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn poisoning_takes_the_waiting_task_and_leaves_the_op_in_flight() {
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let mut slot = Lifecycle::Waiting(Waker::from(counter.clone()));
        slot.take_waker().expect("the waiting task").wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(
            matches!(slot, Lifecycle::Submitted),
            "nobody waits any more"
        );
        assert!(!slot.is_finished(), "the kernel still owns the op");
        assert!(slot.take_waker().is_none(), "woken once");
    }

    #[test]
    fn poisoning_a_stream_keeps_its_queued_cqes() {
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let mut slot = Lifecycle::new(true);
        slot.complete_test(cqe(1, MORE));
        if let Lifecycle::Streaming { waker, .. } = &mut slot {
            *waker = Some(Waker::from(counter.clone()));
        }
        slot.take_waker().expect("the waiting task").wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        match &slot {
            Lifecycle::Streaming {
                waker,
                queue,
                finished,
            } => {
                assert!(waker.is_none());
                assert_eq!(queue.len(), 1, "queued CQEs are still delivered");
                assert!(!*finished);
            }
            _ => panic!("not streaming"),
        }
    }

    #[test]
    fn poisoning_keeps_cancelled_resources_and_completed_results() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut slot = Lifecycle::Cancelled(Box::new(Kept(dropped.clone())));
        assert!(slot.take_waker().is_none());
        assert!(matches!(slot, Lifecycle::Cancelled(_)));
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            0,
            "the kernel may still use them"
        );
        drop(slot);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "freed only with the slot"
        );

        let mut slot = Lifecycle::Completed(cqe(9, 0));
        assert!(slot.take_waker().is_none());
        assert!(matches!(slot, Lifecycle::Completed(c) if c.result == 9));
    }

    #[test]
    fn submitted_op_completes_without_waker() {
        let mut slot = Lifecycle::new(false);
        assert!(matches!(slot.complete_test(cqe(0, 0)), Transition::Stay));
        assert!(slot.is_finished());
    }
}
