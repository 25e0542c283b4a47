//! `Runtime`: starts the workers, runs futures on them or on the calling thread, and
//! stops them in order (tasks dropped first, then each ring drained, then its fds closed).
//!
//! [`Runtime::block_on`] runs its future on the calling thread, which becomes a *guest* of
//! the runtime for that time (see `context.rs`): worker 0's tokio context is entered, so
//! `tokio::spawn`, timers and `spawn_blocking` reach worker 0, and `corio::spawn` places
//! tasks on every worker. [`Handle::enter`] makes a thread a guest without blocking it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::backend::{BackendInfo, BackendKind};
use crate::builder::Builder;
use crate::context::{self, GuestGuard};
use crate::driver::RingConfig;
use crate::metrics::{self, Counters, RuntimeMetrics};
use crate::worker::{self, WorkerConfig, WorkerLinks};

/// State every worker shares: read-only after start, except the round-robin cursor and
/// the sharded bind table.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) handles: Vec<tokio::runtime::Handle>,
    pub(crate) backend: BackendInfo,
    pub(crate) sharded: bool,
    /// Sharded mode: the address each requested listen address resolved to, so that
    /// port 0 means the same port on every worker.
    pub(crate) bound: Mutex<HashMap<SocketAddr, SocketAddr>>,
    /// Round-robin cursor of spawns from outside the workers (handles and guests).
    next: AtomicUsize,
    /// Each worker's metrics counters, in worker order.
    pub(crate) counters: Vec<Arc<Counters>>,
}

impl Shared {
    /// Spawns `future` on the worker [`Shared::place`] picks for the runtime's cursor.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let worker = self.place(self.next.fetch_add(1, Ordering::Relaxed));
        self.spawn_on(worker, future)
    }

    /// Where a new task goes, for round-robin position `cursor`: that worker, or the one
    /// after it when it has fewer live tasks (two choices, so a worker that holds long
    /// tasks gets fewer new ones while an even load stays round-robin). Two relaxed
    /// loads of tokio's task counts.
    pub(crate) fn place(&self, cursor: usize) -> usize {
        let workers = self.handles.len();
        let (first, second) = (cursor % workers, (cursor + 1) % workers);
        let alive = |worker: usize| self.handles[worker].metrics().num_alive_tasks();
        if first != second && alive(second) < alive(first) {
            second
        } else {
            first
        }
    }

    /// Spawns `future` on worker `worker`, counting it as a remote spawn there unless
    /// the calling thread is that worker.
    pub(crate) fn spawn_on<F>(&self, worker: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if context::worker().is_none_or(|current| current.id != worker) {
            self.counters[worker].remote_spawn();
        }
        self.handles[worker].spawn(future)
    }

    /// A snapshot of every worker's metrics.
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let workers = self.counters.iter().zip(&self.handles).enumerate();
        RuntimeMetrics {
            workers: workers
                .map(|(id, (counters, handle))| metrics::read(id, counters, handle))
                .collect(),
        }
    }
}

#[derive(Debug)]
struct WorkerThread {
    thread: Option<thread::JoinHandle<()>>,
    stop: Option<oneshot::Sender<Option<Duration>>>,
}

/// A set of pinned worker threads, each a tokio current_thread runtime with its own
/// io_uring (or tokio's epoll reactor).
///
/// Dropping it stops every worker and waits for them, including their blocking tasks;
/// [`shutdown_timeout`](Runtime::shutdown_timeout) bounds that wait and
/// [`shutdown_background`](Runtime::shutdown_background) skips it.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let rt = corio_runtime::Builder::new().workers(2).build()?;
/// let sum = rt.block_on(async {
///     let task = corio_runtime::spawn(async { 40 });
///     task.await.expect("the task finishes") + 2
/// });
/// assert_eq!(sum, 42);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    workers: Vec<WorkerThread>,
}

impl Runtime {
    pub(crate) fn start(
        builder: &Builder,
        workers: usize,
        backend: BackendInfo,
        ring: RingConfig,
    ) -> io::Result<Runtime> {
        let cpus = worker::usable_cpus();
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut threads = Vec::with_capacity(workers);
        let mut shared_txs = Vec::with_capacity(workers);
        let counters: Vec<Arc<Counters>> = (0..workers).map(|_| Arc::default()).collect();
        let spawned = (0..workers).try_for_each(|id| {
            let (shared_tx, shared_rx) = mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel();
            let config = WorkerConfig {
                id,
                cpu: builder.pin_workers.then(|| cpus[id % cpus.len()]),
                ring: (backend.kind == BackendKind::Uring).then_some(ring),
                name: builder.thread_name.clone(),
                trim_memory: builder.trim_memory,
                event_interval: builder.event_interval,
                global_queue_interval: builder.global_queue_interval,
                counters: counters[id].clone(),
            };
            let links = WorkerLinks {
                ready: ready_tx.clone(),
                shared: shared_rx,
                stop: stop_rx,
            };
            threads.push(WorkerThread {
                thread: Some(worker::spawn(config, links)?),
                stop: Some(stop_tx),
            });
            shared_txs.push(shared_tx);
            Ok(())
        });
        // From here only the workers hold senders: one that exits without reporting ends
        // `collect_handles` instead of blocking it.
        drop(ready_tx);
        let handles = match spawned.and_then(|()| collect_handles(&ready_rx, workers)) {
            Ok(handles) => handles,
            Err(err) => {
                abandon_start(threads, shared_txs);
                return Err(err);
            }
        };
        let shared = Arc::new(Shared {
            handles,
            backend,
            sharded: builder.sharded,
            bound: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
            counters,
        });
        for tx in shared_txs {
            let _ = tx.send(shared.clone());
        }
        Ok(Runtime {
            handle: Handle { shared },
            workers: threads,
        })
    }

