//! The soak server (`examples/soak/server.rs`) under connection churn, on both backends:
//! many short connections one after another, and 10,000 idle keep-alive connections on one
//! worker, with the memory they cost measured against a plain tokio server running the same
//! code.

#[path = "../examples/soak/server.rs"]
mod server;
#[path = "support/soak.rs"]
mod soak;
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use corio::net::TcpStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use server::{Listener, ServerConfig};
use soak::{bounded, mib, until, Soak};
use support::child::{self, ChildTest};
use support::proc::{
    anon_memory, nofile_limit, peak_rss_bytes, rss_bytes, set_nofile_limit, tcp_fds,
};
use support::wire::{self, read_response_blocking};

/// Upper bound for a test of the default size.
const LIMIT: Duration = Duration::from_secs(120);

/// `count` connections one after another, each connecting, sending one `GET /` with
/// `connection: close`, reading the answer to its end and closing; every one is answered
/// and afterwards the process holds no more TCP fds than before.
///
/// Ports: the server closes first (`connection: close`), so its socket waits in FIN_WAIT2
/// for the client's close, and the client then closes with `SO_LINGER` 0: the RST ends both
/// sockets at once. Neither side enters TIME_WAIT, which would otherwise keep each of the
/// ~28,000 ephemeral ports busy for 60 s and make connect fail (`EADDRNOTAVAIL`) long
/// before 100,000 connections.
async fn short_connections(count: u64) {
    let soak = Soak::start(ServerConfig::default()).await;
    let baseline = tcp_fds();
    let request = wire::get("/", true);
    let started = Instant::now();
    let mut response = Vec::new();
    for i in 0..count {
        let mut client = TcpStream::connect(soak.addr).await.unwrap();
        client.write_all(request.as_bytes()).await.unwrap();
        response.clear();
        client.read_to_end(&mut response).await.unwrap();
        assert!(
            response.starts_with(b"HTTP/1.1 200 OK\r\n") && response.ends_with(b"Hello, World!"),
            "connection {i}: {:?}",
            String::from_utf8_lossy(&response)
        );
        client.set_zero_linger().unwrap();
    }
    let elapsed = started.elapsed();
    soak.until_all_closed().await;
    until("the process's TCP fds are back to the baseline", || {
        tcp_fds() == baseline
    })
    .await;
    let stats = soak.stop().await;
    eprintln!(
        "[{}] {count} short connections in {elapsed:.2?} ({:.0}/s); {stats:?}",
        corio::backend().kind,
        count as f64 / elapsed.as_secs_f64()
    );
    assert_eq!((stats.accepted, stats.requests), (count, count));
    assert_eq!(stats.connection_errors, 0);
}

/// 10,000 short connections (about 4 s per backend in a debug build; 100,000 take about
/// 40 s, or 15 s in a release build).
#[corio::test(backend = "both")]
async fn sequential_short_connections() {
    bounded(LIMIT, short_connections(10_000)).await;
}

/// The figure, 100,000 short connections.
#[corio::test(backend = "both")]
#[ignore = "long: cargo test --release --test churn -- --ignored"]
async fn sequential_short_connections_100k() {
    bounded(LIMIT * 5, short_connections(100_000)).await;
}

/// Idle keep-alive connections held by the memory test.
const IDLE: usize = 10_000;
/// The clients connect, send and read in batches of this many, below the listen backlog.
const BATCH: usize = 500;

