//! The write side of `corio::net::TcpStream` keeps tokio's contract, on both backends
//! (tokio's docs of `AsyncWriteExt::write`, `AsyncWriteExt::shutdown` and `TcpStream`):
//! bytes a write reported are with the kernel even if the worker thread then blocks;
//! `shutdown` never waits for the peer to read; `copy_bidirectional` keeps one direction
//! going while the other is back-pressured; a send error stays; and dropping a stream
//! whose send is stalled releases its fd at once.

#[path = "support/raw.rs"]
mod raw;
mod support;

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};
use support::net::{pattern, tcp_pair};
use support::poll_once_and_drop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(20);

/// fd counts are process-wide: the tests of this file run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `body` with the file's lock held, failing the test after [`LIMIT`].
async fn bounded<F: Future<Output = ()>>(body: F) {
    let _serial = SERIAL.lock().await;
    if tokio::time::timeout(LIMIT, body).await.is_err() {
        panic!("the test did not finish within {LIMIT:?}");
    }
}

/// Writes from `data` (starting at `written`) until a write stays pending for 200 ms, then
/// calls `try_write` until it says `WouldBlock`. Returns how many bytes were reported
/// written in all. The peer must not be reading.
async fn fill(stream: &mut TcpStream, data: &[u8]) -> usize {
    let mut written = 0;
    loop {
        assert!(
            written < data.len(),
            "{written} bytes written and never back-pressured"
        );
        let end = data.len().min(written + (64 << 10));
        let write = stream.write(&data[written..end]);
        match tokio::time::timeout(Duration::from_millis(200), write).await {
            Ok(n) => {
                let n = n.expect("write to a live peer");
                assert!(n > 0, "write returned Ok(0) for a non-empty buffer");
                written += n;
            }
            // Pending: the send buffer is full. tokio's write is cancel safe: the
            // dropped write wrote nothing.
            Err(_) => break,
        }
    }
    for _ in 0..1000 {
        let end = data.len().min(written + (64 << 10));
        match stream.try_write(&data[written..end]) {
            Ok(n) => written += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return written,
            Err(err) => panic!("try_write to a live peer: {err}"),
        }
    }
    panic!("try_write never said WouldBlock on a full socket");
}

/// A task writes, then blocks its worker thread (a blocking std read) until a std peer
/// thread has received every byte: with tokio the bytes are in the kernel when `write_all`
/// returns, so nothing needs the blocked worker to deliver them.
#[corio::test(backend = "both")]
async fn write_then_block_thread_delivers() {
    bounded(async {
        let data_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ctl_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let data_addr = data_listener.local_addr().unwrap();
        let ctl_addr = ctl_listener.local_addr().unwrap();
        const SIZES: [usize; 6] = [1, 1500, 4096, 8000, 3, 6000];
        let data = pattern(SIZES.iter().sum(), 21);
        let peer = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let (mut conn, _) = data_listener.accept()?;
            let (mut ctl, _) = ctl_listener.accept()?;
            conn.set_read_timeout(Some(Duration::from_secs(10)))?;
            let mut got = Vec::new();
            for size in SIZES {
                let mut buf = vec![0u8; size];
                conn.read_exact(&mut buf)?;
                got.extend_from_slice(&buf);
                ctl.write_all(&[1])?;
            }
            Ok(got)
        });
        let mut stream = TcpStream::connect(data_addr).await.unwrap();
        let mut ctl = std::net::TcpStream::connect(ctl_addr).unwrap();
        ctl.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut offset = 0;
        for (round, size) in SIZES.into_iter().enumerate() {
            stream
                .write_all(&data[offset..offset + size])
                .await
                .unwrap();
            offset += size;
            // Block this worker thread: nothing else runs on it until the peer answers.
            let mut ack = [0u8; 1];
            if let Err(err) = ctl.read_exact(&mut ack) {
                panic!(
                    "round {round}: write_all of {size} bytes returned, but the peer did not \
                     get them within 5 s while the worker thread was blocked ({err})"
                );
            }
        }
        let got = peer.join().expect("peer thread").expect("peer I/O");
        assert!(got == data, "the peer got every byte, in order");
    })
    .await;
}