    /// The backend this runtime runs on, and why.
    pub fn backend(&self) -> &BackendInfo {
        &self.handle.shared.backend
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.handle.shared.handles.len()
    }

    /// A snapshot of every worker's metrics, as [`Handle::metrics`].
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// A handle to this runtime: cloneable, `Send`, usable from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// let handle = rt.handle().clone();
    /// let answer = std::thread::spawn(move || handle.block_on(async { 6 * 7 }))
    ///     .join()
    ///     .expect("the thread finishes");
    /// assert_eq!(answer, 42);
    /// # Ok(())
    /// # }
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a `Send` future on a worker chosen round-robin, skipping to the next worker
    /// when it has fewer live tasks. Works from any thread.
    ///
    /// The task starts at once, whether or not the returned `JoinHandle` is awaited.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `func` on worker 0's blocking thread pool. Works from any thread.
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(func)
    }

    /// Runs `future` to completion on the calling thread and returns its output.
    ///
    /// The future may borrow locals and need not be `Send`. While it runs, the calling
    /// thread is a guest of the runtime, as after [`Runtime::enter`]: `tokio::spawn`,
    /// `tokio::time` and `tokio::task::spawn_blocking` use worker 0, `corio::spawn` places
    /// tasks on every worker, `corio::backend()` reports this runtime's backend, and
    /// `corio::net` sockets created here belong to worker 0. Tasks spawned from the future
    /// keep running after `block_on` returns.
    ///
    /// To run a `!Send` future *on* worker 0 instead, where the worker's ring and
    /// `LocalSet` are at hand, use [`Runtime::block_on_local`].
    ///
    /// # Panics
    ///
    /// When called from a corio worker or from inside another `block_on` on this thread
    /// (blocking there would stall the tasks the thread drives), and with the future's
    /// panic if it panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// let words = vec!["borrowed", "by", "the", "future"];
    /// let counted = rt.block_on(async {
    ///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     words.len()
    /// });
    /// assert_eq!(counted, 4);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Makes the calling thread a guest of the runtime until the guard drops, as
    /// [`Handle::enter`] does.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Runs the future made by `make` on worker 0, where it may be `!Send` (it runs in the
    /// worker's `LocalSet`, so `tokio::task::spawn_local` works inside it), and blocks
    /// until it finishes. This is what `#[corio::main]` uses.
    ///
    /// # Panics
    ///
    /// As for [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on_local<F, Fut>(&self, make: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        unwrap_join(self.block_on(self.run_local(0, make)))
    }

    /// Runs one future per worker, each made on its worker by `make`, and returns the
    /// first error any of them returns, or `Ok(())` once all have finished.
    ///
    /// # Panics
    ///
    /// As for [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on_sharded<F, Fut, E>(&self, make: F) -> Result<(), E>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Send + 'static,
    {
        let _blocking = context::enter_blocking();
        let make = Arc::new(make);
        let (tx, rx) = mpsc::channel();
        for worker in 0..self.workers() {
            let make = make.clone();
            let handle = self.run_local(worker, move || make());
            let tx = tx.clone();
            self.handle.shared.handles[worker].spawn(async move {
                let _ = tx.send(handle.await);
            });
        }
        drop(tx);
        for result in rx {
            unwrap_join(result)?;
        }
        Ok(())
    }

    /// Stops every worker, giving blocking tasks at most `timeout` to finish, drains the
    /// rings and joins the worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    ///
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(60)));
    /// rt.shutdown_timeout(Duration::from_millis(100));
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.signal_stop(Some(timeout));
        self.join_workers();
    }

    /// Tells every worker to stop and returns at once: the workers drop their tasks,
    /// drain their rings and exit on their own threads, and blocking tasks are not
    /// waited for. Unlike dropping the runtime, this never blocks the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// rt.spawn_blocking(|| std::thread::sleep(std::time::Duration::from_secs(60)));
    /// rt.shutdown_background();
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown_background(mut self) {
        self.signal_stop(Some(Duration::ZERO));
        for worker in &mut self.workers {
            // Dropping the join handle detaches the thread.
            drop(worker.thread.take());
        }
    }

    fn run_local<F, Fut>(&self, worker: usize, make: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.handle.shared.handles[worker].spawn(async move {
            let handle = crate::spawn::spawn_local(make());
            unwrap_join(handle.await)
        })
    }

    fn signal_stop(&mut self, timeout: Option<Duration>) {
        for worker in &mut self.workers {
            if let Some(stop) = worker.stop.take() {
                let _ = stop.send(timeout);
            }
        }
    }

    fn join_workers(&mut self) {
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                if thread.join().is_err() {
                    tracing::error!("a corio worker panicked during shutdown");
                }
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.signal_stop(None);
        self.join_workers();
    }
}

