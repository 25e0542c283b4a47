//! `corio::metrics`: per-worker counters of the ring driver and the worker, cheap enough
//! to leave on, and a snapshot API that reads them from any thread.
//!
//! Each worker owns one [`Counters`]. The driver counters are written only by the
//! worker's own thread (a relaxed load and store, no read-modify-write), so counting
//! costs a few plain stores per ring turn; the few counters other threads bump (spawns
//! placed on the worker, connections dropped elsewhere) use atomic adds. A snapshot
//! reads every counter with relaxed loads: each figure is exact, the set is not one
//! instant.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::context;

/// A counter written by one thread and read by any.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`; only the owning worker's thread calls this.
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Sets a gauge; only the owning worker's thread calls this.
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The live counters of one worker.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enters: Counter,
    pub(crate) sqes_submitted: Counter,
    pub(crate) cqes_reaped: Counter,
    pub(crate) ops_in_flight: Counter,
    pub(crate) sq_full_flushes: Counter,
    pub(crate) cq_overflows: Counter,
    pub(crate) cq_dropped: Counter,
    pub(crate) eventfd_wakeups: Counter,
    pub(crate) remote_orphans: Counter,
    pub(crate) multishot_arms: Counter,
    pub(crate) recv_enobufs: Counter,
    pub(crate) recv_buffer_bytes: Counter,
    pub(crate) recv_incremental: Counter,
    pub(crate) memory_trims: Counter,
    /// Bumped by whichever thread spawns onto this worker from elsewhere.
    remote_spawns: AtomicU64,
    /// Connections whose home is this worker; dropped on any thread.
    connections: AtomicI64,
    /// The most `connections` has been since [`Counters::connections_since`] last read it.
    connections_high: AtomicI64,
}

impl Counters {
    /// Counts a task placed on this worker by another thread.
    pub(crate) fn remote_spawn(&self) {
        self.remote_spawns.fetch_add(1, Ordering::Relaxed);
    }

    /// The connections open now and the most that were open at once since the last call,
    /// which starts the next high-water mark from now: a wave that opens and closes
    /// between two calls still shows in the second figure.
    pub(crate) fn connections_since(&self) -> (usize, usize) {
        let now = self.connections.load(Ordering::Relaxed).max(0);
        let high = self.connections_high.swap(now, Ordering::Relaxed).max(now);
        let count = |n: i64| usize::try_from(n).unwrap_or(0);
        (count(now), count(high))
    }
}

/// A figure of one worker at the moment it was read.
///
/// Counters only grow; `ops_in_flight`, `connections` and the tokio gauges are the value
/// at the time of the read. The ring figures are zero on the epoll backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index, `0..workers()`.
    pub worker: usize,
    /// `io_uring_enter` calls made by the driver (submissions and waits for deferred
    /// completions).
    pub enters: u64,
    /// SQEs the kernel consumed.
    pub sqes_submitted: u64,
    /// CQEs taken from the completion queue.
    pub cqes_reaped: u64,
    /// Ops in flight on the ring (or completed and not yet taken), as of the last turn.
    pub ops_in_flight: u64,
    /// Submissions forced because the SQ was full when an op was pushed.
    pub sq_full_flushes: u64,
    /// Turns that found the kernel holding completions back because the CQ was full
    /// (`IORING_SQ_CQ_OVERFLOW`); none is lost, but each costs an extra flush.
    pub cq_overflows: u64,
    /// Completions the kernel dropped for lack of memory (its `cq.overflow` counter);
    /// zero on any healthy system.
    pub cq_dropped: u64,
    /// Times the ring's eventfd woke the driver task.
    pub eventfd_wakeups: u64,
    /// Tasks other threads placed on this worker (`corio::spawn`, `spawn_on`, handles).
    pub remote_spawns: u64,
    /// Ops dropped on another thread and handed back to this ring for cancelling.
    pub remote_orphans: u64,
    /// Multishot ops submitted (a first arm or a re-arm after one ended).
    pub multishot_arms: u64,
    /// Receives the kernel ended with `ENOBUFS`: every provided buffer was in use. The
    /// stream re-arms at its next read, once the reaper has given buffers back.
    pub recv_enobufs: u64,
    /// Bytes of provided buffers the ring receives stream bytes into (0 until a stream
    /// is first read through the ring, and on epoll).
    pub recv_buffer_bytes: u64,
    /// 1 when those buffers are consumed incrementally (`Builder::recv_incremental`),
    /// 0 when every receive takes a whole one; summed, the workers whose are.
    pub recv_incremental: u64,
    /// Times the worker handed freed memory back to the kernel (`malloc_trim`, see
    /// `Builder::trim_memory`).
    pub memory_trims: u64,
    /// `corio::net` connections (accepted or connected streams) made on this worker and
    /// not yet dropped.
    pub connections: u64,
    /// tokio: tasks alive on the worker's runtime.
    pub alive_tasks: u64,
    /// tokio: tasks waiting in the worker's injection queue.
    pub global_queue_depth: u64,
    /// tokio: times the worker parked.
    pub parks: u64,
    /// tokio: times the worker parked or unparked.
    pub park_unparks: u64,
    /// tokio: time the worker spent running tasks.
    pub busy: Duration,
}

