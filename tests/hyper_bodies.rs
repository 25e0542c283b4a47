//! Large HTTP/1.1 bodies through hyper on corio, on both backends, checked with checksums:
//! a 64 MiB upload with `content-length`, a 64 MiB chunked response streamed frame by frame,
//! and a chunked echo where request and response stream at the same time.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Method, StatusCode};

use support::hello_service::{Checksum, Pattern};
use support::http::{connect_http1, fetch, get, request, within, Placement, Protocol, Server};

const LARGE: u64 = 64 << 20;
const LIMIT: Duration = Duration::from_secs(60);

/// 64 MiB in, with `content-length`: the server reads it frame by frame and answers with
/// the checksum of what it got.
#[corio::test(backend = "both")]
async fn upload_64_mib() {
    let server = Server::start(Protocol::Http1, Placement::Local).await;
    let mut sender = connect_http1(server.addr).await;
    let upload = request(Method::POST, "/sum", Pattern::sized(LARGE).boxed());
    let reply = within(LIMIT, "the upload", fetch(&mut sender, upload)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), Checksum::of_pattern(LARGE).to_string());
    // The connection is still good for more.
    assert_eq!(fetch(&mut sender, get("/")).await.text(), "Hello, World!");
    drop(sender);
    server.shutdown().await;
}

/// 64 MiB out, chunked (the body's size is unknown to hyper), read frame by frame without
/// buffering the whole body.
#[corio::test(backend = "both")]
async fn streamed_chunked_response_64_mib() {
    let server = Server::start(Protocol::Http1, Placement::Local).await;
    let mut sender = connect_http1(server.addr).await;
    sender.ready().await.unwrap();
    let response = sender
        .send_request(get(&format!("/stream/{LARGE}")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[TRANSFER_ENCODING], "chunked");
    assert!(!response.headers().contains_key(CONTENT_LENGTH));
    let mut body = response.into_body();
    let received = within(LIMIT, "the download", async {
        let mut received = Checksum::default();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.unwrap().data_ref() {
                received.update(data);
                frames += 1;
            }
        }
        assert!(
            frames > 1,
            "the body came in {frames} frame(s), not streamed"
        );
        received
    })
    .await;
    assert_eq!(received, Checksum::of_pattern(LARGE));
    assert_eq!(server.stats.live_streams.load(Ordering::Relaxed), 0);
    drop(sender);
    server.shutdown().await;
}

/// 16 MiB sent chunked to `/echo`, which streams it straight back: the response flows while
/// the request is still being sent, so both directions of the socket are busy at once.
#[corio::test(backend = "both")]
async fn chunked_echo_full_duplex() {
    const LEN: u64 = 16 << 20;
    let server = Server::start(Protocol::Http1, Placement::Local).await;
    let mut sender = connect_http1(server.addr).await;
    let echo = request(Method::POST, "/echo", Pattern::chunked(LEN).boxed());
    let reply = within(LIMIT, "the echo", fetch(&mut sender, echo)).await;
    assert_eq!(reply.headers[TRANSFER_ENCODING], "chunked");
    let mut received = Checksum::default();
    received.update(&reply.body);
    assert_eq!(received, Checksum::of_pattern(LEN));
    drop(sender);
    server.shutdown().await;
}
