//! SQ and CQ pressure on a tiny ring (2 SQ entries, 4 CQ entries), on both backends: more
//! ops in flight than the SQ holds, and bursts of more completions than the CQ holds. Each
//! burst lands while the worker is blocked (so nothing is reaped meanwhile): 128 readiness
//! completions then wait for a 4-entry CQ, and the rest go to the kernel's overflow list,
//! which ends the multishot polls behind `read` readiness. A full SQ is submitted, never
//! refused; an ended multishot poll is re-armed, so every stream keeps flowing round after
//! round and no byte is lost.

use std::io::{Read, Write};
use std::time::Duration;

use corio::net::TcpListener;
use corio::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connections per test: 32 times the CQ.
const CONNECTIONS: usize = 128;
/// Rounds of one message on every connection at once.
const ROUNDS: usize = 5;

#[test]
fn bursts_beyond_the_cq_lose_no_connection_and_no_byte() {
    for backend in [Backend::Uring, Backend::Epoll] {
        let builder = corio::Builder::new()
            .workers(1)
            .ring_entries(2)
            .cq_entries(4);
        let Some(rt) = corio::__private::test_runtime_with(backend, builder) else {
            continue;
        };
        rt.block_on(async move {
            tokio::time::timeout(Duration::from_secs(60), burst_rounds())
                .await
                .unwrap_or_else(|_| panic!("{backend:?}: a burst hung"));
        });
        let overflows = rt.metrics().total().cq_overflows;
        if backend == Backend::Uring {
            assert!(overflows > 0, "the bursts never overflowed the 4-entry CQ");
        }
        eprintln!(
            "{backend:?}: {CONNECTIONS} connections x {ROUNDS} bursts, every byte echoed; \
             {overflows} turns found the CQ overflowed"
        );
    }
}

/// Accepts a burst of connections, then has every peer write at once, `ROUNDS` times; each
/// connection's server task echoes what it reads.
async fn burst_rounds() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The peers are blocking std sockets on a thread of their own: their connects and
    // writes land together, while the worker is elsewhere.
    let (go, burst) = std::sync::mpsc::channel::<()>();
    let peers = std::thread::spawn(move || {
        let mut peers: Vec<_> = (0..CONNECTIONS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for round in 0..ROUNDS {
            burst.recv().unwrap();
            for (i, peer) in peers.iter_mut().enumerate() {
                peer.write_all(&message(i, round)).unwrap();
            }
            for (i, peer) in peers.iter_mut().enumerate() {
                let mut back = [0; 8];
                peer.read_exact(&mut back).unwrap();
                assert_eq!(back, message(i, round), "connection {i}, round {round}");
            }
        }
    });
    let mut servers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (mut stream, _) = listener.accept().await.unwrap();
        servers.push(tokio::spawn(async move {
            let mut buf = [0; 8];
            for _ in 0..ROUNDS {
                stream.read_exact(&mut buf).await.unwrap();
                stream.write_all(&buf).await.unwrap();
            }
        }));
    }
    for _ in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(50)).await;
        go.send(()).unwrap();
        // Blocks worker 0, which owns every socket here, while the burst lands.
        tokio::spawn(async { std::thread::sleep(Duration::from_millis(100)) })
            .await
            .unwrap();
    }
    for server in servers {
        server.await.unwrap();
    }
    tokio::task::spawn_blocking(move || peers.join())
        .await
        .unwrap()
        .expect("every peer got its bytes back");
}

/// Connection `i`'s message in `round`: 8 bytes no other connection or round sends.
fn message(i: usize, round: usize) -> [u8; 8] {
    ((i as u64) << 32 | round as u64).to_le_bytes()
}