/// A cloneable handle to a [`Runtime`], usable from any thread, including threads the
/// runtime does not know.
///
/// Once the runtime has stopped, tasks spawned through a handle are dropped at once and
/// their `JoinHandle`s report a cancelled task.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// A snapshot of every worker's metrics: ring driver counters, connections and the
    /// figures of each worker's tokio runtime. Reads relaxed atomics only; call it from
    /// any thread, as often as needed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(2).build()?;
    /// rt.block_on(async { corio_runtime::spawn_on(1, async {}).await })?;
    /// let metrics = rt.handle().metrics();
    /// assert_eq!(metrics.workers.len(), 2);
    /// assert!(metrics.workers[1].remote_spawns >= 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// Spawns a `Send` future on a worker chosen round-robin, skipping to the next worker
    /// when it has fewer live tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// let handle = rt.handle().clone();
    /// let task = std::thread::spawn(move || handle.spawn(async { "hi" }))
    ///     .join()
    ///     .expect("the thread spawns");
    /// assert_eq!(rt.block_on(task).expect("the task finishes"), "hi");
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future)
    }

    /// Runs `func` on worker 0's blocking thread pool.
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.handles[0].spawn_blocking(func)
    }

    /// Runs `future` to completion on the calling thread, as [`Runtime::block_on`] does.
    ///
    /// # Panics
    ///
    /// As for [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _blocking = context::enter_blocking();
        let _enter = self.enter();
        run_here(future)
    }

    /// Makes the calling thread a guest of the runtime until the guard drops: worker 0's
    /// tokio context is entered (so `tokio::spawn` and `tokio::time` work), and
    /// `corio::spawn`, `corio::backend()` and socket creation answer for this runtime.
    /// Guards nest; dropping one restores what the thread was before it.
    ///
    /// # Panics
    ///
    /// When nested guards are dropped out of order (tokio's rule for its own guards).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let rt = corio_runtime::Builder::new().workers(1).build()?;
    /// let task = {
    ///     let _guard = rt.handle().enter();
    ///     tokio::spawn(async { 5 })
    /// };
    /// assert_eq!(rt.block_on(task).expect("the task finishes"), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guest: context::enter_guest(self.shared.clone()),
            _tokio: self.shared.handles[0].enter(),
        }
    }
}

/// The calling thread's guest context of a runtime, from [`Handle::enter`] or
/// [`Runtime::enter`]; dropping it leaves the context.
#[derive(Debug)]
#[must_use = "the runtime context is left as soon as the guard is dropped"]
pub struct EnterGuard<'a> {
    // Fields drop in declaration order: tokio's context is left before corio's.
    _tokio: tokio::runtime::EnterGuard<'a>,
    _guest: GuestGuard,
}

/// Polls `future` on the calling thread, parking the thread until it is woken.
fn run_here<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unparker = Arc::new(Unparker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        unparker.park();
    }
}

/// The waker of [`run_here`]: unparks the thread that blocks on the future.
struct Unparker {
    thread: Thread,
    /// Set by a wake-up, cleared by the park that consumes it; spurious unparks of the
    /// thread leave it clear.
    woken: AtomicBool,
}

impl Unparker {
    /// Parks the calling thread until a wake-up that came after the last park.
    fn park(&self) {
        while !self.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

fn collect_handles(
    ready: &mpsc::Receiver<(usize, io::Result<tokio::runtime::Handle>)>,
    workers: usize,
) -> io::Result<Vec<tokio::runtime::Handle>> {
    let mut handles: Vec<Option<tokio::runtime::Handle>> = vec![None; workers];
    for _ in 0..workers {
        let (id, result) = ready
            .recv()
            .map_err(|_| io::Error::other("a corio worker exited during start"))?;
        let handle = result.map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("corio worker {id} failed to start: {err}"),
            )
        })?;
        handles[id] = Some(handle);
    }
    Ok(handles.into_iter().flatten().collect())
}

/// Undoes a failed start: closing the `shared` channels makes every worker that did start
/// drop its runtime (and ring) and exit, and each thread is joined, so none outlives the
/// failed `Builder::build`.
fn abandon_start(threads: Vec<WorkerThread>, shared: Vec<mpsc::Sender<Arc<Shared>>>) {
    drop(shared);
    for thread in threads.into_iter().filter_map(|worker| worker.thread) {
        if thread.join().is_err() {
            tracing::error!("a corio worker panicked during a failed start");
        }
    }
}

/// A task's output, or its panic resumed on this thread.
fn unwrap_join<T>(result: Result<T, JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => panic!("corio: the task was cancelled before it finished: {err}"),
    }
}
