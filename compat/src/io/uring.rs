//! Readiness on the uring backend: what tokio's reactor gives a socket, built on
//! `IORING_OP_POLL_ADD`.
//!
//! Each direction caches its readiness as tokio does: once a poll reports it, it stays
//! until an I/O call on that direction fails with `WouldBlock` (or a read comes back
//! short), and it may be spurious. The read direction keeps one multishot poll armed from
//! its first wait on (one CQE per wake-up of the socket, like tokio's edge-triggered epoll
//! registration, so a request costs no SQE); the write direction, which rarely waits, arms
//! a one-shot poll when it has to. Either way the poll is owned by the socket rather than by
//! the future that asked, so a dropped `readable()` loses nothing. Any completion counts as
//! ready, errors and hang-ups included: the I/O call that follows reports the error, so a
//! waiter never spins. A kernel without multishot poll (before 5.13) rejects it with
//! `EINVAL`; the direction then uses one-shot polls.
//!
//! # Any thread
//!
//! A poll belongs to the ring it was submitted to. Polled on a thread that owns another
//! ring (the socket moved to another worker), it is dropped, which cancels it on its own
//! ring through that ring's remote queue, and submitted again here; a poll carries no data,
//! so nothing is lost. On a thread without a ring (a plain thread, or one inside
//! `Runtime::block_on`) the poll is submitted by a task spawned on the socket's home
//! worker and awaited through its `JoinHandle`.
//!
//! Several tasks may wait on one direction at once (an `Arc<TcpStream>` shared by tasks):
//! the poll is polled with one [`Waiters`] waker that wakes every registered task.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Wake, Waker};

use corio_runtime::{PollEvents, PollEventsMulti, Socket};
use tokio::io::{Interest, Ready};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Tasks waiting on the same shared poll: the first in its own slot, so the usual case of
/// one waiting task allocates nothing.
#[derive(Debug, Default)]
struct WaiterList(Mutex<(Option<Waker>, Vec<Waker>)>);

impl Wake for WaiterList {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let (first, rest) = {
            let mut list = lock(&self.0);
            let rest = if list.1.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut list.1)
            };
            (list.0.take(), rest)
        };
        first.into_iter().chain(rest).for_each(Waker::wake);
    }
}

/// A waker that wakes every task registered with it, made by the first wait (a direction
/// that never waits, like the write side of most streams, allocates nothing).
#[derive(Debug, Default)]
struct Waiters(Option<(Arc<WaiterList>, Waker)>);

impl Waiters {
    /// Adds the task of `cx` (once) and returns the waker to poll the shared op with.
    fn register(&mut self, cx: &Context<'_>) -> Waker {
        let (list, shared) = self.0.get_or_insert_with(|| {
            let list = Arc::new(WaiterList::default());
            let waker = Waker::from(list.clone());
            (list, waker)
        });
        let mut guard = lock(&list.0);
        let (first, rest) = &mut *guard;
        let waker = cx.waker();
        match first {
            None => *first = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) if rest.iter().any(|w| w.will_wake(waker)) => {}
            Some(_) => rest.push(waker.clone()),
        }
        shared.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The poll a direction waits on.
#[derive(Debug)]
enum Wait {
    /// A multishot poll on a ring (this thread's, unless the socket moved).
    Multi(PollEventsMulti),
    /// A one-shot poll on a ring (this thread's, unless the socket moved).
    Ring(PollEvents),
    /// Submitted by a task on the home worker, for a thread without a ring.
    Home(JoinHandle<io::Result<u32>>),
}

impl Wait {
    /// True when this thread owns the ring of a ring poll (a home task is awaited anywhere).
    fn is_local(&self) -> bool {
        match self {
            Wait::Multi(poll) => poll.is_local(),
            Wait::Ring(poll) => poll.is_local(),
            Wait::Home(_) => true,
        }
    }

    fn is_ring(&self) -> bool {
        !matches!(self, Wait::Home(_))
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Wait::Home(task) = self {
            task.abort();
        }
    }
}

/// A direction's readiness bits in one atomic. Updates are single read-modify-writes, so
/// a stale read only ever costs what tokio's spurious readiness costs: an I/O call that
/// finds the socket not ready and clears the bit.
#[derive(Debug)]
struct Cached(AtomicU8);

/// The `Ready` bits a uring direction reports, and their places in [`Cached`].
const BITS: [Ready; 5] = [
    Ready::READABLE,
    Ready::WRITABLE,
    Ready::READ_CLOSED,
    Ready::WRITE_CLOSED,
    Ready::ERROR,
];

impl Cached {
    fn new(ready: Ready) -> Cached {
        Cached(AtomicU8::new(Cached::encode(ready)))
    }