/// The peer never reads: once a write is pending, `shutdown` still returns promptly, and
/// the peer, reading afterwards, gets every byte reported written, then EOF.
#[corio::test(backend = "both")]
async fn shutdown_returns_without_peer_reading() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        let data = pattern(32 << 20, 22);
        let written = fill(&mut client, &data).await;
        let started = Instant::now();
        match tokio::time::timeout(Duration::from_secs(3), client.shutdown()).await {
            Ok(result) => result.expect("shutdown"),
            Err(_) => panic!("shutdown waited for the peer to read ({written} bytes unread)"),
        }
        let took = started.elapsed();
        let mut got = Vec::with_capacity(written);
        let n = server.read_to_end(&mut got).await.expect("peer read");
        assert_eq!(
            n, written,
            "the peer gets every byte reported written, then EOF"
        );
        assert!(got[..] == data[..written], "bytes arrive in order");
        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0, "EOF stays");
        eprintln!("{written} bytes in flight, shutdown took {took:?}");
    })
    .await;
}

/// A stream that arrives connected (accepted, or one of `UnixStream::pair`) is writable at
/// once: on io_uring its first `poll_write` hands the bytes to send(2) at its first poll,
/// with no readiness poll submitted before it (tokio's epoll registration learns the same
/// from the `EPOLLOUT` it reports at its next turn, so there the first poll may be pending).
#[corio::test(backend = "both")]
async fn first_write_of_a_connected_stream_goes_to_the_kernel_at_once() {
    bounded(async {
        let uring = corio::backend().kind == corio::BackendKind::Uring;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut accepted, _) = listener.accept().await.unwrap();
        let (mut left, mut right) = corio::net::UnixStream::pair().unwrap();
        let first_tcp = poll_once_and_drop(accepted.write(b"tcp"));
        let first_unix = poll_once_and_drop(left.write(b"unix"));
        if uring {
            assert!(matches!(first_tcp, Some(Ok(3))), "accepted: {first_tcp:?}");
            assert!(matches!(first_unix, Some(Ok(4))), "pair: {first_unix:?}");
        }
        // A pending write sent nothing (cancel safety), so the bytes are written now.
        if first_tcp.is_none() {
            accepted.write_all(b"tcp").await.unwrap();
        }
        if first_unix.is_none() {
            left.write_all(b"unix").await.unwrap();
        }
        let mut got = [0u8; 4];
        right.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"unix");
        let got = tokio::task::spawn_blocking(move || {
            let mut got = [0u8; 3];
            peer.read_exact(&mut got).map(|()| got)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&got, b"tcp");
    })
    .await;
}

/// `copy_bidirectional` between two corio streams: A stops reading, so B's writes toward A
/// are back-pressured; A's data still reaches B, with EOF, meanwhile. Then A reads and
/// everything completes.
#[corio::test(backend = "both")]
async fn copy_bidirectional_with_stalled_side() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (a, mut proxy_a) = (a.unwrap(), accepted.unwrap().0);
        let (b, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (b, mut proxy_b) = (b.unwrap(), accepted.unwrap().0);
        let proxy =
            tokio::spawn(
                async move { tokio::io::copy_bidirectional(&mut proxy_a, &mut proxy_b).await },
            );
        let (mut a_read, mut a_write) = a.into_split();
        let (mut b_read, mut b_write) = b.into_split();

        // B writes far more than the buffers on the way to A hold; A does not read.
        let b_data = pattern(16 << 20, 23);
        let b_sent = b_data.clone();
        let b_writer = tokio::spawn(async move {
            b_write.write_all(&b_sent).await.expect("B write");
            b_write.shutdown().await.expect("B shutdown");
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !b_writer.is_finished(),
            "B's writes toward A must be back-pressured while A does not read"
        );

        // A's data reaches B, and so does A's EOF, while the other direction is stalled.
        let a_data = pattern(1 << 20, 24);
        let a_sent = a_data.clone();
        let a_writer = tokio::spawn(async move {
            a_write.write_all(&a_sent).await.expect("A write");
            a_write.shutdown().await.expect("A shutdown");
        });
        let mut at_b = Vec::new();
        match tokio::time::timeout(Duration::from_secs(10), b_read.read_to_end(&mut at_b)).await {
            Ok(read) => read.expect("B read"),
            Err(_) => panic!(
                "B got {} of A's {} bytes and no EOF while B->A was back-pressured",
                at_b.len(),
                a_data.len()
            ),
        };
        assert!(at_b == a_data, "B got A's bytes intact, then EOF");
        a_writer.await.unwrap();
        assert!(!b_writer.is_finished(), "B->A is still back-pressured");

        // A reads: B's writes complete and A sees all of them, then EOF.
        let mut at_a = Vec::new();
        a_read.read_to_end(&mut at_a).await.expect("A read");
        assert!(at_a == b_data, "A got B's bytes intact, then EOF");
        b_writer.await.unwrap();
        let (a_to_b, b_to_a) = proxy.await.unwrap().expect("copy_bidirectional");
        assert_eq!((a_to_b, b_to_a), (a_data.len() as u64, b_data.len() as u64));
    })
    .await;
}

