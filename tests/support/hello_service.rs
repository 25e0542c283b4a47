//! The hyper service the HTTP tests share. It names only hyper, http-body-util and tokio,
//! never corio, so the very same code serves under a plain tokio runtime and under corio
//! (`tests/same_service.rs` runs it on both).
//!
//! Routes:
//! - `GET /`: `Hello, World!`
//! - `GET /hello/{name}`: `Hello, {name}!`
//! - `GET /header/{name}`: the values of request header `name`, joined by `, `; 404 if absent
//! - `POST /echo`: the request body, streamed back as it arrives
//! - `POST /sum`: the [`Checksum`] of the request body, read frame by frame
//! - `GET /stream/{len}`: `len` [`pattern`] bytes, chunked (no `content-length`)
//! - `GET /sleep/{ms}`: `slept {ms}` after sleeping that long
//! - `GET /hold`: answers `released` once [`Stats::release`] is called
//! - anything else: 404

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;

/// The body type of every request and response in the HTTP tests.
pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

/// The byte at offset `i` of a [`pattern`] body is `i % PERIOD`: a prime, so that chunk
/// boundaries never line up with it and a shifted or dropped chunk changes the checksum.
const PERIOD: usize = 251;
/// Size of the data frames of a [`Pattern`] body.
const CHUNK: usize = 64 * 1024;

/// The shared hello service. Clones share one [`Stats`].
#[derive(Debug, Clone, Default)]
pub(crate) struct HelloService {
    stats: Arc<Stats>,
}

/// What the service has seen, for tests to wait on and assert.
#[derive(Debug)]
pub(crate) struct Stats {
    /// Requests routed so far.
    pub(crate) requests: AtomicUsize,
    /// `/sleep` handlers running now.
    pub(crate) sleeping: AtomicUsize,
    /// `/hold` handlers waiting now.
    pub(crate) held: AtomicUsize,
    /// `/stream` bodies not yet dropped (sent in full, or dropped with their connection).
    pub(crate) live_streams: AtomicUsize,
    release: watch::Sender<bool>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            live_streams: AtomicUsize::new(0),
            release: watch::Sender::new(false),
        }
    }
}

impl Stats {
    /// Lets every `/hold` request, waiting or future, answer.
    pub(crate) fn release(&self) {
        self.release.send_replace(true);
    }
}

/// A new service with fresh [`Stats`].
pub(crate) fn service() -> HelloService {
    HelloService::default()
}

impl HelloService {
    /// The counters this service (and each of its clones) updates.
    pub(crate) fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }
}

impl hyper::service::Service<Request<Incoming>> for HelloService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let stats = self.stats.clone();
        Box::pin(async move { Ok(route(stats, req).await) })
    }
}

async fn route(stats: Arc<Stats>, req: Request<Incoming>) -> Response<Body> {
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let (head, arg) = path.split_once('/').unwrap_or((&path, ""));
    match (req.method(), head) {
        (&Method::GET, "") => text("Hello, World!"),
        (&Method::GET, "hello") => text(format!("Hello, {arg}!")),
        (&Method::GET, "header") => header(&req, arg),
        (&Method::POST, "echo") => Response::new(req.into_body().boxed()),
        (&Method::POST, "sum") => sum(req.into_body()).await,
        (&Method::GET, "stream") => match arg.parse() {
            Ok(len) => stream(stats, len),
            Err(_) => status(StatusCode::BAD_REQUEST),
        },
        (&Method::GET, "sleep") => match arg.parse() {
            Ok(ms) => sleep(&stats, ms).await,
            Err(_) => status(StatusCode::BAD_REQUEST),
        },
        (&Method::GET, "hold") => hold(&stats).await,
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Response<Body> {
    let values: Vec<&str> = (req.headers().get_all(name).iter())
        .map(|value| value.to_str().unwrap_or("<binary>"))
        .collect();
    if values.is_empty() {
        return status(StatusCode::NOT_FOUND);
    }
    text(values.join(", "))
}

async fn sum(mut body: Incoming) -> Response<Body> {
    let mut checksum = Checksum::default();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => checksum.update(frame.data_ref().map_or(&[][..], |data| data)),
            Err(_) => return status(StatusCode::BAD_REQUEST),
        }
    }
    text(checksum.to_string())
}

