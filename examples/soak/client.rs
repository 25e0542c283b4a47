//! The soak's clients: one loop per kind of traffic, each step bounded in time and
//! checked byte for byte.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use corio::net::{TcpListener, TcpSocket, TcpStream};

use crate::proc;
use crate::server::{self, ServerConfig, ServerStats};
use crate::tally::{Report, Tally};

/// How long the server waits for a request's headers; the idle clients wait for it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// The server's accept queue.
const BACKLOG: u32 = 128;
/// A step that takes longer than this is a hang, reported as an error.
const STEP_LIMIT: Duration = Duration::from_secs(15);

/// The kinds of traffic; each lane runs one of them in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Keep-alive GETs of the hello page.
    Hello,
    /// POSTed bodies echoed back.
    Echo,
    /// Streamed responses of up to 2 MiB.
    Stream,
    /// One request per connection.
    Churn,
    /// A peer that resets halfway through its request headers.
    ResetRequest,
    /// A peer that resets while an 8 MiB response streams to it.
    ResetResponse,
    /// A peer that connects and never sends: the header timeout closes it.
    Idle,
    /// A request written one byte at a time.
    SlowWriter,
    /// A request followed by a write shutdown: the response still arrives.
    HalfClose,
    /// A sequence-numbered stream through an echo server, every read and write raced
    /// against a timer.
    CancelEcho,
    /// Tasks aborted in the middle of a read, an accept or a connect.
    Abort,
    /// Every fd of the process taken for a moment: accepts and connects fail with
    /// `EMFILE`, the server backs off, and everything recovers once they are freed.
    Exhaust,
}

/// Every kind: each runs on every lane, except fd exhaustion, which has one lane.
pub(crate) const KINDS: [Kind; 12] = [
    Kind::Hello,
    Kind::Echo,
    Kind::Stream,
    Kind::Churn,
    Kind::ResetRequest,
    Kind::ResetResponse,
    Kind::Idle,
    Kind::SlowWriter,
    Kind::HalfClose,
    Kind::CancelEcho,
    Kind::Abort,
    Kind::Exhaust,
];

/// The addresses the clients talk to.
#[derive(Debug, Clone, Copy)]
struct Targets {
    http: SocketAddr,
    echo: SocketAddr,
}

/// Serves, warms up, samples, runs the measured mix, samples again.
pub(crate) async fn soak(
    lanes: usize,
    kinds: &[Kind],
    warmup: Duration,
    measured: Duration,
) -> Report {
    // A short accept queue, as a server that sheds load sets: while fds are exhausted the
    // clients keep connecting, and what queued meanwhile is accepted in one burst.
    let socket = TcpSocket::new_v4().expect("server socket");
    let any = "127.0.0.1:0".parse().expect("an address");
    socket.bind(any).expect("bind the server");
    let listener = socket.listen(BACKLOG).expect("listen");
    let http = listener.local_addr().expect("server address");
    let stats = Arc::new(ServerStats::default());
    let (stop, stopped) = oneshot::channel();
    let config = ServerConfig {
        header_read_timeout: HEADER_TIMEOUT,
        half_close: true,
    };
    let server = tokio::spawn(server::serve(listener, config, stats.clone(), stopped));
    let echo_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the echo server");
    let targets = Targets {
        http,
        echo: echo_listener.local_addr().expect("echo address"),
    };
    let echo = tokio::spawn(echo_server(echo_listener));

    let tally = Arc::new(Tally::default());
    mix(targets, lanes, kinds, warmup, &tally).await;
    let start = proc::settle().await;
    mix(targets, lanes, kinds, measured, &tally).await;
    let end = proc::settle().await;

    let _ = stop.send(());
    if server.await.is_err() {
        tally.error("server task panicked");
    }
    echo.abort();
    let snapshot = stats.snapshot();
    if snapshot.accept_errors_other > 0 {
        tally.error("server: accept failed other than with EMFILE");
    }
    Report::new(
        &tally,
        snapshot.requests,
        format!("{snapshot:?}"),
        start,
        end,
    )
}

/// Runs every kind of traffic on `lanes` concurrent clients each, for `length`.
async fn mix(targets: Targets, lanes: usize, kinds: &[Kind], length: Duration, tally: &Arc<Tally>) {
    let deadline = Instant::now() + length;
    let mut tasks = Vec::new();
    for (n, &kind) in kinds.iter().enumerate() {
        let lanes = if kind == Kind::Exhaust { 1 } else { lanes };
        for lane in 0..lanes {
            let seed = (lane * KINDS.len() + n) as u64 + 1;
            let tally = tally.clone();
            tasks.push(corio::spawn(run_lane(kind, targets, deadline, seed, tally)));
        }
    }
    for task in tasks {
        if task.await.is_err() {
            tally.error("client task panicked");
        }
    }
}