/// A server configuration the memory tests compare: a label, the child test, its env.
type Server = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Memory of 10,000 idle keep-alive connections on one worker, for corio on each backend
/// and for a plain tokio `current_thread` server with the same accept loop and service.
/// Each server runs in a child process (its RSS is then its own) with `RLIMIT_NOFILE`
/// raised for 10,000 connections; this process holds the clients, blocking std sockets.
/// Step by step: every connection gets one answer and idles, then a second answer, then
/// all close; then a second wave of 10,000 connections comes and goes. Each child asserts
/// that every request was answered and that its fds came back; this prints RSS side by
/// side and asserts that corio costs no more than a quarter above plain tokio, and that
/// corio's RSS comes back near the baseline once the connections closed.
///
/// Plain tokio's RSS after close stays at its peak, with an arena per thread or one
/// (`MALLOC_ARENA_MAX=1`, see [`idle_keep_alive_memory_malloc_variants`]): glibc keeps
/// freed heap blocks for reuse and gives pages back only from the top of a heap, which
/// blocks still live above them pin. corio's workers call `malloc_trim(0)` once their live
/// task count or their connections have dropped by a quarter, and again at the next check
/// (`Builder::trim_memory`), which returns every free page; the child waits 2.5 s after the
/// close, past two of the workers' once-a-second checks, and reports how many trims its
/// workers made. The second wave comes and goes within about a second: only the exact
/// connection peak sees it (a sampled task count can miss it whole).
#[test]
fn idle_keep_alive_memory() {
    const NO_ENV: &[(&str, &str)] = &[];
    let figures = compare(&[
        ("corio uring", "uring_idle_keep_alive_child", NO_ENV),
        ("corio epoll", "epoll_idle_keep_alive_child", NO_ENV),
        ("plain tokio", "tokio_idle_keep_alive_child", NO_ENV),
    ]);
    let tokio = figures[2].expect("the tokio child never skips");
    for &corio in figures[..2].iter().flatten() {
        assert_no_worse_than_tokio(corio, tokio);
        assert_returned(corio);
    }
}

/// [`idle_keep_alive_memory`] under malloc settings that show where RSS after close goes:
/// one arena, and blocks of 4 KiB or more in mappings of their own.
#[test]
#[ignore = "diagnosis, ~1 min: cargo test --test churn malloc_variants -- --ignored --nocapture"]
fn idle_keep_alive_memory_malloc_variants() {
    const ONE_ARENA: &[(&str, &str)] = &[("MALLOC_ARENA_MAX", "1")];
    const MMAP_4K: &[(&str, &str)] = &[("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=4096")];
    compare(&[
        (
            "corio uring, one arena",
            "uring_idle_keep_alive_child",
            ONE_ARENA,
        ),
        (
            "corio epoll, one arena",
            "epoll_idle_keep_alive_child",
            ONE_ARENA,
        ),
        (
            "plain tokio, one arena",
            "tokio_idle_keep_alive_child",
            ONE_ARENA,
        ),
        (
            "corio uring, mmap >= 4 KiB",
            "uring_idle_keep_alive_child",
            MMAP_4K,
        ),
        (
            "corio epoll, mmap >= 4 KiB",
            "epoll_idle_keep_alive_child",
            MMAP_4K,
        ),
        (
            "plain tokio, mmap >= 4 KiB",
            "tokio_idle_keep_alive_child",
            MMAP_4K,
        ),
    ]);
}

/// Runs each server's child in turn, prints their figures as a table and returns them
/// (`None` for a child that skipped). Holds the file's lock: the clients are this process's
/// sockets.
fn compare(servers: &[Server]) -> Vec<Option<Figures>> {
    let _serial = soak::serial_blocking();
    raise_nofile_limit(IDLE as u64 + 1000);
    let table: Vec<_> = (servers.iter())
        .map(|&(label, test, envs)| (label, idle_clients(test, envs)))
        .collect();
    eprintln!("{IDLE} idle keep-alive connections on one worker, RSS in MiB:");
    eprintln!(
        "{:<28} {:>8} {:>6} {:>7} {:>6} {:>6} {:>7} {:>6} {:>7} {:>8}",
        "server",
        "baseline",
        "idle",
        "2nd req",
        "closed",
        "again",
        "closed",
        "peak",
        "B/conn",
        "end-base"
    );
    for &(label, figures) in &table {
        let Some(f) = figures else {
            eprintln!("{label:<28} skipped (see the child's output)");
            continue;
        };
        eprintln!(
            "{label:<28} {:>8.1} {:>6.1} {:>7.1} {:>6.1} {:>6.1} {:>7.1} {:>6.1} {:>7.0} {:>8.1}",
            mib(f.baseline),
            mib(f.idle),
            mib(f.second),
            mib(f.closed),
            mib(f.again),
            mib(f.end),
            mib(f.peak),
            f.idle.saturating_sub(f.baseline) as f64 / IDLE as f64,
            mib(f.end.saturating_sub(f.baseline)),
        );
    }
    table.into_iter().map(|(_, figures)| figures).collect()
}

