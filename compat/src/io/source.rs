//! `Source`: a socket fd and where its readiness comes from, the one type under every
//! `corio::net` socket. On the uring backend readiness comes from io_uring `POLL_ADD`s
//! (`uring.rs`); on the epoll backend from tokio's reactor (`AsyncFd`). Either way the I/O
//! itself is one non-blocking syscall once the socket is ready, exactly as tokio does it,
//! so both backends keep tokio's semantics: a write returns once its bytes are in the
//! kernel, an error stays the kernel's, and every future is cancel safe where tokio's is.
//!
//! The readiness loop (`poll_io`) is written here once; `stream.rs`, `datagram.rs`,
//! `listen.rs` and `connect.rs` are the syscalls each socket kind makes inside it.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};

use corio_runtime::{BackendKind, Gate, Socket};
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, ReadBuf, Ready};

use super::call::Io;
use super::uring::UringReady;

/// A non-blocking socket registered for readiness on the current backend.
///
/// Laid out in declaration order (`repr(C)`), so that what a read and a write on a
/// connection touch (the gates' handle, the backend's tag, the cached readiness and the
/// fd) shares as few cache lines as it can: under many connections each is a likely miss.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Source {
    /// The gates of the owned-buffer ring ops, made by the first one (uring only).
    gates: OnceLock<Gates>,
    /// The write direction was shut down (by `poll_shutdown`).
    write_shut: AtomicBool,
    reg: Registration,
}

/// One [`Gate`] per direction; the write gate is made by the first owned-buffer write (a
/// stream that only reads through its feed and writes with send(2) never needs one).
#[derive(Debug, Default)]
pub(crate) struct Gates {
    pub(crate) read: Gate,
    write: OnceLock<Gate>,
}

impl Drop for Gates {
    /// Lets go of the socket now: a feed still receiving would keep it open (and its FIN
    /// unsent) until the ring's next turns. Bytes it had stashed and nobody read are
    /// dropped with the stream, as the kernel drops unread bytes at close.
    fn drop(&mut self) {
        if self.read.stop_feed() {
            corio_runtime::release_cancelled();
        }
    }
}

impl Gates {
    /// The write gate, made now if no owned-buffer write made it before.
    pub(crate) fn write(&self) -> &Gate {
        self.write.get_or_init(Gate::new)
    }

    /// The gate of `interest`'s direction, if it exists.
    fn of(&self, interest: Interest) -> Option<&Gate> {
        if interest.is_writable() {
            self.write.get()
        } else {
            Some(&self.read)
        }
    }
}

/// Tagged at its start (`repr(u8)`) rather than through a niche deep inside a variant.
#[derive(Debug)]
#[repr(u8)]
enum Registration {
    Uring(UringReady),
    Epoll(AsyncFd<OwnedFd>),
}

