//! `Runtime`: starts the workers, runs futures on them, and stops them in order (tasks
//! dropped first, then each ring drained, then its fds closed).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::backend::{BackendInfo, BackendKind};
use crate::builder::Builder;
use crate::context;
use crate::driver::RingConfig;
use crate::worker::{self, WorkerConfig, WorkerLinks};

/// State every worker shares: read-only after start.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) handles: Vec<Handle>,
    pub(crate) backend: BackendInfo,
    pub(crate) sharded: bool,
    /// Sharded mode: the address each requested listen address resolved to, so that
    /// port 0 means the same port on every worker.
    pub(crate) bound: Mutex<HashMap<SocketAddr, SocketAddr>>,
}

#[derive(Debug)]
struct WorkerThread {
    thread: Option<thread::JoinHandle<()>>,
    stop: Option<oneshot::Sender<Option<Duration>>>,
}

/// A set of pinned worker threads, each a tokio current_thread runtime with its own
/// io_uring (or tokio's epoll reactor). Dropping it stops every worker and waits for them.
#[derive(Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
    workers: Vec<WorkerThread>,
    next: AtomicUsize,
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
        for id in 0..workers {
            let (shared_tx, shared_rx) = mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel();
            let config = WorkerConfig {
                id,
                cpu: builder.pin_workers.then(|| cpus[id % cpus.len()]),
                ring: (backend.kind == BackendKind::Uring).then_some(ring),
                name: builder.thread_name.clone(),
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
        }
        let handles = collect_handles(&ready_rx, workers)?;
        let shared = Arc::new(Shared {
            handles,
            backend,
            sharded: builder.sharded,
            bound: Mutex::new(HashMap::new()),
        });
        for tx in shared_txs {
            let _ = tx.send(shared.clone());
        }
        Ok(Runtime {
            shared,
            workers: threads,
            next: AtomicUsize::new(0),
        })
    }

    /// The backend this runtime runs on, and why.
    pub fn backend(&self) -> &BackendInfo {
        &self.shared.backend
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.shared.handles.len()
    }

    /// Spawns a `Send` future on a worker chosen round-robin.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let worker = self.next.fetch_add(1, Ordering::Relaxed) % self.workers();
        self.shared.handles[worker].spawn(future)
    }

    /// Runs `future` on worker 0 and blocks the calling thread until it finishes.
    ///
    /// # Panics
    ///
    /// When called from a worker thread, and with the future's panic if it panics.
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.wait(self.shared.handles[0].spawn(future))
    }

    /// Runs the future made by `make` on worker 0, where it may be `!Send` (it runs in the
    /// worker's `LocalSet`, so `tokio::task::spawn_local` works inside it), and blocks
    /// until it finishes. This is what `#[corio::main]` uses.
    ///
    /// # Panics
    ///
    /// As for [`Runtime::block_on`].
    pub fn block_on_local<F, Fut>(&self, make: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.wait(self.run_local(0, make))
    }

    /// Runs one future per worker, each made on its worker by `make`, and returns the
    /// first error any of them returns, or `Ok(())` once all have finished.
    ///
    /// # Panics
    ///
    /// As for [`Runtime::block_on`].
    pub fn block_on_sharded<F, Fut, E>(&self, make: F) -> Result<(), E>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Send + 'static,
    {
        assert_outside_worker();
        let make = Arc::new(make);
        let (tx, rx) = mpsc::channel();
        for worker in 0..self.workers() {
            let make = make.clone();
            let handle = self.run_local(worker, move || make());
            let tx = tx.clone();
            self.shared.handles[worker].spawn(async move {
                let _ = tx.send(handle.await);
            });
        }
        drop(tx);
        for result in rx {
            unwrap_join(result)?;
        }
        Ok(())
    }

    /// Stops every worker, giving tasks at most `timeout` to finish their blocking work,
    /// drains the rings and joins the threads.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.stop(Some(timeout));
    }

    fn run_local<F, Fut>(&self, worker: usize, make: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.shared.handles[worker].spawn(async move {
            let handle = crate::spawn::spawn_local(make());
            unwrap_join(handle.await)
        })
    }

    fn wait<T: Send + 'static>(&self, handle: JoinHandle<T>) -> T {
        assert_outside_worker();
        let (tx, rx) = mpsc::sync_channel(1);
        self.shared.handles[0].spawn(async move {
            let _ = tx.send(handle.await);
        });
        match rx.recv() {
            Ok(result) => unwrap_join(result),
            Err(_) => panic!("corio: worker 0 stopped before the future finished"),
        }
    }

    fn stop(&mut self, timeout: Option<Duration>) {
        for worker in &mut self.workers {
            if let Some(stop) = worker.stop.take() {
                let _ = stop.send(timeout);
            }
        }
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
        self.stop(None);
    }
}

fn collect_handles(
    ready: &mpsc::Receiver<(usize, io::Result<Handle>)>,
    workers: usize,
) -> io::Result<Vec<Handle>> {
    let mut handles: Vec<Option<Handle>> = vec![None; workers];
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

/// A task's output, or its panic resumed on this thread.
fn unwrap_join<T>(result: Result<T, JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => panic!("corio: the task was cancelled before it finished: {err}"),
    }
}

fn assert_outside_worker() {
    assert!(
        context::worker().is_none(),
        "Cannot block on a corio runtime from inside a corio worker: this would block the \
         worker's own thread. Use `.await` or `corio::spawn` instead."
    );
}
