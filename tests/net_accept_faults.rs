//! `corio::net::TcpListener::accept` under faults, on both backends, as tokio behaves
//! (tokio's docs of `TcpListener::accept` and `TcpSocket::listen`): peers that reset right
//! after connecting do not end an `accept().await?` loop, and a connection flood beyond
//! the backlog stays in the kernel's queue: the runtime accepts nothing on its own, so the
//! process's fds stay bounded, and accepting works again afterwards.

#[path = "support/raw.rs"]
mod raw;
mod support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(30);

/// fd counts are process-wide: the tests of this file run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `body` with the file's lock held, failing the test after [`LIMIT`].
async fn bounded<F: Future<Output = ()>>(body: F) {
    let _serial = SERIAL.lock().await;
    if tokio::time::timeout(LIMIT, body).await.is_err() {
        panic!("the test did not finish within {LIMIT:?}");
    }
}

/// A blocking std client connected to `addr` that resets the connection, after sending
/// `first` (if not empty).
fn reset_client(addr: SocketAddr, first: &[u8]) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    if !first.is_empty() {
        stream.write_all(first).expect("write");
    }
    raw::reset(stream);
}

/// Clients that connect and reset at once (before or after the server accepted them),
/// interleaved with normal clients: an `accept().await?` loop keeps running and serves
/// every normal client.
#[corio::test(backend = "both")]
async fn reset_peer_does_not_end_accept_loop() {
    bounded(async {
        const ROUNDS: usize = 40;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = {
            let (served, accepted) = (served.clone(), accepted.clone());
            tokio::spawn(async move {
                tokio::pin!(stopped);
                loop {
                    let (mut stream, _) = tokio::select! {
                        accept = listener.accept() => accept?,
                        _ = &mut stopped => return Ok::<(), io::Error>(()),
                    };
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let served = served.clone();
                    tokio::spawn(async move {
                        let mut ping = [0u8; 4];
                        if stream.read_exact(&mut ping).await.is_ok()
                            && &ping == b"ping"
                            && stream.write_all(b"pong").await.is_ok()
                        {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            })
        };
        for round in 0..ROUNDS {
            // Reset while still in the accept queue, and reset after sending a little.
            for _ in 0..3 {
                reset_client(addr, b"");
            }
            reset_client(addr, b"pi");
            let normal = async {
                let mut client = TcpStream::connect(addr).await?;
                client.write_all(b"ping").await?;
                let mut pong = [0u8; 4];
                client.read_exact(&mut pong).await?;
                Ok::<_, io::Error>(pong)
            };
            match tokio::time::timeout(Duration::from_secs(5), normal).await {
                Ok(Ok(pong)) => assert_eq!(&pong, b"pong"),
                Ok(Err(err)) => panic!("round {round}: normal client failed: {err}"),
                Err(_) => panic!(
                    "round {round}: normal client not served within 5 s (accept loop \
                     finished: {})",
                    server.is_finished()
                ),
            }
            if round % 8 == 0 {
                tokio::task::yield_now().await;
            }
        }
        assert!(!server.is_finished(), "the accept loop is still running");
        let _ = stop.send(());
        let result = server.await.expect("the accept loop panicked");
        result.expect("accept().await? ended the loop");
        assert_eq!(served.load(Ordering::Relaxed), ROUNDS);
        eprintln!(
            "{} connections accepted, {} normal clients served",
            accepted.load(Ordering::Relaxed),
            served.load(Ordering::Relaxed)
        );
    })
    .await;
}

/// A listener with a backlog of 8 accepts one connection and then nobody calls accept;
/// 500 clients connect (non-blocking). The kernel keeps what fits in its queue and drops
/// the rest's SYNs (they retry); the runtime must not accept on its own, so the
/// process holds no more server-side sockets than the program accepted. Then accepting
/// resumes and a new client gets through.
#[corio::test(backend = "both")]
async fn connection_flood_beyond_backlog_is_bounded() {
    bounded(async {
        const BACKLOG: u32 = 8;
        const CLIENTS: usize = 500;
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(BACKLOG).unwrap();
        let addr = listener.local_addr().unwrap();
        let SocketAddr::V4(addr_v4) = addr else {
            unreachable!("bound to 127.0.0.1")
        };

        let first_client = TcpStream::connect(addr).await.unwrap();
        let (first, _) = listener.accept().await.unwrap();
        assert_eq!(raw::accepted_fds(addr.port()), 1, "one connection accepted");
        let baseline = raw::tcp_fds();

        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                raw::connect_nonblocking(addr_v4)
                    .unwrap_or_else(|err| panic!("client {i}: connect: {err}"))
            })
            .collect();
        // Let the runtime run for a while (SYNs the full queue dropped are retried after
        // ~1 s and ~3 s), watching what the process holds.
        let (mut most_accepted, mut most_fds) = (0, 0);
        let watch_until = Instant::now() + Duration::from_millis(3500);
        while Instant::now() < watch_until {
            most_accepted = most_accepted.max(raw::accepted_fds(addr.port()));
            most_fds = most_fds.max(raw::tcp_fds());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!(
            "{CLIENTS} clients: at most {most_accepted} server-side fds (1 accepted by the \
             test), at most {} TCP fds beyond the clients' over the baseline",
            most_fds.saturating_sub(baseline + CLIENTS)
        );
        assert!(
            most_accepted <= 1,
            "the runtime accepted connections on its own: the process held {most_accepted} \
             server-side sockets of the listener, the program accepted 1"
        );
        assert!(
            most_fds <= baseline + CLIENTS + 8,
            "the process's TCP fds grew by {} for {CLIENTS} client sockets",
            most_fds - baseline
        );

        // Resume: drain what the kernel queued, until a new client is accepted.
        drop(clients);
        let fresh = TcpSocket::new_v4().unwrap();
        fresh.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let fresh_addr = fresh.local_addr().unwrap();
        let fresh_client = tokio::spawn(async move {
            let mut stream = fresh.connect(addr).await?;
            stream.write_all(b"fresh").await?;
            Ok::<_, io::Error>(stream)
        });
        let mut drained = 0;
        let mut fresh_server = loop {
            let accept = tokio::time::timeout(Duration::from_secs(15), listener.accept());
            let (stream, peer) = accept
                .await
                .expect("no new connection accepted within 15 s")
                .expect("accept after the flood");
            if peer == fresh_addr {
                break stream;
            }
            drained += 1;
        };
        let mut got = [0u8; 5];
        fresh_server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"fresh");
        let _fresh_client = fresh_client.await.unwrap().expect("the new client");
        eprintln!("{drained} queued connections accepted before the new one");
        drop((first, first_client));
    })
    .await;
}
