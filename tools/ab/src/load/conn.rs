//! One keep-alive connection of the load generator: keeps up to `depth`
//! requests in flight (closed loop: as soon as a slot is free; open loop:
//! when the connection's schedule says so), parses replies as they arrive,
//! and reconnects after an error until the run ends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::proto::{ErrorKind, Proto, Reply, Step};
use super::shared::Shared;

/// Receive buffer size to start with; it grows for larger replies.
const INITIAL_BUF: usize = 16 * 1024;
/// Largest reply (or run of pipelined replies) accepted.
pub(super) const MAX_BUF: usize = 16 * 1024 * 1024;
/// Pause after a failed connect, so a dead server is not hammered.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// An error that ends a connection, and how many requests it lost.
type Broken = (ErrorKind, usize);

/// Runs connection number `index` until the measured window ends.
pub(crate) async fn run(shared: Rc<Shared>, proto: Rc<Proto>, addr: SocketAddr, index: u32) {
    let mut pacer = shared
        .interval
        .zip(shared.stagger)
        .map(|(interval, stagger)| Pacer {
            next: shared.start + stagger * index,
            interval,
        });
    while Instant::now() < shared.end() {
        let stream = match connect(addr, shared.timeout).await {
            Ok(s) => s,
            Err(()) => {
                shared.error(Instant::now(), ErrorKind::Connect, 1);
                tokio::time::sleep_until(shared.end().min(Instant::now() + RECONNECT_PAUSE)).await;
                continue;
            }
        };
        let mut conn = Conn::new(&shared, &proto, stream);
        match conn.drive(&mut pacer).await {
            Ok(()) => return,
            Err((kind, lost)) => shared.error(Instant::now(), kind, lost.max(1) as u64),
        }
    }
}

/// Connects to `addr` within `timeout`, with `TCP_NODELAY` set.
pub(super) async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ()> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        _ => Err(()),
    }
}

/// Open-loop schedule of one connection.
#[derive(Debug, Clone, Copy)]
struct Pacer {
    /// Intended send time of the next request.
    next: Instant,
    /// Time between two intended sends.
    interval: Duration,
}

/// One open connection and its in-flight requests.
struct Conn<'a> {
    shared: &'a Shared,
    proto: &'a Proto,
    stream: TcpStream,
    /// Start times of in-flight requests, oldest first: the actual send time
    /// (closed loop) or the intended one (open loop, see [`Conn::fill`]).
    inflight: VecDeque<Instant>,
    rbuf: Vec<u8>,
    filled: usize,
    wbuf: Vec<u8>,
    /// When the in-flight window last went from full to not full.
    free_since: Instant,
    /// When to look for timed-out requests next (never later than needed).
    timeout_check: Instant,
}

impl<'a> Conn<'a> {
    fn new(shared: &'a Shared, proto: &'a Proto, stream: TcpStream) -> Conn<'a> {
        let now = Instant::now();
        Conn {
            shared,
            proto,
            stream,
            inflight: VecDeque::with_capacity(shared.depth),
            rbuf: vec![0; INITIAL_BUF],
            filled: 0,
            wbuf: Vec::with_capacity(proto.request().len() * shared.depth),
            free_since: now,
            timeout_check: now + shared.timeout,
        }
    }

    /// Sends and receives until the window ends (`Ok`) or the connection breaks.
    async fn drive(&mut self, pacer: &mut Option<Pacer>) -> Result<(), Broken> {
        let timer = tokio::time::sleep_until(self.shared.end());
        tokio::pin!(timer);
        loop {
            let now = Instant::now();
            if now >= self.shared.end() {
                return Ok(());
            }
            self.fill(now, pacer);
            if !self.wbuf.is_empty() {
                if self.stream.write_all(&self.wbuf).await.is_err() {
                    return Err((ErrorKind::Write, self.inflight.len()));
                }
                self.wbuf.clear();
            }
            let deadline = self.deadline(pacer);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                biased;
                read = self.stream.read(&mut self.rbuf[self.filled..]) => self.on_read(read)?,
                () = &mut timer => self.on_timer()?,
            }
        }
    }

    /// Queues requests into `wbuf` while the window has room (and, open
    /// loop, their send time has come).
    ///
    /// Open loop: a request whose intended time passed while the window was
    /// full (the server was slow) starts its clock at the intended time, so
    /// queueing shows in the latency; one that is late only because this
    /// generator's timer woke late starts at the actual send time.
    fn fill(&mut self, now: Instant, pacer: &mut Option<Pacer>) {
        while self.inflight.len() < self.shared.depth {
            let start = match pacer {
                None => now,
                Some(p) if p.next > now => break,
                Some(p) => {
                    let due = p.next;
                    p.next += p.interval;
                    match self.free_since > due {
                        true => due,
                        false => now,
                    }
                }
            };
            self.inflight.push_back(start);
            self.wbuf.extend_from_slice(self.proto.request());
        }
    }

    /// The next time the connection must wake without a reply.
    fn deadline(&self, pacer: &Option<Pacer>) -> Instant {
        let mut deadline = self.shared.end().min(self.timeout_check);
        if let Some(p) = pacer {
            if self.inflight.len() < self.shared.depth {
                deadline = deadline.min(p.next);
            }
        }
        deadline
    }

    fn on_timer(&mut self) -> Result<(), Broken> {
        let now = Instant::now();
        if now < self.timeout_check {
            return Ok(());
        }
        match self.inflight.front() {
            Some(&t) if now.saturating_duration_since(t) >= self.shared.timeout => {
                Err((ErrorKind::Timeout, self.inflight.len()))
            }
            Some(&t) => {
                self.timeout_check = t + self.shared.timeout;
                Ok(())
            }
            None => {
                self.timeout_check = now + self.shared.timeout;
                Ok(())
            }
        }
    }

    fn on_read(&mut self, read: std::io::Result<usize>) -> Result<(), Broken> {
        match read {
            Ok(0) => return Err((ErrorKind::Closed, self.inflight.len())),
            Ok(n) => self.filled += n,
            Err(_) => return Err((ErrorKind::Read, self.inflight.len())),
        }
        let now = Instant::now();
        let was_full = self.inflight.len() == self.shared.depth;
        let consumed = self.take_replies(now)?;
        if was_full && self.inflight.len() < self.shared.depth {
            self.free_since = now;
        }
        self.rbuf.copy_within(consumed..self.filled, 0);
        self.filled -= consumed;
        if self.filled == self.rbuf.len() {
            if self.rbuf.len() >= MAX_BUF {
                return Err((
                    ErrorKind::Malformed("reply over 16 MiB"),
                    self.inflight.len(),
                ));
            }
            self.rbuf.resize(self.rbuf.len() * 2, 0);
        }
        Ok(())
    }

    /// Accounts every complete reply in the buffer; returns the bytes used.
    fn take_replies(&mut self, now: Instant) -> Result<usize, Broken> {
        let mut pos = 0;
        loop {
            let (len, reply) = match self.proto.parse(&self.rbuf[pos..self.filled]) {
                Step::Partial => return Ok(pos),
                Step::Invalid(why) => return Err((ErrorKind::Malformed(why), self.inflight.len())),
                Step::Done { len, reply } => (len, reply),
            };
            pos += len;
            let Some(start) = self.inflight.pop_front() else {
                return Err((ErrorKind::Malformed("reply to no request"), 1));
            };
            self.shared.complete(start, now, reply);
            if matches!(reply, Reply::Http(r) if r.close) {
                // The server will close: what is still in flight is lost.
                return Err((ErrorKind::Closed, self.inflight.len()));
            }
        }
    }
}