impl Source {
    /// Registers `fd` (made non-blocking) with the backend of the current corio runtime;
    /// outside corio, with the current tokio runtime's reactor.
    ///
    /// # Errors
    ///
    /// Outside any runtime, or when tokio's reactor refuses the fd.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Source> {
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        Source::register(fd, false)
    }

    /// [`Source::new`] for a connected stream socket, which can be written to before
    /// anything was polled: its first write goes straight to send(2). (tokio learns the
    /// same from the `EPOLLOUT` its edge-triggered registration reports at once.)
    ///
    /// # Errors
    ///
    /// As [`Source::new`].
    pub(crate) fn connected(fd: OwnedFd) -> io::Result<Source> {
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        Source::accepted(fd)
    }

    /// [`Source::connected`] for a connection fresh from `sys::accept`, which is
    /// non-blocking already: no `fcntl` calls.
    ///
    /// # Errors
    ///
    /// As [`Source::new`].
    pub(crate) fn accepted(fd: OwnedFd) -> io::Result<Source> {
        Source::register(fd, true)
    }

    /// Registers the non-blocking `fd`; `writable` starts its write direction ready.
    fn register(fd: OwnedFd, writable: bool) -> io::Result<Source> {
        let reg = match corio_runtime::current_backend() {
            Some(BackendKind::Uring) => Registration::Uring(UringReady::new(
                Socket::from_owned(fd),
                corio_runtime::home_handle(),
                writable,
            )),
            _ => {
                tokio::runtime::Handle::try_current().map_err(|_| no_runtime())?;
                Registration::Epoll(corio_runtime::sys::register(fd)?)
            }
        };
        Ok(Source {
            reg,
            write_shut: AtomicBool::new(false),
            gates: OnceLock::new(),
        })
    }

    /// The socket and its gates, when owned-buffer calls made here can be ring ops: the
    /// uring backend, on a thread that owns a ring (any worker's: the op is polled where it
    /// was submitted, and the fd is the process's).
    pub(crate) fn ring(&self) -> Option<(&Socket, &Gates)> {
        match &self.reg {
            Registration::Uring(uring) if corio_runtime::uring_active() => {
                Some((uring.socket(), self.gates.get_or_init(Gates::default)))
            }
            _ => None,
        }
    }

    /// The read gate, once an owned-buffer call made one.
    fn read_gate(&self) -> Option<&Gate> {
        self.gates.get().map(|gates| &gates.read)
    }

    /// Records that the write direction was shut down; true if it already was.
    pub(crate) fn mark_write_shut(&self) -> bool {
        self.write_shut.swap(true, Ordering::AcqRel)
    }

    /// Forgets a shutdown that failed.
    pub(crate) fn unmark_write_shut(&self) {
        self.write_shut.store(false, Ordering::Release);
    }

    /// The backend's name, for `Debug` output.
    pub(crate) fn backend(&self) -> &'static str {
        match &self.reg {
            Registration::Uring(_) => "uring",
            Registration::Epoll(_) => "epoll",
        }
    }

    /// The fd back, deregistered, in non-blocking mode. On io_uring a readiness poll that
    /// was just cancelled may still hold the original fd for a moment; the fd returned is
    /// then a duplicate of it (the same socket), and the original closes when the kernel
    /// lets go.
    ///
    /// # Errors
    ///
    /// As `fcntl(F_DUPFD_CLOEXEC)` when a duplicate is needed and the process is out of fds.
    pub(crate) fn into_fd(mut self) -> io::Result<OwnedFd> {
        drop(self.gates.take());
        match self.reg {
            Registration::Epoll(fd) => Ok(fd.into_inner()),
            Registration::Uring(ready) => match ready.into_socket().into_owned() {
                Ok(fd) => Ok(fd),
                Err(socket) => socket.as_fd().try_clone_to_owned(),
            },
        }
    }

    /// Waits until the direction of `interest` (`READABLE` or `WRITABLE`) is ready, then
    /// runs `f`; a `WouldBlock` from `f` clears the readiness and waits again. `drained`
    /// says, from `f`'s result, that the socket has no more to give right now (a short
    /// read), which clears the readiness too, as tokio does.
    pub(crate) fn poll_io_with<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut f: impl FnMut(Io<'_>) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let direction = ready_bits(interest);
        match &self.reg {
            Registration::Uring(uring) => loop {
                // Bytes a ring op left in the stash are read first, without asking the
                // socket, whose readiness stays as it is; then an owned-buffer op or a
                // feed on this direction goes first (see `Gate`).
                let gate = self.gates.get().and_then(|gates| gates.of(interest));
                let io = Io::new(uring.socket().as_fd(), self.read_gate());
                if interest.is_readable() && gate.is_some_and(Gate::is_stashed) {
                    return Poll::Ready(f(io));
                }
                if let Some(gate) = gate {
                    ready!(gate.poll_open(cx));
                    if interest.is_readable() && gate.is_stashed() {
                        continue;
                    }
                }
                let ready = ready!(uring.poll_direction(cx, interest))?;
                match f(io) {
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        uring.clear(interest, ready);
                    }
                    Ok(value) if drained(&value) => {
                        uring.clear(interest, direction);
                        return Poll::Ready(Ok(value));
                    }
                    result => return Poll::Ready(result),
                }
            },
            Registration::Epoll(fd) => loop {
                let mut guard = if interest.is_writable() {
                    ready!(fd.poll_write_ready(cx))?
                } else {
                    ready!(fd.poll_read_ready(cx))?
                };
                match guard.try_io(|fd| f(Io::new(fd.as_fd(), None))) {
                    Ok(Ok(value)) if drained(&value) => {
                        guard.clear_ready_matching(direction);
                        return Poll::Ready(Ok(value));
                    }
                    Ok(result) => return Poll::Ready(result),
                    Err(_would_block) => {}
                }
            },
        }
    }

    /// [`Source::poll_io_with`] without the drained check.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        f: impl FnMut(Io<'_>) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_with(cx, interest, f, |_| false)
    }

    /// [`Source::poll_io`] as a future. Unlike the `poll_*` forms, which wake only the last
    /// task that polled, any number of tasks may wait here at once.
    pub(crate) async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(Io<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        match &self.reg {
            Registration::Uring(_) => poll_fn(|cx| self.poll_io(cx, interest, &mut f)).await,
            // A pending socket error (an ICMP "port unreachable" on a connected UDP
            // socket) is reported by epoll as `EPOLLERR` alone: wake readers on it too, so
            // the receive that follows reports the error instead of waiting forever.
            Registration::Epoll(fd) => {
                let interest = if interest.is_readable() {
                    interest | Interest::ERROR
                } else {
                    interest
                };
                fd.async_io(interest, |fd| f(Io::new(fd.as_fd(), None)))
                    .await
            }
        }
    }

    /// Runs `f` once now; a `WouldBlock` from it clears the readiness of `interest`. On
    /// the epoll backend `f` runs only when tokio's reactor has seen the socket ready (as
    /// tokio's `try_*` methods do); on io_uring it always runs, since no reactor updates
    /// readiness in the background there.
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(Io<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        match &self.reg {
            Registration::Uring(uring) => {
                let gate = self.gates.get().and_then(|gates| gates.of(interest));
                let stashed = interest.is_readable() && gate.is_some_and(Gate::is_stashed);
                if !stashed && gate.is_some_and(|gate| !gate.is_open()) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let result = f(Io::new(uring.socket().as_fd(), self.read_gate()));
                if matches!(&result, Err(err) if err.kind() == io::ErrorKind::WouldBlock) {
                    uring.clear(interest, ready_bits(interest));
                }
                result
            }
            Registration::Epoll(fd) => fd.try_io(interest, |fd| f(Io::new(fd.as_fd(), None))),
        }
    }

    /// Waits until one direction (`READABLE` or `WRITABLE`) is ready, without I/O.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Ready>> {
        match &self.reg {
            Registration::Uring(uring) if interest.is_readable() => self.poll_readable(uring, cx),
            Registration::Uring(uring) => uring.poll_direction(cx, interest),
            Registration::Epoll(fd) => {
                let guard = if interest.is_writable() {
                    ready!(fd.poll_write_ready(cx))?
                } else {
                    ready!(fd.poll_read_ready(cx))?
                };
                Poll::Ready(Ok(guard.ready()))
            }
        }
    }

    /// tokio's `ready(interest)`: the readiness of any direction in `interest`. It may be
    /// spurious; the `try_*` call that follows says.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        match &self.reg {
            Registration::Uring(uring) => {
                poll_fn(|cx| uring.poll_ready(cx, interest, |cx| self.poll_readable(uring, cx)))
                    .await
            }
            Registration::Epoll(fd) => Ok(fd.ready(interest).await?.ready()),
        }
    }
}

