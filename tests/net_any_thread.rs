//! corio's sockets work from any thread, as tokio's do (`Send + Sync`, tokio's docs of
//! `TcpListener::accept`, `TcpStream::{try_read, try_write, readable, into_std}`), on both
//! backends: one listener accepted from every worker, a stream moved to another worker in
//! the middle of a conversation, `try_read`/`try_write` from a plain std thread, and
//! `into_std` after an accept, a cancelled read and a dropped `readable()`.

mod support;

use std::future::Future;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};
use support::net::{pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(20);

/// Runs `body`, failing the test after [`LIMIT`].
async fn bounded<F: Future>(body: F) -> F::Output {
    match tokio::time::timeout(LIMIT, body).await {
        Ok(output) => output,
        Err(_) => panic!("the test did not finish within {LIMIT:?}"),
    }
}

/// An `Arc<TcpListener>` accepted from a task on each worker: every worker's task accepts
/// connections. Each task holds after its first accept until every task has one, so the
/// second connection can only be accepted by the other worker.
#[corio::test(backend = "both", workers = 2)]
async fn arc_listener_accepts_on_every_worker() {
    bounded(async {
        const CLIENTS: usize = 200;
        let workers = corio::workers();
        assert_eq!(workers, 2);
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(workers));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let acceptors: Vec<_> = (0..workers)
            .map(|worker| {
                let (listener, barrier, mut stopped) =
                    (listener.clone(), barrier.clone(), stopped.clone());
                corio::spawn_on(worker, async move {
                    assert_eq!(corio::worker_id(), worker);
                    let mut accepted = 0usize;
                    loop {
                        let mut stream = tokio::select! {
                            accepted = listener.accept() => accepted.expect("accept").0,
                            _ = stopped.changed() => break,
                        };
                        stream.write_all(&[worker as u8]).await.expect("write");
                        accepted += 1;
                        if accepted == 1 {
                            barrier.wait().await;
                        }
                    }
                    accepted
                })
            })
            .collect();
        let mut served_by = vec![0usize; workers];
        for i in 0..CLIENTS {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let mut worker = [0u8; 1];
            match tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut worker)).await
            {
                Ok(read) => read.expect("client read"),
                Err(_) => panic!("client {i} was not served within 5 s ({served_by:?})"),
            };
            served_by[usize::from(worker[0])] += 1;
        }
        stop.send_replace(true);
        let mut accepted = Vec::new();
        for acceptor in acceptors {
            accepted.push(acceptor.await.expect("an acceptor panicked"));
        }
        assert_eq!(
            accepted, served_by,
            "each client was served by the worker it names"
        );
        assert_eq!(accepted.iter().sum::<usize>(), CLIENTS);
        assert!(
            accepted.iter().all(|&n| n >= 1),
            "every worker accepted: {accepted:?}"
        );
    })
    .await;
}

/// Reads from `stream` until `want` bytes have come, appending them to `got`.
async fn read_n(stream: &mut TcpStream, got: &mut Vec<u8>, want: usize) {
    let start = got.len();
    got.resize(start + want, 0);
    stream.read_exact(&mut got[start..]).await.expect("read");
}

/// Polls `stream.readable()` and drops it before it resolves. Nothing may be readable: a
/// `try_read` first clears any readiness left over (tokio reports a new stream readable
/// once, a documented false positive), then `readable()` must wait.
async fn drop_pending_readable(stream: &TcpStream) {
    let mut buf = [0u8; 16];
    match stream.try_read(&mut buf) {
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
        other => panic!("nothing was sent, yet try_read gave {other:?}"),
    }
    let readable = tokio::time::timeout(Duration::from_millis(20), stream.readable()).await;
    assert!(
        readable.is_err(),
        "readable() resolved after WouldBlock with nothing to read: {readable:?}"
    );
}

/// A std thread that echoes one connection until EOF, then closes its write side.
fn std_echo(listener: std::net::TcpListener) -> std::thread::JoinHandle<io::Result<u64>> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept()?;
        conn.set_read_timeout(Some(LIMIT))?;
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                break;
            }
            conn.write_all(&buf[..n])?;
            total += n as u64;
        }
        conn.shutdown(std::net::Shutdown::Write)?;
        Ok(total)
    })
}

/// On worker 0: write, read part of the echo, drop a pending `readable()`. Then the stream
/// moves to worker 1 with echoed bytes still unread and goes on there: every byte arrives,
/// in order.
#[corio::test(backend = "both", workers = 2)]
async fn stream_written_then_moved_to_other_worker() {
    bounded(async {
        const PART: usize = 192 << 10;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = std_echo(listener);
        let data = pattern(3 * PART, 31);
        let mut stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(corio::worker_id(), 0);

        // Part 1 out and back: then nothing is left to read.
        let mut got = Vec::new();
        {
            let (mut read, mut write) = stream.split();
            let (written, ()) = tokio::join!(write.write_all(&data[..PART]), async {
                let start = got.len();
                got.resize(start + PART, 0);
                read.read_exact(&mut got[start..]).await.expect("read");
            });
            written.expect("write part 1");
        }
        drop_pending_readable(&stream).await;
        // Part 2 out, half of it back; the other half stays in flight or buffered.
        stream.write_all(&data[PART..2 * PART]).await.unwrap();
        read_n(&mut stream, &mut got, PART / 2).await;

        let expected = data.clone();
        let moved = corio::spawn_on(1, async move {
            assert_eq!(corio::worker_id(), 1);
            read_n(&mut stream, &mut got, PART - PART / 2).await;
            let (mut read, mut write) = stream.split();
            let writer = async {
                write
                    .write_all(&data[2 * PART..])
                    .await
                    .expect("write part 3");
                write.shutdown().await.expect("shutdown");
            };
            let ((), read) = tokio::join!(writer, read.read_to_end(&mut got));
            read.expect("read to EOF");
            got
        });
        let got = moved.await.expect("the moved stream's task panicked");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "every byte arrives, in order");
        let echoed = echo.join().expect("echo thread").expect("echo I/O");
        assert_eq!(echoed, expected.len() as u64);
    })
    .await;
}