/// The peer resets the connection; writes then fail, and once one has failed every later
/// write fails too.
#[corio::test(backend = "both")]
async fn failed_send_keeps_failing() {
    bounded(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (peer, _) = listener.accept().unwrap();
        let chunk = pattern(1024, 25);
        stream
            .write_all(&chunk)
            .await
            .expect("write to a live peer");
        raw::reset(peer);

        let mut first_error = None;
        let mut oks_before = 0;
        for _ in 0..2000 {
            match stream.write(&chunk).await {
                Ok(_) => oks_before += 1,
                Err(err) => {
                    first_error = Some(err);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let first_error = first_error.expect("2000 writes to a reset connection all succeeded");
        for i in 0..100 {
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let result = match i % 3 {
                0 => stream.write(&chunk).await,
                1 => stream.write_all(&chunk[..10]).await.map(|()| 10),
                _ => stream.write(b"x").await,
            };
            if let Ok(n) = result {
                panic!(
                    "write {i} after the error ({first_error}, after {oks_before} Ok writes) \
                     returned Ok({n})"
                );
            }
        }
    })
    .await;
}

/// The peer never reads; a stream whose send buffer is full is dropped: its fd is closed
/// soon, and the process's count of TCP fds returns to where it was. (TCP fds, not all
/// fds: the runtimes of tests running in parallel open and close rings, eventfds and dups
/// of tokio's signal socket.)
#[corio::test(backend = "both")]
async fn dropped_stream_with_stalled_send_releases_fd() {
    bounded(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // One warm-up connection, so that anything the runtime opens once is counted; an
        // idle stream's fd closes on drop.
        let warm = TcpStream::connect(addr).await.unwrap();
        let warm_inode = raw::socket_inode(&warm);
        drop((warm, listener.accept().unwrap()));
        let deadline = Instant::now() + Duration::from_secs(3);
        while raw::fds_of_socket(warm_inode) > 0 {
            assert!(
                Instant::now() < deadline,
                "an idle stream's fd is still open 3 s after its drop"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = raw::fd_socket_inodes();
        let baseline = raw::tcp_fds();

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (peer, _) = listener.accept().unwrap();
        let peer_inode = raw::socket_inode(&peer);
        let data = pattern(32 << 20, 26);
        let written = fill(&mut stream, &data).await;
        let inode = raw::socket_inode(&stream);
        let fd = stream.as_raw_fd();
        drop(stream);

        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let (holders, open) = (raw::fds_of_socket(inode), raw::tcp_fds());
            let new: Vec<u64> = (raw::fd_socket_inodes().into_iter())
                .filter(|inode| !before.contains(inode) && *inode != peer_inode)
                .collect();
            // The peer is still open: one fd above the baseline.
            if holders == 0 && new.is_empty() && open <= baseline + 1 {
                break;
            }
            if Instant::now() > deadline {
                let describe = |inodes: Vec<u64>| -> Vec<String> {
                    inodes.into_iter().map(raw::describe_socket).collect()
                };
                panic!(
                    "3 s after dropping a stream with {written} bytes unsent (fd {fd}): \
                     {holders} fds still refer to its socket; {open} TCP fds open, baseline \
                     {baseline} + 1 peer; sockets new since the baseline: {:?}; at the \
                     baseline: {:?}; now: {:?}",
                    describe(new),
                    describe(before.clone()),
                    describe(raw::fd_socket_inodes()),
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(peer);
    })
    .await;
}
