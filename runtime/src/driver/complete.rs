//! Completion: CQEs are reaped from the shared CQ (no syscall), applied to their slot,
//! and the wakers they release are collected so they can be woken after the ring's
//! borrow ends. Also the op-facing polls and the shutdown drain.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use io_uring::types::{SubmitArgs, Timespec};

use super::lifecycle::{Lifecycle, Transition};
use super::{Completion, Provided, Ring, UNTRACKED};

/// How long `Ring`'s drop waits for cancelled ops before it gives up and leaks them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

impl Ring {
    /// Applies every CQE in the CQ to its slot; returns how many were reaped.
    pub(crate) fn reap(&mut self) -> usize {
        let mut count = 0;
        let mut cancels = Vec::new();
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
            if completion.result == -libc::ENOBUFS {
                self.counters.recv_enobufs.add(1);
            }
            let transition = match (
                io_uring::cqueue::buffer_select(completion.flags),
                &mut self.provided,
            ) {
                (Some(bid), Provided::Ready(bufs)) => {
                    let len = usize::try_from(completion.result).unwrap_or(0);
                    // SAFETY: the CQE names buffer `bid` of the only group this ring
                    // registered, and is reaped once, here, in CQ order.
                    unsafe {
                        bufs.take(bid, len, completion.flags, |bytes| {
                            slot.complete(completion, bytes)
                        })
                    }
                }
                _ => slot.complete(completion, &[]),
            };
            match transition {
                Transition::Stay => {}
                Transition::Wake(waker) => self.ready.push(waker),
                Transition::Free => {
                    self.ops.remove(index);
                }
                Transition::Cancel => cancels.push(index),
            }
        }
        for index in cancels {
            self.cancel(index);
        }
        self.counters.cqes_reaped.add(count as u64);
        count
    }

    /// Polls a single-shot op: its completion once the final CQE arrived (the slot is
    /// then free), or `Pending` with the task's waker stored. On a poisoned ring an op
    /// still in flight fails; the caller must then leave its resources in the slot.
    pub(crate) fn poll_op(
        &mut self,
        index: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Completion>> {
        if let Lifecycle::Completed(completion) = self.ops[index] {
            self.ops.remove(index);
            return Poll::Ready(Ok(completion));
        }
        if let Some(err) = self.poisoned() {
            return Poll::Ready(Err(err));
        }
        let slot = &mut self.ops[index];
        match slot {
            Lifecycle::Waiting(waker) if waker.will_wake(cx.waker()) => Poll::Pending,
            Lifecycle::Submitted | Lifecycle::Waiting(_) => {
                *slot = Lifecycle::Waiting(cx.waker().clone());
                Poll::Pending
            }
            _ => unreachable!("poll_op on a slot that is not single-shot"),
        }
    }

    /// Polls a multishot op for its next CQE; `None` once the final CQE was taken
    /// (the slot is then free). On a poisoned ring, once the queued CQEs are taken, an
    /// op still in flight fails; the caller must then leave its resources in the slot.
    pub(crate) fn poll_stream(
        &mut self,
        index: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Completion>>> {
        let poisoned = self.poisoned();
        let Lifecycle::Streaming {
            waker,
            queue,
            finished,
        } = &mut self.ops[index]
        else {
            unreachable!("poll_stream on a slot that is not Streaming");
        };
        if let Some(completion) = queue.pop_front() {
            return Poll::Ready(Ok(Some(completion)));
        }
        if *finished {
            self.ops.remove(index);
            return Poll::Ready(Ok(None));
        }
        if let Some(err) = poisoned {
            return Poll::Ready(Err(err));
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
            if self
                .guarded(|ring| {
                    ring.reap();
                })
                .is_err()
            {
                return false;
            }
            self.ready.clear();
        }
        true
    }
}

impl Drop for Ring {
    /// Drains the ring, or leaks what the kernel may still use: a poisoned ring is not
    /// drained (its slab cannot be trusted), and neither is one whose ops outlive
    /// `DRAIN_TIMEOUT`. Either way its remote stays registered, so orphans sent to it
    /// later are leaked rather than freed.
    fn drop(&mut self) {
        let in_flight = self.ops.len();
        if !self.is_poisoned() && self.drain() {
            if let Provided::Ready(bufs) = std::mem::replace(&mut self.provided, Provided::Refused)
            {
                // SAFETY: drained: no receive of this ring is in flight.
                unsafe { bufs.release(&self.uring.submitter()) };
            }
            drop(self.remote.close());
            tracing::debug!(ring = self.id(), in_flight, "ring drained");
            return;
        }
        // The kernel may still write into buffers the slab owns: leak them and the
        // ring rather than free memory it can touch.
        if let Some(poison) = self.remote.poisoned() {
            tracing::error!(
                ring = self.id(),
                live = in_flight,
                "{poison}; leaking their buffers"
            );
        } else {
            tracing::error!(
                ring = self.id(),
                live = self.ops.len(),
                "ops did not finish within {DRAIN_TIMEOUT:?}; leaking their buffers"
            );
        }
        std::mem::forget(std::mem::take(&mut self.ops));
    }
}
