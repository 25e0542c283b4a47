//! Graceful shutdown with hyper-util's `GracefulShutdown` on corio, on both backends: the
//! listener is dropped (new connections are refused at once), every slow request in flight
//! is answered in full, idle keep-alive connections are closed, and then the server is done.

mod support;

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};

use corio::net::TcpStream;
use support::hello_service::empty;
use support::http::{
    connect_http1, eventually, fetch, fetch_h2, get, http2, request_h2, within, Placement,
    Protocol, Server, STEP,
};

/// How long each in-flight request sleeps in its handler.
const SLOW_MS: u64 = 200;

/// 16 connections each wait on a 200 ms handler, spread over 2 workers, and one more
/// connection sits idle. Shutdown starts while all 16 handlers sleep.
#[corio::test(backend = "both", workers = 2)]
async fn http1_in_flight_requests_complete() {
    const IN_FLIGHT: usize = 16;
    let server = Server::start(Protocol::Http1, Placement::Spread).await;
    let addr = server.addr;
    let mut idle = connect_http1(addr).await;
    assert_eq!(fetch(&mut idle, get("/")).await.status, StatusCode::OK);

    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = connect_http1(addr).await;
                fetch(&mut sender, get(&format!("/sleep/{SLOW_MS}"))).await
            })
        })
        .collect();
    let stats = server.stats.clone();
    eventually("every slow request is in its handler", || {
        stats.sleeping.load(Ordering::Relaxed) == IN_FLIGHT
    })
    .await;

    let started = Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    expect_refused(addr).await;
    for request in requests {
        let reply = within(STEP, "a slow request", request).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), format!("slept {SLOW_MS}"));
    }
    within(STEP, "the shutdown", shutdown).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the idle connection: {:?}",
        started.elapsed()
    );
    // The idle keep-alive connection was closed by the server, not left hanging.
    eventually("the idle connection is closed", || idle.is_closed()).await;
}

/// 20 slow HTTP/2 streams on one connection: shutdown sends GOAWAY, and every stream that
/// was already open is still answered.
#[corio::test(backend = "both")]
async fn http2_in_flight_streams_complete() {
    const STREAMS: usize = 20;
    let server = Server::start(Protocol::Auto, Placement::Local).await;
    let addr = server.addr;
    let sender = http2(TcpStream::connect(addr).await.unwrap()).await;
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let path = format!("/sleep/{SLOW_MS}");
                fetch_h2(&mut sender, request_h2(Method::GET, &path, empty())).await
            })
        })
        .collect();
    let stats = server.stats.clone();
    eventually("every stream is in its handler", || {
        stats.sleeping.load(Ordering::Relaxed) == STREAMS
    })
    .await;

    let shutdown = tokio::spawn(server.shutdown());
    expect_refused(addr).await;
    for stream in streams {
        let reply = within(STEP, "a slow stream", stream).await.unwrap();
        assert_eq!(reply.text(), format!("slept {SLOW_MS}"));
    }
    within(STEP, "the shutdown", shutdown).await.unwrap();
    eventually("the connection is closed", || sender.is_closed()).await;
}

/// Connecting fails with `ConnectionRefused` once the listener is gone. On io_uring this
/// also proves that dropping the listener cancelled its in-flight accept, which would
/// otherwise keep the port open.
async fn expect_refused(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + STEP;
    loop {
        match TcpStream::connect(addr).await {
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => return,
            // The listener is not dropped yet (the accept loop sees the stop signal on its
            // next poll), or it was dropped with this connection in its backlog (reset).
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
            Err(err) => panic!("connect failed with {err}, not ConnectionRefused"),
        }
        assert!(
            Instant::now() < deadline,
            "the port still accepts connections after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