/// corio's idle connections cost at most a quarter more than plain tokio's.
fn assert_no_worse_than_tokio(corio: Figures, tokio: Figures) {
    let growth = |f: Figures| f.idle.saturating_sub(f.baseline) as f64;
    assert!(
        growth(corio) <= 1.25 * growth(tokio),
        "idle connections: corio {corio:?}, tokio {tokio:?}"
    );
}

/// After each wave closed, the workers trimmed, and at most a fifth of what the idle
/// connections added is still resident.
fn assert_returned(corio: Figures) {
    assert!(corio.trims >= 2, "a trim after each wave: {corio:?}");
    let allowed = corio.baseline + corio.idle.saturating_sub(corio.baseline) / 5;
    assert!(
        corio.closed <= allowed && corio.end <= allowed,
        "RSS after close: {corio:?}, allowed {allowed}"
    );
}

/// Raises this process's soft `RLIMIT_NOFILE` to `want`. Only up to the hard limit: the
/// tests run as root, but maybe without `CAP_SYS_RESOURCE`, which raising that needs.
fn raise_nofile_limit(want: u64) {
    let (soft, hard) = nofile_limit();
    assert!(
        want <= hard,
        "RLIMIT_NOFILE's hard limit {hard} is below {want}"
    );
    if soft < want {
        set_nofile_limit(want, hard);
    }
}

/// A child server's RSS (bytes) at each step.
#[derive(Debug, Clone, Copy)]
struct Figures {
    baseline: u64,
    idle: u64,
    second: u64,
    closed: u64,
    again: u64,
    end: u64,
    peak: u64,
    /// `malloc_trim` calls the server made (0 for plain tokio).
    trims: u64,
}

/// Drives the child `test` through the steps; `None` if it skipped (no io_uring).
fn idle_clients(test: &str, envs: &[(&str, &str)]) -> Option<Figures> {
    let mut child = ChildTest::spawn(test, envs);
    let Some(addr) = child.expect("READY ") else {
        child.finish(LIMIT);
        return None;
    };
    let addr: SocketAddr = addr.parse().expect("the server's address");
    let clients = connect_and_request(addr, IDLE);
    child.send("idle");
    child.expect_line("MEASURED");
    let clients = request_each(clients);
    child.send("second");
    child.expect_line("MEASURED");
    drop(clients);
    child.send("closed");
    child.expect_line("MEASURED");
    let clients = connect_and_request(addr, IDLE);
    child.send("again");
    child.expect_line("MEASURED");
    drop(clients);
    child.send("end");
    let output = child.finish(LIMIT);
    let line = (output.lines()).find_map(|line| Some(line.split_once("FIGURES ")?.1));
    let figures: BTreeMap<&str, u64> = (line.expect("the child's figures").split(' '))
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name, value.parse().expect("a number")))
        .collect();
    Some(Figures {
        baseline: figures["baseline"],
        idle: figures["idle"],
        second: figures["second"],
        closed: figures["closed"],
        again: figures["again"],
        end: figures["end"],
        peak: figures["peak"],
        trims: figures["trims"],
    })
}

/// The corio children of [`idle_keep_alive_memory`].
#[corio::test(backend = "both", workers = 1)]
#[ignore = "run in a child process by idle_keep_alive_memory"]
async fn idle_keep_alive_child() {
    if !child::is_child() {
        return;
    }
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let trims = || corio::metrics::snapshot().total().memory_trims;
    bounded(LIMIT, idle_keep_alive(listener, addr, trims)).await;
}