/// A snapshot of every worker of a runtime; see [`Handle::metrics`](crate::Handle::metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeMetrics {
    /// One entry per worker, in worker order.
    pub workers: Vec<WorkerMetrics>,
}

impl RuntimeMetrics {
    /// The sum over every worker (`worker` is 0; gauges are summed too).
    pub fn total(&self) -> WorkerMetrics {
        self.workers
            .iter()
            .fold(WorkerMetrics::default(), |a, w| WorkerMetrics {
                worker: 0,
                enters: a.enters + w.enters,
                sqes_submitted: a.sqes_submitted + w.sqes_submitted,
                cqes_reaped: a.cqes_reaped + w.cqes_reaped,
                ops_in_flight: a.ops_in_flight + w.ops_in_flight,
                sq_full_flushes: a.sq_full_flushes + w.sq_full_flushes,
                cq_overflows: a.cq_overflows + w.cq_overflows,
                cq_dropped: a.cq_dropped + w.cq_dropped,
                eventfd_wakeups: a.eventfd_wakeups + w.eventfd_wakeups,
                remote_spawns: a.remote_spawns + w.remote_spawns,
                remote_orphans: a.remote_orphans + w.remote_orphans,
                multishot_arms: a.multishot_arms + w.multishot_arms,
                recv_enobufs: a.recv_enobufs + w.recv_enobufs,
                recv_buffer_bytes: a.recv_buffer_bytes + w.recv_buffer_bytes,
                recv_incremental: a.recv_incremental + w.recv_incremental,
                memory_trims: a.memory_trims + w.memory_trims,
                connections: a.connections + w.connections,
                alive_tasks: a.alive_tasks + w.alive_tasks,
                global_queue_depth: a.global_queue_depth + w.global_queue_depth,
                parks: a.parks + w.parks,
                park_unparks: a.park_unparks + w.park_unparks,
                busy: a.busy + w.busy,
            })
    }
}

/// Reads one worker's counters and its tokio runtime's figures.
pub(crate) fn read(
    worker: usize,
    counters: &Counters,
    tokio: &tokio::runtime::Handle,
) -> WorkerMetrics {
    let rt = tokio.metrics();
    WorkerMetrics {
        worker,
        enters: counters.enters.get(),
        sqes_submitted: counters.sqes_submitted.get(),
        cqes_reaped: counters.cqes_reaped.get(),
        ops_in_flight: counters.ops_in_flight.get(),
        sq_full_flushes: counters.sq_full_flushes.get(),
        cq_overflows: counters.cq_overflows.get(),
        cq_dropped: counters.cq_dropped.get(),
        eventfd_wakeups: counters.eventfd_wakeups.get(),
        remote_spawns: counters.remote_spawns.load(Ordering::Relaxed),
        remote_orphans: counters.remote_orphans.get(),
        multishot_arms: counters.multishot_arms.get(),
        recv_enobufs: counters.recv_enobufs.get(),
        recv_buffer_bytes: counters.recv_buffer_bytes.get(),
        recv_incremental: counters.recv_incremental.get(),
        memory_trims: counters.memory_trims.get(),
        connections: u64::try_from(counters.connections.load(Ordering::Relaxed)).unwrap_or(0),
        alive_tasks: rt.num_alive_tasks() as u64,
        global_queue_depth: rt.global_queue_depth() as u64,
        parks: rt.worker_park_count(0),
        park_unparks: rt.worker_park_unpark_count(0),
        busy: rt.worker_total_busy_duration(0),
    }
}

/// A snapshot of the runtime the current thread belongs to (as a worker, or as a guest
/// inside `Runtime::block_on` or `Handle::enter`).
///
/// # Panics
///
/// When called outside a corio runtime.
pub fn snapshot() -> RuntimeMetrics {
    context::expect_current("corio::metrics::snapshot")
        .shared()
        .metrics()
}

#[doc(hidden)]
/// A connection counted in its home worker's [`WorkerMetrics::connections`] until it
/// drops (on any thread).
#[derive(Debug)]
pub struct ConnectionTally(Option<Arc<Counters>>);

impl ConnectionTally {
    /// Counts a connection on the current thread's home worker; counts nothing outside a
    /// corio runtime.
    pub fn new() -> ConnectionTally {
        let counters = context::current().map(|current| current.home_counters().clone());
        if let Some(counters) = &counters {
            let open = counters.connections.fetch_add(1, Ordering::Relaxed) + 1;
            counters.connections_high.fetch_max(open, Ordering::Relaxed);
        }
        ConnectionTally(counters)
    }
}

impl Default for ConnectionTally {
    fn default() -> ConnectionTally {
        ConnectionTally::new()
    }
}

impl Drop for ConnectionTally {
    fn drop(&mut self) {
        if let Some(counters) = &self.0 {
            counters.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