impl Source {
    /// After an I/O call outside the readiness loop said `WouldBlock` (a splice): forgets
    /// the readiness of that direction (`READABLE` or `WRITABLE`) and waits for it again.
    pub(crate) async fn wait_after_would_block(&self, interest: Interest) -> io::Result<()> {
        if let Registration::Uring(uring) = &self.reg {
            uring.clear(interest, ready_bits(interest));
        }
        poll_fn(|cx| self.poll_ready(cx, interest)).await.map(drop)
    }

    /// The read direction's readiness on io_uring: stashed bytes are ready at once; while
    /// a feed (or an owned op) holds the read gate, the bytes arrive through it, so the
    /// wait is on the gate, not on the socket.
    fn poll_readable(&self, uring: &UringReady, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        if let Some(gate) = self.read_gate() {
            if !gate.is_stashed() && !gate.is_open() {
                ready!(gate.poll_open(cx));
            }
            if gate.is_stashed() {
                return Poll::Ready(Ok(Ready::READABLE));
            }
        }
        uring.poll_direction(cx, Interest::READABLE)
    }

    /// `AsyncRead` on io_uring, on a thread that owns a ring: reads what the read gate's
    /// feed (a receive into the ring's provided buffers) stashed, arming the feed when
    /// nothing is; `None` when the read must go to the socket instead (another backend or
    /// thread, feeds off or refused).
    pub(crate) fn poll_read_fed(
        &self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Option<Poll<io::Result<usize>>> {
        let Registration::Uring(uring) = &self.reg else {
            return None;
        };
        let gate = &self.gates.get_or_init(Gates::default).read;
        let mut mode = None;
        loop {
            // What a feed delivered is read first, on any thread, without looking for a
            // ring (the common case: the reader was woken by that delivery).
            if gate.is_stashed() {
                let io = Io::new(uring.socket().as_fd(), Some(gate));
                if let Some(got) = io.take_buf(out, 0) {
                    return Some(Poll::Ready(got));
                }
            }
            let mode = match mode {
                Some(mode) => mode,
                None => *mode.insert(corio_runtime::recv_mode()?),
            };
            match gate.poll_fed(uring.socket(), mode, cx) {
                Poll::Pending => return Some(Poll::Pending),
                Poll::Ready(false) => {
                    if gate.saw_end() {
                        uring.set_read_closed();
                    }
                    return None;
                }
                // Stashed: taken at the top, unless another reader took it first.
                Poll::Ready(true) => {}
            }
        }
    }
}

impl AsFd for Source {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.reg {
            Registration::Uring(uring) => uring.socket().as_fd(),
            Registration::Epoll(fd) => fd.get_ref().as_fd(),
        }
    }
}

/// The readiness bit of the direction of `interest` (the closed bits are never cleared).
fn ready_bits(interest: Interest) -> Ready {
    if interest.is_writable() {
        Ready::WRITABLE
    } else {
        Ready::READABLE
    }
}

fn no_runtime() -> io::Error {
    io::Error::other(
        "corio::net sockets must be created inside a corio runtime (or a tokio runtime)",
    )
}
