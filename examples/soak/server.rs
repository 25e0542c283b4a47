//! The soak server: hyper's HTTP/1.1 hello service behind an accept loop written the way a
//! careful tokio server writes it. Shared by `examples/soak/main.rs` and the fault, exhaustion
//! and churn tests (`#[path = "../examples/soak/server.rs"] mod server;`), so it names only
//! hyper, hyper-util, http-body-util, futures, libc and tokio, plus the corio listener.
//!
//! Routes: `GET /` answers `Hello, World!`; `GET /stream?bytes=N` streams N bytes in 16 KiB
//! chunks made only when hyper asks for the next one (each counted in
//! [`StatsSnapshot::streamed_bytes_produced`], so a test can see how far production runs
//! ahead of a slow reader); `POST /echo` streams the request body back; anything else is 404.
//!
//! The accept loop counts every error. Out of fds or memory (`EMFILE`, `ENFILE`, `ENOBUFS`,
//! `ENOMEM`) it sleeps before the next accept, 50 ms doubling to 1 s and reset by the next
//! success, instead of spinning on a listener that stays readable; errors that concern one
//! connection only (`ECONNABORTED`, ...) are retried at once.
// Each includer uses a different part of this module (the tests read different counters).
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::CONTENT_LENGTH;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

/// Size of the chunks of a `/stream` body.
pub(crate) const CHUNK: usize = 16 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How [`serve`] sets up each connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerConfig {
    /// hyper's `header_read_timeout`: a connection that does not send a complete request
    /// head within this time (idle keep-alive connections included) is closed.
    pub(crate) header_read_timeout: Duration,
    /// hyper's `half_close`: keep answering after the client shut down its write side.
    pub(crate) half_close: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(2),
            half_close: true,
        }
    }
}

/// Counters the server updates as it runs; read them with [`ServerStats::snapshot`].
#[derive(Debug, Default)]
pub(crate) struct ServerStats {
    accepted: AtomicU64,
    accept_errors_emfile: AtomicU64,
    accept_errors_other: AtomicU64,
    closed: AtomicU64,
    connection_errors: AtomicU64,
    requests: AtomicU64,
    streamed_bytes_produced: AtomicU64,
}

/// The counters of [`ServerStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StatsSnapshot {
    /// Connections accepted.
    pub(crate) accepted: u64,
    /// Accepts that failed with `EMFILE` or `ENFILE` (out of fds).
    pub(crate) accept_errors_emfile: u64,
    /// Accepts that failed otherwise.
    pub(crate) accept_errors_other: u64,
    /// Accepted connections whose task has finished (`accepted - closed` are open).
    pub(crate) closed: u64,
    /// Connections that ended with an error (reset, header timeout, ...).
    pub(crate) connection_errors: u64,
    /// Requests routed to the service.
    pub(crate) requests: u64,
    /// Bytes of `/stream` bodies handed to hyper.
    pub(crate) streamed_bytes_produced: u64,
}

impl ServerStats {
    /// The current counters.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: get(&self.accepted),
            accept_errors_emfile: get(&self.accept_errors_emfile),
            accept_errors_other: get(&self.accept_errors_other),
            closed: get(&self.closed),
            connection_errors: get(&self.connection_errors),
            requests: get(&self.requests),
            streamed_bytes_produced: get(&self.streamed_bytes_produced),
        }
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A listener [`serve`] accepts from: corio's, or tokio's (for a plain-tokio baseline).
pub(crate) trait Listener {
    /// An accepted connection.
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// The next connection; cancel safe, as both listeners' `accept` is.
    fn accept(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Listener for corio::net::TcpListener {
    type Io = corio::net::TcpStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        Ok(corio::net::TcpListener::accept(self).await?.0)
    }
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        Ok(tokio::net::TcpListener::accept(self).await?.0)
    }
}

/// Serves `listener` until `stop` fires (or its sender is dropped), a `tokio::spawn`ed task
/// per connection; then stops accepting and waits for every connection to finish.
pub(crate) async fn serve<L: Listener>(
    listener: L,
    config: ServerConfig,
    stats: Arc<ServerStats>,
    stop: oneshot::Receiver<()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .half_close(config.half_close)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut backoff = FIRST_BACKOFF;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        let io = match accepted {
            Ok(io) => io,
            Err(err) => {
                let Some(delay) = accept_failed(&stats, &err, &mut backoff) else {
                    continue;
                };
                tokio::select! {
                    () = tokio::time::sleep(delay) => continue,
                    _ = &mut stop => break,
                }
            }
        };
        backoff = FIRST_BACKOFF;
        bump(&stats.accepted, 1);
        let service_stats = stats.clone();
        let service = service_fn(move |req| route(service_stats.clone(), req));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
        let conn_stats = stats.clone();
        tokio::spawn(async move {
            if conn.await.is_err() {
                bump(&conn_stats.connection_errors, 1);
            }
            bump(&conn_stats.closed, 1);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Counts and logs a failed accept; returns how long to wait before the next one, if at all.
fn accept_failed(stats: &ServerStats, err: &io::Error, backoff: &mut Duration) -> Option<Duration> {
    let errno = err.raw_os_error();
    if matches!(errno, Some(libc::EMFILE | libc::ENFILE)) {
        bump(&stats.accept_errors_emfile, 1);
    } else {
        bump(&stats.accept_errors_other, 1);
    }
    if !matches!(
        errno,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) {
        eprintln!("soak server: accept failed: {err}; retrying");
        return None;
    }
    let delay = *backoff;
    *backoff = (delay * 2).min(MAX_BACKOFF);
    eprintln!("soak server: accept failed: {err}; next accept in {delay:?}");
    Some(delay)
}

type Body = BoxBody<Bytes, hyper::Error>;

async fn route(
    stats: Arc<ServerStats>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    bump(&stats.requests, 1);
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::new(full("Hello, World!")),
        (&Method::GET, "/stream") => match query_bytes(req.uri().query()) {
            Some(len) => stream(stats, len),
            None => status(StatusCode::BAD_REQUEST),
        },
        (&Method::POST, "/echo") => Response::new(req.into_body().boxed()),
        _ => status(StatusCode::NOT_FOUND),
    })
}

/// `N` from a `bytes=N` query parameter.
fn query_bytes(query: Option<&str>) -> Option<u64> {
    let mut params = query?.split('&');
    params.find_map(|param| param.strip_prefix("bytes=")?.parse().ok())
}

/// `len` bytes, one chunk allocated each time hyper polls for the next (a `Stream` is lazy),
/// announced with `content-length` so clients can count body bytes on the wire.
fn stream(stats: Arc<ServerStats>, len: u64) -> Response<Body> {
    static FILL: [u8; CHUNK] = [b'x'; CHUNK];
    let chunks = (0..len.div_ceil(CHUNK as u64)).map(move |i| {
        let n = (len - i * CHUNK as u64).min(CHUNK as u64);
        bump(&stats.streamed_bytes_produced, n);
        // A fresh allocation, as generated content would be: buffering shows in RSS.
        Ok(Frame::data(Bytes::copy_from_slice(&FILL[..n as usize])))
    });
    let body = StreamBody::new(futures::stream::iter(chunks));
    let mut response = Response::new(body.boxed());
    response.headers_mut().insert(CONTENT_LENGTH, len.into());
    response
}

fn full(text: &'static str) -> Body {
    Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed()
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(code.canonical_reason().unwrap_or("")));
    *response.status_mut() = code;
    response
}