fn stream(stats: Arc<Stats>, len: u64) -> Response<Body> {
    stats.live_streams.fetch_add(1, Ordering::Relaxed);
    let guard = LiveStream(stats);
    Response::new(Pattern::chunked(len).with_guard(guard).boxed())
}

async fn sleep(stats: &Stats, ms: u64) -> Response<Body> {
    let _sleeping = Gauge::up(&stats.sleeping);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    text(format!("slept {ms}"))
}

async fn hold(stats: &Stats) -> Response<Body> {
    let mut released = stats.release.subscribe();
    let _held = Gauge::up(&stats.held);
    // The sender lives in `stats`, which outlives this handler: this cannot fail.
    let _ = released.wait_for(|released| *released).await;
    text("released")
}

/// A `200 OK` response with a fixed body.
pub(crate) fn text(body: impl Into<Bytes>) -> Response<Body> {
    Response::new(full(body))
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = text(code.canonical_reason().unwrap_or(""));
    *response.status_mut() = code;
    response
}

/// A [`Body`] holding `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// An empty [`Body`].
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// Counts a running handler; the count drops again even if the handler is cancelled.
struct Gauge<'a>(&'a AtomicUsize);

impl<'a> Gauge<'a> {
    fn up(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Gauge(counter)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Decrements [`Stats::live_streams`] when the body that holds it is dropped.
#[derive(Debug)]
struct LiveStream(Arc<Stats>);

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.0.live_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `len` bytes of the pattern starting at stream offset `offset`, without copying.
pub(crate) fn pattern(offset: u64, len: usize) -> Bytes {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..PERIOD + CHUNK).map(|i| (i % PERIOD) as u8).collect());
    assert!(len <= CHUNK, "pattern slices are at most {CHUNK} bytes");
    let start = (offset % PERIOD as u64) as usize;
    Bytes::from_static(&table[start..start + len])
}

/// A body of `len` pattern bytes in frames of up to 64 KiB, produced as fast as it is polled.
#[derive(Debug)]
pub(crate) struct Pattern {
    offset: u64,
    len: u64,
    exact: bool,
    _guard: Option<LiveStream>,
}

impl Pattern {
    /// A body whose size is announced (`content-length` on HTTP/1.1).
    pub(crate) fn sized(len: u64) -> Pattern {
        Pattern {
            offset: 0,
            len,
            exact: true,
            _guard: None,
        }
    }

    /// A body of unknown size (`transfer-encoding: chunked` on HTTP/1.1).
    pub(crate) fn chunked(len: u64) -> Pattern {
        Pattern {
            exact: false,
            ..Pattern::sized(len)
        }
    }

    fn with_guard(mut self, guard: LiveStream) -> Pattern {
        self._guard = Some(guard);
        self
    }

    /// This body as a [`Body`].
    pub(crate) fn boxed(self) -> Body {
        BodyExt::map_err(self, |never| match never {}).boxed()
    }
}

impl hyper::body::Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let remaining = self.len - self.offset;
        if remaining == 0 {
            return Poll::Ready(None);
        }
        let len = remaining.min(CHUNK as u64) as usize;
        let data = pattern(self.offset, len);
        self.offset += len as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.offset == self.len
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.len - self.offset)
        } else {
            SizeHint::default()
        }
    }
}

/// Length and FNV-1a hash of a byte stream; the same however the stream is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checksum {
    len: u64,
    hash: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            len: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Checksum {
    /// Adds `bytes` to the stream.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.hash = (self.hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.len += bytes.len() as u64;
    }

    /// The checksum of the first `len` bytes of the pattern.
    pub(crate) fn of_pattern(len: u64) -> Checksum {
        let mut checksum = Checksum::default();
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(CHUNK as u64);
            checksum.update(&pattern(offset, n as usize));
            offset += n;
        }
        checksum
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:016x}", self.len, self.hash)
    }
}
