//! `raw-uring`: the reference server on io_uring alone, one ring per
//! thread. A multishot `ACCEPT` on the thread's listener; per connection a
//! multishot `RECV` into the [`ProvidedBufs`] (each buffer given back as soon as
//! its bytes are answered) and at most one `SEND` in flight, from the
//! connection's [`OutQueue`]. Each turn of the loop makes exactly one
//! `io_uring_enter` (`submit_and_wait(1)`), then handles every completion.
//!
//! A connection's life: accepted, then receiving while its `RECV` is armed
//! (re-armed when it ends without an error, or with `ENOBUFS`). End of
//! stream, a receive error, a failed send, or bytes that cannot be framed
//! ([`super::http::Unframed`]) mark it closing: what is queued is still
//! sent (not after a failed send), a `RECV` still armed is ended with
//! `shutdown(2)`, and once neither a `RECV` nor a `SEND` is in flight the
//! connection is removed and its fd closed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};
use slab::Slab;
use socket2::{SockRef, Socket};

use super::http::Framing;
use super::out_queue::OutQueue;
use super::Protocol;
use corio::buf::ProvidedBufs;

/// Submission queue entries (the completion queue gets twice as many).
const ENTRIES: u32 = 1024;
/// The buffer group of the [`ProvidedBufs`].
const BUF_GROUP: u16 = 0;
/// Receive buffers per thread, and their size: 4 MiB of address space, of
/// which only pages the kernel has written to count in the RSS.
const BUFFERS: u16 = 256;
const BUF_SIZE: u32 = 16 * 1024;

/// `user_data`: the kind of op in the low [`KIND_BITS`] bits, above them
/// the connection's key in the slab (for `RECV` and `SEND`).
const KIND_BITS: u32 = 2;
const ACCEPT: u64 = 0;
const BACKOFF: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;

/// How long accepting pauses after running out of fds or memory.
static BACKOFF_TIME: types::Timespec = types::Timespec::new().nsec(10_000_000);

/// One accepted connection.
#[derive(Debug)]
struct Conn {
    fd: OwnedFd,
    framing: Framing,
    out: OutQueue,
    /// A multishot `RECV` is in flight.
    recv_armed: bool,
    /// A `SEND` of `out`'s current chunk is in flight.
    sending: bool,
    /// No more input is taken; removed once nothing is in flight.
    closing: bool,
    /// `shutdown(2)` was called to end the `RECV`.
    shut: bool,
}

impl Conn {
    fn new(fd: OwnedFd) -> Conn {
        Conn {
            fd,
            framing: Framing::default(),
            out: OutQueue::default(),
            recv_armed: false,
            sending: false,
            closing: false,
            shut: false,
        }
    }
}

/// One thread's server.
///
/// # Invariants
/// A connection stays in `conns` (its fd open, its `out` in place) while
/// `recv_armed` or `sending`: every in-flight op's fd and buffer are alive.
/// `ring` is declared first so that it is dropped first.
struct Server {
    ring: IoUring,
    bufs: ProvidedBufs,
    listener: Socket,
    conns: Slab<Conn>,
    protocol: Protocol,
    /// Entries waiting for room in the submission queue, in order.
    backlog: VecDeque<squeue::Entry>,
    /// Completions of this turn (reused).
    cqes: Vec<cqueue::Entry>,
    /// Accepting is paused after an error (reported once per pause).
    accept_paused: bool,
}

/// Serves `listener` with `protocol` until a fatal error.
///
/// # Errors
/// io_uring or an opcode is unavailable, or the ring fails.
pub(crate) fn serve(listener: Socket, protocol: Protocol) -> Result<Infallible, String> {
    let mut server = Server::new(listener, protocol).map_err(|e| format!("raw-uring: {e}"))?;
    server.arm_accept();
    server.run().map_err(|e| format!("raw-uring: {e}"))
}

