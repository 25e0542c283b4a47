//! The `AsyncRead`/`AsyncWrite`/`AsyncSeek` state of a [`File`](super::File), with
//! tokio::fs::File's semantics: a stream position; at most one operation in flight.
//!
//! - **Reads** fill an internal buffer (at most [`MAX_BUF`]) at the position and copy out;
//!   bytes the caller did not take wait there for the next read. On a uring worker the
//!   read is an op on that worker's ring, kept across polls. Polled on another thread
//!   (the file moved), it is cancelled on its own ring and reissued here at the same
//!   offset: reads are positional, so nothing is lost or read twice.
//! - **Writes** copy into the internal buffer, start the write and return `Ready(n)`; the
//!   write (all of it) runs as a task on the current worker (or on the blocking pool), so
//!   it completes even if the file moves or drops. Its error surfaces on the next
//!   operation or `poll_flush`, which waits for it. An `O_APPEND` file writes at the file
//!   position (the end) and reads the position back afterwards.
//! - **Seeks** wait for the operation in flight; `SeekFrom::End` needs a statx.
//!
//! # Invariants
//!
//! `pos` is the caller's position: the buffered bytes `buf[start..]` are the file's bytes
//! at `pos..`; they are only kept while no operation is in flight.

use std::future::{poll_fn, Future};
use std::io::{self, SeekFrom};
use std::task::{ready, Context, Poll};

use io_uring::opcode;
use tokio::io::ReadBuf;
use tokio::task::JoinHandle;

use super::file::{statx, write_all_at};
use super::on_ring;
use crate::driver::op::Op;
use crate::fd::SharedFd;
use crate::op;
use crate::op::statx::Target;

/// The most one stream read or write moves at once (tokio's default).
pub(crate) const MAX_BUF: usize = 2 * 1024 * 1024;

/// What a finished task did.
#[derive(Debug)]
enum Done {
    Read(io::Result<usize>),
    /// A write: for an `O_APPEND` file, the position after it.
    Write(io::Result<Option<u64>>),
    /// A `SeekFrom::End`: the new position.
    Seek(io::Result<u64>),
}

#[derive(Debug)]
enum State {
    Idle,
    /// A read op on the ring of the worker that submitted it.
    Reading(Op<op::read::Read<Vec<u8>>>),
    /// A write, blocking read or seek running as a task.
    Task(JoinHandle<(Done, Vec<u8>)>),
}

/// The stream state of one file. See the module docs.
#[derive(Debug)]
pub(crate) struct Stream {
    pos: u64,
    buf: Vec<u8>,
    start: usize,
    state: State,
    last_write_err: Option<io::Error>,
}

impl Stream {
    pub(crate) fn new(pos: u64) -> Stream {
        Stream {
            pos,
            buf: Vec::new(),
            start: 0,
            state: State::Idle,
            last_write_err: None,
        }
    }

    /// Copies buffered bytes into `dst`; false when there were none.
    fn copy_buffered(&mut self, dst: &mut ReadBuf<'_>) -> bool {
        let n = (self.buf.len() - self.start).min(dst.remaining());
        if n == 0 {
            return false;
        }
        dst.put_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        self.pos += n as u64;
        true
    }

