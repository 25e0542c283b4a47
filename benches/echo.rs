//! Adapter round-trip latency: a 64 B ping-pong over one loopback TCP connection through
//! `AsyncRead`/`AsyncWrite`, on corio-uring, corio-epoll and plain tokio current_thread, each
//! with one worker that runs both the client and the echo task. IDs are `<backend>/64B`;
//! the time is per round trip. After criterion, a short separate loop (15 rounds of 2,000
//! round trips per backend) prints the median round trip of each and the uring/epoll
//! ratio. Never asserts.
//!
//! Run: `cargo bench --bench echo`.

use std::time::{Duration, Instant};

use corio::{Backend, Builder, Runtime};
use criterion::Criterion;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MSG: usize = 64;
const RATIO_ROUNDS: usize = 15;
const RATIO_ITERS: u64 = 2_000;

/// Echoes `MSG`-byte messages until EOF.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; MSG];
    while stream.read_exact(&mut buf).await.is_ok() {
        if stream.write_all(&buf).await.is_err() {
            break;
        }
    }
}

/// `iters` round trips of one message from `client` through the echo task; the time of
/// the loop only.
async fn ping_pong<S>(mut client: S, server: S, iters: u64) -> Duration
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let echo = tokio::spawn(echo(server));
    let mut buf = [7u8; MSG];
    let start = Instant::now();
    for _ in 0..iters {
        client.write_all(&buf).await.expect("write");
        client.read_exact(&mut buf).await.expect("read");
    }
    let elapsed = start.elapsed();
    drop(client);
    let _ = echo.await;
    elapsed
}

async fn corio_pair() -> (corio::net::TcpStream, corio::net::TcpStream) {
    let listener = corio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(corio::net::TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.expect("connect"), accepted.expect("accept").0);
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server)
}

async fn tokio_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.expect("connect"), accepted.expect("accept").0);
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server)
}

/// One backend under test: a corio runtime, or plain tokio.
enum Subject {
    Corio(&'static str, Runtime),
    Tokio(tokio::runtime::Runtime),
}

impl Subject {
    fn name(&self) -> &'static str {
        match self {
            Subject::Corio(name, _) => name,
            Subject::Tokio(_) => "tokio",
        }
    }

    /// Times `iters` round trips over a fresh connection (set-up excluded).
    fn run(&self, iters: u64) -> Duration {
        match self {
            Subject::Corio(_, rt) => rt.block_on_local(move || async move {
                let (client, server) = corio_pair().await;
                ping_pong(client, server, iters).await
            }),
            Subject::Tokio(rt) => rt.block_on(async move {
                let (client, server) = tokio_pair().await;
                ping_pong(client, server, iters).await
            }),
        }
    }
}

fn subjects() -> Vec<Subject> {
    let mut subjects = Vec::new();
    for (name, backend) in [("uring", Backend::Uring), ("epoll", Backend::Epoll)] {
        match Builder::new().workers(1).backend(backend).build() {
            Ok(rt) => {
                println!("corio-{name}: {}", rt.backend());
                subjects.push(Subject::Corio(name, rt));
            }
            Err(err) => println!("corio-{name}: unavailable, not measured: {err}"),
        }
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    subjects.push(Subject::Tokio(tokio));
    subjects
}

fn bench(c: &mut Criterion, subjects: &[Subject]) {
    let mut group = c.benchmark_group("echo");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for subject in subjects {
        group.bench_function(format!("{}/64B", subject.name()), |b| {
            b.iter_custom(|iters| subject.run(iters));
        });
    }
    group.finish();
}

/// Median round trip of `RATIO_ROUNDS` rounds of `RATIO_ITERS`.
fn median_round_trip(subject: &Subject) -> Duration {
    let mut rounds: Vec<Duration> = (0..RATIO_ROUNDS)
        .map(|_| subject.run(RATIO_ITERS) / RATIO_ITERS as u32)
        .collect();
    rounds.sort();
    rounds[rounds.len() / 2]
}

fn print_ratio(subjects: &[Subject]) {
    let medians: Vec<(&str, Duration)> = subjects
        .iter()
        .map(|s| (s.name(), median_round_trip(s)))
        .collect();
    for (name, median) in &medians {
        println!("echo 64B median round trip, {name}: {median:?}");
    }
    let find = |name| {
        medians
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.as_secs_f64())
    };
    match (find("uring"), find("epoll")) {
        (Some(uring), Some(epoll)) => {
            println!(
                "echo 64B uring/epoll round-trip ratio: {:.3} (below 1: uring faster)",
                uring / epoll
            );
        }
        _ => println!("echo 64B uring/epoll ratio: not available (a backend is missing)"),
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    println!("kernel {}", kernel());
    let subjects = subjects();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &subjects);
    criterion.final_summary();
    // `cargo test --benches` runs each bench once; only `cargo bench` (`--bench`) also
    // runs the ratio loop.
    if std::env::args().any(|arg| arg == "--bench") {
        print_ratio(&subjects);
    }
}
