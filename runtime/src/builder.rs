//! `Builder`: the runtime's knobs, validated, and the backend decision. Starting the
//! worker threads is `Runtime`'s job.

use std::io;

use crate::backend::{self, Backend, BackendInfo, BackendKind};
use crate::driver::{RecvConfig, RecvMode, RingConfig};
use crate::runtime::Runtime;

/// Default submission queue entries per worker ring.
pub(crate) const DEFAULT_RING_ENTRIES: u32 = 256;

/// The environment variable that overrides the worker count.
pub const WORKERS_ENV: &str = "CORIO_WORKERS";

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```no_run
/// let rt = corio_runtime::Builder::new()
///     .workers(2)
///     .backend(corio_runtime::Backend::Auto)
///     .build()
///     .unwrap();
/// rt.block_on(async { println!("running on {}", corio_runtime::backend()) });
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) workers: Option<usize>,
    pub(crate) backend: Backend,
    pub(crate) pin_workers: bool,
    pub(crate) ring_entries: u32,
    pub(crate) cq_entries: Option<u32>,
    /// `None` until `recv_mode` is called: `CORIO_RECV`, else the default.
    pub(crate) recv_mode: Option<RecvMode>,
    /// `None` until `recv_buffers` is called: the default of the kind of ring registered.
    pub(crate) recv_buffers: Option<(u32, u32)>,
    pub(crate) recv_incremental: bool,
    pub(crate) sharded: bool,
    pub(crate) thread_name: String,
    pub(crate) trim_memory: bool,
    pub(crate) register_ring_fd: bool,
    /// tokio's scheduler knobs for each worker's runtime; `None` keeps tokio's default.
    pub(crate) event_interval: Option<u32>,
    pub(crate) global_queue_interval: Option<u32>,
    /// Whether `CORIO_BACKEND` overrides `backend`.
    pub(crate) backend_env: bool,
    /// Whether `CORIO_WORKERS` overrides `workers`.
    pub(crate) workers_env: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per CPU in the affinity mask, `Auto`
    /// backend, pinned workers, 256 ring entries, memory trimmed after load drops.
    pub fn new() -> Builder {
        Builder {
            workers: None,
            backend: Backend::Auto,
            pin_workers: true,
            ring_entries: DEFAULT_RING_ENTRIES,
            cq_entries: None,
            recv_mode: None,
            recv_buffers: None,
            recv_incremental: RecvConfig::default().incremental,
            sharded: false,
            thread_name: "corio-worker".to_owned(),
            trim_memory: true,
            register_ring_fd: true,
            event_interval: None,
            global_queue_interval: None,
            backend_env: true,
            workers_env: true,
        }
    }

    /// Number of worker threads (`CORIO_WORKERS` overrides it).
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers);
        self
    }

    /// The backend to use (`CORIO_BACKEND` overrides it).
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = backend;
        self
    }

    /// Pin worker `i` to the `i`-th CPU of the process's affinity mask (default true).
    pub fn pin_workers(mut self, pin: bool) -> Builder {
        self.pin_workers = pin;
        self
    }

    /// Submission queue entries of each worker's ring (a power of two, 1..=32768).
    pub fn ring_entries(mut self, entries: u32) -> Builder {
        self.ring_entries = entries;
        self
    }

    /// Completion queue entries of each worker's ring (rounded up to a power of two by
    /// the kernel, at least `ring_entries`; default twice `ring_entries` and at least
    /// 4096, so a burst of completions does not spill into the kernel's overflow list).
    pub fn cq_entries(mut self, entries: u32) -> Builder {
        self.cq_entries = Some(entries);
        self
    }

    /// Whether each worker enters its ring through a registered ring fd (default true),
    /// which spares the kernel a file reference per `io_uring_enter`; kernels before 5.18
    /// use the plain fd either way. No effect on epoll.
    pub fn register_ring_fd(mut self, register: bool) -> Builder {
        self.register_ring_fd = register;
        self
    }

    /// tokio's [`event_interval`](tokio::runtime::Builder::event_interval) for each
    /// worker's runtime: scheduler ticks between two looks at the reactor and timers while
    /// tasks keep running (tokio's default, 61, when not called).
    pub fn event_interval(mut self, ticks: u32) -> Builder {
        self.event_interval = Some(ticks);
        self
    }

    /// tokio's [`global_queue_interval`](tokio::runtime::Builder::global_queue_interval)
    /// for each worker's runtime: scheduler ticks between two looks at the queue other
    /// threads spawn into (tokio's default when not called).
    pub fn global_queue_interval(mut self, ticks: u32) -> Builder {
        self.global_queue_interval = Some(ticks);
        self
    }

    /// How streams read on io_uring (default [`RecvMode::Multishot`]; when this is not
    /// called, `CORIO_RECV=multishot|oneshot|readiness` picks it). No effect on epoll.
    pub fn recv_mode(mut self, mode: RecvMode) -> Builder {
        self.recv_mode = Some(mode);
        self
    }

    /// The provided buffers each worker's ring receives stream bytes into: `count` (a
    /// power of two, 1..=32768) buffers of `size` bytes (1..=1 MiB). A completion carries
    /// bytes of one buffer; the bytes are copied out as it is reaped, so the buffers bound
    /// a burst between two reaps, not the connections. Default: 4 of 64 KiB consumed
    /// incrementally, else 128 of 4 KiB (see [`recv_incremental`](Builder::recv_incremental)).
    pub fn recv_buffers(mut self, count: u32, size: u32) -> Builder {
        self.recv_buffers = Some((count, size));
        self
    }

    /// Whether receives consume the provided buffers incrementally (`IOU_PBUF_RING_INC`,
    /// Linux 6.12): each takes only the bytes it carries from the current buffer, instead
    /// of a whole buffer per completion. Default `true`; a kernel without it gets whole
    /// buffers.
    pub fn recv_incremental(mut self, incremental: bool) -> Builder {
        self.recv_incremental = incremental;
        self
    }

    /// Sharded mode: listeners bind with `SO_REUSEPORT` so every worker can bind the
    /// same address.
    pub fn sharded(mut self, sharded: bool) -> Builder {
        self.sharded = sharded;
        self
    }

    /// Prefix of the worker threads' names; worker `i` is named `<prefix>-<i>`.
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Whether a worker gives freed memory back to the kernel after its load drops
    /// (default true): when its live task count or its `corio::net` connections have
    /// fallen by a quarter of their peak, and by at least 256, the worker calls glibc's
    /// `malloc_trim(0)`, and again a second later, so that RSS comes back down after a wave
    /// of connections closes instead of staying at its peak. Checked once a second (the
    /// connections' peak between two checks is exact, the task count is sampled); no effect
    /// outside glibc. Each trim counts in
    /// [`WorkerMetrics::memory_trims`](crate::metrics::WorkerMetrics::memory_trims).
    pub fn trim_memory(mut self, trim: bool) -> Builder {
        self.trim_memory = trim;
        self
    }

    /// Ignore `CORIO_BACKEND` and `CORIO_WORKERS` (tests that pick a backend on purpose).
    pub(crate) fn ignore_env(self) -> Builder {
        self.ignore_backend_env().ignore_workers_env()
    }

    /// Ignore `CORIO_BACKEND`: the backend set here is the one used (an attribute's
    /// explicit `backend = ".."`).
    pub(crate) fn ignore_backend_env(mut self) -> Builder {
        self.backend_env = false;
        self
    }

    /// Ignore `CORIO_WORKERS` (tests, whose worker count is part of what they test).
    pub(crate) fn ignore_workers_env(mut self) -> Builder {
        self.workers_env = false;
        self
    }

    /// Validates the settings, decides the backend and starts the workers.
    ///
    /// # Errors
    ///
    /// An invalid setting or `CORIO_*` variable (`InvalidInput`); `uring` requested
    /// while io_uring is unavailable (`Unsupported`, with the reason); a worker that
    /// failed to start. When `Auto` chose io_uring and a worker then fails to set up its
    /// ring, the runtime starts on epoll instead, with that error as the reason.
    pub fn build(self) -> io::Result<Runtime> {
        let workers = self.worker_count()?;
        if !self.ring_entries.is_power_of_two() || self.ring_entries > 32768 {
            return Err(invalid(format!(
                "ring_entries must be a power of two up to 32768, got {}",
                self.ring_entries
            )));
        }
        if self
            .cq_entries
            .is_some_and(|cq| cq < self.ring_entries || cq > 65536)
        {
            return Err(invalid(format!(
                "cq_entries must be between ring_entries ({}) and 65536, got {:?}",
                self.ring_entries, self.cq_entries
            )));
        }
        for (name, ticks) in [
            ("event_interval", self.event_interval),
            ("global_queue_interval", self.global_queue_interval),
        ] {
            if ticks == Some(0) {
                return Err(invalid(format!("{name} must be at least 1, got 0")));
            }
        }
        let ring = RingConfig {
            entries: self.ring_entries,
            cq_entries: self.cq_entries,
            recv: self.recv_config()?,
            register_fd: self.register_ring_fd,
        };
        let resolved = backend::resolve(self.backend, self.backend_env, ring)?;
        let uring = resolved.info.kind == BackendKind::Uring;
        match self.start(workers, resolved.info, ring) {
            Err(err) if uring && resolved.auto => {
                self.start(workers, backend::after_failed_start(&err), ring)
            }
            started => started,
        }
    }

    fn recv_config(&self) -> io::Result<RecvConfig> {
        let buffers = match self.recv_buffers {
            None => None,
            Some((count, size)) => {
                let count = u16::try_from(count)
                    .ok()
                    .filter(|n| n.is_power_of_two() && *n <= 1 << 15)
                    .ok_or_else(|| {
                        invalid(format!(
                            "recv_buffers count must be a power of two up to 32768, got {count}"
                        ))
                    })?;
                if size == 0 || size > 1 << 20 {
                    return Err(invalid(format!(
                        "recv_buffers size must be 1..=1048576 bytes, got {size}"
                    )));
                }
                Some((count, size))
            }
        };
        let mode = match self.recv_mode {
            Some(mode) => mode,
            None => RecvMode::from_env().map_err(invalid)?.unwrap_or_default(),
        };
        Ok(RecvConfig {
            mode,
            buffers,
            incremental: self.recv_incremental,
        })
    }

    fn start(&self, workers: usize, backend: BackendInfo, ring: RingConfig) -> io::Result<Runtime> {
        tracing::info!(
            backend = %backend.kind,
            reason = %backend.reason,
            workers,
            ring_entries = self.ring_entries,
            "corio runtime starting"
        );
        Runtime::start(self, workers, backend, ring)
    }

    fn worker_count(&self) -> io::Result<usize> {
        let from_env = match std::env::var(WORKERS_ENV) {
            Ok(value) if self.workers_env => {
                Some(value.trim().parse::<usize>().map_err(|_| {
                    invalid(format!("{WORKERS_ENV}={value:?} is not a worker count"))
                })?)
            }
            _ => None,
        };
        let workers = from_env
            .or(self.workers)
            .unwrap_or_else(|| crate::worker::usable_cpus().len());
        if workers == 0 {
            return Err(invalid("a runtime needs at least one worker".to_owned()));
        }
        Ok(workers)
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_validated_before_any_worker_starts() {
        let bad = [
            Builder::new().ring_entries(3),
            Builder::new().ring_entries(65536),
            Builder::new().ring_entries(64).cq_entries(32),
            Builder::new().cq_entries(1 << 17),
            Builder::new().recv_buffers(100, 4096),
            Builder::new().recv_buffers(128, 0),
            Builder::new().event_interval(0),
            Builder::new().global_queue_interval(0),
        ];
        for builder in bad {
            let err = builder.backend(Backend::Epoll).build().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            let message = err.to_string();
            assert!(
                ["entries", "recv_buffers", "interval"]
                    .iter()
                    .any(|what| message.contains(what)),
                "{err}"
            );
        }
    }
}
