//! One worker thread: pinned to its CPU, hosting a tokio current_thread runtime (I/O and
//! time enabled) with a `LocalSet`, and on the uring backend its own Ring, created on
//! this thread, with the driver task and the park hook that turn it.

use std::io;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::LocalSet;

use crate::context::{self, Worker};
use crate::driver::{self, DriverTask, Ring, RingConfig};
use crate::metrics::Counters;
use crate::runtime::Shared;

/// What a worker thread is started with.
#[derive(Debug)]
pub(crate) struct WorkerConfig {
    pub(crate) id: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) ring: Option<RingConfig>,
    pub(crate) name: String,
    /// Give freed memory back after load drops (`trim.rs`).
    pub(crate) trim_memory: bool,
    /// tokio's scheduler knobs; `None` keeps tokio's default.
    pub(crate) event_interval: Option<u32>,
    pub(crate) global_queue_interval: Option<u32>,
    /// The worker's metrics counters, shared with the runtime.
    pub(crate) counters: Arc<Counters>,
}

/// The channels a worker thread talks to its `Runtime` through.
#[derive(Debug)]
pub(crate) struct WorkerLinks {
    /// Reports the worker's tokio handle, or why it failed to start.
    pub(crate) ready: mpsc::Sender<(usize, io::Result<Handle>)>,
    /// Delivers the runtime's shared state once every worker has started.
    pub(crate) shared: mpsc::Receiver<Arc<Shared>>,
    /// Tells the worker to stop, with an optional shutdown timeout.
    pub(crate) stop: oneshot::Receiver<Option<Duration>>,
}

/// The CPUs in this process's affinity mask.
pub(crate) fn usable_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty CPU set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live cpu_set_t and the size passed is its size.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return vec![0];
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the bound CPU_ISSET requires.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty CPU set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the caller passes a CPU from `usable_cpus`, below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live cpu_set_t and the size passed is its size.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Starts the worker thread.
pub(crate) fn spawn(
    config: WorkerConfig,
    links: WorkerLinks,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("{}-{}", config.name, config.id))
        .spawn(move || run(config, links))
}

fn run(config: WorkerConfig, links: WorkerLinks) {
    if let Some(cpu) = config.cpu {
        if let Err(err) = pin_to(cpu) {
            tracing::warn!(worker = config.id, cpu, error = %err, "could not pin worker");
        }
    }
    let rt = match start(&config) {
        Ok(rt) => rt,
        Err(err) => {
            let _ = links.ready.send((config.id, Err(err)));
            context::set_ring(None);
            return;
        }
    };
    let _ = links.ready.send((config.id, Ok(rt.handle().clone())));
    if let Ok(shared) = links.shared.recv() {
        let timeout = serve(&config, &rt, shared, links.stop);
        match timeout {
            Some(timeout) => rt.shutdown_timeout(timeout),
            None => drop(rt),
        }
    } else {
        drop(rt);
    }
    // Every task (and so every local op) is gone: drain the ring before its fd closes.
    let in_flight = context::with_ring(|ring| ring.in_flight()).unwrap_or(0);
    drop(context::set_ring(None));
    tracing::debug!(worker = config.id, in_flight, "worker stopped");
}

/// Builds the tokio runtime and, on the uring backend, this thread's ring.
fn start(config: &WorkerConfig) -> io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if let Some(ticks) = config.event_interval {
        builder.event_interval(ticks);
    }
    if let Some(ticks) = config.global_queue_interval {
        builder.global_queue_interval(ticks);
    }
    let Some(ring_config) = config.ring else {
        return builder.build();
    };
    builder.on_thread_park(driver::on_park);
    let rt = builder.build()?;
    let ring =
        Ring::new(ring_config, config.counters.clone()).map_err(|reason| reason.into_io_error())?;
    ring.set_worker(config.id);
    let eventfd = ring.eventfd();
    context::set_ring(Some(ring));
    let _enter = rt.enter();
    rt.spawn(DriverTask::new(eventfd)?);
    Ok(rt)
}

/// Runs the worker's tasks until it is told to stop; returns the shutdown timeout.
fn serve(
    config: &WorkerConfig,
    rt: &tokio::runtime::Runtime,
    shared: Arc<Shared>,
    stop: oneshot::Receiver<Option<Duration>>,
) -> Option<Duration> {
    let local = Rc::new(LocalSet::new());
    context::set_worker(Some(Rc::new(Worker {
        id: config.id,
        shared,
        local: local.clone(),
        next: std::cell::Cell::new(config.id),
    })));
    if config.trim_memory {
        rt.spawn(crate::trim::trim_after_drops(
            rt.handle().clone(),
            config.counters.clone(),
        ));
    }
    tracing::debug!(worker = config.id, cpu = ?config.cpu, "worker started");
    let timeout = local.block_on(rt, async move { stop.await.unwrap_or(None) });
    context::set_worker(None);
    let _enter = rt.enter();
    drop(local);
    timeout
}