async fn run_lane(kind: Kind, targets: Targets, deadline: Instant, seed: u64, tally: Arc<Tally>) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    while Instant::now() < deadline {
        match tokio::time::timeout(STEP_LIMIT, step(kind, targets, &mut rng, &tally)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) if err.contains(EMFILE) && EXHAUSTION.recent() => {
                tally.event("EMFILE while fds ran out");
                // As a careful client does: wait for fds instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(Err(err)) => tally.error(&format!("{kind:?}: {err}")),
            Err(_) => tally.error(&format!("{kind:?}: step hung for {STEP_LIMIT:?}")),
        }
    }
}

/// One round of `kind`'s traffic; `Err` names what went wrong.
async fn step(kind: Kind, targets: Targets, rng: &mut Rng, tally: &Tally) -> Result<(), String> {
    let addr = targets.http;
    match kind {
        Kind::Hello => {
            let mut sender = handshake(addr).await?;
            let requests = rng.below(20) + 1;
            for _ in 0..requests {
                let body = get(&mut sender, "/").await?;
                expect(body == "Hello, World!", "wrong hello body")?;
            }
            tally.events("hello requests", requests);
        }
        Kind::Echo => {
            let mut sender = handshake(addr).await?;
            let sent = Bytes::from(sequence(rng.below(1 << 18), rng.next()));
            let request = Request::post("/echo")
                .header("host", "soak")
                .body(Full::new(sent.clone()))
                .map_err(|err| err.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(fail("echo request"))?;
            let echoed = response
                .into_body()
                .collect()
                .await
                .map_err(fail("echo body"))?;
            expect(
                echoed.to_bytes() == sent,
                "echoed body differs from the one sent",
            )?;
            tally.events("echoed bytes", sent.len() as u64);
        }
        Kind::Stream => {
            let mut sender = handshake(addr).await?;
            let len = rng.below(2 << 20);
            let body = get(&mut sender, &format!("/stream?bytes={len}")).await?;
            expect(
                body.len() as u64 == len,
                "streamed body has the wrong length",
            )?;
            expect(
                body.iter().all(|&b| b == b'x'),
                "streamed body has the wrong bytes",
            )?;
            tally.events("streamed bytes", len);
        }
        Kind::Churn => {
            let response = raw_exchange(
                addr,
                b"GET / HTTP/1.1\r\nhost: soak\r\nconnection: close\r\n\r\n",
                false,
            )
            .await?;
            expect(
                response.ends_with(b"Hello, World!"),
                "short connection got no hello",
            )?;
            tally.event("short connections");
        }
        Kind::ResetRequest => {
            let stream = connect(addr).await?;
            let cut = rng.below(20) as usize + 1;
            write_all(&stream, &b"GET / HTTP/1.1\r\nhost: soak\r\n\r\n"[..cut]).await?;
            stream.set_zero_linger().map_err(fail("SO_LINGER"))?;
            drop(stream);
            tally.event("resets mid-request");
        }
        Kind::ResetResponse => {
            let mut stream = connect(addr).await?;
            write_all(
                &stream,
                b"GET /stream?bytes=8388608 HTTP/1.1\r\nhost: soak\r\n\r\n",
            )
            .await?;
            let mut buf = vec![0; 64 << 10];
            let mut got = 0;
            while got < rng.below(1 << 20) + 1 {
                match stream.read(&mut buf).await.map_err(fail("read"))? {
                    0 => return Err("the server closed before the reset".into()),
                    n => got += n as u64,
                }
            }
            stream.set_zero_linger().map_err(fail("SO_LINGER"))?;
            drop(stream);
            tally.event("resets mid-response");
        }
        Kind::Idle => {
            let mut stream = connect(addr).await?;
            let mut buf = [0; 64];
            match tokio::time::timeout(HEADER_TIMEOUT * 10, stream.read(&mut buf)).await {
                Ok(Ok(0)) => tally.event("idle closed by the server"),
                Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => {
                    tally.event("idle closed by the server")
                }
                Ok(Ok(_)) => tally.event("idle answered with an error status"),
                Ok(Err(err)) => return Err(format!("idle read: {err}")),
                Err(_) => return Err("an idle connection outlived the header timeout".into()),
            }
        }
        Kind::SlowWriter => {
            let started = Instant::now();
            let request = b"GET / HTTP/1.1\r\nhost: soak\r\nconnection: close\r\n\r\n";
            match raw_exchange(addr, request, true).await {
                Ok(response) if response.ends_with(b"Hello, World!") => tally.event("slow writers"),
                // On a loaded machine the 1-byte writes can outlast the header timeout: then
                // the server rightly closes, but never before.
                _ if started.elapsed() >= HEADER_TIMEOUT => {
                    tally.event("slow writers cut off by the header timeout")
                }
                Ok(_) => return Err("slow writer got no hello".into()),
                Err(err) => return Err(err),
            }
        }
        Kind::HalfClose => {
            let mut stream = connect(addr).await?;
            write_all(
                &stream,
                b"GET / HTTP/1.1\r\nhost: soak\r\nconnection: close\r\n\r\n",
            )
            .await?;
            stream.shutdown().await.map_err(fail("shutdown"))?;
            let mut response = Vec::new();
            stream
                .read_to_end(&mut response)
                .await
                .map_err(fail("read"))?;
            expect(
                response.ends_with(b"Hello, World!"),
                "half-closed client got no hello",
            )?;
            tally.event("half-closes");
        }
        Kind::CancelEcho => cancel_echo(targets.echo, rng, tally).await?,
        Kind::Abort => abort(targets, rng, tally).await?,
        Kind::Exhaust => exhaust(tally).await?,
    }
    Ok(())
}

/// How `EMFILE` reads in an error's text.
const EMFILE: &str = "os error 24";

/// When fds last ran out on purpose: errors naming `EMFILE` then are expected.
static EXHAUSTION: Exhaustion = Exhaustion(Mutex::new((false, None)));

/// Whether an exhaustion is under way, and when the last one ended.
#[derive(Debug)]
struct Exhaustion(Mutex<(bool, Option<Instant>)>);

impl Exhaustion {
    fn set(&self, active: bool) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *state = (
            active,
            if active {
                state.1
            } else {
                Some(Instant::now())
            },
        );
    }

    /// True during an exhaustion and for the server's longest backoff after it.
    fn recent(&self) -> bool {
        let state = *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.0
            || state
                .1
                .is_some_and(|ended| ended.elapsed() < Duration::from_secs(2))
    }
}