    fn encode(ready: Ready) -> u8 {
        BITS.iter()
            .enumerate()
            .filter(|(_, bit)| !(ready & **bit).is_empty())
            .fold(0, |bits, (place, _)| bits | 1 << place)
    }

    fn decode(bits: u8) -> Ready {
        BITS.iter()
            .enumerate()
            .filter(|(place, _)| bits & 1 << place != 0)
            .fold(Ready::EMPTY, |ready, (_, bit)| ready | *bit)
    }

    fn get(&self) -> Ready {
        Cached::decode(self.0.load(Ordering::Acquire))
    }

    /// Adds `ready`; returns the bits now set.
    fn add(&self, ready: Ready) -> Ready {
        let bits = Cached::encode(ready);
        Cached::decode(self.0.fetch_or(bits, Ordering::AcqRel) | bits)
    }

    fn remove(&self, ready: Ready) {
        self.0.fetch_and(!Cached::encode(ready), Ordering::AcqRel);
    }
}

/// What a direction waits on when it is not ready; behind its own lock.
#[derive(Debug)]
struct Direction {
    events: u32,
    /// Arm multishot polls (until the kernel refuses them).
    multishot: bool,
    wait: Option<Wait>,
    waiters: Waiters,
}

impl Direction {
    fn poll(
        &mut self,
        cached: &Cached,
        io: &Shared,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Ready>> {
        let ready = cached.get();
        if !ready.is_empty() {
            return Poll::Ready(Ok(ready));
        }
        if matches!(&self.wait, Some(wait) if !wait.is_local()) {
            self.wait = None;
        }
        let waker = self.waiters.register(cx);
        let mut cx = Context::from_waker(&waker);
        loop {
            let wait = match &mut self.wait {
                Some(wait) => wait,
                None => self.wait.insert(io.submit(self.events, self.multishot)?),
            };
            let mask = match wait {
                Wait::Multi(poll) => match ready!(poll_multi(poll, &mut cx)) {
                    Some(Ok(mask)) => mask,
                    Some(Err(err)) if err.raw_os_error() == Some(libc::EINVAL) => {
                        tracing::debug!("multishot poll unsupported; polling one shot at a time");
                        self.multishot = false;
                        self.wait = None;
                        continue;
                    }
                    Some(Err(err)) => {
                        self.wait = None;
                        return Poll::Ready(Err(err));
                    }
                    None => {
                        self.wait = None;
                        continue;
                    }
                },
                Wait::Ring(poll) => {
                    let mask = ready!(Pin::new(poll).poll(&mut cx));
                    self.wait = None;
                    mask?
                }
                Wait::Home(task) => {
                    let mask = ready!(Pin::new(task).poll(&mut cx));
                    self.wait = None;
                    mask.unwrap_or_else(|err| Err(home_stopped(&err)))?
                }
            };
            return Poll::Ready(Ok(cached.add(convert(self.events, mask))));
        }
    }
}

/// Every mask a multishot poll has queued, OR-ed into one; `Some(Err)` or `None` (the
/// kernel ended the poll) only when nothing was queued before.
fn poll_multi(poll: &mut PollEventsMulti, cx: &mut Context<'_>) -> Poll<Option<io::Result<u32>>> {
    let mut mask = None;
    while let Poll::Ready(next) = poll.poll_next(cx) {
        match next {
            Some(Ok(bits)) => mask = Some(mask.unwrap_or(0) | bits),
            end if mask.is_none() => return Poll::Ready(end),
            _ => break,
        }
    }
    match mask {
        Some(mask) => Poll::Ready(Some(Ok(mask))),
        None => Poll::Pending,
    }
}

fn home_stopped(err: &tokio::task::JoinError) -> io::Error {
    io::Error::other(format!(
        "corio: the socket's worker stopped while waiting for readiness: {err}"
    ))
}

/// What a poll needs besides its direction: the socket and its home worker.
#[derive(Debug)]
#[repr(C)]
struct Shared {
    socket: Socket,
    home: Option<Handle>,
}

impl Shared {
    fn submit(&self, events: u32, multishot: bool) -> io::Result<Wait> {
        if corio_runtime::uring_active() {
            return if multishot {
                self.socket.poll_events_multi(events).map(Wait::Multi)
            } else {
                self.socket.poll_events(events).map(Wait::Ring)
            };
        }
        let home = self.home.as_ref().ok_or_else(no_home)?;
        let socket = self.socket.clone();
        Ok(Wait::Home(
            home.spawn(async move { socket.poll_events(events)?.await }),
        ))
    }
}

fn no_home() -> io::Error {
    io::Error::other("corio: this io_uring socket is polled outside its runtime")
}

impl Drop for UringReady {
    /// Cancels the polls in flight and, on their ring's thread, has the kernel let go of
    /// them at once: a poll holds the socket open, and a dropped listener must refuse new
    /// connections (a dropped stream must send its FIN) now, not at the ring's next turn.
    fn drop(&mut self) {
        let [read, write] = &self.directions;
        let read = lock(read).wait.take();
        let write = lock(write).wait.take();
        let local = [&read, &write]
            .iter()
            .any(|wait| matches!(wait, Some(wait) if wait.is_ring() && wait.is_local()));
        drop((read, write));
        if local {
            corio_runtime::release_cancelled();
        }
    }
}

/// The readiness of one uring socket, in both directions.
///
/// Laid out in declaration order (`repr(C)`): the cached readiness and the socket come
/// first, so an I/O call on a ready direction touches the start of this struct only.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct UringReady {
    /// Each direction's readiness: read, then write. Read without a lock (a ready
    /// direction, the usual case for writes, costs one load).
    ready: [Cached; 2],
    shared: Shared,
    /// What each direction waits on when it is not ready: read, then write.
    directions: [Mutex<Direction>; 2],
}

impl UringReady {
    /// Readiness for `socket`, whose home is the current worker (or `home`); `writable`
    /// starts the write direction ready (a connected stream: its first write needs no poll).
    pub(crate) fn new(socket: Socket, home: Option<Handle>, writable: bool) -> UringReady {
        let write = if writable {
            Ready::WRITABLE
        } else {
            Ready::EMPTY
        };
        let direction = |events: u32, multishot| {
            Mutex::new(Direction {
                events,
                multishot,
                wait: None,
                waiters: Waiters::default(),
            })
        };
        UringReady {
            ready: [Cached::new(Ready::EMPTY), Cached::new(write)],
            shared: Shared { socket, home },
            directions: [
                direction((libc::POLLIN | libc::POLLRDHUP) as u32, true),
                direction(libc::POLLOUT as u32, false),
            ],
        }
    }

