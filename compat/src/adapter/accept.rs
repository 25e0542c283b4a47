//! Accepting on a uring listener (TCP or Unix): one multishot accept kept in flight (one
//! SQE for many connections), owned by the listener rather than by the `accept` future, so
//! a connection the kernel accepted while nobody waited is kept for the next call. A kernel
//! without multishot accept (before 5.19) rejects it with `EINVAL` before accepting
//! anything (the opcode probe cannot tell, it is a flag); the listener then falls back to
//! one single-shot accept at a time, kept in flight the same way.
//!
//! After `EMFILE`/`ENFILE` the next accept first waits (10 ms, doubling up to 1 s) so that
//! an accept loop that retries on error does not spin; the error itself is returned with
//! its raw errno. Dropping the state cancels the accept, which releases the port, and
//! closes connections accepted but not taken. Several tasks may accept on one listener at
//! once: the op is polled with a waker that wakes all of them ([`Waiters`]).

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use corio_runtime::{Accept, AcceptMulti, Socket};
use tokio::time::Sleep;

use super::ready::Waiters;

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The accept side of a uring listener.
#[derive(Debug, Default)]
pub(crate) struct AcceptState {
    multishot: Option<AcceptMulti>,
    /// A single-shot accept, once multishot turned out to be unsupported.
    single: Option<Accept>,
    /// Multishot accept works here: it has accepted a connection.
    multishot_works: bool,
    /// Multishot accept failed with `EINVAL` before it ever worked.
    single_only: bool,
    backoff: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    waiters: Waiters,
}

impl AcceptState {
    /// The next accepted connection's fd.
    pub(crate) fn poll_accept(
        &mut self,
        socket: &Socket,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<OwnedFd>> {
        let waker = self.waiters.register(cx);
        let cx = &mut Context::from_waker(&waker);
        if let Some(sleep) = &mut self.sleep {
            ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        if self.single_only {
            return self.poll_single(socket, cx);
        }
        loop {
            let multishot = match &mut self.multishot {
                Some(multishot) => multishot,
                None => self.multishot.insert(socket.accept_multi()?),
            };
            match ready!(multishot.poll_next(cx)) {
                Some(Ok(fd)) => {
                    self.backoff = None;
                    self.multishot_works = true;
                    return Poll::Ready(Ok(fd));
                }
                Some(Err(err))
                    if err.raw_os_error() == Some(libc::EINVAL) && !self.multishot_works =>
                {
                    tracing::debug!("multishot accept unsupported; accepting one at a time");
                    self.multishot = None;
                    self.single_only = true;
                    return self.poll_single(socket, cx);
                }
                Some(Err(err)) => return Poll::Ready(Err(self.on_error(err))),
                None => self.multishot = None,
            }
        }
    }

    /// One single-shot accept, kept across polls.
    fn poll_single(&mut self, socket: &Socket, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        let accept = match &mut self.single {
            Some(accept) => accept,
            None => self.single.insert(socket.accept()?),
        };
        let result = ready!(Pin::new(accept).poll(cx));
        self.single = None;
        match result {
            Ok((fd, _)) => {
                self.backoff = None;
                Poll::Ready(Ok(fd))
            }
            Err(err) => Poll::Ready(Err(self.on_error(err))),
        }
    }

    /// Arms the backoff after running out of file descriptors.
    fn on_error(&mut self, err: io::Error) -> io::Error {
        if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            let delay = self
                .backoff
                .map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF));
            self.backoff = Some(delay);
            self.sleep = Some(Box::pin(tokio::time::sleep(delay)));
            tracing::warn!(error = %err, backoff = ?delay, "accept ran out of file descriptors");
        }
        err
    }
}