/// Every few seconds, takes every free fd for 300 ms, then gives them back.
async fn exhaust(tally: &Tally) -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    EXHAUSTION.set(true);
    let mut held = Vec::new();
    let outcome = loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => held.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => break Ok(()),
            Err(err) => break Err(format!("open /dev/null: {err}")),
        }
        if held.len() > 1 << 16 {
            break Err("RLIMIT_NOFILE is too high to exhaust".to_owned());
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(held);
    EXHAUSTION.set(false);
    outcome?;
    tally.event("fd exhaustions");
    Ok(())
}

/// Sends a sequence through the echo server with every read and write raced against
/// a timer; the bytes that come back must be exactly the bytes reported written.
async fn cancel_echo(addr: SocketAddr, rng: &mut Rng, tally: &Tally) -> Result<(), String> {
    // Small socket buffers, so that writes as well as reads wait and get cancelled.
    let socket = TcpSocket::new_v4().map_err(fail("socket"))?;
    socket
        .set_send_buffer_size(4096)
        .map_err(fail("SO_SNDBUF"))?;
    socket
        .set_recv_buffer_size(4096)
        .map_err(fail("SO_RCVBUF"))?;
    let stream = socket.connect(addr).await.map_err(fail("connect"))?;
    let (mut reader, mut writer) = stream.into_split();
    let total = rng.below(1 << 20) + 1;
    let seed = rng.next();
    let mut timer_rng = Rng(rng.next() | 1);
    let writing = async move {
        let data = sequence(total, seed);
        let (mut sent, mut cancelled) = (0, 0u64);
        while sent < data.len() {
            let end = (sent + 1 + timer_rng.below(64 << 10) as usize).min(data.len());
            tokio::select! {
                written = writer.write(&data[sent..end]) => sent += written.map_err(fail("write"))?,
                _ = race(&mut timer_rng) => cancelled += 1,
            }
        }
        writer.shutdown().await.map_err(fail("shutdown"))?;
        Ok::<_, String>(cancelled)
    };
    let mut read_rng = Rng(rng.next() | 1);
    let reading = async move {
        let expected = sequence(total, seed);
        let (mut got, mut cancelled) = (Vec::with_capacity(expected.len()), 0u64);
        let mut buf = vec![0; 32 << 10];
        loop {
            tokio::select! {
                read = reader.read(&mut buf) => match read.map_err(fail("read"))? {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                },
                _ = race(&mut read_rng) => cancelled += 1,
            }
        }
        expect(
            got == expected,
            "the echo lost, duplicated or changed bytes",
        )?;
        Ok::<_, String>(cancelled)
    };
    let (writes, reads) = tokio::try_join!(writing, reading)?;
    tally.events("cancel-raced echoed bytes", total);
    tally.events("cancelled writes", writes);
    tally.events("cancelled reads", reads);
    Ok(())
}

