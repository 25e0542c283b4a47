//! Stopping a runtime with operations in flight, and workers that outlive failures.
//!
//! - `Runtime::shutdown_timeout` and a plain drop, each with a task blocked in a read whose
//!   peer never writes, a listener with connections queued and never accepted, a task
//!   blocked in an accept, and a task writing to a peer that does not read: the call
//!   returns (well within the timeout plus slack: only a hang fails), every socket of the
//!   runtime is closed (each peer sees its end; the process is back to the fds it had
//!   before the runtime started), and every byte a `write` reported written reaches the
//!   peer, which reads only after the shutdown.
//! - A task that panics with a read in flight: its `JoinHandle` reports the panic and its
//!   message, and its worker goes on serving I/O.
//! - A panic inside a worker's io_uring driver (injected with
//!   `corio::__private::panic_in_driver_once`): the tasks waiting on that worker's ops fail
//!   with an error naming the worker and the panic instead of hanging, new ops there fail
//!   the same way, and the runtime still drops. Only the uring backend has a corio driver;
//!   on epoll the hook does nothing and says so.
//!
//! Every test runs on both backends, one at a time (fd counts are process-wide); the peers
//! are std sockets on their own threads, outside the runtime under test.

mod support;

use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};
use corio::{Backend, Runtime};
use support::peer::{
    baseline_fds, check_counters, counter_byte, run_checked, serial, settle, std_connect, std_pair,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The timeout given to `shutdown_timeout`.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How much longer than asked a shutdown may take before it counts as hung.
const SLACK: Duration = Duration::from_secs(5);
/// How long a peer waits for its end of a connection, and a test for anything else.
const LIMIT: Duration = Duration::from_secs(20);
/// Connections left in the listen queue.
const QUEUED: usize = 8;

/// How a test stops its runtime.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Timeout,
    Drop,
}

/// One `#[test]` per backend: `<name>::uring` and `<name>::epoll` run `<name>(backend)`.
macro_rules! on_both_backends {
    ($($name:ident;)*) => {$(
        mod $name {
            #[test]
            fn uring() {
                super::$name(super::Backend::Uring);
            }

            #[test]
            fn epoll() {
                super::$name(super::Backend::Epoll);
            }
        }
    )*};
}

on_both_backends! {
    shutdown_timeout_with_ops_in_flight;
    drop_with_ops_in_flight;
    a_task_panic_spares_its_worker;
    a_driver_panic_fails_its_ops;
}

fn shutdown_timeout_with_ops_in_flight(backend: Backend) {
    stop_with_ops_in_flight(backend, Stop::Timeout);
}

fn drop_with_ops_in_flight(backend: Backend) {
    stop_with_ops_in_flight(backend, Stop::Drop);
}

/// The peers of the runtime's sockets, and what the runtime's tasks did.
#[derive(Debug)]
struct Peers {
    /// Of the stream a task is blocked reading; never writes.
    reader: std::net::TcpStream,
    /// Connected to a listener nobody accepts on.
    queued: Vec<std::net::TcpStream>,
    /// Of the stream a task writes to; reads only after the shutdown.
    writer: std::net::TcpStream,
    /// Bytes the writing task's `write` calls reported written.
    written: Arc<AtomicU64>,
    /// Set if the blocked read or accept ever returned.
    returned: Arc<AtomicBool>,
}

fn stop_with_ops_in_flight(backend: Backend, stop: Stop) {
    let _serial = serial();
    let fds = baseline_fds(backend);
    let Some(rt) = corio::__private::test_runtime(backend, Some(1)) else {
        return;
    };
    let peers = rt.block_on_local(start_ops_in_flight);
    let started = Instant::now();
    let limit = match stop {
        Stop::Timeout => {
            rt.shutdown_timeout(TIMEOUT);
            TIMEOUT + SLACK
        }
        Stop::Drop => {
            drop(rt);
            SLACK
        }
    };
    let took = started.elapsed();
    println!("{backend:?}: {stop:?} returned after {took:?}");
    assert!(took < limit, "{backend:?}: {stop:?} hung ({took:?})");
    assert!(!peers.returned.load(Ordering::SeqCst), "nothing was sent");
    check_peers(backend, peers);
    assert_eq!(support::open_fds(), fds, "{backend:?}: an fd leaked");
}

