//! One hyper service (`tests/support/hello_service.rs`) and one server loop
//! (`tests/support/hello_server.rs`), compiled twice: once with tokio's `TcpListener` and run
//! on a multi-thread tokio runtime (what `#[tokio::main]` builds), once with corio's and run
//! on corio, both backends. The two modules differ only in their `use ...::TcpListener` line,
//! which is the whole migration corio asks of a tokio user; both answer the same requests alike.

mod support;

use std::net::SocketAddr;

use hyper::{Method, StatusCode};
use tokio::sync::oneshot;

use support::hello_service::{full, Checksum, Pattern};
use support::http::{fetch, get, http1 as client, request, within, Http1, STEP};

/// The server as a tokio user writes it.
mod on_tokio {
    use tokio::net::TcpListener;
    include!("support/hello_server.rs");
}

/// The very same text, with corio's listener.
mod on_corio {
    use corio::net::TcpListener;
    include!("support/hello_server.rs");
}

/// What every server must answer, as (status, body) per request of [`exchange`].
fn expected() -> Vec<(StatusCode, String)> {
    let ok = |body: &str| (StatusCode::OK, body.to_owned());
    vec![
        ok("Hello, World!"),
        ok("Hello, tokio-user!"),
        ok("echo me"),
        ok(&Checksum::of_pattern(1 << 20).to_string()),
        ok(&format!("{} bytes", 3 << 20)),
        (StatusCode::NOT_FOUND, "Not Found".to_owned()),
    ]
}

/// Sends the same requests to `sender` and reports (status, body) for each.
async fn exchange(mut sender: Http1) -> Vec<(StatusCode, String)> {
    let requests = [
        get("/"),
        get("/hello/tokio-user"),
        request(Method::POST, "/echo", full("echo me")),
        request(Method::POST, "/sum", Pattern::chunked(1 << 20).boxed()),
        get(&format!("/stream/{}", 3 << 20)),
        get("/missing"),
    ];
    let mut replies = Vec::new();
    for (i, req) in requests.into_iter().enumerate() {
        let reply = within(STEP, "a request", fetch(&mut sender, req)).await;
        let body = if i == 4 {
            // The streamed body is checked in full, then summarized.
            let mut received = Checksum::default();
            received.update(&reply.body);
            assert_eq!(received, Checksum::of_pattern(3 << 20));
            format!("{} bytes", reply.body.len())
        } else {
            reply.text().to_owned()
        };
        replies.push((reply.status, body));
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_serves_the_service() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(on_tokio::serve(listener, stopped));
    let sender = client(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(exchange(sender).await, expected());
    let _ = stop.send(());
    within(STEP, "tokio's server", server).await.unwrap();
}

#[corio::test(backend = "both")]
async fn corio_serves_the_service() {
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(on_corio::serve(listener, stopped));
    let sender = client(corio::net::TcpStream::connect(addr).await.unwrap()).await;
    assert_eq!(exchange(sender).await, expected());
    let _ = stop.send(());
    within(STEP, "corio's server", server).await.unwrap();
}
