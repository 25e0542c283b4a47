//! The soak server (`examples/soak/server.rs`) against clients that misbehave, on both
//! backends, as hyper documents its HTTP/1 server: a peer that resets mid-request or
//! mid-response costs only its own connection (the others keep being answered, and its fd
//! is closed); `half_close(true)` answers a client that shut down its write side;
//! `header_read_timeout` closes connections that never send a complete head; a request
//! written one byte at a time is parsed like any other; and a client that stops reading a
//! huge streamed response holds back the body, so the server buffers only what the socket
//! buffers and hyper's write queue take.

#[path = "../examples/soak/server.rs"]
mod server;
#[path = "support/soak.rs"]
mod soak;
mod support;

use std::time::Duration;

use corio::net::{TcpSocket, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use server::{ServerConfig, CHUNK};
use soak::{bounded, mib, until, Soak};
use support::http::{connect_http1, fetch, get, Http1};
use support::proc::{rss_bytes, tcp_fds, tcp_wmem_max};
use support::wire::{self, read_response};

/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(60);
const MIB: u64 = 1024 * 1024;

/// One `GET /` on a keep-alive client that must keep being answered while others misbehave.
async fn hello(sender: &mut Http1) {
    let reply = fetch(sender, get("/")).await;
    assert_eq!(reply.text(), "Hello, World!");
}

/// Reads from `client` until at least `len` more bytes arrived; returns how many did.
async fn read_at_least(client: &mut TcpStream, len: u64) -> u64 {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    while total < len {
        let n = client.read(&mut buf).await.expect("read the response");
        assert_ne!(n, 0, "the server closed after {total} bytes");
        total += n as u64;
    }
    total
}

/// Clients reset (`SO_LINGER` 0, then close) after sending half a request head: each costs
/// the server only that connection, whose fd it closes; a keep-alive client is answered
/// between every two resets.
#[corio::test(backend = "both")]
async fn peer_reset_mid_request() {
    bounded(LIMIT, async {
        const RESETS: u64 = 50;
        let soak = Soak::start(ServerConfig::default()).await;
        let mut other = connect_http1(soak.addr).await;
        hello(&mut other).await;
        let baseline = tcp_fds();
        for i in 0..RESETS {
            let mut client = TcpStream::connect(soak.addr).await.unwrap();
            client
                .write_all(b"GET / HTTP/1.1\r\nhost: loc")
                .await
                .unwrap();
            soak.until("the server accepted the client", |s| s.accepted == i + 2)
                .await;
            client.set_zero_linger().unwrap();
            drop(client);
            hello(&mut other).await;
        }
        soak.until("the reset connections closed", |s| s.closed == RESETS)
            .await;
        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        let stats = soak.stats();
        eprintln!(
            "[{}] {RESETS} resets mid-request: {stats:?}",
            corio::backend().kind
        );
        assert_eq!(
            stats.requests,
            RESETS + 1,
            "only the whole requests were routed"
        );
        drop(other);
        let stats = soak.stop().await;
        assert_eq!(stats.closed, stats.accepted);
    })
    .await;
}

/// Clients ask for 8 MiB, read 256 KiB of it and reset: the server drops each response,
/// closes its fd, and keeps answering a keep-alive client.
#[corio::test(backend = "both")]
async fn peer_reset_mid_response() {
    bounded(LIMIT, async {
        const RESETS: u64 = 5;
        let soak = Soak::start(ServerConfig::default()).await;
        let mut other = connect_http1(soak.addr).await;
        hello(&mut other).await;
        let baseline = tcp_fds();
        for _ in 0..RESETS {
            let mut client = TcpStream::connect(soak.addr).await.unwrap();
            let request = wire::get(&format!("/stream?bytes={}", 8 * MIB), false);
            client.write_all(request.as_bytes()).await.unwrap();
            read_at_least(&mut client, 256 * 1024).await;
            client.set_zero_linger().unwrap();
            drop(client);
            hello(&mut other).await;
        }
        soak.until("the reset connections closed", |s| s.closed == RESETS)
            .await;
        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        let stats = soak.stats();
        eprintln!(
            "[{}] {RESETS} resets mid-response: {:.1} MiB produced for them; {stats:?}",
            corio::backend().kind,
            mib(stats.streamed_bytes_produced)
        );
        assert_eq!(
            stats.connection_errors, RESETS,
            "each reset ended its connection"
        );
        drop(other);
        soak.stop().await;
    })
    .await;
}

/// With `half_close(true)`, a client that sends a whole request and then shuts down its
/// write side still gets the whole response (a 1 MiB stream, and a 1 MiB echo whose body
/// arrives before the FIN), after which the server closes the connection.
#[corio::test(backend = "both")]
async fn half_closed_client_gets_the_full_response() {
    bounded(LIMIT, async {
        let soak = Soak::start(ServerConfig::default()).await;
        let baseline = tcp_fds();

        let mut client = TcpStream::connect(soak.addr).await.unwrap();
        let request = wire::get(&format!("/stream?bytes={MIB}"), false);
        client.write_all(request.as_bytes()).await.unwrap();
        client.shutdown().await.unwrap();
        let response = read_response(&mut client)
            .await
            .expect("the stream response");
        assert_eq!(response.status, 200, "{}", response.head);
        assert_eq!(response.body.len() as u64, MIB);
        assert!(response.body.iter().all(|&b| b == b'x'));
        assert_eq!(client.read(&mut [0; 1]).await.unwrap(), 0, "then EOF");

        let body = support::net::pattern(MIB as usize, 7);
        let client = TcpStream::connect(soak.addr).await.unwrap();
        let (mut reader, mut writer) = client.into_split();
        let request = wire::post("/echo", &body);
        let writing = tokio::spawn(async move {
            writer.write_all(&request).await.unwrap();
            writer.shutdown().await.unwrap();
            writer
        });
        let response = read_response(&mut reader).await.expect("the echo response");
        assert_eq!(response.status, 200, "{}", response.head);
        assert!(
            response.body == body,
            "the echo differs from the request body"
        );
        assert_eq!(reader.read(&mut [0; 1]).await.unwrap(), 0, "then EOF");
        drop((reader, writing.await.unwrap()));

        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        let stats = soak.stop().await;
        eprintln!("[{}] half-closed clients: {stats:?}", corio::backend().kind);
        assert_eq!((stats.requests, stats.connection_errors), (2, 0));
    })
    .await;
}

/// With `header_read_timeout` at 300 ms, clients that connect and send nothing, or only
/// part of a head, are closed by the server; its fds are released while the clients still
/// hold theirs, and the clients read the end of the stream.
#[corio::test(backend = "both")]
async fn silent_clients_closed_by_header_read_timeout() {
    bounded(LIMIT, async {
        const SILENT: u64 = 20;
        const PARTIAL: u64 = 10;
        let config = ServerConfig {
            header_read_timeout: Duration::from_millis(300),
            ..ServerConfig::default()
        };
        let soak = Soak::start(config).await;
        let baseline = tcp_fds();
        let mut clients = Vec::new();
        for i in 0..SILENT + PARTIAL {
            let mut client = TcpStream::connect(soak.addr).await.unwrap();
            if i >= SILENT {
                client.write_all(b"GET / HTTP/1.1\r\nhost").await.unwrap();
            }
            clients.push(client);
        }
        let all = SILENT + PARTIAL;
        soak.until("every silent client was closed", |s| s.closed == all)
            .await;
        until("only the clients' fds are left", || {
            tcp_fds() == baseline + all as usize
        })
        .await;
        for (i, client) in clients.iter_mut().enumerate() {
            let mut rest = Vec::new();
            let read = client.read_to_end(&mut rest).await;
            let rest = String::from_utf8_lossy(&rest);
            if i == 0 || i as u64 == SILENT {
                eprintln!(
                    "[{}] client {i} read {read:?}: {rest:?}",
                    corio::backend().kind
                );
            }
            assert!(
                read.is_ok() || rest.is_empty(),
                "client {i}: the end of the stream or a reset: {read:?}"
            );
        }
        drop(clients);
        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        let stats = soak.stop().await;
        eprintln!("[{}] silent clients: {stats:?}", corio::backend().kind);
        assert_eq!(stats.requests, 0);
        assert_eq!(stats.connection_errors, all, "each timed out");
    })
    .await;
}

/// A client writing each byte of its requests in a segment of its own (`TCP_NODELAY`, a
/// flush and a yield between bytes) gets correct answers: a `GET /`, then a `POST /echo`
/// on the same keep-alive connection.
#[corio::test(backend = "both")]
async fn slow_writer_one_byte_at_a_time() {
    bounded(LIMIT, async {
        let config = ServerConfig {
            header_read_timeout: LIMIT,
            ..ServerConfig::default()
        };
        let soak = Soak::start(config).await;
        let mut client = TcpStream::connect(soak.addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        let body = b"sent one byte at a time";
        let requests = [
            wire::get("/", false).into_bytes(),
            wire::post("/echo", body),
        ];
        let expected: [&[u8]; 2] = [b"Hello, World!", body];
        for (request, expected) in requests.iter().zip(expected) {
            for byte in request {
                client.write_all(&[*byte]).await.unwrap();
                client.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let response = read_response(&mut client).await.expect("a response");
            assert_eq!(response.status, 200, "{}", response.head);
            assert_eq!(response.body, expected);
        }
        drop(client);
        let stats = soak.stop().await;
        assert_eq!((stats.requests, stats.connection_errors), (2, 0));
    })
    .await;
}

/// A client asks for 256 MiB, reads 1 MiB and stops reading. Production stalls: hyper polls
/// the body only while its write queue has room, and that empties only into the socket.
/// What was produced but not read must fit in
/// - the server socket's send buffer, which autotuning grows up to `tcp_wmem`'s maximum
///   (4 MiB by default),
/// - the client's receive buffer, fixed (no autotuning) by `SO_RCVBUF` = 256 KiB, which the
///   kernel doubles for its bookkeeping,
/// - hyper's write queue (at most 16 buffers and `max_buf_size`, ~400 KiB by default) and
///   the chunk in hand, for which 1 MiB is generous;
///
/// about 5.5 MiB with default sysctls, and the process's RSS grows by less than 16 MiB
/// (chunks are fresh allocations, so an unbounded queue would show as ~256 MiB). Reading
/// resumes production; then the client resets and the server's fd is closed.
#[corio::test(backend = "both")]
async fn stalled_reader_buffering_is_bounded() {
    bounded(LIMIT, async {
        const RCVBUF: u32 = 256 * 1024;
        const REQUESTED: u64 = 256 * MIB;
        let soak = Soak::start(ServerConfig::default()).await;
        let baseline = tcp_fds();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(RCVBUF).unwrap();
        let mut client = socket.connect(soak.addr).await.unwrap();
        let rss_before = rss_bytes();
        let request = wire::get(&format!("/stream?bytes={REQUESTED}"), false);
        client.write_all(request.as_bytes()).await.unwrap();
        let mut body_read = read_head(&mut client).await + read_at_least(&mut client, MIB).await;

        let stalled = stalled_production(&soak).await;
        let buffered = stalled - body_read;
        let rss_growth = rss_bytes().saturating_sub(rss_before);
        let bound = tcp_wmem_max() + 2 * u64::from(RCVBUF) + MIB;
        eprintln!(
            "[{}] stalled after {:.2} MiB produced, {:.2} MiB read: {:.2} MiB buffered (bound \
             {:.2} MiB), RSS grew by {:.2} MiB",
            corio::backend().kind,
            mib(stalled),
            mib(body_read),
            mib(buffered),
            mib(bound),
            mib(rss_growth)
        );
        assert!(
            buffered <= bound,
            "{buffered} bytes buffered, bound {bound}"
        );
        assert!(rss_growth < 16 * MIB, "RSS grew by {rss_growth} bytes");

        body_read += read_at_least(&mut client, 4 * MIB).await;
        soak.until("production resumed", |s| {
            s.streamed_bytes_produced > stalled
        })
        .await;
        assert!(body_read < REQUESTED);
        client.set_zero_linger().unwrap();
        drop(client);
        soak.until_all_closed().await;
        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        soak.stop().await;
    })
    .await;
}

/// Reads until the end of a `200 OK` head; returns how many body bytes came with it.
async fn read_head(client: &mut TcpStream) -> u64 {
    let mut bytes = Vec::new();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = client.read(&mut buf).await.expect("read the head");
        assert_ne!(n, 0, "the server closed before the head");
        bytes.extend_from_slice(&buf[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"), "{bytes:?}");
            return (bytes.len() - end - 4) as u64;
        }
    }
}

/// Waits until the server has produced nothing new for two samples 200 ms apart; returns
/// the bytes produced. (Noise can only make this return early, with fewer bytes.)
async fn stalled_production(soak: &Soak) -> u64 {
    let mut last = soak.stats().streamed_bytes_produced;
    let mut quiet = 0;
    while quiet < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = soak.stats().streamed_bytes_produced;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    last
}
