//! `Gate`: keeps one direction of a socket in order when owned-buffer ring ops and
//! readiness I/O are used on it side by side.
//!
//! An owned-buffer op (an `IORING_OP_RECV` straight into the caller's buffer, say) holds
//! its direction's [`Ticket`] for as long as the kernel may touch the socket for it: until
//! its final CQE, even after its future was dropped. Readiness I/O on that direction (the
//! `recv(2)` behind `AsyncRead`, the `send(2)` behind `AsyncWrite`) waits while the ticket
//! is out, so a `recv(2)` never takes bytes that arrived after the bytes a cancelled ring
//! recv still holds, and a `send(2)` never overtakes a ring send still waiting for room.
//!
//! A ring receive whose future was dropped after the kernel had already filled its buffer
//! leaves those bytes (and, for a datagram, the sender) in the gate's stash; the next read
//! of any kind takes them first. Nothing received is lost to a dropped future.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use socket2::SockAddr;

/// One direction's gate; see the module docs.
#[derive(Debug, Default)]
pub struct Gate(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// A ticket is out: an owned op is in the kernel.
    held: AtomicBool,
    /// The stash is not empty.
    stashed: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Tasks waiting for the ticket to come back.
    waiters: Vec<Waker>,
    /// Data received by ring ops nobody waited for any more, oldest first.
    stash: VecDeque<Stashed>,
}

/// Bytes a dropped ring receive took from the socket: a stream's next bytes, or one
/// datagram with its sender.
#[derive(Debug)]
pub struct Stashed {
    /// The bytes not yet read.
    pub data: Vec<u8>,
    /// A datagram's sender (`None` for a stream).
    pub from: Option<SockAddr>,
}

/// The right to have one owned op in the kernel on a direction; given back (and waiting
/// tasks woken) when dropped, which the op does after its final CQE.
#[derive(Debug)]
pub struct Ticket(Arc<Inner>);

impl Gate {
    /// An open gate with nothing stashed.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Ready when no ticket is out; otherwise registers `cx` to be woken when it returns.
    pub fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.0.held.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut state = self.0.lock();
        if !self.0.held.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// True when no ticket is out.
    pub fn is_open(&self) -> bool {
        !self.0.held.load(Ordering::Acquire)
    }

    /// Waits for the gate to open and takes its ticket.
    pub fn poll_acquire(&self, cx: &mut Context<'_>) -> Poll<Ticket> {
        loop {
            std::task::ready!(self.poll_open(cx));
            if self
                .0
                .held
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Ready(Ticket(self.0.clone()));
            }
        }
    }

    /// True when the stash holds data.
    pub fn is_stashed(&self) -> bool {
        self.0.stashed.load(Ordering::Acquire)
    }

    /// Shows the oldest stashed data to `f`, which returns how many bytes it used and its
    /// result; unless `peek`, those bytes are removed (a datagram goes whole, however many
    /// bytes `f` used, as a datagram receive truncates). `None` when nothing is stashed.
    pub fn take<R>(&self, peek: bool, f: impl FnOnce(&Stashed) -> (usize, R)) -> Option<R> {
        if !self.is_stashed() {
            return None;
        }
        let mut state = self.0.lock();
        let front = state.stash.front_mut()?;
        let (used, result) = f(front);
        if !peek {
            if front.from.is_some() || used >= front.data.len() {
                state.stash.pop_front();
            } else {
                front.data.drain(..used);
            }
            self.0
                .stashed
                .store(!state.stash.is_empty(), Ordering::Release);
        }
        Some(result)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did: every update is
        // a single push, pop or store.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Ticket {
    /// Keeps `data`, received by a ring op nobody waits for, for the next read.
    pub(crate) fn stash(&self, data: Vec<u8>, from: Option<SockAddr>) {
        if data.is_empty() && from.is_none() {
            return;
        }
        let mut state = self.0.lock();
        state.stash.push_back(Stashed { data, from });
        self.0.stashed.store(true, Ordering::Release);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let waiters = {
            let mut state = self.0.lock();
            self.0.held.store(false, Ordering::Release);
            std::mem::take(&mut state.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn ticket_closes_gate_until_dropped_and_wakes_waiters() {
        let gate = Gate::new();
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(ticket) = gate.poll_acquire(&mut cx) else {
            panic!("an open gate gives its ticket");
        };
        assert!(gate.poll_open(&mut cx).is_pending());
        assert!(gate.poll_acquire(&mut cx).is_pending());
        drop(ticket);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "one waker, registered once"
        );
        assert!(gate.poll_open(&mut cx).is_ready());
    }

    #[test]
    fn stream_stash_is_consumed_in_order_and_peek_keeps_it() {
        let gate = Gate::new();
        let ticket = Gate::poll_acquire(&gate, &mut Context::from_waker(Waker::noop()));
        let Poll::Ready(ticket) = ticket else {
            panic!("open gate")
        };
        ticket.stash(b"hello".to_vec(), None);
        ticket.stash(b"!".to_vec(), None);
        let peeked = gate.take(true, |s| (2, s.data[..2].to_vec()));
        assert_eq!(peeked.as_deref(), Some(&b"he"[..]));
        let first = gate.take(false, |s| (3, s.data[..3].to_vec()));
        assert_eq!(first.as_deref(), Some(&b"hel"[..]));
        let rest = gate.take(false, |s| (s.data.len(), s.data.clone()));
        assert_eq!(rest.as_deref(), Some(&b"lo"[..]));
        let last = gate.take(false, |s| (s.data.len(), s.data.clone()));
        assert_eq!(last.as_deref(), Some(&b"!"[..]));
        assert!(!gate.is_stashed());
        assert!(gate.take(false, |_| (0, ())).is_none());
    }

    #[test]
    fn datagram_stash_goes_whole_even_when_truncated() {
        let gate = Gate::new();
        let Poll::Ready(ticket) = gate.poll_acquire(&mut Context::from_waker(Waker::noop())) else {
            panic!("open gate")
        };
        let from = SockAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], 9)));
        ticket.stash(b"datagram".to_vec(), Some(from));
        assert_eq!(
            gate.take(false, |s| (4, s.data[..4].to_vec())).unwrap(),
            b"data"
        );
        assert!(
            !gate.is_stashed(),
            "the rest of a truncated datagram is dropped"
        );
    }
}
