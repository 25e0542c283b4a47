//! An HTTP/2 CONNECT tunnel through hyper on corio, on both backends: a hyper HTTP/2
//! server (`hyper::server::conn::http2`, hyper-util's `TokioExecutor`/`TokioIo` over
//! `corio::net::TcpStream`) upgrades a CONNECT request (`hyper::upgrade::on`) and pumps
//! bytes both ways to an upstream that sends and receives 64 MiB; a hyper HTTP/2 client
//! sends CONNECT and pushes 64 MiB the other way. Flow-control windows are small and
//! neither end reads until it has written a good part (or its writes have stalled), so
//! both directions are back-pressured at once. Both 64 MiB arrive intact, and no
//! `hyper::Error` or I/O error shows up anywhere.

mod support;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use corio::net::{TcpListener, TcpStream};
use support::hello_service::Checksum;
use support::http::within;
use support::net::pattern;

/// Bytes each way.
const LEN: usize = 64 << 20;
/// Size of each write.
const CHUNK: usize = 64 << 10;
/// HTTP/2 windows on both ends: small, so flow control stalls the senders often.
const STREAM_WINDOW: u32 = 64 << 10;
const CONNECTION_WINDOW: u32 = 128 << 10;
/// An end starts reading once it has written this much, or its writes stalled.
const HEAD: u64 = 16 << 20;
/// Upper bound for the whole transfer.
const LIMIT: Duration = Duration::from_secs(240);

/// A failure, with the error's `Debug` form (`hyper::Error(Io, NotConnected)`, ...).
type Outcome<T> = Result<T, String>;

