//! `raw-epoll`: the reference server on epoll alone, one epoll instance per
//! thread, edge-triggered. The listener and every connection are registered
//! once (connections for `EPOLLIN | EPOLLOUT | EPOLLRDHUP`) and never
//! modified, so a request costs one `epoll_wait`, one `read` and one `write`.
//!
//! Edge-triggered means reading until the socket is drained: a read that
//! fills less than the buffer drained it (as tokio also assumes), so no
//! extra read is made to see `EAGAIN`; data arriving later raises a new edge.
//! Writes go on until the output is sent or a write is short / `EAGAIN`,
//! after which the next `EPOLLOUT` edge resumes them. The listener accepts
//! until `EAGAIN`; after `EMFILE` (or `ENFILE`, `ENOBUFS`, `ENOMEM`) it is
//! retried every 10 ms. A connection closes (`close(2)`, which also takes it
//! out of the epoll set) when it fails, or once its output is sent after the
//! end of its input or bytes that cannot be framed.

use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use slab::Slab;
use socket2::Socket;

use super::http::Framing;
use super::out_queue::OutQueue;
use super::Protocol;

/// The listener's token; connections use their slab key.
const LISTENER: u64 = u64::MAX;
/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;
/// The read buffer, shared by the thread's connections.
const READ_BUF: usize = 16 * 1024;
/// How long accepting pauses after running out of fds or memory, in ms.
const BACKOFF_MS: i32 = 10;

/// An epoll instance.
#[derive(Debug)]
struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1(2) takes a flag and reads no memory.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this fd and nothing else owns it.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Registers `fd` for `events`, reported with `token`.
    fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: epoll_ctl(2) reads one epoll_event from `event`, a live local.
        let rc =
            unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        match rc {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Waits up to `timeout_ms` (-1: forever); the number of events written
    /// to the front of `events`.
    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
        // SAFETY: epoll_wait(2) writes at most `max` events into `events`,
        // a live, initialised slice of at least that many.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

/// One accepted connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    framing: Framing,
    out: OutQueue,
    /// No more input is taken; closed once the output is sent.
    closing: bool,
}

impl Conn {
    /// Reads until the socket is drained, answering what arrives; `false`
    /// when the connection failed.
    fn read(&mut self, protocol: &mut Protocol, buf: &mut [u8]) -> bool {
        while !self.closing {
            match (&self.stream).read(buf) {
                Ok(0) => self.closing = true,
                Ok(n) => {
                    let out = self.out.back_mut();
                    if protocol.feed(&mut self.framing, &buf[..n], out).is_err() {
                        self.closing = true;
                    }
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Writes queued output until it is sent or the socket is full; `false`
    /// when the connection failed.
    fn write(&mut self) -> bool {
        while let Some(chunk) = self.out.next_chunk() {
            let len = chunk.len();
            match (&self.stream).write(chunk) {
                Ok(n) => {
                    self.out.advance(n);
                    if n < len {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

/// One thread's server.
struct Server {
    epoll: Epoll,
    listener: Socket,
    conns: Slab<Conn>,
    protocol: Protocol,
    buf: Box<[u8]>,
    events: Box<[libc::epoll_event]>,
    /// Accepting is paused after an error (reported once per pause).
    accept_paused: bool,
}

/// Serves `listener` with `protocol` until a fatal error.
///
/// # Errors
/// epoll fails, or accepting fails for good.
pub(crate) fn serve(listener: Socket, protocol: Protocol) -> Result<Infallible, String> {
    Server::new(listener, protocol)
        .and_then(|mut server| server.run())
        .map_err(|e| format!("raw-epoll: {e}"))
}

impl Server {
    fn new(listener: Socket, protocol: Protocol) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let epoll = Epoll::new()?;
        let edge = (libc::EPOLLIN | libc::EPOLLET) as u32;
        epoll.add(listener.as_raw_fd(), edge, LISTENER)?;
        Ok(Server {
            epoll,
            listener,
            conns: Slab::new(),
            protocol,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS].into_boxed_slice(),
            accept_paused: false,
        })
    }

    fn run(&mut self) -> io::Result<Infallible> {
        loop {
            let timeout = if self.accept_paused { BACKOFF_MS } else { -1 };
            let n = match self.epoll.wait(&mut self.events, timeout) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => return Err(io::Error::new(e.kind(), format!("epoll_wait: {e}"))),
            };
            if self.accept_paused {
                self.accept_all()?;
            }
            for i in 0..n {
                let event = self.events[i];
                let (flags, token) = (event.events, event.u64);
                match token {
                    LISTENER => self.accept_all()?,
                    key => self.on_ready(key as usize, flags),
                }
            }
        }
    }

    /// Accepts until `EAGAIN`.
    fn accept_all(&mut self) -> io::Result<()> {
        loop {
            match self
                .listener
                .accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            {
                Ok((socket, _)) => {
                    self.accept_paused = false;
                    self.open(socket);
                }
                Err(e) => {
                    return match e.raw_os_error() {
                        Some(libc::EAGAIN) => {
                            self.accept_paused = false;
                            Ok(())
                        }
                        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM) => {
                            continue
                        }
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                            if !std::mem::replace(&mut self.accept_paused, true) {
                                eprintln!("raw-epoll: accept: {e}; retrying every 10 ms");
                            }
                            Ok(())
                        }
                        _ => Err(io::Error::new(e.kind(), format!("accept: {e}"))),
                    }
                }
            }
        }
    }

    /// Registers a new connection.
    fn open(&mut self, socket: Socket) {
        // Like the other servers; a failure only costs latency.
        let _ = socket.set_tcp_nodelay(true);
        let stream = TcpStream::from(socket);
        let entry = self.conns.vacant_entry();
        let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        match self
            .epoll
            .add(stream.as_raw_fd(), events as u32, entry.key() as u64)
        {
            Ok(()) => {
                entry.insert(Conn {
                    stream,
                    framing: Framing::default(),
                    out: OutQueue::default(),
                    closing: false,
                });
            }
            // Dropping the stream closes it.
            Err(e) => eprintln!("raw-epoll: registering a connection: {e}"),
        }
    }

    /// Handles readiness `flags` of connection `key`.
    fn on_ready(&mut self, key: usize, flags: u32) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let input = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
        let read_ok = flags & input == 0 || conn.read(&mut self.protocol, &mut self.buf);
        let alive = read_ok && conn.write();
        if !alive || (conn.closing && conn.out.is_empty()) {
            self.conns.remove(key);
        }
    }
}