    /// The socket.
    pub(crate) fn socket(&self) -> &Socket {
        &self.shared.socket
    }

    /// The socket, giving up the readiness state (and cancelling its polls).
    pub(crate) fn into_socket(self) -> Socket {
        let socket = self.shared.socket.clone();
        drop(self);
        socket
    }

    /// The direction `interest` names: 0 read, 1 write.
    fn side(interest: Interest) -> usize {
        usize::from(interest.is_writable())
    }

    /// Readiness of one direction (`READABLE` or `WRITABLE`): cached, or after a poll.
    pub(crate) fn poll_direction(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        let side = UringReady::side(interest);
        let ready = self.ready[side].get();
        if !ready.is_empty() {
            return Poll::Ready(Ok(ready));
        }
        lock(&self.directions[side]).poll(&self.ready[side], &self.shared, cx)
    }

    /// Forgets `ready` after an I/O call found the socket not ready after all. As in
    /// tokio, the closed bits stay: a half-close is final.
    pub(crate) fn clear(&self, interest: Interest, ready: Ready) {
        self.ready[UringReady::side(interest)]
            .remove(ready - Ready::READ_CLOSED - Ready::WRITE_CLOSED);
    }

    /// Records that the peer ended the stream (a receive returned 0): the read direction
    /// is ready and read-closed for good, as tokio's readiness is after `EPOLLRDHUP`.
    pub(crate) fn set_read_closed(&self) {
        self.ready[0].add(Ready::READABLE | Ready::READ_CLOSED);
    }

