//! hyper-util's `auto::Builder` (with `TokioExecutor` and `TokioTimer`) on corio, on both
//! backends: 100 concurrent HTTP/2 streams on one connection, HTTP/1.1 and HTTP/2 on one
//! port, and a body large enough to exercise HTTP/2 flow control.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::{Method, StatusCode, Version};

use corio::net::TcpStream;
use support::hello_service::{empty, Checksum, Pattern};
use support::http::{
    connect_http1, eventually, fetch, fetch_h2, get, http2, request_h2, within, Http2, Placement,
    Protocol, Server, STEP,
};

const STREAMS: usize = 100;

async fn connect_http2(server: &Server) -> Http2 {
    http2(TcpStream::connect(server.addr).await.unwrap()).await
}

/// 100 requests that each wait until all 100 are in the server at once: they can only be
/// answered if one connection really carries 100 concurrent streams.
#[corio::test(backend = "both")]
async fn hundred_concurrent_streams_on_one_connection() {
    let server = Server::start(Protocol::Auto, Placement::Local).await;
    let sender = connect_http2(&server).await;
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                fetch_h2(&mut sender, request_h2(Method::GET, "/hold", empty())).await
            })
        })
        .collect();
    let stats = server.stats.clone();
    eventually("100 streams are held in the server at once", || {
        stats.held.load(Ordering::Relaxed) == STREAMS
    })
    .await;
    server.stats.release();
    for stream in streams {
        let reply = within(STEP, "a held stream", stream).await.unwrap();
        assert_eq!(reply.version, Version::HTTP_2);
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, "released"));
    }

    // Then 100 different requests at once: each answer must come back on its own stream.
    let streams: Vec<_> = (0..STREAMS)
        .map(|i| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let path = format!("/hello/stream-{i}");
                let reply = fetch_h2(&mut sender, request_h2(Method::GET, &path, empty())).await;
                assert_eq!(reply.text(), format!("Hello, stream-{i}!"));
            })
        })
        .collect();
    for stream in streams {
        within(STEP, "a stream", stream).await.unwrap();
    }
    drop(sender);
    server.shutdown().await;
}

/// The auto builder tells HTTP/1.1 from the HTTP/2 preface on the same listener.
#[corio::test(backend = "both")]
async fn http1_and_http2_on_one_port() {
    let server = Server::start(Protocol::Auto, Placement::Local).await;
    let mut h1 = connect_http1(server.addr).await;
    let mut h2 = connect_http2(&server).await;
    for i in 0..20 {
        let reply = fetch(&mut h1, get(&format!("/hello/h1-{i}"))).await;
        assert_eq!(reply.version, Version::HTTP_11);
        assert_eq!(reply.text(), format!("Hello, h1-{i}!"));
        let reply = fetch_h2(
            &mut h2,
            request_h2(Method::GET, &format!("/hello/h2-{i}"), empty()),
        )
        .await;
        assert_eq!(reply.version, Version::HTTP_2);
        assert_eq!(reply.text(), format!("Hello, h2-{i}!"));
    }
    drop((h1, h2));
    server.shutdown().await;
}

/// 16 MiB up and 16 MiB down on one HTTP/2 connection, well past the default flow-control
/// windows, with checksums.
#[corio::test(backend = "both")]
async fn large_bodies_under_flow_control() {
    const LEN: u64 = 16 << 20;
    let server = Server::start(Protocol::Auto, Placement::Local).await;
    let mut sender = connect_http2(&server).await;
    let upload = request_h2(Method::POST, "/sum", Pattern::sized(LEN).boxed());
    let reply = within(
        Duration::from_secs(60),
        "the upload",
        fetch_h2(&mut sender, upload),
    )
    .await;
    assert_eq!(reply.text(), Checksum::of_pattern(LEN).to_string());

    let download = request_h2(Method::GET, &format!("/stream/{LEN}"), empty());
    let reply = within(
        Duration::from_secs(60),
        "the download",
        fetch_h2(&mut sender, download),
    )
    .await;
    let mut received = Checksum::default();
    received.update(&reply.body);
    assert_eq!(received, Checksum::of_pattern(LEN));
    drop(sender);
    server.shutdown().await;
}
