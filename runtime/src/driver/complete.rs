//! Completion: CQEs are reaped from the shared CQ (no syscall), applied to their slot,
//! and the wakers they release are collected so they can be woken after the ring's
//! borrow ends. Also the op-facing polls and the shutdown drain.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use io_uring::types::{SubmitArgs, Timespec};

use super::lifecycle::{Lifecycle, Transition};
use super::{Completion, Ring, UNTRACKED};

/// How long `Ring`'s drop waits for cancelled ops before it gives up and leaks them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

impl Ring {
    /// Applies every CQE in the CQ to its slot; returns how many were reaped.
    pub(crate) fn reap(&mut self) -> usize {
        let mut count = 0;
        for cqe in self.uring.completion() {
            count += 1;
            if cqe.user_data() == UNTRACKED {
                continue;
            }
            let index = cqe.user_data() as usize;
            let completion = Completion {
                result: cqe.result(),
                flags: cqe.flags(),
            };
            crate::trace::trace_op!(
                ring = self.remote.id(),
                index,
                result = completion.result,
                flags = completion.flags,
                "cqe"
            );
            let Some(slot) = self.ops.get_mut(index) else {
                unreachable!("CQE for free slot {index}");
            };
            match slot.complete(completion) {
                Transition::Stay => {}
                Transition::Wake(waker) => self.ready.push(waker),
                Transition::Free => {
                    self.ops.remove(index);
                }
            }
        }
        count
    }

    /// Polls a single-shot op: its completion once the final CQE arrived (the slot is
    /// then free), or `Pending` with the task's waker stored.
    pub(crate) fn poll_op(&mut self, index: usize, cx: &mut Context<'_>) -> Poll<Completion> {
        let slot = &mut self.ops[index];
        match slot {
            Lifecycle::Completed(completion) => {
                let completion = *completion;
                self.ops.remove(index);
                Poll::Ready(completion)
            }
            Lifecycle::Waiting(waker) if waker.will_wake(cx.waker()) => Poll::Pending,
            Lifecycle::Submitted | Lifecycle::Waiting(_) => {
                *slot = Lifecycle::Waiting(cx.waker().clone());
                Poll::Pending
            }
            _ => unreachable!("poll_op on a slot that is not single-shot"),
        }
    }

    /// Polls a multishot op for its next CQE; `None` once the final CQE was taken
    /// (the slot is then free).
    pub(crate) fn poll_stream(
        &mut self,
        index: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Completion>> {
        let Lifecycle::Streaming {
            waker,
            queue,
            finished,
        } = &mut self.ops[index]
        else {
            unreachable!("poll_stream on a slot that is not Streaming");
        };
        if let Some(completion) = queue.pop_front() {
            return Poll::Ready(Some(completion));
        }
        if *finished {
            self.ops.remove(index);
            return Poll::Ready(None);
        }
        match waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Cancels every op and waits for the kernel to let go of all of them.
    fn drain(&mut self) -> bool {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut cancelled: Vec<bool> = Vec::new();
        while self.ops.iter().any(|(_, slot)| !slot.is_finished()) {
            self.adopt_remote_orphans();
            let live: Vec<usize> = self
                .ops
                .iter()
                .filter(|(_, slot)| !slot.is_finished())
                .map(|(index, _)| index)
                .collect();
            for index in live {
                if cancelled.len() <= index {
                    cancelled.resize(index + 1, false);
                }
                if !std::mem::replace(&mut cancelled[index], true) {
                    self.cancel(index);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let timeout = Timespec::from(deadline - now);
            let args = SubmitArgs::new().timespec(&timeout);
            match self.uring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(err) if matches!(err.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                Err(err) => {
                    tracing::error!(error = %err, "io_uring drain failed");
                    return false;
                }
            }
            self.reap();
            self.ready.clear();
        }
        true
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let in_flight = self.ops.len();
        if self.drain() {
            drop(self.remote.close());
            tracing::debug!(ring = self.id(), in_flight, "ring drained");
        } else {
            // The kernel may still write into buffers the slab owns: leak them and the
            // ring rather than free memory it can touch.
            tracing::error!(
                ring = self.id(),
                live = self.ops.len(),
                "ops did not finish within {DRAIN_TIMEOUT:?}; leaking their buffers"
            );
            std::mem::forget(std::mem::take(&mut self.ops));
        }
    }
}