/// A timer a read or write races against: a yield, or a sleep of up to 1 ms.
async fn race(rng: &mut Rng) {
    match rng.below(3) {
        0 => tokio::task::yield_now().await,
        1 => tokio::time::sleep(Duration::ZERO).await,
        _ => tokio::time::sleep(Duration::from_micros(rng.below(1000))).await,
    }
}

/// Aborts a task in the middle of a read, an accept or a connect.
async fn abort(targets: Targets, rng: &mut Rng, tally: &Tally) -> Result<(), String> {
    let http = targets.http;
    let task = match rng.below(3) {
        0 => tokio::spawn(async move {
            let mut stream = TcpStream::connect(http).await?;
            stream
                .write_all(b"GET /stream?bytes=1048576 HTTP/1.1\r\nhost: soak\r\n\r\n")
                .await?;
            let mut buf = vec![0; 16 << 10];
            while stream.read(&mut buf).await? > 0 {}
            Ok(())
        }),
        1 => tokio::spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            listener.accept().await.map(drop)
        }),
        _ => tokio::spawn(async move { TcpStream::connect(http).await.map(drop) }),
    };
    tokio::time::sleep(Duration::from_micros(rng.below(2000))).await;
    task.abort();
    match task.await {
        Err(err) if err.is_cancelled() => tally.event("tasks aborted mid-op"),
        Ok(Ok(())) => tally.event("tasks done before their abort"),
        Ok(Err(err)) => return Err(format!("aborted task's op: {err}")),
        Err(err) => return Err(format!("aborted task: {err}")),
    }
    Ok(())
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    TcpStream::connect(addr).await.map_err(fail("connect"))
}

/// Writes all of `bytes` through `&TcpStream` (as `tokio::io::AsyncWriteExt` would).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        stream.writable().await.map_err(fail("writable"))?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(format!("write: {err}")),
        }
    }
    Ok(())
}

/// Writes `request` (one byte at a time when `slow`) and reads until the server closes.
async fn raw_exchange(addr: SocketAddr, request: &[u8], slow: bool) -> Result<Vec<u8>, String> {
    let mut stream = connect(addr).await?;
    if slow {
        // One segment per byte (no Nagle), well within the header timeout.
        stream.set_nodelay(true).map_err(fail("TCP_NODELAY"))?;
        for (i, byte) in request.chunks(1).enumerate() {
            stream.write_all(byte).await.map_err(fail("write"))?;
            if i % 4 == 3 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    } else {
        stream.write_all(request).await.map_err(fail("write"))?;
    }
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(fail("read"))?;
    Ok(response)
}

async fn handshake(addr: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>, String> {
    let stream = connect(addr).await?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(fail("handshake"))?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn get(sender: &mut http1::SendRequest<Full<Bytes>>, path: &str) -> Result<Bytes, String> {
    let request = Request::get(path)
        .header("host", "soak")
        .body(Full::new(Bytes::new()))
        .map_err(|err| err.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(fail("request"))?;
    expect(response.status().is_success(), "non-2xx status")?;
    let body = response.into_body().collect().await.map_err(fail("body"))?;
    Ok(body.to_bytes())
}

/// Echoes every connection's bytes back until its peer shuts down.
async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = vec![0; 32 << 10];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            let _ = stream.shutdown().await;
        });
    }
}

fn expect(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn fail<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |err| format!("{what}: {err}")
}

/// `len` bytes numbered from `seed`: byte `i` is byte `i % 8` of the u64 `seed + i / 8`,
/// so a lost, duplicated or moved byte changes what follows.
fn sequence(len: u64, seed: u64) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add(i / 8).to_le_bytes()[(i % 8) as usize])
        .collect()
}

/// xorshift64: reproducible choices without a dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}
