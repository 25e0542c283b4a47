//! Accepting on a [`Source`] that listens (TCP or Unix): readiness, then accept4(2).
//!
//! Connections wait in the kernel's listen queue (its length is the `listen` backlog)
//! until an `accept` takes them, so a flood of connections is bounded by the backlog, not
//! accepted ahead by the runtime, and any thread may accept. accept4 returns the peer's
//! address with the connection: a peer that resets right after connecting still yields
//! its connection (whose first read reports the reset), never an accept error.
//!
//! After `EMFILE`/`ENFILE` the next accept first waits (10 ms, doubling up to 1 s) so that
//! an accept loop that retries on error does not spin; the error itself is returned with
//! its raw errno.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::SockAddr;
use tokio::io::Interest;
use tokio::time::Sleep;

use super::Source;

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A listening socket and its fd-exhaustion backoff.
#[derive(Debug)]
pub(crate) struct Acceptor {
    source: Source,
    backoff: Mutex<Backoff>,
}

#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Acceptor {
    /// Accepts on `source`, a listening socket.
    pub(crate) fn new(source: Source) -> Acceptor {
        Acceptor {
            source,
            backoff: Mutex::default(),
        }
    }

    /// The listening socket.
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    /// The listening socket, giving up the backoff state.
    pub(crate) fn into_source(self) -> Source {
        self.source
    }

    /// The next connection (non-blocking, close-on-exec) and its peer's address; any
    /// number of tasks may wait at once.
    pub(crate) async fn accept(&self) -> io::Result<(OwnedFd, SockAddr)> {
        let sleep = lock(&self.backoff).sleep.take();
        if let Some(sleep) = sleep {
            sleep.await;
        }
        let result = self
            .source
            .async_io(Interest::READABLE, |io| io.accept())
            .await;
        lock(&self.backoff).record(&result);
        result
    }

    /// As [`Acceptor::accept`], as a poll that wakes only the last task to poll it.
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(OwnedFd, SockAddr)>> {
        let mut backoff = lock(&self.backoff);
        if let Some(sleep) = &mut backoff.sleep {
            ready!(sleep.as_mut().poll(cx));
            backoff.sleep = None;
        }
        let result = ready!(self
            .source
            .poll_io(cx, Interest::READABLE, |io| io.accept()));
        backoff.record(&result);
        Poll::Ready(result)
    }
}

fn lock(backoff: &Mutex<Backoff>) -> MutexGuard<'_, Backoff> {
    backoff.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Backoff {
    fn record<T>(&mut self, result: &io::Result<T>) {
        match result {
            Ok(_) => self.delay = None,
            Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                self.arm(err);
            }
            Err(_) => {}
        }
    }

    fn arm(&mut self, err: &io::Error) {
        let delay = self
            .delay
            .map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF));
        self.delay = Some(delay);
        if tokio::runtime::Handle::try_current().is_ok() {
            self.sleep = Some(Box::pin(tokio::time::sleep(delay)));
        }
        tracing::warn!(error = %err, backoff = ?delay, "accept ran out of file descriptors");
    }
}