    pub(crate) fn discard_buffered(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// Appends the buffered bytes to `vec` (the position is the caller's to move).
    pub(crate) fn take_buffered(&mut self, vec: &mut Vec<u8>) {
        vec.extend_from_slice(&self.buf[self.start..]);
        self.discard_buffered();
    }

    pub(crate) fn set_position(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// The position when no operation is in flight.
    pub(crate) fn idle_position(&self) -> Option<u64> {
        matches!(self.state, State::Idle).then_some(self.pos)
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        fd: &SharedFd,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Idle => {
                    if self.copy_buffered(dst) {
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(err) = self.last_write_err.take() {
                        return Poll::Ready(Err(err));
                    }
                    if dst.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    self.start_read(fd, dst.remaining());
                }
                State::Reading(read) if !read.is_local() => {
                    // The file moved: cancel on the old ring, read again here.
                    self.state = State::Idle;
                }
                State::Reading(read) => {
                    let (result, buf) = ready!(std::pin::Pin::new(read).poll(cx));
                    self.state = State::Idle;
                    self.buf = buf;
                    self.start = 0;
                    if result? == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                State::Task(task) => {
                    let polled = task_poll(task, cx);
                    match ready!(self.finish(polled)) {
                        Some(Done::Read(Ok(0))) => return Poll::Ready(Ok(())),
                        Some(Done::Read(Err(err))) => return Poll::Ready(Err(err)),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Starts a read of up to `want` bytes at the position.
    fn start_read(&mut self, fd: &SharedFd, want: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.start = 0;
        let want = want.min(MAX_BUF);
        if buf.capacity() < want || buf.capacity() > MAX_BUF {
            buf = Vec::with_capacity(want.max(4096));
        }
        let pos = self.pos;
        if on_ring(opcode::Read::CODE) {
            match op::read::read_at(fd, buf, pos) {
                Ok(read) => self.state = State::Reading(read),
                Err((err, buf)) => self.state = State::Task(done_now(Done::Read(Err(err)), buf)),
            }
        } else {
            let fd = fd.clone();
            self.state = State::Task(tokio::task::spawn_blocking(move || {
                let mut buf = buf;
                (Done::Read(op::read::pread(&fd, &mut buf, pos)), buf)
            }));
        }
    }

    /// Applies a finished task's outcome; returns what still needs the caller's eyes
    /// (reads and seek errors). Write errors are kept for the next operation.
    fn finish(&mut self, polled: Poll<(Done, Vec<u8>)>) -> Poll<Option<Done>> {
        let (done, buf) = ready!(polled);
        self.state = State::Idle;
        self.buf = buf;
        self.start = 0;
        Poll::Ready(match done {
            Done::Read(Ok(n)) => {
                self.buf.truncate(n);
                Some(Done::Read(Ok(n)))
            }
            Done::Write(result) => {
                self.buf.clear();
                match result {
                    Ok(Some(pos)) => self.pos = pos,
                    Ok(None) => {}
                    Err(err) => self.last_write_err = Some(err),
                }
                None
            }
            Done::Seek(Ok(pos)) => {
                self.buf.clear();
                self.pos = pos;
                None
            }
            other => {
                self.buf.clear();
                Some(other)
            }
        })
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        fd: &SharedFd,
        append: bool,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match &mut self.state {
                State::Idle => {
                    if let Some(err) = self.last_write_err.take() {
                        return Poll::Ready(Err(err));
                    }
                    if src.is_empty() {
                        return Poll::Ready(Ok(0));
                    }
                    return Poll::Ready(Ok(self.start_write(fd, append, src)));
                }
                State::Reading(_) => self.state = State::Idle,
                State::Task(task) => {
                    let polled = task_poll(task, cx);
                    ready!(self.finish(polled));
                    self.discard_buffered();
                }
            }
        }
    }

    /// Copies up to [`MAX_BUF`] bytes of `src` and starts writing them; returns how many.
    fn start_write(&mut self, fd: &SharedFd, append: bool, src: &[u8]) -> usize {
        let n = src.len().min(MAX_BUF);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.start = 0;
        buf.extend_from_slice(&src[..n]);
        let (fd, at) = (
            fd.clone(),
            if append { op::write::CURRENT } else { self.pos },
        );
        if !append {
            self.pos += n as u64;
        }
        let after = move |fd: &SharedFd, result: io::Result<()>| {
            result.and_then(|()| append.then(|| op::write::position(fd)).transpose())
        };
        self.state = State::Task(if on_ring(opcode::Write::CODE) {
            tokio::spawn(async move {
                let (result, buf) = write_all_at(&fd, buf, at).await;
                (Done::Write(after(&fd, result)), buf)
            })
        } else {
            tokio::task::spawn_blocking(move || {
                let result = write_all_blocking(&fd, &buf, at);
                (Done::Write(after(&fd, result)), buf)
            })
        });
        n
    }

    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        _fd: &SharedFd,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_idle(cx));
        Poll::Ready(self.last_write_err.take().map_or(Ok(()), Err))
    }

    /// Waits until no operation is in flight (a read in flight is dropped: it is
    /// positional and nothing was delivered from it).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Option<Done>> {
        loop {
            match &mut self.state {
                State::Idle => return Poll::Ready(None),
                State::Reading(_) => self.state = State::Idle,
                State::Task(task) => {
                    let polled = task_poll(task, cx);
                    match ready!(self.finish(polled)) {
                        Some(Done::Seek(Err(err))) => {
                            return Poll::Ready(Some(Done::Seek(Err(err))))
                        }
                        Some(Done::Read(_)) => self.discard_buffered(),
                        _ => {}
                    }
                }
            }
        }
    }

    pub(crate) fn start_seek(&mut self, fd: &SharedFd, position: SeekFrom) -> io::Result<()> {
        if !matches!(self.state, State::Idle) {
            return Err(io::Error::other(
                "other file operation is pending, call poll_complete before start_seek",
            ));
        }
        let target = match position {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(delta) => Some(offset(self.pos, delta)?),
            SeekFrom::End(delta) => {
                let target = Target::Fd(fd.clone());
                self.state = State::Task(tokio::spawn(async move {
                    let end = statx(target, true).await;
                    (
                        Done::Seek(end.and_then(|m| offset(m.len(), delta))),
                        Vec::new(),
                    )
                }));
                None
            }
        };
        self.discard_buffered();
        if let Some(pos) = target {
            self.pos = pos;
        }
        Ok(())
    }

    pub(crate) fn poll_complete(
        &mut self,
        cx: &mut Context<'_>,
        _fd: &SharedFd,
    ) -> Poll<io::Result<u64>> {
        match ready!(self.poll_idle(cx)) {
            Some(Done::Seek(Err(err))) => Poll::Ready(Err(err)),
            _ => Poll::Ready(Ok(self.pos)),
        }
    }

    /// Waits for the operation in flight; the position, or a stream write's error.
    pub(crate) async fn settle(&mut self, fd: &SharedFd) -> io::Result<u64> {
        let pos = poll_fn(|cx| self.poll_complete(cx, fd)).await?;
        match self.last_write_err.take() {
            Some(err) => Err(err),
            None => Ok(pos),
        }
    }

    /// Waits for a stream write in flight, keeping its error for the next operation.
    pub(crate) async fn wait_writes(&mut self, _fd: &SharedFd) {
        if let Some(Done::Seek(Err(err))) = poll_fn(|cx| self.poll_idle(cx)).await {
            tracing::debug!(error = %err, "a seek failed while waiting for writes");
        }
    }
}

/// `base + delta`, or `EINVAL` as lseek(2) reports a negative or overflowing position.
fn offset(base: u64, delta: i64) -> io::Result<u64> {
    base.checked_add_signed(delta)
        .filter(|pos| i64::try_from(*pos).is_ok())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

fn task_poll(
    task: &mut JoinHandle<(Done, Vec<u8>)>,
    cx: &mut Context<'_>,
) -> Poll<(Done, Vec<u8>)> {
    let joined = ready!(std::pin::Pin::new(task).poll(cx));
    Poll::Ready(joined.unwrap_or_else(|err| {
        if err.is_panic() {
            std::panic::resume_unwind(err.into_panic());
        }
        (
            Done::Write(Err(io::Error::other("background task failed"))),
            Vec::new(),
        )
    }))
}

/// A task that is already finished with `done`.
fn done_now(done: Done, buf: Vec<u8>) -> JoinHandle<(Done, Vec<u8>)> {
    tokio::spawn(async move { (done, buf) })
}

/// Writes all of `bytes` at `pos` (or at the file position) on the calling thread.
fn write_all_blocking(fd: &SharedFd, bytes: &[u8], pos: u64) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        let at = if pos == op::write::CURRENT {
            pos
        } else {
            pos + done as u64
        };
        match op::write::pwrite(fd, &bytes[done..], at) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
