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
//!
//! # The feed
//!
//! A stream's `AsyncRead` on a worker thread receives through a *feed* ([`Gate::poll_fed`]):
//! a receive into the ring's provided buffers whose completions the reaper stashes here
//! as they arrive (`driver/recv.rs`). The feed holds the ticket while it is armed, so
//! nothing else reads the socket meanwhile, and every read, from any thread, takes the
//! stash first: the bytes stay in order whoever reads them. A multishot feed stops (is
//! cancelled) when 64 KiB (`FEED_LIMIT`) wait unread, which leaves the rest in the socket
//! and lets TCP's flow control hold the peer back, as when nobody reads a tokio stream.
//! An error the feed ends with waits behind the stashed bytes for the next read; end of
//! stream turns feeding off for good, so later reads see the socket's own zero.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use socket2::SockAddr;

use crate::buf::spare;
use crate::context;
use crate::driver::{Completion, RecvMode, Remote};
use crate::fd::SharedFd;
use crate::socket::Socket;

/// Unread bytes at which a multishot feed stops receiving until the stash is read.
pub(crate) const FEED_LIMIT: usize = 64 << 10;

/// One direction's gate; see the module docs.
#[derive(Debug, Default)]
pub struct Gate(Arc<Inner>);

/// Laid out in declaration order (`repr(C)`), with what every delivery and read touches
/// first: a CQE reaches a different connection's gate each time, so under many
/// connections each cache line of it that a delivery touches is a likely miss.
#[derive(Debug, Default)]
#[repr(C)]
struct Inner {
    /// A ticket is out: an owned op or a feed is in the kernel.
    held: AtomicBool,
    /// The stash is not empty, or a feed's error waits for the next read.
    stashed: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
#[repr(C)]
struct State {
    /// The oldest data received by ring ops nobody waited for any more: a stream's bytes
    /// (one run, however many receives brought them) or a datagram.
    front: Option<Stashed>,
    /// Tasks waiting for the ticket to come back.
    waiters: Waiters,
    /// The errno a feed ended with, reported after the stash (0: none).
    error: i32,
    /// A feed saw end of stream, or the kernel refused feeds: reads go to the socket.
    unfed: bool,
    /// A feed saw end of stream: the socket's own reads return 0 at once.
    ended: bool,
    /// The armed feed was asked to stop.
    feed_stopping: bool,
    /// The armed feed: its ring, slot and serial.
    feed: Option<(usize, usize, u64)>,
    /// Datagrams received after `front`, oldest first (always empty for a stream, so a
    /// stream's stash never allocates a queue).
    rest: VecDeque<Stashed>,
    /// Bytes in `rest`.
    rest_bytes: usize,
}

impl State {
    /// Stashes a datagram, or a stream's next bytes.
    fn push(&mut self, data: Vec<u8>, from: Option<SockAddr>) {
        let Some(from) = from else {
            return self.push_stream(&data);
        };
        let datagram = Stashed {
            data,
            from: Some(Box::new(from)),
        };
        match self.front {
            None => self.front = Some(datagram),
            Some(_) => {
                self.rest_bytes += datagram.data.len();
                self.rest.push_back(datagram);
            }
        }
    }

    /// Appends a stream's next bytes to the run in `front`.
    fn push_stream(&mut self, bytes: &[u8]) {
        match &mut self.front {
            Some(front) => front.data.extend_from_slice(bytes),
            None => {
                let mut data = spare::take(bytes.len());
                data.extend_from_slice(bytes);
                self.front = Some(Stashed { data, from: None });
            }
        }
    }

    /// Removes the oldest stashed data. A stream's run has nothing behind it, so taking it
    /// leaves the datagram queue alone.
    fn pop_front(&mut self) -> Option<Stashed> {
        let front = self.front.take();
        if front.as_ref().is_some_and(|front| front.from.is_some()) {
            self.front = self.rest.pop_front();
            if let Some(next) = &self.front {
                self.rest_bytes -= next.data.len();
            }
            if self.rest.is_empty() && self.rest.capacity() > 0 {
                // An idle socket keeps no queue memory.
                self.rest = VecDeque::new();
            }
        }
        front
    }

    /// Stashed bytes in all.
    fn stash_bytes(&self) -> usize {
        self.front.as_ref().map_or(0, |front| front.data.len()) + self.rest_bytes
    }

    fn has_more(&self) -> bool {
        self.front.is_some() || self.error != 0
    }
}

/// The tasks to wake when a gate opens or stashes: nearly always one (the reader), which
/// needs no allocation.
#[derive(Debug, Default)]
struct Waiters {
    first: Option<Waker>,
    more: Vec<Waker>,
}

impl Waiters {
    /// Adds `waker` unless it is already registered.
    fn register(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                if !self.more.iter().any(|w| w.will_wake(waker)) {
                    self.more.push(waker.clone());
                }
            }
        }
    }

    fn wake(self) {
        if let Some(first) = self.first {
            first.wake();
        }
        self.more.into_iter().for_each(Waker::wake);
    }
}