impl Server {
    fn new(listener: Socket, protocol: Protocol) -> io::Result<Server> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(ENTRIES)
            .or_else(|_| IoUring::new(ENTRIES))
            .map_err(|e| io::Error::new(e.kind(), format!("setting up io_uring: {e}")))?;
        probe(&ring)?;
        let bufs = ProvidedBufs::register(&ring.submitter(), BUF_GROUP, BUFFERS, BUF_SIZE, false)
            .map_err(|e| {
            io::Error::new(e.kind(), format!("registering the buffer ring: {e}"))
        })?;
        Ok(Server {
            ring,
            bufs,
            listener,
            conns: Slab::new(),
            protocol,
            backlog: VecDeque::new(),
            cqes: Vec::new(),
            accept_paused: false,
        })
    }

    /// The event loop: one `submit_and_wait(1)` per turn, then every
    /// completion of the turn.
    fn run(&mut self) -> io::Result<Infallible> {
        loop {
            self.flush_backlog();
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                // EINTR: a signal; EBUSY: completions to reap first.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            let mut cqes = std::mem::take(&mut self.cqes);
            cqes.extend(self.ring.completion());
            for cqe in cqes.drain(..) {
                self.dispatch(&cqe)?;
            }
            self.cqes = cqes;
        }
    }

    fn dispatch(&mut self, cqe: &cqueue::Entry) -> io::Result<()> {
        let data = cqe.user_data();
        let key = (data >> KIND_BITS) as usize;
        match data & ((1 << KIND_BITS) - 1) {
            ACCEPT => self.on_accept(cqe.result(), cqe.flags()),
            BACKOFF => {
                self.arm_accept();
                Ok(())
            }
            RECV => self.on_recv(key, cqe.result(), cqe.flags()),
            SEND => {
                self.on_send(key, cqe.result());
                Ok(())
            }
            kind => unreachable!("user_data kind {kind}"),
        }
    }

    /// Queues `entry` for the next submit.
    ///
    /// # Safety
    /// Every fd and buffer `entry` refers to stays valid until its last
    /// completion (the one without `IORING_CQE_F_MORE`).
    unsafe fn queue(&mut self, entry: squeue::Entry) {
        self.backlog.push_back(entry);
    }

    /// Moves queued entries into the submission queue while it has room.
    fn flush_backlog(&mut self) {
        let mut sq = self.ring.submission();
        while let Some(entry) = self.backlog.front() {
            // SAFETY: entries get into the backlog only through `queue`,
            // whose callers keep their fds and buffers valid until the last
            // completion.
            if unsafe { sq.push(entry) }.is_err() {
                break;
            }
            self.backlog.pop_front();
        }
    }

    fn arm_accept(&mut self) {
        let fd = types::Fd(self.listener.as_raw_fd());
        let entry = opcode::AcceptMulti::new(fd)
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ACCEPT);
        // SAFETY: the accept refers to no memory; the listener is owned by
        // the server and outlives the ring (the ring is dropped first).
        unsafe { self.queue(entry) }
    }

    fn on_accept(&mut self, res: i32, flags: u32) -> io::Result<()> {
        if res >= 0 {
            // SAFETY: a successful accept's result is a new fd owned by no one.
            let fd = unsafe { OwnedFd::from_raw_fd(res) };
            self.accept_paused = false;
            self.open(fd);
            if !cqueue::more(flags) {
                self.arm_accept();
            }
            return Ok(());
        }
        let err = io::Error::from_raw_os_error(-res);
        match -res {
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => {
                if !std::mem::replace(&mut self.accept_paused, true) {
                    eprintln!("raw-uring: accept: {err}; retrying every 10 ms");
                }
                if !cqueue::more(flags) {
                    let entry = opcode::Timeout::new(&BACKOFF_TIME)
                        .build()
                        .user_data(BACKOFF);
                    // SAFETY: the timeout reads a static timespec.
                    unsafe { self.queue(entry) }
                }
            }
            libc::ECONNABORTED | libc::EINTR | libc::EAGAIN | libc::EPROTO | libc::EPERM => {
                if !cqueue::more(flags) {
                    self.arm_accept();
                }
            }
            _ => return Err(io::Error::new(err.kind(), format!("accept: {err}"))),
        }
        Ok(())
    }

    /// Takes a new connection and arms its receive.
    fn open(&mut self, fd: OwnedFd) {
        // Like the other servers; a failure only costs latency.
        let _ = SockRef::from(&fd).set_tcp_nodelay(true);
        let key = self.conns.insert(Conn::new(fd));
        self.arm_recv(key);
    }

    fn arm_recv(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.recv_armed = true;
        let entry = opcode::RecvMulti::new(types::Fd(conn.fd.as_raw_fd()), BUF_GROUP)
            .build()
            .user_data(token(RECV, key));
        // SAFETY: the receive writes only into `bufs`' buffers, never freed
        // (`ProvidedBufs` leaks them when dropped); the fd stays open while `recv_armed` (# Invariants).
        unsafe { self.queue(entry) }
    }

    fn on_recv(&mut self, key: usize, res: i32, flags: u32) -> io::Result<()> {
        let Server {
            bufs,
            conns,
            protocol,
            ..
        } = self;
        let conn = &mut conns[key];
        if let Some(bid) = cqueue::buffer_select(flags) {
            let len = usize::try_from(res).unwrap_or(0);
            let feed = |bytes: &[u8]| match conn.closing {
                true => Ok(()),
                false => protocol.feed(&mut conn.framing, bytes, conn.out.back_mut()),
            };
            // SAFETY: `bid`, `res` and `flags` are this completion's, consumed once, in order.
            if unsafe { bufs.take(bid, len, flags, feed) }.is_err() {
                conn.closing = true;
            }
        }
        match res {
            1.. => {}
            // The ring ran dry: the receive ended; re-armed below.
            _ if -res == libc::ENOBUFS => {}
            _ if -res == libc::EINVAL => {
                return Err(io::Error::other("multishot RECV refused (needs Linux 6.0)"))
            }
            // 0: end of stream; else the connection failed (reset, ...).
            _ => conn.closing = true,
        }
        if !cqueue::more(flags) {
            conn.recv_armed = false;
            if !conn.closing {
                self.arm_recv(key);
            }
        }
        self.settle(key);
        Ok(())
    }

    fn on_send(&mut self, key: usize, res: i32) {
        let conn = &mut self.conns[key];
        conn.sending = false;
        match usize::try_from(res) {
            Ok(n) => conn.out.advance(n),
            Err(_) => {
                conn.out.clear();
                conn.closing = true;
            }
        }
        self.settle(key);
    }

    /// Sends what is queued if no send is in flight; removes a closing
    /// connection once nothing is in flight.
    fn settle(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if !conn.sending {
            if let Some(chunk) = conn.out.next_chunk() {
                let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                let entry = opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), chunk.as_ptr(), len)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
                    .user_data(token(SEND, key));
                conn.sending = true;
                // SAFETY: the send reads the chunk, which `OutQueue` keeps in
                // place until the next `advance`/`next_chunk`/`clear`, called
                // only after its completion (`sending`); the connection is
                // not removed while `sending` (# Invariants), and is leaked
                // if the server is dropped before that (`Drop for Server`).
                unsafe { self.queue(entry) };
                return;
            }
        }
        if !conn.closing || conn.sending {
            return;
        }
        if !conn.recv_armed {
            self.conns.remove(key);
        } else if !std::mem::replace(&mut conn.shut, true) {
            // Ends the armed receive (it completes with 0); removed then.
            let _ = SockRef::from(&conn.fd).shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The kernel may read a send's buffer until the ring is torn down,
        // which ends after this drop: leak those connections instead.
        for conn in self.conns.drain() {
            if conn.sending {
                std::mem::forget(conn);
            }
        }
    }
}

fn token(kind: u64, key: usize) -> u64 {
    ((key as u64) << KIND_BITS) | kind
}

/// Checks that the kernel has every opcode the server uses.
fn probe(ring: &IoUring) -> io::Result<()> {
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    let needed = [
        (opcode::AcceptMulti::CODE, "ACCEPT"),
        (opcode::RecvMulti::CODE, "RECV"),
        (opcode::Send::CODE, "SEND"),
        (opcode::Timeout::CODE, "TIMEOUT"),
    ];
    match needed.iter().find(|(code, _)| !probe.is_supported(*code)) {
        Some((_, name)) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the kernel has no IORING_OP_{name}"),
        )),
        None => Ok(()),
    }
}