/// Writes `data` in [`CHUNK`]s, counting the bytes in `progress`, then shuts down.
async fn push<W: AsyncWrite + Unpin>(
    write: &mut W,
    data: &[u8],
    progress: &AtomicU64,
) -> io::Result<()> {
    for chunk in data.chunks(CHUNK) {
        write.write_all(chunk).await?;
        progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    write.shutdown().await
}

/// Waits until `progress` reaches [`HEAD`] or has not moved for 200 ms; true if it stalled.
async fn hold_reads(progress: &AtomicU64) -> bool {
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let now = progress.load(Ordering::Relaxed);
        if now >= HEAD {
            return false;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_millis(200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads `read` to EOF.
async fn drain<R: AsyncRead + Unpin>(read: &mut R) -> io::Result<Checksum> {
    let mut buf = vec![0u8; CHUNK];
    let mut checksum = Checksum::default();
    loop {
        let n = read.read(&mut buf).await?;
        if n == 0 {
            return Ok(checksum);
        }
        checksum.update(&buf[..n]);
    }
}

/// One end of the tunnel: writes `data` (then shuts down) while reading to EOF, holding
/// its reads back as [`hold_reads`] says. Returns what it read and whether its writes
/// stalled before it started reading.
async fn both_ways<S>(io: S, data: &[u8], who: &str) -> Outcome<(Checksum, bool)>
where
    S: AsyncRead + AsyncWrite,
{
    let (mut read, mut write) = tokio::io::split(io);
    let progress = AtomicU64::new(0);
    let writer = async {
        let result = push(&mut write, data, &progress).await;
        result.map_err(|err| {
            let done = progress.load(Ordering::Relaxed);
            format!("{who} write after {done} bytes: {err:?}")
        })
    };
    let reader = async {
        let stalled = hold_reads(&progress).await;
        let checksum = drain(&mut read).await;
        checksum
            .map(|checksum| (checksum, stalled))
            .map_err(|err| format!("{who} read: {err:?}"))
    };
    let (written, read) = tokio::join!(writer, reader);
    written?;
    read
}

fn checksum_of(data: &[u8]) -> Checksum {
    let mut checksum = Checksum::default();
    checksum.update(data);
    checksum
}

/// The proxy's tunnel for one CONNECT: the upgraded stream, pumped both ways to
/// `upstream`. Returns the bytes copied (client to upstream, upstream to client).
async fn tunnel(req: Request<Incoming>, upstream: SocketAddr) -> Outcome<(u64, u64)> {
    let upgraded = hyper::upgrade::on(req)
        .await
        .map_err(|err| format!("server upgrade: {err:?}"))?;
    let mut upstream = TcpStream::connect(upstream)
        .await
        .map_err(|err| format!("connect upstream: {err:?}"))?;
    let mut client = TokioIo::new(upgraded);
    tokio::io::copy_bidirectional(&mut client, &mut upstream)
        .await
        .map_err(|err| format!("proxy copy_bidirectional: {err:?}"))
}

/// Serves one HTTP/2 connection from `listener`, tunnelling CONNECT requests to
/// `upstream`; each tunnel's task goes to `tunnels`.
async fn proxy(
    listener: TcpListener,
    upstream: SocketAddr,
    tunnels: mpsc::UnboundedSender<JoinHandle<Outcome<(u64, u64)>>>,
) -> Outcome<()> {
    let (stream, _) = listener
        .accept()
        .await
        .map_err(|err| format!("accept: {err:?}"))?;
    let service = service_fn(move |req: Request<Incoming>| {
        let tunnels = tunnels.clone();
        async move {
            if req.method() != Method::CONNECT {
                let mut response = Response::new(Empty::<Bytes>::new());
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                return Ok::<_, Infallible>(response);
            }
            let _ = tunnels.send(tokio::spawn(tunnel(req, upstream)));
            Ok(Response::new(Empty::new()))
        }
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .adaptive_window(false)
        .max_send_buf_size(CHUNK);
    builder
        .serve_connection(TokioIo::new(stream), service)
        .await
        .map_err(|err| format!("server connection: {err:?}"))
}

/// The client: CONNECT to `upstream` through the proxy at `proxy`, then [`both_ways`].
async fn client(proxy: SocketAddr, upstream: SocketAddr, data: &[u8]) -> Outcome<(Checksum, bool)> {
    let stream = TcpStream::connect(proxy)
        .await
        .map_err(|err| format!("connect proxy: {err:?}"))?;
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .adaptive_window(false)
        .max_send_buf_size(CHUNK);
    let (mut sender, conn) = builder
        .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|err| format!("client handshake: {err:?}"))?;
    let conn = tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::CONNECT)
        .uri(upstream.to_string())
        .body(Empty::new())
        .expect("a valid CONNECT request");
    let response = sender
        .send_request(req)
        .await
        .map_err(|err| format!("client CONNECT: {err:?}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("CONNECT answered {}", response.status()));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|err| format!("client upgrade: {err:?}"))?;
    let result = both_ways(TokioIo::new(upgraded), data, "client").await?;
    drop(sender);
    within(
        Duration::from_secs(10),
        "the client connection to close",
        conn,
    )
    .await
    .expect("the client connection task panicked")
    .map_err(|err| format!("client connection: {err:?}"))?;
    Ok(result)
}

#[corio::test(backend = "both")]
async fn connect_tunnel_carries_64_mib_each_way_under_backpressure() {
    let upstream_data = pattern(LEN, 51);
    let client_data = pattern(LEN, 52);
    let (upstream_sum, client_sum) = (checksum_of(&upstream_data), checksum_of(&client_data));

    let upstream_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream_listener.local_addr().unwrap();
    let upstream = tokio::spawn(async move {
        let (stream, _) = upstream_listener
            .accept()
            .await
            .map_err(|err| format!("upstream accept: {err:?}"))?;
        both_ways(stream, &upstream_data, "upstream").await
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let (tunnels, mut tunnel_tasks) = mpsc::unbounded_channel();
    let server = tokio::spawn(proxy(listener, upstream_addr, tunnels));

    let started = Instant::now();
    let at_client = within(
        LIMIT,
        "the client's transfer",
        client(proxy_addr, upstream_addr, &client_data),
    )
    .await;
    let (at_client, client_stalled) = at_client.unwrap_or_else(|err| panic!("{err}"));
    let step = Duration::from_secs(30);
    let (at_upstream, upstream_stalled) = within(step, "the upstream", upstream)
        .await
        .expect("the upstream task panicked")
        .unwrap_or_else(|err| panic!("{err}"));
    let tunnel_task = tunnel_tasks.recv().await.expect("the proxy saw a CONNECT");
    let copied = within(step, "the tunnel", tunnel_task)
        .await
        .expect("the tunnel task panicked")
        .unwrap_or_else(|err| panic!("{err}"));
    eprintln!(
        "64 MiB each way in {:?}; reads held until stalled: client {client_stalled}, upstream \
         {upstream_stalled}",
        started.elapsed()
    );
    assert_eq!(
        at_upstream, client_sum,
        "the client's 64 MiB reached the upstream intact"
    );
    assert_eq!(
        at_client, upstream_sum,
        "the upstream's 64 MiB reached the client intact"
    );
    assert_eq!(
        copied,
        (LEN as u64, LEN as u64),
        "the proxy copied 64 MiB each way"
    );
    assert!(tunnel_tasks.try_recv().is_err(), "one CONNECT, one tunnel");
    // The client has closed its connection: the server's ends without an error too.
    within(step, "the server connection", server)
        .await
        .expect("the server task panicked")
        .unwrap_or_else(|err| panic!("{err}"));
}