/// Bytes a dropped ring receive took from the socket: a stream's next bytes, or one
/// datagram with its sender.
#[derive(Debug)]
pub struct Stashed {
    /// The bytes not yet read.
    pub data: Vec<u8>,
    /// A datagram's sender (`None` for a stream); boxed, so that a gate's stash stays
    /// small inline.
    pub from: Option<Box<SockAddr>>,
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

    /// Ready when no ticket is out; otherwise registers `cx` to be woken when it returns
    /// (or, for a feed, when it stashes bytes: a read checks the stash first).
    pub fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.0.held.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut state = self.0.lock();
        if !self.0.held.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if state.has_more() {
            return Poll::Ready(());
        }
        state.waiters.register(cx.waker());
        Poll::Pending
    }

    /// True when no ticket is out.
    pub fn is_open(&self) -> bool {
        !self.0.held.load(Ordering::Acquire)
    }

    /// Waits for the gate to open and takes its ticket; an armed feed is stopped first
    /// (what it stashed is read before the owned op's bytes).
    pub fn poll_acquire(&self, cx: &mut Context<'_>) -> Poll<Ticket> {
        loop {
            if self.0.held.load(Ordering::Acquire) {
                self.stop_feed();
                std::task::ready!(self.poll_open_unfed(cx));
            }
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
        let front = state.front.as_mut()?;
        let (used, result) = f(front);
        if !peek {
            if front.from.is_some() || used >= front.data.len() {
                if let Some(popped) = state.pop_front() {
                    spare::give_back(popped.data);
                }
            } else {
                front.data.drain(..used);
            }
            self.0.stashed.store(state.has_more(), Ordering::Release);
        }
        Some(result)
    }

    /// The error a feed ended with, once the stash before it has been read.
    pub fn take_error(&self) -> Option<io::Error> {
        if !self.is_stashed() {
            return None;
        }
        let mut state = self.0.lock();
        if state.front.is_some() {
            return None;
        }
        let errno = std::mem::take(&mut state.error);
        if errno == 0 {
            return None;
        }
        self.0.stashed.store(state.has_more(), Ordering::Release);
        Some(io::Error::from_raw_os_error(errno))
    }

    /// For a stream's read on this thread: ready (`true`) when the stash (or a feed's
    /// error) can be read; pending while an armed feed or an owned op holds the ticket;
    /// otherwise arms a feed of `socket` on this thread's ring in `mode` and waits for it.
    /// `false` when reads must go to the socket instead: no ring on this thread, feeds
    /// off (`RecvMode::Readiness`), refused by the kernel, or the stream ended.
    pub fn poll_fed(&self, socket: &Socket, mode: RecvMode, cx: &mut Context<'_>) -> Poll<bool> {
        if self.is_stashed() {
            return Poll::Ready(true);
        }
        {
            let mut state = self.0.lock();
            if state.has_more() {
                return Poll::Ready(true);
            }
            if self.0.held.load(Ordering::Acquire) {
                state.waiters.register(cx.waker());
                return Poll::Pending;
            }
            if state.unfed || mode == RecvMode::Readiness {
                return Poll::Ready(false);
            }
            self.0.held.store(true, Ordering::Release);
        }
        let feed = Feed {
            ticket: Ticket(self.0.clone()),
            _fd: socket.shared_fd().clone(),
            serial: next_serial(),
            multishot: mode == RecvMode::Multishot,
            delivered: false,
            stopping: false,
        };
        let serial = feed.serial;
        let armed = context::with_ring(|ring| {
            let index = ring.arm_recv(socket.shared_fd(), feed.multishot, feed)?;
            Ok::<_, io::Error>((ring.id(), index))
        });
        context::wake_ready();
        match armed {
            Some(Ok((ring, index))) => {
                let mut state = self.0.lock();
                state.feed = Some((ring, index, serial));
                state.waiters.register(cx.waker());
                Poll::Pending
            }
            // The feed was dropped with its ticket. No ring here (a plain thread), or the
            // kernel refused provided buffers or the op: read the socket.
            Some(Err(err)) => {
                tracing::debug!(error = %err, "stream feed not armed; reading the socket");
                self.0.lock().unfed = err.kind() == io::ErrorKind::Unsupported;
                Poll::Ready(false)
            }
            None => Poll::Ready(false),
        }
    }

    /// True once a feed saw the end of the stream: the socket is readable (its reads
    /// return 0) without waiting for readiness.
    pub fn saw_end(&self) -> bool {
        self.0.lock().ended
    }

    /// Cancels the armed feed, if any; its final CQE returns the ticket. Returns true when
    /// the cancel was pushed to this thread's ring (`release_cancelled` then lets the
    /// kernel finish it at once).
    pub fn stop_feed(&self) -> bool {
        let (ring, index, serial) = {
            let mut state = self.0.lock();
            match state.feed {
                Some(feed) if !state.feed_stopping => {
                    state.feed_stopping = true;
                    feed
                }
                _ => return false,
            }
        };
        let local = context::with_ring(|r| {
            let local = r.id() == ring;
            if local {
                r.cancel_sink(index, serial);
            }
            local
        });
        if local == Some(true) {
            context::wake_ready();
            return true;
        }
        if let Some(remote) = Remote::find(ring) {
            remote.cancel_sink(index, serial);
        }
        false
    }

    /// As `poll_open`, but not ready for stashed bytes: for taking the ticket itself.
    fn poll_open_unfed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock();
        if !self.0.held.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        state.waiters.register(cx.waker());
        Poll::Pending
    }
}

