//! `Op<T>`: the future of one submitted SQE, and `StreamOp<T>` for multishot SQEs.
//!
//! This is the only door through which an SQE becomes an op in flight: every
//! `op/<opcode>.rs` builds its SQE from memory its resources own and calls
//! [`Op::submit`] (or [`StreamOp::submit`]). The future owns the resources `T` while the
//! op is in flight; if it is dropped first, `T` moves into the ring's slab (locally, or
//! through the ring's [`Remote`] from another thread) and the op is cancelled, so the
//! kernel never writes into freed memory.
//!
//! On a poisoned ring (`poison.rs`) an op still in flight fails when polled: `T` moves
//! into the slab, where it is leaked, and the op resolves to the ring's error (see
//! [`Poisoned`]); a multishot op ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::squeue;

use super::{Completion, Orphan, Remote};
use crate::context;

/// The resources of an op and how its final CQE turns them into the op's output.
pub(crate) trait Completable: Orphan + Send + 'static {
    /// What the op resolves to.
    type Output: Poisoned;

    /// Builds the output from the final CQE; the kernel no longer uses `self`.
    fn complete(self, completion: Completion) -> Self::Output;
}

/// An op's output when its ring was poisoned: built from the ring's error alone, since
/// the op's resources stay with the kernel.
pub(crate) trait Poisoned: Sized {
    /// The output carrying `err`.
    ///
    /// # Errors
    ///
    /// `err` back when the output must also return the op's buffer, which the kernel may
    /// still use (`BufResult`).
    fn poisoned(err: io::Error) -> Result<Self, io::Error>;
}

impl<T> Poisoned for io::Result<T> {
    fn poisoned(err: io::Error) -> Result<Self, io::Error> {
        Ok(Err(err))
    }
}

impl<T, B> Poisoned for (io::Result<T>, B) {
    fn poisoned(err: io::Error) -> Result<Self, io::Error> {
        Err(err)
    }
}

impl Poisoned for () {
    fn poisoned(_: io::Error) -> Result<Self, io::Error> {
        Ok(())
    }
}

/// Where an op lives: its ring and slot.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ring: usize,
    index: usize,
}

impl Slot {
    /// Pushes `sqe` to this thread's ring.
    ///
    /// # Safety
    ///
    /// See [`Op::submit`].
    unsafe fn push(sqe: squeue::Entry, multishot: bool) -> io::Result<Slot> {
        let pushed = context::with_ring(|ring| {
            // SAFETY: forwarded from the caller: the SQE's memory is owned by the op's
            // resources, which stay alive until the final CQE (see `Lifecycle`).
            let index = unsafe { ring.push(sqe, multishot) }?;
            Ok(Slot {
                ring: ring.id(),
                index,
            })
        });
        context::wake_ready();
        pushed.unwrap_or_else(|| Err(no_ring()))
    }

    /// True when this thread owns the ring of this slot.
    fn is_local(&self) -> bool {
        context::with_ring(|ring| ring.id() == self.ring).unwrap_or(false)
    }

    /// Runs `f` on the owning ring, or panics when polled on another thread.
    fn with<R>(&self, f: impl FnOnce(&mut super::Ring) -> R) -> R {
        let result = context::with_ring(|ring| (ring.id() == self.ring).then(|| f(ring)));
        match result.flatten() {
            Some(r) => r,
            None => panic!(
                "corio: an io_uring operation was polled on a thread that does not own its \
                 ring; a stream with an operation in flight cannot move to another worker"
            ),
        }
    }

    /// Gives `orphan` to the owning ring, wherever this runs; `cancel` says whether the
    /// kernel should stop the op or let it finish.
    fn release(&self, orphan: Box<dyn Orphan + Send>, cancel: bool) {
        if self.is_local() {
            context::with_ring(|ring| {
                if cancel {
                    ring.orphan(self.index, orphan);
                } else {
                    ring.detach(self.index, orphan);
                }
            });
            context::wake_ready();
        } else if let Some(remote) = Remote::find(self.ring) {
            remote.send_orphan(self.index, orphan, cancel);
        }
        // Otherwise the ring has drained and closed: the kernel let go; `orphan` drops.
    }
}

fn no_ring() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "corio: no io_uring on this thread (not a corio worker, or the epoll backend)",
    )
}

/// A single-shot op in flight. Resolves to `T::Output` when its CQE arrives.
///
/// Dropping it before then cancels the op; `T` is freed after the final CQE.
#[derive(Debug)]
pub(crate) struct Op<T: Completable> {
    slot: Slot,
    /// `None` only after completion.
    data: Option<T>,
}

