//! The soak server (`examples/soak/server.rs`) started for a test, and the frame every test
//! of `conn_faults.rs`, `exhaustion.rs` and `churn.rs` runs in. Included with
//! `#[path = "support/soak.rs"] mod soak;` next to `mod server;`, which it uses.
// Each includer uses a different part of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::server::{self, Listener, ServerConfig, ServerStats, StatsSnapshot};

/// fd and RSS figures are process-wide: the tests of one file run their bodies one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `body` with the file's lock held, failing the test after `limit`.
pub(crate) async fn bounded<F: Future>(limit: Duration, body: F) -> F::Output {
    let _serial = SERIAL.lock().await;
    match tokio::time::timeout(limit, body).await {
        Ok(output) => output,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

/// Takes the file's lock in a test that is not async (one that only drives child processes
/// but holds sockets in this process).
pub(crate) fn serial_blocking() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.blocking_lock()
}

/// A running soak server.
#[derive(Debug)]
pub(crate) struct Soak {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stats: Arc<ServerStats>,
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

impl Soak {
    /// Binds a corio listener on a free port of 127.0.0.1 and serves it (a `tokio::spawn`ed
    /// accept loop).
    pub(crate) async fn start(config: ServerConfig) -> Soak {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        Soak::serve(listener, addr, config)
    }

    /// Serves `listener`, bound to `addr`.
    pub(crate) fn serve<L>(listener: L, addr: SocketAddr, config: ServerConfig) -> Soak
    where
        L: Listener + Send + 'static,
    {
        let stats = Arc::new(ServerStats::default());
        let (stop, stopped) = oneshot::channel();
        let done = tokio::spawn(server::serve(listener, config, stats.clone(), stopped));
        Soak {
            addr,
            stats,
            stop,
            done,
        }
    }

    /// The server's counters now.
    pub(crate) fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Waits (polling every 5 ms) until `done` holds for the counters.
    pub(crate) async fn until(&self, what: &str, done: impl Fn(&StatsSnapshot) -> bool) {
        until(what, || done(&self.stats())).await;
    }

    /// Waits until every accepted connection has finished.
    pub(crate) async fn until_all_closed(&self) {
        self.until("every connection closed", |s| s.closed == s.accepted)
            .await;
    }

    /// Graceful stop: no more accepts, then waits for the open connections.
    pub(crate) async fn stop(self) -> StatsSnapshot {
        let _ = self.stop.send(());
        self.done.await.expect("the accept loop panicked");
        self.stats.snapshot()
    }
}

/// Waits (polling every 5 ms) until `done` returns true; the test's own bound is the
/// only deadline, and the message says what was awaited when it runs out.
pub(crate) async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    let mut reported = false;
    while !done() {
        if !reported && started.elapsed() > Duration::from_secs(10) {
            eprintln!("still waiting until {what}");
            reported = true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A number of bytes in MiB, for printing.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
