//! `corio::net::TcpStream`, `TcpListener` and `TcpSocket` on both backends: echo of
//! several sizes, small and vectored writes, half-close, resets, EOF, refused connects,
//! IPv6, the readiness API mixed with `AsyncRead`, the owned-buffer API, socket options,
//! writes dropped mid-way, and a stream moved to another worker before first use.

mod support;

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::time::Duration;

use corio::net::{TcpListener, TcpSocket, TcpStream};
use support::net::{checksum, echo_once, fd_target, ipv6_available, pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};

/// Sends `data` through an echo server and returns what came back.
async fn echo_through(listener: TcpListener, data: Vec<u8>) -> Vec<u8> {
    let addr = listener.local_addr().unwrap();
    let server = echo_once(listener);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.split();
    let writer = async {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let reader = read.read_to_end(&mut back);
    let ((), n) = tokio::join!(writer, reader);
    assert_eq!(n.unwrap(), back.len());
    assert_eq!(server.await.unwrap(), data.len() as u64);
    back
}

#[corio::test(backend = "both")]
async fn echo_payloads_of_every_size_arrive_intact() {
    for (size, seed) in [(0, 1), (1, 2), (64 << 10, 3), (16 << 20, 4)] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let data = pattern(size, seed);
        let back = echo_through(listener, data.clone()).await;
        assert_eq!(back.len(), size, "size {size}");
        assert_eq!(checksum(&back), checksum(&data), "size {size}");
    }
}

#[corio::test(backend = "both")]
async fn many_small_writes_arrive_in_order_and_coalesce() {
    let (mut client, mut server) = tcp_pair().await;
    let data = pattern(30_000, 5);
    let mut writes = 0;
    let mut rest = &data[..];
    while !rest.is_empty() {
        let take = rest.len().min(1 + writes % 7);
        client.write_all(&rest[..take]).await.unwrap();
        rest = &rest[take..];
        writes += 1;
    }
    // Every write completed without the peer reading: nothing waits on the peer.
    client.flush().await.unwrap();
    client.shutdown().await.unwrap();
    let (mut got, mut reads) = (Vec::new(), 0);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = server.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(got, data);
    assert!(
        reads * 10 < writes,
        "{writes} writes should coalesce, took {reads} reads"
    );
}

#[corio::test(backend = "both")]
async fn write_vectored_sends_every_slice_in_order() {
    let (mut client, mut server) = tcp_pair().await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        got
    });
    assert!(client.is_write_vectored());
    let n = client
        .write_vectored(&[
            IoSlice::new(b"hello "),
            IoSlice::new(b"vectored "),
            IoSlice::new(b"world"),
        ])
        .await
        .unwrap();
    assert_eq!(n, 20, "small slices are written whole");
    // A large vectored write may be partial (at most the 64 KiB high-water mark on uring).
    let (a, b) = (pattern(100_000, 6), pattern(50_000, 7));
    let mut sent = 0;
    while sent < a.len() + b.len() {
        let slices = if sent < a.len() {
            vec![IoSlice::new(&a[sent..]), IoSlice::new(&b)]
        } else {
            vec![IoSlice::new(&b[sent - a.len()..])]
        };
        let n = client.write_vectored(&slices).await.unwrap();
        assert!(n > 0);
        sent += n;
    }
    client.shutdown().await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(&got[..20], b"hello vectored world");
    assert_eq!(&got[20..20 + a.len()], &a[..]);
    assert_eq!(&got[20 + a.len()..], &b[..]);
}

#[corio::test(backend = "both")]
async fn half_close_lets_the_peer_read_to_eof_and_keep_writing() {
    let (mut client, mut server) = tcp_pair().await;
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();
    let err = client.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    let response = pattern(200_000, 8);
    let writer = tokio::spawn(async move {
        server.write_all(&response).await.unwrap();
        server.shutdown().await.unwrap();
        response
    });
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, writer.await.unwrap());
}

#[corio::test(backend = "both")]
async fn read_after_eof_returns_zero_repeatedly() {
    let (mut client, mut server) = tcp_pair().await;
    server.write_all(b"x").await.unwrap();
    server.shutdown().await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 1);
    for _ in 0..3 {
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    }
    assert_eq!(
        client.try_read(&mut buf).unwrap(),
        0,
        "try_read sees EOF too"
    );
}

/// Drops `stream` with an RST instead of a FIN.
fn reset(stream: TcpStream) {
    stream.set_zero_linger().unwrap();
    drop(stream);
}