/// An `Arc<TcpStream>` used from a plain std thread with `try_write` and `try_read`,
/// looping on `WouldBlock`: the bytes go out and come back, and nothing panics.
#[corio::test(backend = "both")]
async fn try_read_try_write_from_std_thread() {
    bounded(async {
        let (client, mut server) = tcp_pair().await;
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 32 << 10];
            loop {
                let n = server.read(&mut buf).await.expect("echo read");
                if n == 0 {
                    return;
                }
                server.write_all(&buf[..n]).await.expect("echo write");
            }
        });
        let client = Arc::new(client);
        let data = pattern(512 << 10, 41);
        let (done, result) = tokio::sync::oneshot::channel();
        let thread_client = client.clone();
        let thread_data = data.clone();
        std::thread::spawn(move || {
            let _ = done.send(try_echo(&thread_client, &thread_data));
        });
        let result = result.await.expect("the std thread panicked");
        let (got, would_block) = result.expect("try_read/try_write from a std thread");
        assert!(got == data, "every byte came back, in order");
        eprintln!("WouldBlock {would_block} times");
        drop(client);
        echo.await.unwrap();
    })
    .await;
}

/// Writes `data` with `try_write` and reads it back with `try_read`, sleeping 1 ms when
/// neither makes progress; gives up after 15 s. Returns the bytes read and how often
/// `WouldBlock` was returned.
fn try_echo(stream: &TcpStream, data: &[u8]) -> io::Result<(Vec<u8>, usize)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut sent, mut got, mut would_block) = (0, Vec::new(), 0);
    let mut buf = vec![0u8; 16 << 10];
    while got.len() < data.len() {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("after 15 s: {sent} sent, {} read", got.len()),
            ));
        }
        let mut progressed = false;
        if sent < data.len() {
            let end = data.len().min(sent + (8 << 10));
            match stream.try_write(&data[sent..end]) {
                Ok(n) => {
                    sent += n;
                    progressed = true;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => would_block += 1,
                Err(err) => return Err(err),
            }
        }
        match stream.try_read(&mut buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF after {} bytes", got.len()),
                ))
            }
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => would_block += 1,
            Err(err) => return Err(err),
        }
        if !progressed {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok((got, would_block))
}

/// A corio stream accepted from a blocking std client (5 s read timeout).
async fn accepted_from_std_peer(early: &[u8]) -> (TcpStream, std::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    peer.write_all(early).unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    (stream, peer)
}

/// `into_std` returns the connection itself: non-blocking (tokio's docs), carrying what
/// the peer sent before (`early`), what is written to it and what the peer sends after;
/// dropping it closes the connection.
fn std_carries_the_connection(stream: TcpStream, mut peer: std::net::TcpStream, early: &[u8]) {
    let mut std = stream.into_std().expect("into_std");
    let mut buf = vec![0u8; 64];
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while got.len() < early.len() && Instant::now() < deadline {
        match std.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(err) => panic!("std read of the early bytes: {err}"),
        }
    }
    assert_eq!(got, early, "the bytes the peer sent before into_std");
    match std.read(&mut buf) {
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
        other => panic!("into_std gives a non-blocking stream with nothing to read: {other:?}"),
    }

    std.set_nonblocking(false).unwrap();
    std.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std.write_all(b"from std").expect("std write");
    let mut at_peer = [0u8; 8];
    peer.read_exact(&mut at_peer)
        .unwrap_or_else(|err| panic!("the peer did not get what the std stream wrote: {err}"));
    assert_eq!(&at_peer, b"from std");
    peer.write_all(b"from the peer").expect("peer write");
    let mut at_std = [0u8; 13];
    std.read_exact(&mut at_std).unwrap_or_else(|err| {
        panic!("the std stream did not get what the peer sent after into_std: {err}")
    });
    assert_eq!(&at_std, b"from the peer");
    drop(std);
    match peer.read(&mut buf) {
        Ok(0) => {}
        other => panic!("dropping the std stream closes the connection, so EOF: {other:?}"),
    }
}

#[corio::test(backend = "both")]
async fn into_std_after_accept() {
    bounded(async {
        let (stream, peer) = accepted_from_std_peer(b"early bytes").await;
        std_carries_the_connection(stream, peer, b"early bytes");
    })
    .await;
}

/// A read raced and lost against a short sleep in `tokio::select!`, then `into_std`.
#[corio::test(backend = "both")]
async fn into_std_after_cancelled_read() {
    bounded(async {
        let (mut stream, peer) = accepted_from_std_peer(b"").await;
        let mut buf = [0u8; 16];
        tokio::select! {
            read = stream.read(&mut buf) => panic!("the peer sent nothing, yet read gave {read:?}"),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        std_carries_the_connection(stream, peer, b"");
    })
    .await;
}

/// A `readable()` future dropped before it resolved, then `into_std`.
#[corio::test(backend = "both")]
async fn into_std_after_dropped_readable() {
    bounded(async {
        let (stream, peer) = accepted_from_std_peer(b"").await;
        drop_pending_readable(&stream).await;
        std_carries_the_connection(stream, peer, b"");
    })
    .await;
}
