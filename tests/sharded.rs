//! Sharded mode (`Builder::sharded(true)` + `block_on_sharded`, what `#[corio::main(sharded)]`
//! runs), on both backends: every worker binds the same address with `SO_REUSEPORT`, port 0
//! means one port for all of them, and the kernel spreads new connections over the workers'
//! own hyper servers. The client is a plain tokio runtime on another thread.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{watch, Barrier};

use corio::net::TcpListener;
use corio::{Backend, Runtime};

/// Workers per runtime (`CORIO_WORKERS` overrides it; the tests use the actual count).
const WORKERS: usize = 2;
/// Fresh connections the client opens; with two workers, the chance that `SO_REUSEPORT`
/// sends them all to one worker is 2^-63.
const CONNECTIONS: usize = 64;
const LIMIT: Duration = Duration::from_secs(30);

/// A sharded runtime on `backend` (ignoring `CORIO_BACKEND`), or `None` (the test is
/// skipped) when io_uring is unavailable here and `CORIO_REQUIRE_URING=1` is not set.
fn sharded_runtime(backend: Backend) -> Option<Runtime> {
    let builder = corio::Builder::new().workers(WORKERS).sharded(true);
    corio::__private::test_runtime_with(backend, builder)
}

/// Every worker binds 127.0.0.1:0 while the others hold their listeners: all get one port.
fn port_zero_is_one_port(backend: Backend) {
    let Some(runtime) = sharded_runtime(backend) else {
        return;
    };
    let workers = runtime.workers();
    let (tx, rx) = mpsc::channel();
    let all_bound = Arc::new(Barrier::new(workers));
    runtime
        .block_on_sharded(move || {
            let (tx, all_bound) = (tx.clone(), all_bound.clone());
            async move {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                tx.send((corio::worker_id(), listener.local_addr()?))
                    .unwrap();
                all_bound.wait().await;
                Ok::<(), io::Error>(())
            }
        })
        .expect("a worker failed to bind");
    let bound: Vec<(usize, SocketAddr)> = rx.try_iter().collect();
    let ids: BTreeSet<usize> = bound.iter().map(|(worker, _)| *worker).collect();
    assert_eq!(ids, (0..workers).collect(), "{bound:?}");
    let addrs: BTreeSet<SocketAddr> = bound.iter().map(|(_, addr)| *addr).collect();
    assert_eq!(
        addrs.len(),
        1,
        "the workers bound different ports: {bound:?}"
    );
    assert_ne!(addrs.first().unwrap().port(), 0);
}

#[test]
fn uring_port_zero_is_one_port() {
    port_zero_is_one_port(Backend::Uring);
}

#[test]
fn epoll_port_zero_is_one_port() {
    port_zero_is_one_port(Backend::Epoll);
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    let worker = corio::worker_id().to_string();
    response
        .headers_mut()
        .insert("x-corio-worker", worker.parse().unwrap());
    Ok(response)
}

/// The body of a sharded `main`: bind, report the address, serve until `stop`.
async fn serve_shard(
    bound: mpsc::Sender<SocketAddr>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    bound.send(listener.local_addr()?).unwrap();
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
        tokio::spawn(graceful.watch(conn));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// 64 fresh connections from a tokio client reach both workers' servers, and a graceful
/// stop ends every shard with `Ok`.
fn connections_spread_over_workers(backend: Backend) {
    let Some(runtime) = sharded_runtime(backend) else {
        return;
    };
    let workers = runtime.workers();
    let (bound_tx, bound_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let client = thread::spawn(move || {
        let addrs: BTreeSet<SocketAddr> = bound_rx.iter().take(workers).collect();
        assert_eq!(
            addrs.len(),
            1,
            "the shards bound different addresses: {addrs:?}"
        );
        let addr = *addrs.first().unwrap();
        let answered = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { tokio::time::timeout(LIMIT, ask_each_worker(addr)).await });
        stop_tx.send_replace(true);
        answered.expect("the client timed out")
    });
    runtime
        .block_on_sharded(move || serve_shard(bound_tx.clone(), stop_rx.clone()))
        .expect("a shard failed");
    let answered = client.join().expect("the client panicked");
    assert_eq!(
        answered,
        (0..workers).collect(),
        "not every worker answered"
    );
}

/// Sends one request on each of [`CONNECTIONS`] new connections; returns who answered.
async fn ask_each_worker(addr: SocketAddr) -> BTreeSet<usize> {
    let mut workers = BTreeSet::new();
    for _ in 0..CONNECTIONS {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let request = Request::get("/")
            .header(HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let worker = response.headers()["x-corio-worker"].to_str().unwrap();
        workers.insert(worker.parse().unwrap());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "Hello, World!");
    }
    workers
}

#[test]
fn uring_connections_spread_over_workers() {
    connections_spread_over_workers(Backend::Uring);
}

#[test]
fn epoll_connections_spread_over_workers() {
    connections_spread_over_workers(Backend::Epoll);
}