/// The plain tokio child of [`idle_keep_alive_memory`].
#[test]
#[ignore = "run in a child process by idle_keep_alive_memory"]
fn tokio_idle_keep_alive_child() {
    if !child::is_child() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // tokio's `bind` listens with a backlog of 128 (mio's, as std's), corio's with
        // 1024: take corio's, so that no batch of clients overflows the queue and waits
        // for SYN retransmits.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1024).unwrap();
        let addr = listener.local_addr().unwrap();
        bounded(LIMIT, idle_keep_alive(listener, addr, || 0)).await;
    });
}

/// The child's side: serves `listener` with a header timeout long enough for idle
/// connections to stay, and measures RSS at each step the parent announces; `trims`
/// counts the server's `malloc_trim` calls.
async fn idle_keep_alive<L: Listener + Send + 'static>(
    listener: L,
    addr: SocketAddr,
    trims: impl Fn() -> u64,
) {
    raise_nofile_limit(IDLE as u64 + 1000);
    let config = ServerConfig {
        header_read_timeout: LIMIT,
        ..ServerConfig::default()
    };
    let soak = Soak::serve(listener, addr, config);
    let warm_up = on_thread(move || connect_and_request(addr, 1)).await;
    drop(warm_up);
    soak.until_all_closed().await;
    let (fds, baseline) = (support::open_fds(), rss_bytes());
    println!("READY {addr}");

    step("idle").await;
    let idle = rss_bytes();
    step("second").await;
    let second = rss_bytes();
    step("closed").await;
    let closed = all_closed(&soak, fds).await;
    step("again").await;
    let again = rss_bytes();
    step("end").await;
    let end = all_closed(&soak, fds).await;
    let peak = peak_rss_bytes();
    let stats = soak.stop().await;
    assert_eq!(
        stats.requests,
        3 * IDLE as u64 + 1,
        "every request answered"
    );
    assert_eq!(stats.connection_errors, 0);
    println!(
        "FIGURES baseline={baseline} idle={idle} second={second} closed={closed} \
         again={again} end={end} peak={peak} trims={}",
        trims()
    );
}

/// In the child: reports the step before as measured, then waits for the parent to
/// announce `name`.
async fn step(name: &str) {
    if name != "idle" {
        println!("MEASURED");
    }
    assert_eq!(child::parent_line().await, name);
}

/// Waits until every connection has closed and the fds are back to `fds`, lets the runtime
/// settle for 2.5 s (corio's workers look at their task count once a second), and returns
/// the RSS then.
async fn all_closed(soak: &Soak, fds: usize) -> u64 {
    soak.until_all_closed().await;
    until("the fds are back to the baseline", || {
        support::open_fds() == fds
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    eprintln!("anonymous memory once closed: {:?}", anon_memory());
    rss_bytes()
}

/// Runs `work` on a new thread (the clients block; the server's worker must not).
fn on_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    async { result.await.expect("the client thread panicked") }
}

/// `count` connections to `addr`, each answered once.
fn connect_and_request(addr: SocketAddr, count: usize) -> Vec<StdTcpStream> {
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = BATCH.min(count - clients.len());
        let new: Vec<_> = (0..batch).map(|_| connect(addr)).collect();
        clients.extend(request_each(new));
    }
    clients
}

/// A blocking client whose reads give up after [`LIMIT`], as the child server does.
fn connect(addr: SocketAddr) -> StdTcpStream {
    let client = StdTcpStream::connect(addr).expect("connect");
    client.set_read_timeout(Some(LIMIT)).expect("SO_RCVTIMEO");
    client
}

/// Sends `GET /` on every client, then reads every answer.
fn request_each(mut clients: Vec<StdTcpStream>) -> Vec<StdTcpStream> {
    let request = wire::get("/", false);
    for client in &mut clients {
        client
            .write_all(request.as_bytes())
            .expect("send a request");
    }
    for client in &mut clients {
        let response = read_response_blocking(client).expect("read a response");
        assert_eq!(response.body, b"Hello, World!");
    }
    clients
}
