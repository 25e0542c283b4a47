//! Cancellation storms, on both backends: reads (`read`, `readable` + `try_read`,
//! `read_owned`), writes (`write`, `write_owned`), accepts and connects raced in
//! `tokio::select!` against a rival that is ready after 0 to 3 yields or at the next timer
//! tick, so each op loses at a different moment (before its first poll, while it waits, or
//! with its result ready); and tasks aborted with `JoinHandle::abort` in the middle of a
//! read. The canaries:
//!
//! - reads: the peer sends a stream of u64 counters; what the reader reassembles, across
//!   every lost race, must be exactly that stream (tokio's reads are cancel safe, and
//!   corio's `read_owned` promises that bytes a dropped receive took are given to the next
//!   read). An owned read's buffer must hold exactly the bytes reported read, with a known
//!   fill pattern intact around them, and buffers allocated after each lost owned race
//!   must keep their pattern (the kernel never writes into freed memory);
//! - writes: the peer must receive exactly the bytes each `write` reported, in order, and
//!   nothing of a lost `write` (cancel safe); a lost `write_owned` may have sent a prefix
//!   of its buffer, never anything else;
//! - accepts: each connection is accepted exactly once; connects: each won connect is a
//!   working connection the server sees;
//! - at the end the worker's ring is back to its idle op count and the process to the
//!   fds it had before the runtime started.
//!
//! Each storm runs on a one-worker runtime of each backend, one at a time (fd counts are
//! process-wide), through `support::peer::run_checked`; the peers are std sockets on their
//! own threads. The default counts add up to 100,000 races per backend.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use corio::buf::IoBuf;
use corio::net::{TcpListener, TcpStream};
use corio::Backend;
use support::peer::{check_counters, read_slowly, run_checked, send_counters, std_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Per backend: 45,000 + 30,000 + 5,000 + 20,000 races, plus 2 to 3 accept and read races
/// per accepted connection.
const READ_RACES: usize = 45_000;
const WRITE_RACES: usize = 30_000;
const ACCEPTED: usize = 1_000;
const CONNECT_RACES: usize = 5_000;
const ABORTS: usize = 20_000;

/// How long one storm may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(120);

/// The fill of owned read buffers around the bytes read.
const FILL: u8 = 0xEE;
/// The fill of the buffers allocated after lost owned races.
const SENTINEL: u8 = 0x5A;
/// The size of an owned read buffer, and of each sentinel.
const OWNED_LEN: usize = 64;
/// Owned reads fill `OWNED_LEN` bytes from this offset on, at most `MAX_READ` of them.
const VIEW_START: usize = 8;
const MAX_READ: usize = 48;

/// One `#[test]` per backend for a storm: `uring_<name>` and `epoll_<name>`.
macro_rules! on_both_backends {
    ($($name:ident($count:ident);)*) => {$(
        mod $name {
            #[test]
            fn uring() {
                super::run_checked(super::Backend::Uring, 1, super::LIMIT, || {
                    super::$name(super::Backend::Uring, super::$count)
                });
            }

            #[test]
            fn epoll() {
                super::run_checked(super::Backend::Epoll, 1, super::LIMIT, || {
                    super::$name(super::Backend::Epoll, super::$count)
                });
            }
        }
    )*};
}

on_both_backends! {
    read_storm(READ_RACES);
    write_storm(WRITE_RACES);
    accept_storm(ACCEPTED);
    connect_storm(CONNECT_RACES);
    abort_storm(ABORTS);
}

/// The other branch of race `i`: ready after 0 to 3 yields, or (one race in 16) at the
/// timer's next tick.
async fn rival(i: usize) {
    if i % 16 == 15 {
        tokio::time::sleep(Duration::ZERO).await;
        return;
    }
    for _ in 0..(i * 7 / 3) % 4 {
        tokio::task::yield_now().await;
    }
}

/// Races won by the op and by its rival.
#[derive(Debug, Default)]
struct Tally {
    won: usize,
    lost: usize,
}

impl Tally {
    fn record(&mut self, won: bool) {
        if won {
            self.won += 1;
        } else {
            self.lost += 1;
        }
    }
}

/// Buffers allocated, with a known fill, right after owned ops lost their races: if the
/// runtime freed a buffer the kernel still writes into, one of these (or an owned read's
/// fill) is where the write lands.
#[derive(Debug, Default)]
struct Sentinels(Vec<Box<[u8]>>);

impl Sentinels {
    const KEPT: usize = 512;

    fn add(&mut self) {
        if self.0.len() == Self::KEPT {
            let oldest = self.0.remove(0);
            assert_intact(&oldest);
        }
        self.0.push(vec![SENTINEL; OWNED_LEN].into_boxed_slice());
    }

    fn check(&self) {
        self.0.iter().for_each(|sentinel| assert_intact(sentinel));
    }
}

fn assert_intact(sentinel: &[u8]) {
    assert!(
        sentinel.iter().all(|&b| b == SENTINEL),
        "a buffer allocated after a cancelled op was written to: {sentinel:?}"
    );
}

/// An owned read buffer: `OWNED_LEN` bytes of `FILL`, viewed from `VIEW_START` for `len`.
fn owned_view(len: usize) -> corio::buf::Slice<Box<[u8]>> {
    vec![FILL; OWNED_LEN]
        .into_boxed_slice()
        .slice(VIEW_START..VIEW_START + len)
}

/// The `n` bytes an owned read reported, after checking that nothing else was written.
fn read_bytes(buf: &[u8], n: usize) -> &[u8] {
    let (before, rest) = buf.split_at(VIEW_START);
    let (data, after) = rest.split_at(n);
    assert!(
        before.iter().chain(after).all(|&b| b == FILL),
        "an owned read wrote outside the {n} bytes it reported: {buf:?}"
    );
    data
}

/// `read`, `readable` + `try_read` and `read_owned`, taking turns on one stream, each
/// raced against a rival; the bytes reassemble into the peer's counter stream.
async fn read_storm(backend: Backend, races: usize) {
    let (mut stream, peer) = std_pair(None).await;
    let total = races as u64 * 24;
    let sender = std::thread::spawn(move || send_counters(peer, total));
    let mut got = Vec::with_capacity(total as usize);
    let (mut tallies, mut sentinels) = (<[Tally; 3]>::default(), Sentinels::default());
    let mut buf = [0u8; MAX_READ];
    for i in 0..races {
        let len = 1 + (i * 13) % MAX_READ;
        let kind = i % 3;
        let won = match kind {
            0 => tokio::select! {
                n = stream.read(&mut buf[..len]) => {
                    got.extend_from_slice(&buf[..n.expect("read")]);
                    true
                }
                () = rival(i) => false,
            },
            1 => tokio::select! {
                ready = stream.readable() => {
                    ready.expect("readable");
                    match stream.try_read(&mut buf[..len]) {
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                        Err(err) => panic!("try_read: {err}"),
                    }
                    true
                }
                () = rival(i) => false,
            },
            _ => tokio::select! {
                (n, view) = stream.read_owned(owned_view(len)) => {
                    let n = n.expect("read_owned");
                    got.extend_from_slice(read_bytes(&view.into_inner(), n));
                    true
                }
                () = rival(i) => {
                    sentinels.add();
                    false
                }
            },
        };
        tallies[kind].record(won);
    }
    let raced = got.len();
    stream.read_to_end(&mut got).await.expect("read_to_end");
    sender.join().expect("the peer sends");
    sentinels.check();
    println!(
        "{backend:?}: {races} read races (won, lost): read {:?}, readable {:?}, \
         read_owned {:?}; {} bytes reassembled, {raced} of them in the races",
        tallies[0],
        tallies[1],
        tallies[2],
        got.len()
    );
    check_counters(&got, total);
}

/// One write raced in [`write_storm`]: its fill byte, length, and outcome.
#[derive(Debug)]
struct Attempt {
    fill: u8,
    len: usize,
    owned: bool,
    /// Bytes the write reported; `None` when it lost its race.
    written: Option<usize>,
}

/// Attempts per block; each block's attempts have distinct fill bytes, and each block is
/// followed by a 0 byte written outside any race, so that a prefix sent by a lost
/// `write_owned` cannot be mistaken for a later attempt's bytes.
const BLOCK: usize = 200;

/// `write` and `write_owned`, taking turns on one stream with a small send buffer, each
/// raced against a rival, while the peer reads slowly. Each attempt writes its own fill
/// byte, so the peer's bytes show which attempt sent what.
async fn write_storm(backend: Backend, races: usize) {
    let (mut stream, peer) = std_pair(Some(16 * 1024)).await;
    let reader = std::thread::spawn(move || read_slowly(peer));
    let (mut attempts, mut tallies) = (Vec::with_capacity(races), <[Tally; 2]>::default());
    let mut sentinels = Sentinels::default();
    for i in 0..races {
        let fill = (1 + i % BLOCK) as u8;
        let len = 1 + (i * 131) % 4096;
        let owned = i % 2 == 1;
        let written = if owned {
            tokio::select! {
                (n, buf) = stream.write_owned(vec![fill; len]) => {
                    assert!(buf.len() == len && buf.iter().all(|&b| b == fill), "buffer intact");
                    Some(n.expect("write_owned"))
                }
                () = rival(i) => {
                    sentinels.add();
                    None
                }
            }
        } else {
            let data = vec![fill; len];
            tokio::select! {
                n = stream.write(&data) => Some(n.expect("write")),
                () = rival(i) => None,
            }
        };
        tallies[usize::from(owned)].record(written.is_some());
        attempts.push(Attempt {
            fill,
            len,
            owned,
            written,
        });
        if i % BLOCK == BLOCK - 1 || i + 1 == races {
            stream.write_all(&[0]).await.expect("block separator");
        }
    }
    stream.shutdown().await.expect("shutdown");
    drop(stream);
    let received = reader.join().expect("the peer reads").expect("peer read");
    sentinels.check();
    let reported: usize = attempts.iter().filter_map(|a| a.written).sum();
    println!(
        "{backend:?}: {races} write races (won, lost): write {:?}, write_owned {:?}; \
         {reported} bytes reported written, {} received (with separators)",
        tallies[0],
        tallies[1],
        received.len()
    );
    check_writes(&received, &attempts);
}

/// Checks the peer's bytes against the attempts, block by block.
fn check_writes(received: &[u8], attempts: &[Attempt]) {
    let blocks: Vec<&[u8]> = received.split(|&b| b == 0).collect();
    let chunks = attempts.chunks(BLOCK);
    assert_eq!(
        blocks.len(),
        chunks.len() + 1,
        "one separator after each block"
    );
    assert!(
        blocks[chunks.len()].is_empty(),
        "nothing after the last separator"
    );
    for (block, chunk) in blocks.iter().zip(chunks) {
        let mut at = 0;
        for attempt in chunk {
            let rest = &block[at..];
            let run = rest
                .iter()
                .take(attempt.len)
                .take_while(|&&b| b == attempt.fill)
                .count();
            match attempt.written {
                Some(n) => assert_eq!(run, n, "{attempt:?}: the peer gets what write reported"),
                None if !attempt.owned => {
                    assert_eq!(run, 0, "{attempt:?}: a cancelled write wrote nothing");
                }
                None => {}
            }
            at += run;
        }
        assert_eq!(at, block.len(), "the peer got bytes no write sent");
    }
}

/// Accepts raced against a rival while a std thread connects; each connection sends its
/// number, read with reads raced too. Every connection is accepted exactly once.
async fn accept_storm(backend: Backend, connections: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let connector = std::thread::spawn(move || {
        for id in 0..connections as u64 {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream.write_all(&id.to_le_bytes()).expect("send id");
            if id % 8 == 7 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    });
    let mut seen = vec![false; connections];
    let (mut accepts, mut reads, mut race) = (Tally::default(), Tally::default(), 0);
    let mut accepted = 0;
    while accepted < connections {
        race += 1;
        let stream = tokio::select! {
            conn = listener.accept() => Some(conn.expect("accept").0),
            () = rival(race) => None,
        };
        accepts.record(stream.is_some());
        let Some(mut stream) = stream else {
            continue;
        };
        let (mut id, mut have) = ([0u8; 8], 0);
        while have < id.len() {
            race += 1;
            let n = tokio::select! {
                n = stream.read(&mut id[have..]) => Some(n.expect("read id")),
                () = rival(race) => None,
            };
            reads.record(n.is_some());
            match n {
                Some(0) => panic!("a connection closed before sending its number"),
                Some(n) => have += n,
                None => {}
            }
        }
        let id = u64::from_le_bytes(id) as usize;
        assert!(
            !std::mem::replace(&mut seen[id], true),
            "{id} accepted twice"
        );
        accepted += 1;
    }
    connector.join().expect("the connector finishes");
    println!(
        "{backend:?}: {race} races over {connections} connections (won, lost): accept \
         {accepts:?}, read {reads:?}"
    );
    assert!(seen.iter().all(|&s| s), "every connection is accepted");
}

/// What connects sent: `HELLO` from a won connect, nothing from one that lost its race.
const HELLO: &[u8] = b"hello";
const STOP: &[u8] = b"stop";

/// Connects raced against a rival to a std listener; the server sees a working connection
/// for every connect that won, and nothing but closed connections for the others.
async fn connect_storm(backend: Backend, races: usize) {
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = server.local_addr().expect("local_addr");
    let acceptor = std::thread::spawn(move || serve_until_stop(&server));
    let mut tally = Tally::default();
    for i in 0..races {
        let stream = tokio::select! {
            stream = TcpStream::connect(addr) => Some(stream.expect("connect")),
            () = rival(i) => None,
        };
        tally.record(stream.is_some());
        if let Some(mut stream) = stream {
            stream.write_all(HELLO).await.expect("hello");
        }
    }
    let mut stop = TcpStream::connect(addr).await.expect("connect");
    stop.write_all(STOP).await.expect("stop");
    drop(stop);
    let (hellos, silent) = acceptor.join().expect("the server finishes");
    println!(
        "{backend:?}: {races} connect races (won, lost) {tally:?}; the server saw {hellos} \
         hellos and {silent} connections abandoned after the handshake"
    );
    assert_eq!(hellos, tally.won, "every won connect works");
    assert!(silent <= tally.lost);
}

/// Reads each connection to its end until one says `STOP`, then takes what is still
/// queued; returns (connections that said hello, connections that said nothing).
fn serve_until_stop(server: &std::net::TcpListener) -> (usize, usize) {
    let (mut hellos, mut silent) = (0, 0);
    let mut stopped = false;
    loop {
        let mut conn = match server.accept() {
            Ok((conn, _)) => conn,
            Err(err) if stopped && err.kind() == ErrorKind::WouldBlock => break,
            Err(err) => panic!("accept: {err}"),
        };
        conn.set_nonblocking(false).expect("blocking");
        conn.set_read_timeout(Some(LIMIT)).expect("SO_RCVTIMEO");
        let mut said = Vec::new();
        match conn.read_to_end(&mut said) {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
            Err(err) => panic!("server read: {err}"),
        }
        match &said[..] {
            HELLO => hellos += 1,
            STOP => {
                stopped = true;
                server.set_nonblocking(true).expect("non-blocking");
            }
            [] => silent += 1,
            other => panic!("unexpected bytes {other:?}"),
        }
    }
    (hellos, silent)
}

/// Tasks reading from a shared stream (`read_owned`, or `readable` + `try_read`), each
/// aborted after 0 to 3 yields; what the finished ones read, then the rest of the stream,
/// reassemble into the peer's counter stream.
async fn abort_storm(backend: Backend, aborts: usize) {
    let (stream, peer) = std_pair(None).await;
    let stream = Arc::new(stream);
    let total = aborts as u64 * 24;
    let sender = std::thread::spawn(move || send_counters(peer, total));
    let mut got = Vec::with_capacity(total as usize);
    let mut finished = Tally::default();
    for i in 0..aborts {
        let task = tokio::spawn(read_once(stream.clone(), i));
        for _ in 0..i % 4 {
            tokio::task::yield_now().await;
        }
        task.abort();
        match task.await {
            Ok(bytes) => {
                finished.won += 1;
                got.extend_from_slice(&bytes);
            }
            Err(err) => {
                assert!(err.is_cancelled(), "{err}");
                finished.lost += 1;
            }
        }
    }
    let raced = got.len();
    loop {
        let (n, buf) = stream.read_owned(Vec::with_capacity(4096)).await;
        if n.expect("read_owned") == 0 {
            break;
        }
        got.extend_from_slice(&buf);
    }
    sender.join().expect("the peer sends");
    println!(
        "{backend:?}: {aborts} aborted reads (finished first, aborted) {finished:?}; {} bytes \
         reassembled, {raced} of them by the aborted tasks",
        got.len()
    );
    check_counters(&got, total);
}

/// One read from `stream`: `read_owned`, or `readable` + `try_read`, by `i`.
async fn read_once(stream: Arc<TcpStream>, i: usize) -> Vec<u8> {
    let len = 1 + (i * 7) % MAX_READ;
    if i % 2 == 0 {
        let (n, mut buf) = stream.read_owned(Vec::with_capacity(len)).await;
        buf.truncate(n.expect("read_owned"));
        return buf;
    }
    let mut buf = vec![0u8; len];
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return buf;
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {}
            Err(err) => panic!("try_read: {err}"),
        }
    }
}