    /// tokio's `ready(interest)` as a poll: ready when any asked direction is; the read
    /// direction's readiness comes from `readable` (which may wait on the read gate).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        readable: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<Ready>>,
    ) -> Poll<io::Result<Ready>> {
        if let Err(err) = check(interest) {
            return Poll::Ready(Err(err));
        }
        let mut ready = Ready::EMPTY;
        if interest.is_readable() {
            if let Poll::Ready(result) = readable(cx) {
                ready |= result?;
            }
        }
        if interest.is_writable() {
            if let Poll::Ready(result) = self.poll_direction(cx, Interest::WRITABLE) {
                ready |= result?;
            }
        }
        let ready = ready & mask(interest);
        if ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ready))
        }
    }
}

/// The readiness a poll mask means for a direction polling `events`.
fn convert(events: u32, mask: u32) -> Ready {
    let mask = mask as i16;
    let hup = mask & libc::POLLHUP != 0;
    let mut ready = if events & libc::POLLOUT as u32 != 0 {
        let mut ready = Ready::WRITABLE;
        if hup || mask & libc::POLLERR != 0 {
            ready |= Ready::WRITE_CLOSED;
        }
        ready
    } else {
        let mut ready = Ready::READABLE;
        if hup || mask & libc::POLLRDHUP != 0 {
            ready |= Ready::READ_CLOSED;
        }
        ready
    };
    if mask & libc::POLLERR != 0 {
        ready |= Ready::ERROR;
    }
    ready
}

/// The readiness bits an `interest` waits for, as tokio reports them.
pub(crate) fn mask(interest: Interest) -> Ready {
    let mut mask = Ready::ERROR;
    if interest.is_readable() {
        mask |= Ready::READABLE | Ready::READ_CLOSED;
    }
    if interest.is_writable() {
        mask |= Ready::WRITABLE | Ready::WRITE_CLOSED;
    }
    mask
}

/// Rejects interests the uring backend does not poll for: `PRIORITY` alone, or none of
/// readable/writable.
fn check(interest: Interest) -> io::Result<()> {
    if !(interest.is_readable() || interest.is_writable()) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "corio: on io_uring, readiness supports Interest::READABLE and WRITABLE",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn shared_waker_wakes_every_task_once() {
        let mut waiters = Waiters::default();
        let a = Arc::new(Count(AtomicUsize::new(0)));
        let b = Arc::new(Count(AtomicUsize::new(0)));
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let shared = waiters.register(&Context::from_waker(&wa));
        waiters.register(&Context::from_waker(&wa));
        waiters.register(&Context::from_waker(&wb));
        shared.wake_by_ref();
        shared.wake_by_ref();
        assert_eq!(
            a.0.load(Ordering::SeqCst),
            1,
            "registered twice, woken once"
        );
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cached_readiness_keeps_every_bit_apart() {
        let cached = Cached::new(Ready::WRITABLE);
        assert_eq!(cached.get(), Ready::WRITABLE);
        let all = cached.add(Ready::READ_CLOSED | Ready::ERROR);
        assert!(all.is_writable() && all.is_read_closed() && all.is_error());
        assert!(
            (all & Ready::READABLE).is_empty() && !all.is_write_closed(),
            "read-closed is not readable by itself"
        );
        cached.remove(Ready::WRITABLE | Ready::ERROR);
        assert_eq!(cached.get(), Ready::READ_CLOSED);
        for bit in BITS {
            assert_eq!(Cached::decode(Cached::encode(bit)), bit);
        }
    }

    #[test]
    fn poll_masks_map_to_tokio_readiness() {
        let read = (libc::POLLIN | libc::POLLRDHUP) as u32;
        let ready = convert(read, read);
        assert!(ready.is_readable() && ready.is_read_closed() && !ready.is_writable());
        let ready = convert(read, (libc::POLLERR | libc::POLLHUP) as u32);
        assert!(
            ready.is_readable() && ready.is_error(),
            "errors wake readers"
        );
        let write = libc::POLLOUT as u32;
        let ready = convert(write, write);
        assert!(ready.is_writable() && !ready.is_write_closed());
        let ready = convert(write, libc::POLLHUP as u32);
        assert!(ready.is_writable() && ready.is_write_closed());
    }

    #[test]
    fn interests_map_like_tokio() {
        assert!(check(Interest::ERROR).is_err());
        assert!(check(Interest::READABLE | Interest::WRITABLE).is_ok());
        let m = mask(Interest::READABLE);
        assert!(m.is_readable() && m.is_read_closed() && !m.is_writable());
    }
}