/// On worker 0: a task blocked in a read, a listener with `QUEUED` connections waiting,
/// a task blocked in an accept, and a task writing until its peer's window is full.
async fn start_ops_in_flight() -> Peers {
    let returned = Arc::new(AtomicBool::new(false));
    let (mut stream, reader) = std_pair(None).await;
    let flag = returned.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        flag.store(true, Ordering::SeqCst);
    });

    let idle = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = idle.local_addr().expect("local_addr");
    let queued = (0..QUEUED).map(|_| std_connect(addr, LIMIT)).collect();
    let waiting = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let flag = returned.clone();
    tokio::spawn(async move {
        let _idle = idle;
        let _ = waiting.accept().await;
        flag.store(true, Ordering::SeqCst);
    });

    let (stream, writer) = std_pair(None).await;
    writer.set_read_timeout(Some(LIMIT)).expect("SO_RCVTIMEO");
    let written = Arc::new(AtomicU64::new(0));
    tokio::spawn(write_counters(stream, written.clone()));
    let stalled = {
        let written = written.clone();
        let mut last = 0;
        move || {
            let now = written.load(Ordering::SeqCst);
            std::mem::replace(&mut last, now) == now && now > 0
        }
    };
    settle(LIMIT, "the writer to stall", stalled).await;
    Peers {
        reader,
        queued,
        writer,
        written,
        returned,
    }
}

/// Writes the counter stream to `stream` with `write` calls, counting what they report.
async fn write_counters(mut stream: TcpStream, written: Arc<AtomicU64>) {
    let mut chunk = Vec::with_capacity(64 * 1024);
    loop {
        let offset = written.load(Ordering::SeqCst);
        chunk.clear();
        chunk.extend((offset..offset + 64 * 1024).map(counter_byte));
        match stream.write(&chunk).await {
            Ok(n) => written.fetch_add(n as u64, Ordering::SeqCst),
            Err(err) => panic!("write: {err}"),
        };
    }
}

/// After the shutdown: every peer sees its connection end, and the writer's peer gets
/// exactly the bytes `write` reported.
fn check_peers(backend: Backend, mut peers: Peers) {
    let mut buf = [0u8; 64];
    let end = peers.reader.read(&mut buf);
    assert!(
        matches!(end, Ok(0)),
        "{backend:?}: the read's stream is closed: {end:?}"
    );
    for peer in &mut peers.queued {
        match peer.read(&mut buf) {
            Ok(0) => {}
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("{backend:?}: a queued connection must end: {other:?}"),
        }
    }
    let mut got = Vec::new();
    peers
        .writer
        .read_to_end(&mut got)
        .expect("the writer's peer reads to the end");
    let written = peers.written.load(Ordering::SeqCst);
    println!(
        "{backend:?}: write reported {written} bytes written, the peer received {}",
        got.len()
    );
    check_counters(&got, written);
}

/// A task that panics with a read in flight, on worker 1: its `JoinHandle` reports the
/// panic and its message, and worker 1 goes on serving I/O.
fn a_task_panic_spares_its_worker(backend: Backend) {
    run_checked(backend, 2, LIMIT, move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let doomed = corio::spawn_on(1, async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let mut buf = [0u8; 8];
            let mut read = pin!(stream.read(&mut buf));
            assert!(
                futures::poll!(read.as_mut()).is_pending(),
                "nothing was sent"
            );
            panic!(
                "boom on worker {} with a read in flight",
                corio::worker_id()
            );
        });
        let (mut server, _) = listener.accept().await.expect("accept");
        let err = doomed.await.expect_err("the task panicked");
        assert!(err.is_panic(), "{err}");
        let payload = err.into_panic();
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted message");
        println!("{backend:?}: the JoinError carries {message:?}");
        assert_eq!(message, "boom on worker 1 with a read in flight");
        let mut buf = [0u8; 8];
        assert_eq!(
            server.read(&mut buf).await.expect("read"),
            0,
            "its stream closed"
        );

        let served = corio::spawn_on(1, ping(addr));
        let (mut server, _) = listener.accept().await.expect("accept");
        server.read_exact(&mut buf[..4]).await.expect("read ping");
        server.write_all(&buf[..4]).await.expect("echo");
        assert_eq!(served.await.expect("worker 1 serves"), (1, *b"ping"));
        let drained = corio::spawn_on(1, async {
            settle(LIMIT, "worker 1's ring to drain", || {
                corio::metrics::ring_ops_in_flight().unwrap_or(0) == 0
            })
            .await;
        });
        drained.await.expect("worker 1's ring drains");
    });
}

