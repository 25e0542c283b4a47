//! Spawning: `spawn` places a `Send` task on a worker chosen round-robin, or on the
//! worker after that one when it has fewer live tasks (a worker keeps its own cursor, so
//! no state is shared on that path), `spawn_on` on a named worker, `spawn_local` on the
//! current worker's `LocalSet`. `tokio::spawn` inside a worker also
//! stays on that worker. Everything except `spawn_local` and `worker_id` also works on a
//! guest thread (inside `Runtime::block_on` or `Handle::enter`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::PoisonError;

use tokio::task::JoinHandle;

use crate::context;

/// Spawns a `Send` future on some worker of the current runtime: the next in round-robin
/// order, or the one after it when that one has fewer live tasks.
///
/// # Panics
///
/// When called outside a corio runtime (a worker, or a thread inside
/// [`Runtime::block_on`](crate::Runtime::block_on) or [`Handle::enter`](crate::Handle::enter)).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::expect_current("corio::spawn").spawn(future)
}

/// Spawns a `Send` future on worker `worker`.
///
/// # Panics
///
/// When called outside a corio runtime, or when `worker >= corio::workers()`.
pub fn spawn_on<F>(worker: usize, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let current = context::expect_current("corio::spawn_on");
    let handles = &current.shared().handles;
    assert!(
        worker < handles.len(),
        "corio::spawn_on: worker {worker} does not exist (the runtime has {})",
        handles.len()
    );
    current.shared().spawn_on(worker, future)
}

/// Spawns a `!Send` future on the current worker.
///
/// # Panics
///
/// When called outside a corio worker.
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::expect_worker("corio::spawn_local")
        .local
        .spawn_local(future)
}

/// Runs blocking code on the current worker's blocking pool (worker 0's on a guest
/// thread).
///
/// # Panics
///
/// When called outside a tokio runtime.
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
}

/// The id of the current worker, `0..workers()`.
///
/// # Panics
///
/// When called outside a corio worker.
pub fn worker_id() -> usize {
    context::expect_worker("corio::worker_id").id
}

/// The number of workers of the current runtime.
///
/// # Panics
///
/// When called outside a corio runtime.
pub fn workers() -> usize {
    context::expect_current("corio::workers")
        .shared()
        .handles
        .len()
}

/// True when the current runtime runs in sharded mode (listeners use `SO_REUSEPORT`);
/// false outside a runtime.
pub fn is_sharded() -> bool {
    context::current().is_some_and(|current| current.shared().sharded)
}

/// Binds a listener for `addr` in a way every worker of a sharded runtime agrees on:
/// the first worker to bind `addr` picks the port (port 0 becomes a real port) and the
/// others bind the address it got. `bind` binds the given address and returns the socket
/// with its bound address. Outside sharded mode this just calls `bind(addr)`.
///
/// # Errors
///
/// Whatever `bind` returns.
pub fn bind_sharded<T>(
    addr: SocketAddr,
    bind: impl FnOnce(SocketAddr) -> io::Result<(T, SocketAddr)>,
) -> io::Result<T> {
    let Some(current) = context::current().filter(|current| current.shared().sharded) else {
        return bind(addr).map(|(socket, _)| socket);
    };
    let mut bound = current
        .shared()
        .bound
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let target = bound.get(&addr).copied().unwrap_or(addr);
    let (socket, actual) = bind(target)?;
    bound.insert(addr, actual);
    Ok(socket)
}
