//! Backend selection: `CORIO_BACKEND` overrides the builder; `auto` probes io_uring and
//! falls back to tokio's epoll reactor with a logged reason; an explicit `uring` that
//! the kernel cannot give is an error.

use std::fmt;
use std::io;

use crate::driver::{self, RingConfig};

/// The environment variable that overrides the configured backend.
pub const BACKEND_ENV: &str = "CORIO_BACKEND";

/// The backend a runtime is asked to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// io_uring when the kernel gives it, epoll otherwise.
    #[default]
    Auto,
    /// io_uring; building the runtime fails when it is unavailable.
    Uring,
    /// tokio's epoll reactor.
    Epoll,
}

impl Backend {
    /// Parses `auto`, `uring` or `epoll` (the values of `CORIO_BACKEND`).
    pub fn parse(value: &str) -> io::Result<Backend> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Backend::Auto),
            "uring" | "io_uring" => Ok(Backend::Uring),
            "epoll" => Ok(Backend::Epoll),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{BACKEND_ENV}={other:?}: expected one of uring, epoll, auto"),
            )),
        }
    }
}

/// The backend a runtime runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Sockets and files go through a per-worker io_uring.
    Uring,
    /// Sockets go through tokio's epoll reactor.
    Epoll,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Uring => "uring",
            BackendKind::Epoll => "epoll",
        })
    }
}

/// Which backend runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// The backend in use.
    pub kind: BackendKind,
    /// Why this backend was chosen, e.g. the errno that made io_uring unavailable.
    pub reason: String,
}

impl fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.reason)
    }
}

/// Where the requested backend came from, for the reason text.
fn requested(configured: Backend, use_env: bool) -> io::Result<(Backend, &'static str)> {
    match std::env::var(BACKEND_ENV) {
        Ok(value) if use_env => Ok((Backend::parse(&value)?, "CORIO_BACKEND")),
        _ => Ok((configured, "the builder")),
    }
}

/// A backend decision for a runtime about to start.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The backend to start on.
    pub(crate) info: BackendInfo,
    /// True when `Auto` chose it: if the uring workers fail to start, epoll stands in.
    pub(crate) auto: bool,
}

/// Decides the backend for a runtime about to start.
pub(crate) fn resolve(
    configured: Backend,
    use_env: bool,
    ring: RingConfig,
) -> io::Result<Resolved> {
    let (backend, source) = requested(configured, use_env)?;
    let info = match backend {
        Backend::Epoll => Ok(BackendInfo {
            kind: BackendKind::Epoll,
            reason: format!("epoll requested by {source}"),
        }),
        Backend::Uring => match driver::probe(ring) {
            Ok(setup) => Ok(BackendInfo {
                kind: BackendKind::Uring,
                reason: format!("io_uring requested by {source}; ring flags {}", setup.flags),
            }),
            Err(reason) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring requested by {source} but unavailable: {reason}"),
            )),
        },
        Backend::Auto => Ok(auto(ring)),
    }?;
    Ok(Resolved {
        info,
        auto: backend == Backend::Auto,
    })
}

fn auto(ring: RingConfig) -> BackendInfo {
    match driver::probe(ring) {
        Ok(setup) => BackendInfo {
            kind: BackendKind::Uring,
            reason: format!("io_uring available; ring flags {}", setup.flags),
        },
        Err(reason) => {
            tracing::warn!(reason = %reason, "io_uring unavailable, falling back to epoll");
            BackendInfo {
                kind: BackendKind::Epoll,
                reason: format!("io_uring unavailable: {reason}"),
            }
        }
    }
}

/// The backend `Auto` falls back to when the uring workers failed to start after the
/// probe succeeded (`error` says why).
pub(crate) fn after_failed_start(error: &io::Error) -> BackendInfo {
    tracing::warn!(reason = %error, "io_uring workers failed to start, falling back to epoll");
    BackendInfo {
        kind: BackendKind::Epoll,
        reason: format!("io_uring unavailable: {error}"),
    }
}

/// What `Backend::Auto` would pick on this machine, and why. Callable outside a runtime.
pub fn probe() -> BackendInfo {
    auto(RingConfig::new(crate::builder::DEFAULT_RING_ENTRIES))
}

/// True when this thread is a worker of the uring backend (it owns a ring): sockets
/// created here use io_uring.
pub fn uring_active() -> bool {
    crate::context::has_ring()
}

/// How streams read on this thread's ring ([`Builder::recv_mode`](crate::Builder::recv_mode),
/// or `OneShot` once the kernel refused a multishot receive); `None` on a thread without
/// a ring.
pub fn recv_mode() -> Option<crate::RecvMode> {
    crate::context::with_ring(|ring| ring.recv_mode())
}

/// The backend of the corio runtime this thread belongs to: a worker's, or, on a guest
/// thread (inside [`Runtime::block_on`](crate::Runtime::block_on) or
/// [`Handle::enter`](crate::Handle::enter)), the runtime's; `None` outside a runtime.
/// Sockets created here use this backend.
pub fn current_backend() -> Option<BackendKind> {
    crate::context::current().map(|current| current.shared().backend.kind)
}

/// The tokio handle of the worker that owns sockets created on this thread: the current
/// worker, or worker 0 on a guest thread; `None` outside a corio runtime. Used to route
/// the I/O of a socket polled on a thread without a ring.
pub fn home_handle() -> Option<tokio::runtime::Handle> {
    crate::context::current().map(|current| current.home().clone())
}

/// Submits the cancellations of ops just dropped on this thread and reaps their
/// completions now, so that what those ops held (an fd, and with it a listening port or a
/// connection) is released before this returns rather than at the ring's next turn. Does
/// nothing on a thread without a ring.
pub fn release_cancelled() {
    // Two turns: the first submits the `AsyncCancel`s; with `DEFER_TASKRUN` the cancelled
    // ops' completions are posted by the deferred work the second one runs.
    if crate::context::try_with_ring(|ring| {
        ring.turn();
        ring.turn();
    })
    .is_some()
    {
        crate::context::wake_ready();
    }
}

/// Ops in flight (or completed and not yet taken) on this worker's ring; `None` on a
/// thread without a ring. Cheap: for tests, metrics and leak checks.
pub fn ring_ops_in_flight() -> Option<usize> {
    crate::context::with_ring(|ring| ring.in_flight())
}

/// The backend of the runtime this thread belongs to (as a worker, or as a guest inside
/// [`Runtime::block_on`](crate::Runtime::block_on) or
/// [`Handle::enter`](crate::Handle::enter)).
///
/// # Panics
///
/// When called outside a corio runtime.
pub fn backend() -> BackendInfo {
    crate::context::expect_current("corio::backend()")
        .shared()
        .backend
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env_values() {
        assert_eq!(Backend::parse("URING").unwrap(), Backend::Uring);
        assert_eq!(Backend::parse("epoll").unwrap(), Backend::Epoll);
        assert_eq!(Backend::parse("auto").unwrap(), Backend::Auto);
        let err = Backend::parse("kqueue").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("kqueue"));
    }
}
