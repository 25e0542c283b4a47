//! `examples/proxy.rs` (hyper server and hyper client in one corio service) in front of the
//! hello service, on both backends: 1,000 requests over keep-alive connections, streamed
//! bodies, header handling, 502 for a dead upstream, and graceful shutdown.

mod support;

// The example itself: these tests drive its `serve`.
#[allow(dead_code)]
#[path = "../examples/proxy.rs"]
mod proxy;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::header::CONNECTION;
use hyper::{Method, StatusCode};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use corio::net::TcpListener;
use support::hello_service::{Checksum, Pattern};
use support::http::{
    connect_http1, eventually, fetch, get, request, within, Placement, Protocol, Server, STEP,
};

const CLIENTS: usize = 10;
const REQUESTS_PER_CLIENT: usize = 100;

/// The example's proxy, forwarding to `upstream` until the sender fires.
struct Proxy {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(proxy::serve(listener, upstream, stopped));
        Proxy { addr, stop, task }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        within(STEP, "the proxy's shutdown", self.task)
            .await
            .unwrap();
    }
}

/// 10 keep-alive clients × 100 requests through the proxy, on 2 workers; every answer is
/// the upstream's answer to that very request.
#[corio::test(backend = "both", workers = 2)]
async fn forwards_a_thousand_requests() {
    let upstream = Server::start(Protocol::Http1, Placement::Spread).await;
    let proxy = Proxy::start(upstream.addr).await;
    let addr = proxy.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            corio::spawn(async move {
                let mut sender = connect_http1(addr).await;
                for r in 0..REQUESTS_PER_CLIENT {
                    let reply = fetch(&mut sender, get(&format!("/hello/c{c}-r{r}"))).await;
                    assert_eq!(reply.status, StatusCode::OK);
                    assert_eq!(reply.text(), format!("Hello, c{c}-r{r}!"));
                }
            })
        })
        .collect();
    within(Duration::from_secs(60), "the clients", async {
        for client in clients {
            client.await.unwrap();
        }
    })
    .await;
    let forwarded = upstream.stats.requests.load(Ordering::Relaxed);
    assert_eq!(forwarded, CLIENTS * REQUESTS_PER_CLIENT);
    proxy.shutdown().await;
    upstream.shutdown().await;
}

/// Bodies stream through in both directions, `x-forwarded-for` is added, hop-by-hop headers
/// (fixed ones and those `Connection` names) are dropped, end-to-end headers are kept.
#[corio::test(backend = "both")]
async fn forwards_bodies_and_end_to_end_headers() {
    const LEN: u64 = 4 << 20;
    let upstream = Server::start(Protocol::Http1, Placement::Local).await;
    let proxy = Proxy::start(upstream.addr).await;
    let mut client = connect_http1(proxy.addr).await;

    let echo = request(Method::POST, "/echo", Pattern::chunked(LEN).boxed());
    let reply = within(STEP, "the echo", fetch(&mut client, echo)).await;
    let mut received = Checksum::default();
    received.update(&reply.body);
    assert_eq!(received, Checksum::of_pattern(LEN));

    let reply = fetch(&mut client, get("/header/x-forwarded-for")).await;
    assert_eq!(reply.text(), "127.0.0.1");

    let mut hop = get("/header/x-hop");
    hop.headers_mut()
        .insert(CONNECTION, "keep-alive, x-hop".parse().unwrap());
    hop.headers_mut().insert("x-hop", "1".parse().unwrap());
    assert_eq!(fetch(&mut client, hop).await.status, StatusCode::NOT_FOUND);

    let mut end = get("/header/x-end");
    end.headers_mut().insert("x-end", "kept".parse().unwrap());
    assert_eq!(fetch(&mut client, end).await.text(), "kept");

    drop(client);
    proxy.shutdown().await;
    upstream.shutdown().await;
}

/// An upstream that refuses connections gives 502 Bad Gateway, and the proxy goes on.
#[corio::test(backend = "both")]
async fn dead_upstream_answers_bad_gateway() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let proxy = Proxy::start(dead_addr).await;
    let mut client = connect_http1(proxy.addr).await;
    for _ in 0..3 {
        let reply = fetch(&mut client, get("/")).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    }
    drop(client);
    proxy.shutdown().await;
}

/// Shutting the proxy down while slow requests pass through it: each is answered in full.
#[corio::test(backend = "both")]
async fn graceful_shutdown_completes_forwarded_requests() {
    const IN_FLIGHT: usize = 8;
    let upstream = Server::start(Protocol::Http1, Placement::Local).await;
    let proxy = Proxy::start(upstream.addr).await;
    let addr = proxy.addr;
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = connect_http1(addr).await;
                fetch(&mut sender, get("/sleep/200")).await
            })
        })
        .collect();
    let stats = upstream.stats.clone();
    eventually("every request reached the upstream", || {
        stats.sleeping.load(Ordering::Relaxed) == IN_FLIGHT
    })
    .await;
    proxy.shutdown().await;
    for request in requests {
        let reply = request.await.unwrap();
        assert_eq!(reply.text(), "slept 200");
    }
    upstream.shutdown().await;
}
