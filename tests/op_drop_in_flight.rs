//! Streams dropped with reads in flight, on both backends: no fd leaks, the ring's op
//! slab drains, and the runtime keeps serving. (The buffer-level proof with 10,000 ops
//! is runtime/tests/op_drop_in_flight.rs.)

mod support;

use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};
use corio::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 200;

/// Serializes the tests of this file: fd counts are process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

async fn connected_pairs(listener: &TcpListener, n: usize) -> Vec<(TcpStream, TcpStream)> {
    let addr = listener.local_addr().unwrap();
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        pairs.push((client, server));
    }
    pairs
}

async fn settle(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn dropping_streams_with_reads_in_flight_leaks_nothing() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for backend in [Backend::Uring, Backend::Epoll] {
        let Some(rt) = corio::__private::test_runtime(backend, Some(1)) else {
            continue;
        };
        rt.block_on_local(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let baseline = support::open_fds();
            let mut pairs = connected_pairs(&listener, CONNECTIONS).await;
            for (client, _) in &mut pairs {
                let mut buf = [0u8; 16];
                let read = tokio::time::timeout(Duration::from_millis(1), client.read(&mut buf));
                assert!(
                    read.await.is_err(),
                    "no data was sent, the read must time out"
                );
            }
            drop(pairs);
            settle("fds to close", || support::open_fds() <= baseline).await;
            assert_eq!(support::open_fds(), baseline, "{backend:?}");
            settle("the ring to drain", || {
                corio::metrics::ring_ops_in_flight().unwrap_or(0) <= 1
            })
            .await;

            let mut pair = connected_pairs(&listener, 1).await.pop().unwrap();
            pair.0.write_all(b"alive").await.unwrap();
            let mut buf = [0u8; 5];
            pair.1.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"alive", "{backend:?}");
        });
    }
}

#[test]
fn more_connections_than_sq_entries_all_echo() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for backend in [Backend::Uring, Backend::Epoll] {
        let builder = corio::Builder::new().workers(1).ring_entries(8);
        let Some(rt) = corio::__private::test_runtime_with(backend, builder) else {
            continue;
        };
        rt.block_on_local(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let pairs = connected_pairs(&listener, 64).await;
            let tasks: Vec<_> = pairs
                .into_iter()
                .enumerate()
                .map(|(i, (mut client, mut server))| {
                    tokio::spawn(async move {
                        let msg = format!("message {i:04}");
                        client.write_all(msg.as_bytes()).await.unwrap();
                        let mut got = vec![0u8; msg.len()];
                        server.read_exact(&mut got).await.unwrap();
                        server.write_all(&got).await.unwrap();
                        let mut back = vec![0u8; msg.len()];
                        client.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg.as_bytes());
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
    }
}

#[test]
fn a_stream_dropped_on_another_worker_releases_its_read() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for backend in [Backend::Uring, Backend::Epoll] {
        let Some(rt) = corio::__private::test_runtime(backend, Some(2)) else {
            continue;
        };
        rt.block_on_local(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let baseline = support::open_fds();
            let (mut client, server) = connected_pairs(&listener, 1).await.pop().unwrap();
            let mut buf = [0u8; 8];
            let read = tokio::time::timeout(Duration::from_millis(5), client.read(&mut buf));
            assert!(read.await.is_err(), "the read stays in flight");
            // The recv belongs to worker 0's ring; the drop happens on worker 1 and must
            // reach worker 0 to cancel it before the fd can close.
            let dropped_on = corio::spawn_on(1, async move {
                drop(client);
                corio::worker_id()
            });
            assert_eq!(dropped_on.await.unwrap(), 1);
            drop(server);
            settle("fds to close", || support::open_fds() <= baseline).await;
            settle("the ring to drain", || {
                corio::metrics::ring_ops_in_flight().unwrap_or(0) <= 1
            })
            .await;
        });
    }
}
