//! The axum app of `examples/hello_axum.rs`, served by `axum::serve` on a corio listener
//! (feature `axum`), on both backends: every route answers with the right status and JSON,
//! over HTTP/1.1 and HTTP/2, and `with_graceful_shutdown` stops it cleanly.
#![cfg(feature = "axum")]

mod support;

// The example itself, so that this test checks the router a user reads.
#[allow(dead_code)]
#[path = "../examples/hello_axum.rs"]
mod hello_axum;

use std::io;
use std::net::SocketAddr;

use hyper::header::CONTENT_TYPE;
use hyper::{Method, StatusCode, Version};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use corio::net::{TcpListener, TcpStream};
use support::hello_service::full;
use support::http::{
    connect_http1, fetch, fetch_h2, get, http2, request, request_h2, within, Reply, STEP,
};

/// Serves the example's app until the returned sender fires or is dropped.
async fn serve_app() -> (SocketAddr, oneshot::Sender<()>, JoinHandle<io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, hello_axum::app())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    (addr, stop, server)
}

fn json_of(reply: &Reply) -> Value {
    assert_eq!(reply.headers[CONTENT_TYPE], "application/json");
    serde_json::from_slice(&reply.body).expect("a JSON body")
}

#[corio::test(backend = "both")]
async fn routes_answer_with_status_and_json() {
    let (addr, stop, server) = serve_app().await;
    let mut client = connect_http1(addr).await;

    let reply = fetch(&mut client, get("/")).await;
    assert_eq!(
        (reply.status, reply.text()),
        (StatusCode::OK, "Hello, World!")
    );

    let reply = fetch(&mut client, get("/users/7")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(json_of(&reply), json!({ "id": 7, "name": "user-7" }));

    for (name, id) in [("ada", 1), ("grace", 2)] {
        let body = full(json!({ "name": name }).to_string());
        let mut create = request(Method::POST, "/users", body);
        create
            .headers_mut()
            .insert(CONTENT_TYPE, "application/json".parse().unwrap());
        let reply = fetch(&mut client, create).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(json_of(&reply), json!({ "id": id, "name": name }));
    }

    // axum's extractors reject bad input with their usual statuses.
    let reply = fetch(&mut client, get("/users/x")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = fetch(&mut client, request(Method::POST, "/users", full("{}"))).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = fetch(&mut client, get("/nope")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    drop(client);
    let _ = stop.send(());
    within(STEP, "axum's graceful shutdown", server)
        .await
        .unwrap()
        .unwrap();
}

/// `axum::serve` speaks HTTP/2 with prior knowledge when axum's `http2` feature is on.
#[corio::test(backend = "both")]
async fn routes_answer_over_http2() {
    let (addr, stop, server) = serve_app().await;
    let mut client = http2(TcpStream::connect(addr).await.unwrap()).await;
    let reply = fetch_h2(&mut client, request_h2(Method::GET, "/users/42", full(""))).await;
    assert_eq!(reply.version, Version::HTTP_2);
    assert_eq!(json_of(&reply), json!({ "id": 42, "name": "user-42" }));
    drop(client);
    let _ = stop.send(());
    within(STEP, "axum's graceful shutdown", server)
        .await
        .unwrap()
        .unwrap();
}

/// Once `with_graceful_shutdown` has returned, the port refuses connections: on io_uring this
/// shows that dropping the listener inside `axum::serve` cancelled its in-flight accept.
#[corio::test(backend = "both")]
async fn graceful_shutdown_refuses_new_connections() {
    let (addr, stop, server) = serve_app().await;
    let mut client = connect_http1(addr).await;
    assert_eq!(fetch(&mut client, get("/")).await.status, StatusCode::OK);
    let _ = stop.send(());
    drop(client);
    within(STEP, "axum's graceful shutdown", server)
        .await
        .unwrap()
        .unwrap();
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}
