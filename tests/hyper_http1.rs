//! hyper's HTTP/1.1 server and client on corio, on both backends: many keep-alive
//! connections spread over the workers, `Expect: 100-continue`, and a client that vanishes
//! in the middle of a response without disturbing anyone else.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use corio::net::TcpStream;
use support::hello_service::Checksum;
use support::http::{connect_http1, eventually, fetch, get, within, Placement, Protocol, Server};

const CONNECTIONS: usize = 64;
const REQUESTS_PER_CONNECTION: usize = 200;

/// 64 keep-alive connections × 200 requests, each answer checked. The server hands
/// connections to `corio::spawn` and the clients run on both workers too.
#[corio::test(backend = "both", workers = 2)]
async fn keep_alive_connections_all_answered() {
    let server = Server::start(Protocol::Http1, Placement::Spread).await;
    let addr = server.addr;
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            corio::spawn(async move {
                let mut sender = connect_http1(addr).await;
                for r in 0..REQUESTS_PER_CONNECTION {
                    let reply = fetch(&mut sender, get(&format!("/hello/c{c}-r{r}"))).await;
                    assert_eq!(reply.status, StatusCode::OK);
                    assert_eq!(reply.text(), format!("Hello, c{c}-r{r}!"));
                }
            })
        })
        .collect();
    within(Duration::from_secs(60), "the clients", async {
        for client in clients {
            client.await.expect("a client failed");
        }
    })
    .await;
    let requests = server.stats.requests.load(Ordering::Relaxed);
    assert_eq!(requests, CONNECTIONS * REQUESTS_PER_CONNECTION);
    server.shutdown().await;
}

/// The client sends only the head with `Expect: 100-continue`; hyper answers `100 Continue`
/// when the service starts reading the body (`/sum` reads it before answering), and the body
/// then arrives intact. Twice, on one keep-alive connection.
#[corio::test(backend = "both")]
async fn expect_100_continue() {
    let server = Server::start(Protocol::Http1, Placement::Local).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let mut stream = BufReader::new(stream);
    for round in 0..2 {
        let body = format!("body number {round}");
        let head = format!(
            "POST /sum HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = within(support::http::STEP, "100 Continue", read_head(&mut stream)).await;
        assert_eq!(interim[0], "HTTP/1.1 100 Continue", "{interim:?}");
        stream.write_all(body.as_bytes()).await.unwrap();
        let head = within(support::http::STEP, "the response", read_head(&mut stream)).await;
        assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
        let mut sent = Checksum::default();
        sent.update(body.as_bytes());
        let received = read_body(&mut stream, &head).await;
        assert_eq!(received, sent.to_string().as_bytes());
    }
    drop(stream);
    server.shutdown().await;
}

/// A client asks for 1 GiB, reads 1 MiB and disconnects. Meanwhile other keep-alive clients
/// are answered without error, and the server drops the abandoned response body.
#[corio::test(backend = "both")]
async fn client_disconnect_mid_response_disturbs_nobody() {
    let server = Server::start(Protocol::Http1, Placement::Local).await;
    let addr = server.addr;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bystanders: Vec<_> = (0..4)
        .map(|b| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let mut sender = connect_http1(addr).await;
                let mut answered = 0;
                // At least 50 requests each, and on until every rude client is gone.
                while answered < 50 || !*stopped.borrow_and_update() {
                    let reply = fetch(&mut sender, get(&format!("/hello/b{b}"))).await;
                    assert_eq!(reply.text(), format!("Hello, b{b}!"));
                    answered += 1;
                }
                answered
            })
        })
        .collect();

    for _ in 0..3 {
        let mut rude = TcpStream::connect(addr).await.unwrap();
        rude.write_all(b"GET /stream/1073741824 HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 64 * 1024];
        let mut read = 0;
        while read < 1 << 20 {
            let n = within(support::http::STEP, "the big response", rude.read(&mut buf)).await;
            let n = n.unwrap();
            assert!(n > 0, "the server closed the stream early");
            read += n;
        }
        drop(rude);
        let stats = server.stats.clone();
        eventually("the server drops the abandoned body", || {
            stats.live_streams.load(Ordering::Relaxed) == 0
        })
        .await;
    }
    stop.send_replace(true);
    for bystander in bystanders {
        let answered = within(support::http::STEP, "a bystander", bystander)
            .await
            .unwrap();
        assert!(answered >= 50);
    }
    // And the server still accepts.
    let mut sender = connect_http1(addr).await;
    assert_eq!(fetch(&mut sender, get("/")).await.text(), "Hello, World!");
    drop(sender);
    server.shutdown().await;
}

/// Reads a response head (status line and headers) without its final empty line.
async fn read_head(stream: &mut BufReader<TcpStream>) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).await.unwrap();
        assert!(
            n > 0,
            "the server closed the connection; head so far: {lines:?}"
        );
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return lines;
        }
        lines.push(line);
    }
}

/// Reads the body that `head` announces with `content-length`.
async fn read_body(stream: &mut BufReader<TcpStream>, head: &[String]) -> Vec<u8> {
    let len = head
        .iter()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().unwrap())
        })
        .expect("a content-length header");
    let mut body = vec![0; len];
    stream.read_exact(&mut body).await.unwrap();
    body
}