#[corio::test(backend = "both")]
async fn peer_reset_mid_read_is_connection_reset() {
    let (mut client, server) = tcp_pair().await;
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        client.read(&mut buf).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!reader.is_finished(), "the read waits for data");
    reset(server);
    let err = reader.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[corio::test(backend = "both")]
async fn peer_reset_mid_write_is_broken_pipe_or_reset() {
    let (mut client, mut server) = tcp_pair().await;
    let chunk = pattern(64 << 10, 9);
    client.write_all(&chunk).await.unwrap();
    let mut first = [0u8; 1024];
    server.read_exact(&mut first).await.unwrap();
    reset(server);
    let mut err = None;
    for _ in 0..10_000 {
        if let Err(e) = client.write_all(&chunk).await {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("writes to a reset peer fail");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
}

#[corio::test(backend = "both")]
async fn connect_to_a_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[corio::test(backend = "both")]
async fn ipv6_loopback_echo() {
    if !ipv6_available() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let listener = TcpListener::bind("[::1]:0").await.unwrap();
    assert!(listener.local_addr().unwrap().is_ipv6());
    let data = pattern(100_000, 10);
    assert_eq!(echo_through(listener, data.clone()).await, data);
}

#[corio::test(backend = "both")]
async fn readiness_mixed_with_async_read_keeps_bytes_in_order() {
    let (mut client, mut server) = tcp_pair().await;
    server.write_all(b"abcdefgh").await.unwrap();
    let mut two = [0u8; 2];
    client.read_exact(&mut two).await.unwrap();
    assert_eq!(&two, b"ab");
    // Bytes left behind by AsyncRead count as readable and come first.
    tokio::time::timeout(Duration::from_secs(5), client.readable())
        .await
        .unwrap()
        .unwrap();
    let mut peeked = [0u8; 3];
    assert_eq!(client.peek(&mut peeked).await.unwrap(), 3);
    assert_eq!(&peeked, b"cde");
    let mut rest = [0u8; 16];
    let n = client.try_read(&mut rest).unwrap();
    assert_eq!(&rest[..n], b"cdefgh");
    let err = client.try_read(&mut rest).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    server.write_all(b"ijk").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        client.readable().await.unwrap();
        match client.try_read(&mut rest) {
            Ok(n) => got.extend_from_slice(&rest[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, b"ijk");
    // And back to AsyncRead after readiness.
    server.write_all(b"lmn").await.unwrap();
    let mut three = [0u8; 3];
    client.read_exact(&mut three).await.unwrap();
    assert_eq!(&three, b"lmn");
}

#[corio::test(backend = "both")]
async fn writable_and_try_write_reach_the_peer() {
    let (client, mut server) = tcp_pair().await;
    let ready = client
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(ready.is_writable() && !ready.is_readable());
    let data = pattern(10_000, 11);
    let mut sent = 0;
    while sent < data.len() {
        client.writable().await.unwrap();
        match client.try_write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    let mut got = vec![0u8; data.len()];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, data);
}

#[corio::test(backend = "both")]
async fn owned_buffer_io_serves_adapter_leftovers_first() {
    let (mut client, mut server) = tcp_pair().await;
    let (result, _) = server.write_all_owned(b"0123456789".to_vec()).await;
    result.unwrap();
    let mut three = [0u8; 3];
    client.read_exact(&mut three).await.unwrap();
    assert_eq!(&three, b"012");
    let (n, buf) = client.read_owned(Vec::with_capacity(64)).await;
    assert_eq!(&buf[..n.unwrap()], b"3456789");
    let mut got = vec![0u8; 300_000];
    let ((result, sent), read) = tokio::join!(
        client.write_all_owned(pattern(300_000, 12)),
        server.read_exact(&mut got)
    );
    result.unwrap();
    read.unwrap();
    assert_eq!(got, sent);
    drop(client);
    let (n, _) = server.read_owned(vec![0u8; 16].into_boxed_slice()).await;
    assert_eq!(n.unwrap(), 0, "EOF");
}

#[corio::test(backend = "both")]
async fn tcp_socket_binds_before_connect_and_sets_options() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket.set_send_buffer_size(64 << 10).unwrap();
    socket.set_recv_buffer_size(64 << 10).unwrap();
    socket.set_nodelay(true).unwrap();
    assert!(
        socket.reuseaddr().unwrap() && socket.reuseport().unwrap() && socket.nodelay().unwrap()
    );
    assert!(socket.send_buffer_size().unwrap() >= 64 << 10);
    assert!(socket.recv_buffer_size().unwrap() >= 64 << 10);
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let local = socket.local_addr().unwrap();
    let (client, accepted) = tokio::join!(
        socket.connect(listener.local_addr().unwrap()),
        listener.accept()
    );
    let (client, (mut server, peer)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(peer, local, "the connection comes from the bound address");
    assert_eq!(client.local_addr().unwrap(), local);
    assert!(client.nodelay().unwrap());
    client.set_ttl(42).unwrap();
    assert_eq!(client.ttl().unwrap(), 42);
    drop(client);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    // A TcpSocket can also become a listener.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(16).unwrap();
    let data = pattern(1000, 13);
    assert_eq!(echo_through(listener, data.clone()).await, data);
}

#[corio::test(backend = "both")]
async fn std_streams_convert_both_ways() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (std_server, _) = listener.accept().unwrap();
    let mut client = TcpStream::from_std(std_client).unwrap();
    let mut server = TcpStream::from_std(std_server).unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    client.flush().await.unwrap();
    let mut std_client = client.into_std().unwrap();
    std_client.set_nonblocking(false).unwrap();
    io::Write::write_all(&mut std_client, b"pong").unwrap();
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[corio::test(backend = "both")]
async fn dropped_writes_lose_no_accepted_bytes_and_close_the_fd() {
    let (mut client, mut server) = tcp_pair().await;
    let fd = client.as_raw_fd();
    let socket = fd_target(fd).expect("open fd");
    let mut accepted = Vec::new();
    let mut timeouts = 0;
    // The peer does not read: writes fill the socket buffers, then stall and are dropped.
    while timeouts < 3 {
        let chunk = pattern(256 << 10, accepted.len() as u64);
        match tokio::time::timeout(Duration::from_millis(20), client.write(&chunk)).await {
            Ok(n) => accepted.extend_from_slice(&chunk[..n.unwrap()]),
            Err(_) => timeouts += 1,
        }
    }
    drop(client);
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(
        got.len(),
        accepted.len(),
        "every byte reported written arrives, no more"
    );
    assert!(got == accepted, "bytes arrive in order");
    for _ in 0..200 {
        if fd_target(fd).as_ref() != Some(&socket) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the client's fd {fd} ({socket}) is still open");
}

#[corio::test(backend = "both", workers = 2)]
async fn streams_move_to_other_workers_before_first_use() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let data = pattern(1 << 20, 15);
    let expected = data.clone();
    // corio::spawn places tasks round-robin from worker 0 while the workers hold as many
    // tasks: these two land on 0 and 1.
    let server = corio::spawn(async move {
        let mut server = server;
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        server.write_all(&got).await.unwrap();
        server.shutdown().await.unwrap();
        corio::worker_id()
    });
    let client = corio::spawn(async move {
        let mut client = client;
        client.write_all(&data).await.unwrap();
        client.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        (back, corio::worker_id())
    });
    let (back, client_worker) = client.await.unwrap();
    let server_worker = server.await.unwrap();
    assert_eq!(checksum(&back), checksum(&expected));
    assert!(
        client_worker != 0 || server_worker != 0,
        "one stream ran on another worker"
    );
    // And explicitly on worker 1.
    let (client, server) = tcp_pair().await;
    let moved = corio::spawn_on(1, async move {
        let mut server = server;
        server.write_all(b"from worker 1").await.unwrap();
        corio::worker_id()
    });
    assert_eq!(moved.await.unwrap(), 1);
    let mut client = client;
    let mut buf = [0u8; 13];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"from worker 1");
}

#[corio::test(backend = "both")]
async fn one_listener_serves_concurrent_accepts() {
    let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let acceptors: Vec<_> = (0..3)
        .map(|_| {
            let listener = listener.clone();
            tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.write_all(b"hi").await.unwrap();
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    for acceptor in acceptors {
        tokio::time::timeout(Duration::from_secs(5), acceptor)
            .await
            .expect("every waiting acceptor gets a connection")
            .unwrap();
    }
}

#[corio::test(backend = "both")]
async fn tasks_sharing_a_stream_all_see_readiness() {
    let (client, mut server) = tcp_pair().await;
    let client = std::sync::Arc::new(client);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.readable().await.unwrap() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.write_all(b"wake").await.unwrap();
    for waiter in waiters {
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("every waiting task is woken")
            .unwrap();
    }
    let mut buf = [0u8; 4];
    assert_eq!(client.try_read(&mut buf).unwrap(), 4);
}