/// Sends `ping` to `addr` and reads the echo; returns the worker it ran on and the echo.
async fn ping(addr: SocketAddr) -> (usize, [u8; 4]) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.expect("read echo");
    (corio::worker_id(), echo)
}

/// What every op of a poisoned worker 0 fails with, up to the panic's message.
const POISONED: &str = "corio: the io_uring driver of worker 0 panicked: corio: injected \
                        driver panic";

/// On uring, a panic in worker 0's driver: the tasks waiting there fail instead of
/// hanging, new ops fail too, and the runtime drops. On epoll the hook is a no-op.
fn a_driver_panic_fails_its_ops(backend: Backend) {
    let _serial = serial();
    let fds = baseline_fds(backend);
    let Some(rt) = corio::__private::test_runtime(backend, Some(1)) else {
        return;
    };
    rt.block_on_local(move || async move {
        match backend {
            Backend::Uring => tokio::time::timeout(LIMIT, poison_worker_0())
                .await
                .expect("the ops of a poisoned ring fail instead of hanging"),
            _ => assert!(
                !corio::__private::panic_in_driver_once(),
                "no driver on epoll"
            ),
        }
    });
    drop_within(rt, LIMIT);
    let leaked = support::open_fds() - fds;
    println!("{backend:?}: {leaked} fds leaked with the poisoned ring's ops");
    if backend == Backend::Epoll {
        assert_eq!(leaked, 0);
    }
}

async fn poison_worker_0() {
    let (mut quiet, _quiet_peer) = std_pair(None).await;
    let (owned, _owned_peer) = std_pair(None).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = target.local_addr().expect("local_addr");
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 16];
        let result = quiet.read(&mut buf).await;
        (result, quiet)
    });
    let owned_reader =
        tokio::spawn(async move { owned.read_owned(Vec::with_capacity(16)).await.0 });
    let acceptor = tokio::spawn(async move { listener.accept().await.map(drop) });
    settle(LIMIT, "the reads and the accept to wait", || {
        corio::metrics::ring_ops_in_flight() >= Some(3)
    })
    .await;

    assert!(
        corio::__private::panic_in_driver_once(),
        "a uring worker has a driver"
    );
    tokio::task::yield_now().await;
    let (result, mut quiet) = reader.await.expect("the reading task finishes");
    let err = result.expect_err("a read waiting on a poisoned ring fails");
    println!("the waiting read failed with: {err}");
    assert!(err.to_string().starts_with(POISONED), "{err}");
    let err = acceptor
        .await
        .expect("the accepting task finishes")
        .expect_err("accept fails");
    assert!(err.to_string().starts_with(POISONED), "{err}");

    let err = owned_reader
        .await
        .expect_err("an owned read cannot return its buffer");
    let payload = err.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted message");
    println!("the waiting read_owned's task panicked with: {message}");
    assert!(message.starts_with(POISONED), "{message}");

    let mut buf = [0u8; 16];
    let err = quiet.read(&mut buf).await.expect_err("a new read fails");
    assert!(err.to_string().starts_with(POISONED), "{err}");
    let err = TcpStream::connect(addr)
        .await
        .expect_err("a new connect fails");
    assert!(err.to_string().starts_with(POISONED), "{err}");
}

/// Drops `rt` on another thread, failing if that takes longer than `limit`.
fn drop_within(rt: Runtime, limit: Duration) {
    let (done, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(rt);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(limit)
        .expect("the runtime drops instead of hanging");
}
