//! `SplicePipe`: a pipe kept per worker thread for zero-copy transfers between a file and
//! a socket with `IORING_OP_SPLICE` (file → pipe → socket, or socket → pipe → file).
//!
//! A pipe goes back to its thread's pool only when it is empty; a transfer that fails or
//! is dropped half-way drops its pipe (the ops in flight keep the fds open until their
//! CQEs), so a pooled pipe never holds stale bytes.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::opcode;

use crate::context;
use crate::driver::op::Op;
use crate::fd::SharedFd;
use crate::fs::File;
use crate::gate::Ticket;
use crate::op;
use crate::socket::Socket;

/// What a pipe is asked to hold: 1 MiB where `/proc/sys/fs/pipe-max-size` allows.
const WANTED: i32 = 1 << 20;
/// Pipes kept per thread.
const POOL: usize = 4;

thread_local! {
    static PIPES: RefCell<Vec<SplicePipe>> = const { RefCell::new(Vec::new()) };
}

/// An empty pipe for splicing; see the module docs.
#[derive(Debug)]
pub struct SplicePipe {
    read: SharedFd,
    write: SharedFd,
    capacity: usize,
}

/// A splice in flight; resolves to the bytes moved.
#[derive(Debug)]
pub struct Splice(Op<op::splice::Splice>);

impl Future for Splice {
    type Output = io::Result<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Splice {
    /// Keeps `ticket` (the socket's write gate) until the splice's final CQE.
    pub fn hold(&mut self, ticket: Ticket) {
        if let Some(data) = self.0.data_mut() {
            data.ticket = Some(ticket);
        }
    }
}

impl SplicePipe {
    /// True when this thread owns a ring whose kernel has `IORING_OP_SPLICE` (the first
    /// time it lacks it, a `warn` says so).
    pub fn available() -> bool {
        context::try_with_ring(|ring| ring.has_opcode(opcode::Splice::CODE)).unwrap_or(false)
    }

    /// An empty pipe from this thread's pool, or a new one.
    ///
    /// # Errors
    ///
    /// As pipe2(2) (`EMFILE`...).
    pub fn take() -> io::Result<SplicePipe> {
        if let Some(pipe) = PIPES.with(|pool| pool.borrow_mut().pop()) {
            return Ok(pipe);
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds pipe2(2) writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both fds are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETPIPE_SZ/F_GETPIPE_SZ take and return an int; `write` is open. A
        // refused size keeps the default.
        let capacity = unsafe {
            libc::fcntl(fds[1], libc::F_SETPIPE_SZ, WANTED);
            libc::fcntl(fds[1], libc::F_GETPIPE_SZ)
        };
        Ok(SplicePipe {
            read: SharedFd::new(read),
            write: SharedFd::new(write),
            capacity: usize::try_from(capacity).unwrap_or(64 << 10).max(4096),
        })
    }

    /// How many bytes the pipe holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Puts the pipe back in this thread's pool. Call it only when the pipe is empty
    /// (every byte filled into it was drained out).
    pub fn recycle(self) {
        PIPES.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL {
                pool.push(self);
            }
        });
    }

    /// Splices up to `len` bytes of `file` from `offset` into the pipe.
    ///
    /// # Errors
    ///
    /// Outside a uring worker.
    pub fn fill_from(&self, file: &File, offset: u64, len: usize) -> io::Result<Splice> {
        let len = u32::try_from(len.min(self.capacity)).unwrap_or(u32::MAX);
        op::splice::splice(file.shared_fd(), Some(offset), &self.write, len).map(Splice)
    }

    /// Splices up to `len` bytes (at most the pipe's capacity) from `socket` into the pipe.
    ///
    /// # Errors
    ///
    /// Outside a uring worker.
    pub fn fill_from_socket(&self, socket: &Socket, len: usize) -> io::Result<Splice> {
        let len = u32::try_from(len.min(self.capacity)).unwrap_or(u32::MAX);
        op::splice::splice(socket.shared_fd(), None, &self.write, len).map(Splice)
    }

    /// Splices up to `len` bytes from the pipe into `file` at `offset`.
    ///
    /// # Errors
    ///
    /// Outside a uring worker.
    pub fn drain_to_file(&self, file: &File, offset: u64, len: usize) -> io::Result<Splice> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        op::splice::splice_to(&self.read, file.shared_fd(), offset, len).map(Splice)
    }

    /// Takes `len` bytes the pipe holds out by read(2), for a destination that refused
    /// the splice. Does not block: the caller knows the pipe holds them.
    ///
    /// # Errors
    ///
    /// As dup(2) and read(2).
    pub fn read_out(&self, len: usize) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut pipe = std::fs::File::from(self.read.as_fd().try_clone_to_owned()?);
        let mut bytes = vec![0; len];
        pipe.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    /// Splices up to `len` bytes from the pipe into `socket`.
    ///
    /// # Errors
    ///
    /// Outside a uring worker.
    pub fn drain_to(&self, socket: &Socket, len: usize) -> io::Result<Splice> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        op::splice::splice(&self.read, None, socket.shared_fd(), len).map(Splice)
    }
}
