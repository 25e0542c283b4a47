//! corio: a Tokio-compatible, thread-per-core io_uring runtime for Linux.
//!
//! Swap `#[tokio::main]` for `#[corio::main]` and `tokio::net` for `corio::net`; `tokio::spawn`,
//! `tokio::time`, `tokio::sync` and hyper-util's `TokioIo` keep working. Each worker is a
//! pinned thread hosting a tokio current_thread runtime; its sockets go through its own
//! io_uring, or through tokio's epoll reactor when the kernel cannot give io_uring.
//! `CORIO_BACKEND=uring|epoll|auto` picks the backend at start.
//!
//! # Examples
//!
//! ```no_run
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[corio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = corio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (mut stream, _) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             let mut buf = [0u8; 1024];
//!             while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!                 if stream.write_all(&buf[..n]).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

pub use corio_macros::{main, test};
pub use corio_runtime::{
    backend, is_sharded, probe, spawn, spawn_blocking, spawn_local, spawn_on, worker_id, workers,
    Backend, BackendInfo, BackendKind, Builder, EnterGuard, Handle, RecvMode, Runtime, Unavailable,
    BACKEND_ENV, RECV_ENV, WORKERS_ENV,
};

/// Owned-buffer I/O types shared by both backends.
///
/// # Buffer ownership
///
/// An owned-buffer call (`read_owned`, `write_all_owned`, `File::read_at`...) takes the
/// buffer by value and returns it with the result, even on error. The kernel may write
/// only inside the buffer's capacity, or inside the view of a [`Slice`]
/// (`buf.slice(a..b)`), and reads only its initialized bytes. A buffer whose future is
/// dropped while the kernel holds it is freed only after the kernel's final completion.
pub mod buf {
    #[doc(hidden)]
    pub use corio_runtime::buf::ProvidedBufs;
    pub use corio_runtime::buf::{AlignedBuf, BufResult, IoBuf, IoBufMut, Slice};
}

/// Files and paths with tokio::fs's names: io_uring ops on a uring worker, the blocking
/// pool elsewhere (see the module docs for which call is which, and buffer ownership).
pub mod fs {
    pub use corio_runtime::fs::*;
}

/// I/O helpers beyond tokio's: zero-copy file to socket and socket to file.
pub mod io {
    pub use corio_compat::{copy_file_to, copy_to_file};
}

/// Sockets with tokio's API, on io_uring or epoll.
pub mod net {
    pub use corio_compat::net::*;
}

/// Runtime figures, cheap enough to read on any path: per-worker ring driver counters,
/// connections and tokio's per-worker figures ([`Handle::metrics`], [`snapshot`]).
///
/// [`snapshot`]: metrics::snapshot
pub mod metrics {
    pub use corio_runtime::metrics::{snapshot, RuntimeMetrics, WorkerMetrics};
    pub use corio_runtime::ring_ops_in_flight;
}

/// Timers: tokio's, which work unchanged inside corio workers.
pub mod time {
    pub use tokio::time::*;
}

/// Tasks: tokio's `JoinHandle` and friends.
pub mod task {
    pub use tokio::task::{yield_now, JoinError, JoinHandle, JoinSet};
}

#[doc(hidden)]
pub mod __private {
    pub use corio_runtime::__private::*;
}