impl<T: Completable> Op<T> {
    /// Submits `sqe` (with `data` as its resources) to this thread's ring.
    ///
    /// # Safety
    ///
    /// Every pointer in `sqe` must point into heap memory owned by `data` (it stays put
    /// when `data` moves) or into memory that outlives the op's final CQE; and `data`
    /// must not touch that memory until [`Completable::complete`] runs.
    pub(crate) unsafe fn submit(data: T, sqe: squeue::Entry) -> Result<Op<T>, (io::Error, T)> {
        // SAFETY: forwarded from this function's contract.
        let slot = match unsafe { Slot::push(sqe, false) } {
            Ok(slot) => slot,
            Err(err) => return Err((err, data)),
        };
        Ok(Op {
            slot,
            data: Some(data),
        })
    }
}

// The op's resources are never pinned: the kernel points into their heap memory.
impl<T: Completable> Unpin for Op<T> {}

/// # Panics
///
/// When polled on a thread that does not own the op's ring, or after completion. On a
/// poisoned ring, an op whose output returns a buffer (`BufResult`) panics with the
/// ring's error: the buffer stays with the kernel, so it cannot be given back.
impl<T: Completable> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        assert!(this.data.is_some(), "Op polled after completion");
        let index = this.slot.index;
        let polled = this.slot.with(|ring| {
            let polled = ring.poll_op(index, cx);
            if matches!(polled, Poll::Ready(Err(_))) {
                if let Some(data) = this.data.take() {
                    ring.detach(index, Box::new(data));
                }
            }
            polled
        });
        match std::task::ready!(polled) {
            Ok(completion) => {
                let data = this
                    .data
                    .take()
                    .unwrap_or_else(|| unreachable!("Completed"));
                Poll::Ready(data.complete(completion))
            }
            Err(err) => match T::Output::poisoned(err) {
                Ok(output) => Poll::Ready(output),
                Err(err) => panic!("{err} (this operation's buffer stays with the kernel)"),
            },
        }
    }
}

impl<T: Completable> Op<T> {
    /// True when this thread owns the op's ring (polling it elsewhere is a bug).
    pub(crate) fn is_local(&self) -> bool {
        self.slot.is_local()
    }

    /// The op's resources, to adjust what happens at their final CQE.
    pub(crate) fn data_mut(&mut self) -> Option<&mut T> {
        self.data.as_mut()
    }

    /// Lets the op finish in the kernel without waiting for it; its resources are
    /// dropped after its final CQE. For sends already reported as written.
    pub(crate) fn detach(mut self) {
        if let Some(data) = self.data.take() {
            self.slot.release(Box::new(data), false);
        }
    }
}

impl<T: Completable> Drop for Op<T> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            self.slot.release(Box::new(data), true);
        }
    }
}

/// A multishot op in flight: yields one [`Completion`] per CQE until the final one.
#[derive(Debug)]
pub(crate) struct StreamOp<T: Orphan + Send + 'static> {
    slot: Slot,
    /// `None` after the final CQE was taken.
    data: Option<T>,
}

impl<T: Orphan + Send + 'static> StreamOp<T> {
    /// Submits a multishot `sqe` with `data` as its resources.
    ///
    /// # Safety
    ///
    /// As for [`Op::submit`], until the final CQE (the one without `F_MORE`).
    pub(crate) unsafe fn submit(
        data: T,
        sqe: squeue::Entry,
    ) -> Result<StreamOp<T>, (io::Error, T)> {
        // SAFETY: forwarded from this function's contract.
        let slot = match unsafe { Slot::push(sqe, true) } {
            Ok(slot) => slot,
            Err(err) => return Err((err, data)),
        };
        Ok(StreamOp {
            slot,
            data: Some(data),
        })
    }

    /// True when this thread owns the op's ring (polling it elsewhere is a bug).
    pub(crate) fn is_local(&self) -> bool {
        self.slot.is_local()
    }

    /// The next CQE, or `None` after the final one. On a poisoned ring, once the queued
    /// CQEs are taken, `None` too: the op's resources stay in the slab, and submitting a
    /// new op (what a caller does when a multishot op ends) fails with the ring's error.
    /// A `Completion` has no room for that error's message; the submission has.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        if self.data.is_none() {
            return Poll::Ready(None);
        }
        let index = self.slot.index;
        let next = self.slot.with(|ring| {
            let next = ring.poll_stream(index, cx);
            if matches!(next, Poll::Ready(Err(_))) {
                if let Some(data) = self.data.take() {
                    ring.detach(index, Box::new(data));
                }
            }
            next
        });
        match std::task::ready!(next) {
            Ok(Some(completion)) => Poll::Ready(Some(completion)),
            Ok(None) | Err(_) => {
                self.data = None;
                Poll::Ready(None)
            }
        }
    }
}

impl<T: Orphan + Send + 'static> Drop for StreamOp<T> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            self.slot.release(Box::new(data), true);
        }
    }
}
