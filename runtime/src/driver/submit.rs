//! Submission: SQEs are pushed while tasks run and submitted in batches, by the driver
//! task, by the park hook, or right away when the SQ is full. A full SQ never fails or
//! drops an op; `EINTR` is retried and `EBUSY` (CQ overflow backlog) is relieved by
//! reaping before retrying. A poisoned ring (`poison.rs`) takes no new op.

use std::io;

use io_uring::{opcode, squeue};

use super::lifecycle::Lifecycle;
use super::{Orphan, Ring, UNTRACKED};

/// How often a submit that keeps failing with `EBUSY` is retried after reaping.
const BUSY_RETRIES: usize = 8;

impl Ring {
    /// Pushes `sqe` for a new op and returns its slab index.
    ///
    /// # Safety
    ///
    /// Every pointer in `sqe` must stay valid until the op's final CQE: it points into
    /// memory owned by the op's resources (which the `Op` future, then the slab, keep
    /// alive), or into memory that outlives the ring.
    pub(crate) unsafe fn push(&mut self, sqe: squeue::Entry, multishot: bool) -> io::Result<usize> {
        if let Some(err) = self.poisoned() {
            return Err(err);
        }
        let index = self.ops.insert(Lifecycle::new(multishot));
        debug_assert!((index as u64) < UNTRACKED);
        let sqe = sqe.user_data(index as u64);
        // SAFETY: forwarded from this function's contract.
        if let Err(err) = unsafe { self.push_entry(&sqe) } {
            self.ops.remove(index);
            return Err(err);
        }
        crate::trace::trace_op!(
            ring = self.remote.id(),
            index,
            opcode = sqe.get_opcode(),
            "push"
        );
        if multishot {
            self.counters.multishot_arms.add(1);
        }
        self.notify_driver();
        Ok(index)
    }

    /// # Safety
    ///
    /// As for [`Ring::push`].
    unsafe fn push_entry(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded from the caller: the SQE's memory outlives its CQE.
            if unsafe { self.uring.submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            self.counters.sq_full_flushes.add(1);
            self.submit()?;
        }
    }

    /// Submits queued SQEs and runs deferred completions when there is anything to do.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let (pending, overflow) = {
            let sq = self.uring.submission();
            let overflow = sq.cq_overflow();
            (!sq.is_empty() || sq.taskrun() || overflow, overflow)
        };
        if overflow {
            self.counters.cq_overflows.add(1);
        }
        if pending {
            self.submit()?;
        }
        Ok(())
    }

    /// `io_uring_enter` for every queued SQE (with `GETEVENTS` when completions wait).
    pub(crate) fn submit(&mut self) -> io::Result<()> {
        let mut busy = 0;
        loop {
            self.counters.enters.add(1);
            let (queued, getevents) = {
                let sq = self.uring.submission();
                (sq.len(), sq.cq_overflow() || sq.taskrun())
            };
            match self.enter.submit(queued, getevents) {
                Ok(submitted) => {
                    self.counters.sqes_submitted.add(submitted as u64);
                    crate::trace::trace_op!(ring = self.remote.id(), submitted, "submit");
                    return Ok(());
                }
                Err(err) if err.raw_os_error() == Some(libc::EINTR) => {}
                Err(err)
                    if matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN))
                        && busy < BUSY_RETRIES =>
                {
                    busy += 1;
                    self.guarded(|ring| {
                        ring.reap();
                    })?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Takes the resources of an op dropped before its final CQE: frees the slot when
    /// the kernel is already done, or keeps them and asks the kernel to cancel.
    pub(crate) fn orphan(&mut self, index: usize, orphan: Box<dyn Orphan + Send>) {
        if self.adopt(index, orphan) {
            self.cancel(index);
        }
    }

    /// Takes the resources of an op whose future let go but whose work must finish (a
    /// send reported as written): no cancel; the slot is freed by its final CQE.
    pub(crate) fn detach(&mut self, index: usize, orphan: Box<dyn Orphan + Send>) {
        self.adopt(index, orphan);
    }

    /// Moves `orphan` into the slot; false when the kernel was already done with it
    /// (the slot is then free).
    fn adopt(&mut self, index: usize, mut orphan: Box<dyn Orphan + Send>) -> bool {
        let slot = &mut self.ops[index];
        if let Lifecycle::Streaming { queue, .. } = slot {
            queue.drain(..).for_each(|c| orphan.discard(c));
        }
        if slot.is_finished() {
            if let Lifecycle::Completed(completion) = self.ops.remove(index) {
                orphan.discard(completion);
            }
            return false;
        }
        *slot = Lifecycle::Cancelled(orphan);
        true
    }

    /// Asks the kernel to cancel the op in slot `index`; its CQE will still arrive. A
    /// poisoned ring submits nothing, so there the op stays in the kernel.
    pub(crate) fn cancel(&mut self, index: usize) {
        if self.is_poisoned() {
            return;
        }
        let sqe = opcode::AsyncCancel::new(index as u64)
            .build()
            .user_data(UNTRACKED);
        // SAFETY: AsyncCancel carries no pointers, only the target's user_data.
        if let Err(err) = unsafe { self.push_entry(&sqe) } {
            tracing::warn!(error = %err, index, "could not submit AsyncCancel");
        }
        self.notify_driver();
    }
}
