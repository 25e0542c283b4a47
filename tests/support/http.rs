//! Both ends of the HTTP tests: hyper clients over any tokio-compatible stream, and a corio
//! server for [`HelloService`] written the way the examples are (accept loop, a task per
//! connection, hyper-util's `GracefulShutdown`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HOST};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::hello_service::{self, empty, Body, HelloService, Stats};

/// An HTTP/1.1 client connection.
pub(crate) type Http1 = hyper::client::conn::http1::SendRequest<Body>;
/// An HTTP/2 client connection; clone it to open concurrent streams.
pub(crate) type Http2 = hyper::client::conn::http2::SendRequest<Body>;

/// Upper bound for any one step of a test, so that a hang fails instead of blocking CI.
pub(crate) const STEP: Duration = Duration::from_secs(30);

/// Runs `future`, failing the test if it takes longer than `limit`.
pub(crate) async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// Waits (polling every millisecond, at most [`STEP`]) until `done` returns true.
pub(crate) async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An HTTP/1.1 client over `io`; its connection runs in a `tokio::spawn`ed task.
pub(crate) async fn http1<I>(io: I) -> Http1
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

/// An HTTP/2 client (prior knowledge) over `io`; its streams run as `tokio::spawn`ed tasks.
pub(crate) async fn http2<I>(io: I) -> Http2
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    sender
}

/// An HTTP/1.1 client over a `corio::net::TcpStream` to `addr`.
pub(crate) async fn connect_http1(addr: SocketAddr) -> Http1 {
    let stream = corio::net::TcpStream::connect(addr).await.expect("connect");
    http1(stream).await
}

/// A request for `path` in origin form with a `Host` header, as HTTP/1.1 clients send it.
pub(crate) fn request(method: Method, path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost")
        .body(body)
        .expect("a valid request")
}

/// `GET path` with an empty body.
pub(crate) fn get(path: &str) -> Request<Body> {
    request(Method::GET, path, empty())
}

/// A request with an absolute URI, as HTTP/2 wants it (`:scheme` and `:authority`).
pub(crate) fn request_h2(method: Method, path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(body)
        .expect("a valid request")
}

/// A response read to its end.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) version: Version,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// Reads `response` to its end.
    pub(crate) async fn read(response: Response<Incoming>) -> Reply {
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .expect("read the response body")
            .to_bytes();
        Reply {
            version: parts.version,
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// The body as UTF-8.
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

/// Sends `req` on `sender` once it is ready and reads the whole response.
pub(crate) async fn fetch(sender: &mut Http1, req: Request<Body>) -> Reply {
    sender.ready().await.expect("connection ready");
    Reply::read(sender.send_request(req).await.expect("send the request")).await
}

/// Sends `req` as a new HTTP/2 stream and reads the whole response.
pub(crate) async fn fetch_h2(sender: &mut Http2, req: Request<Body>) -> Reply {
    sender.ready().await.expect("connection ready");
    Reply::read(sender.send_request(req).await.expect("send the request")).await
}

/// The connection builder a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `hyper::server::conn::http1`.
    Http1,
    /// hyper-util's `auto::Builder`: HTTP/1.1, or HTTP/2 with prior knowledge.
    Auto,
}

/// Where a test server runs the connections it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// `tokio::spawn`: on the accepting worker.
    Local,
    /// `corio::spawn`: round-robin over the workers.
    Spread,
}

/// A [`HelloService`] server on corio, listening on a free port of 127.0.0.1.
#[derive(Debug)]
pub(crate) struct Server {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its service's counters.
    pub(crate) stats: Arc<Stats>,
    stop: oneshot::Sender<()>,
    done: JoinHandle<()>,
}

impl Server {
    /// Binds and starts accepting (the accept loop is a `tokio::spawn`ed task).
    pub(crate) async fn start(protocol: Protocol, placement: Placement) -> Server {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let service = hello_service::service();
        let stats = service.stats();
        let (stop, stopped) = oneshot::channel();
        let done = tokio::spawn(accept_loop(listener, service, protocol, placement, stopped));
        Server {
            addr,
            stats,
            stop,
            done,
        }
    }

    /// Graceful shutdown: stops accepting, waits for every connection to finish its
    /// requests in flight and close; fails the test after [`STEP`].
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(());
        within(STEP, "graceful shutdown", self.done)
            .await
            .expect("the accept loop panicked");
    }
}

async fn accept_loop(
    listener: corio::net::TcpListener,
    service: HelloService,
    protocol: Protocol,
    placement: Placement,
    stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto_builder();
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted.expect("accept").0,
            _ = &mut stopped => break,
        };
        let io = TokioIo::new(stream);
        let task: Pin<Box<dyn Future<Output = ()> + Send>> = match protocol {
            Protocol::Http1 => {
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(io, service.clone());
                let conn = graceful.watch(conn);
                Box::pin(async move { drop(conn.await) })
            }
            Protocol::Auto => {
                let conn = builder.serve_connection(io, service.clone()).into_owned();
                let conn = graceful.watch(conn);
                Box::pin(async move { drop(conn.await) })
            }
        };
        match placement {
            Placement::Local => tokio::spawn(task),
            Placement::Spread => corio::spawn(task),
        };
    }
    // Stop accepting before waiting: new connections are refused from here on.
    drop(listener);
    graceful.shutdown().await;
}

/// hyper-util's auto builder as `examples/hello_auto.rs` sets it up.
pub(crate) fn auto_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    builder
}