fn next_serial() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A receive into provided buffers feeding a gate's stash (see the module docs), kept in
/// the ring's op slot. Holds the ticket and the fd until its final CQE.
pub(crate) struct Feed {
    ticket: Ticket,
    _fd: SharedFd,
    serial: u64,
    multishot: bool,
    /// A CQE carried bytes.
    delivered: bool,
    /// A cancel was asked for.
    stopping: bool,
}

impl Feed {
    /// Takes one CQE and the bytes of the provided buffer it names (empty when it names
    /// none); the buffer goes back to the kernel when this returns. Returns false to have
    /// the ring cancel the op, whose final CQE still comes here.
    pub(crate) fn deliver(&mut self, completion: Completion, bytes: &[u8]) -> bool {
        let last = !completion.has_more();
        let (waiters, over) = {
            let inner = &self.ticket.0;
            let mut state = inner.lock();
            if !bytes.is_empty() {
                self.delivered = true;
                state.push_stream(bytes);
            }
            match completion.result {
                0 if last => {
                    state.unfed = true;
                    state.ended = true;
                }
                n if n >= 0 => {}
                n if n == -libc::ECANCELED || n == -libc::ENOBUFS => {}
                n if n == -libc::EINVAL && self.multishot && !self.delivered => {
                    crate::driver::refuse_multishot();
                }
                n => state.error = -n,
            }
            if last {
                state.feed = None;
                state.feed_stopping = false;
            }
            inner.stashed.store(state.has_more(), Ordering::Release);
            (
                std::mem::take(&mut state.waiters),
                state.stash_bytes() >= FEED_LIMIT,
            )
        };
        waiters.wake();
        if over && !self.stopping {
            self.stopping = true;
            return false;
        }
        true
    }

    /// Tells the gate's waiters that no CQE will come (the ring was poisoned); the ticket
    /// and the fd, which the kernel may still use, stay with the slot.
    pub(crate) fn abandon(&mut self) {
        let waiters = {
            let mut state = self.ticket.0.lock();
            state.feed = None;
            state.feed_stopping = false;
            state.unfed = true;
            self.ticket.0.held.store(false, Ordering::Release);
            std::mem::take(&mut state.waiters)
        };
        waiters.wake();
    }

    /// Identifies this feed among every feed of the process.
    pub(crate) fn serial(&self) -> u64 {
        self.serial
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
        state.push(data, from);
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
        waiters.wake();
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
        assert_eq!(
            rest.as_deref(),
            Some(&b"lo!"[..]),
            "a stream's stashed bytes are one run"
        );
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

    #[test]
    fn datagrams_stay_apart_and_in_order() {
        let gate = Gate::new();
        let Poll::Ready(ticket) = gate.poll_acquire(&mut Context::from_waker(Waker::noop())) else {
            panic!("open gate")
        };
        for (port, data) in [(1, &b"one"[..]), (2, b"two"), (3, b"three")] {
            let from = SockAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            ticket.stash(data.to_vec(), Some(from));
        }
        let mut taken = Vec::new();
        while let Some(datagram) = gate.take(false, |s| {
            let port = s
                .from
                .as_deref()
                .and_then(SockAddr::as_socket)
                .map(|a| a.port());
            (s.data.len(), (port, s.data.clone()))
        }) {
            taken.push(datagram);
        }
        assert_eq!(
            taken,
            [
                (Some(1), b"one".to_vec()),
                (Some(2), b"two".to_vec()),
                (Some(3), b"three".to_vec())
            ]
        );
    }
}
