//! How a worker notices completions: the ring's eventfd sits in the worker's tokio
//! reactor, and two places turn the ring.
//!
//! - The park hook ([`on_park`], tokio's `on_thread_park`) submits what tasks queued and
//!   runs and reaps every deferred completion right before the worker would sleep in
//!   `epoll_wait`, so it never sleeps with completions pending. It costs an
//!   `io_uring_enter` only when the SQ is non-empty or the kernel set `IORING_SQ_TASKRUN`
//!   (one enter runs a few dozen deferred completions; it turns again while the flag
//!   stays, up to `MAX_PARK_TURNS` times).
//! - The driver task ([`DriverTask`]) turns the ring when the eventfd becomes readable
//!   (a completion arrived, or another thread dropped an op) and when an op is pushed.
//!   It runs after the tasks queued before it, so the SQEs they push are still submitted
//!   in one batch.
//!
//! While completions keep coming (a turn reaped some), the driver task silences the
//! eventfd (`IORING_CQ_EVENTFD_DISABLED`) and polls the ring itself once per round of the
//! worker's run queue, by waking itself: a busy worker takes no eventfd signal and no
//! reactor wake-up per batch, and a task that never parks (one spinning on `yield_now`)
//! still sees its completions within a round. The first turn that finds nothing turns
//! the eventfd back on and turns once more, for what arrived while it was off; the park
//! hook also turns it on before the worker sleeps.
//!
//! Both turn it through [`Ring::turn`](super::Ring::turn), which turns a panic into a
//! poisoned ring (`poison.rs`) rather than a dead driver task or an unwinding worker; the
//! driver task then ends, and the park hook finds nothing to do.
//!
//! With `DEFER_TASKRUN` the ring fd itself never becomes readable, hence the eventfd.
//! The eventfd is never read: tokio registers it edge-triggered, and every signal from
//! the kernel is a new edge.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::context;

/// Turns the park hook makes at most while the kernel still holds deferred completions
/// (each runs a few dozen): a ring whose `io_uring_enter` keeps failing must not keep the
/// worker spinning here.
const MAX_PARK_TURNS: usize = 64;

/// tokio's `on_thread_park` hook: let the eventfd wake the worker again, run the
/// deferred completions and reap, then wake.
pub(crate) fn on_park() {
    let turned = context::with_ring(|ring| {
        ring.quiet_eventfd(false);
        ring.turn();
        for _ in 1..MAX_PARK_TURNS {
            if !ring.has_deferred_work() {
                break;
            }
            ring.turn();
        }
    });
    if turned.is_some() {
        context::wake_ready();
    }
}

/// The per-worker task that turns the ring on eventfd readiness and on pushes.
#[derive(Debug)]
pub(crate) struct DriverTask {
    eventfd: AsyncFd<Arc<OwnedFd>>,
}

impl DriverTask {
    /// Registers `eventfd` with the current tokio reactor.
    pub(crate) fn new(eventfd: Arc<OwnedFd>) -> io::Result<DriverTask> {
        // SAFETY: the `Arc` keeps the eventfd open, and its fd never changes, for as long
        // as the `AsyncFd` lives.
        let eventfd = unsafe { AsyncFd::register_with_interest(eventfd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(DriverTask { eventfd })
    }
}

impl Future for DriverTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let turn = context::with_ring(|ring| {
                ring.set_driver(cx.waker());
                // Busy (the turn reaped completions): keep the eventfd quiet and come
                // back after this round's tasks. Idle: let the kernel signal again; if
                // that changed anything, turn once more for what arrived while it was
                // quiet. Deferred work alone is not busy: a ring whose enter keeps
                // failing must not make this task spin.
                let busy = ring.turn() > 0;
                let recheck = ring.quiet_eventfd(busy) && !busy;
                (!ring.is_poisoned(), busy, recheck)
            });
            context::wake_ready();
            let Some((true, busy, recheck)) = turn else {
                return Poll::Ready(());
            };
            if busy {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if recheck {
                continue;
            }
            match self.eventfd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    guard.clear_ready();
                    context::with_ring(|ring| ring.count_eventfd_wakeup());
                }
                Poll::Ready(Err(err)) => {
                    tracing::error!(error = %err, "ring eventfd failed; the park hook drives the ring");
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
