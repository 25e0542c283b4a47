//! Unix domain sockets on both backends: listener/stream round trips with addresses,
//! `pair`, half-close, halves and `reunite`, readiness, and datagram round trips between
//! bound, unbound and connected sockets.

mod support;

use std::io;

use corio::net::{UnixDatagram, UnixListener, UnixStream};
use support::net::{checksum, pattern, socket_path};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[corio::test(backend = "both")]
async fn stream_round_trip_through_a_listener() {
    let path = socket_path("stream");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let data = pattern(256 << 10, 1);
    let expected = data.clone();
    let server = tokio::spawn(async move {
        let (mut stream, peer) = listener.accept().await.unwrap();
        assert!(peer.is_unnamed(), "{peer:?}");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        stream.write_all(&got).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let mut client = UnixStream::connect(&path).await.unwrap();
    assert_eq!(
        client.peer_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    assert!(client.local_addr().unwrap().is_unnamed());
    let (mut read, mut write) = client.split();
    let writer = async {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let ((), n) = tokio::join!(writer, read.read_to_end(&mut back));
    n.unwrap();
    server.await.unwrap();
    assert_eq!(checksum(&back), checksum(&expected));
    std::fs::remove_file(&path).unwrap();
}

#[corio::test(backend = "both")]
async fn connecting_to_a_missing_path_fails() {
    let err = UnixStream::connect(socket_path("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[corio::test(backend = "both")]
async fn pair_half_close_and_readiness() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"request").await.unwrap();
    a.shutdown().await.unwrap();
    let mut request = Vec::new();
    b.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    b.writable().await.unwrap();
    assert_eq!(b.try_write(b"response").unwrap(), 8);
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    while got.len() < 8 {
        a.readable().await.unwrap();
        match a.try_read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, b"response");
    drop(b);
    assert_eq!(a.read(&mut buf).await.unwrap(), 0);
}

#[corio::test(backend = "both")]
async fn owned_halves_work_from_two_tasks_and_reunite() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (mut read, mut write) = a.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(&pattern(1 << 20, 2)).await.unwrap();
        write.flush().await.unwrap();
        write
    });
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; 1 << 20];
        read.read_exact(&mut got).await.unwrap();
        (read, got)
    });
    let mut echo = vec![0u8; 1 << 20];
    b.read_exact(&mut echo).await.unwrap();
    b.write_all(&echo).await.unwrap();
    let (write, (read, got)) = (writer.await.unwrap(), reader.await.unwrap());
    assert_eq!(checksum(&got), checksum(&pattern(1 << 20, 2)));
    let (other, _peer) = UnixStream::pair().unwrap();
    let (other_read, _other_write) = other.into_split();
    let err = other_read.reunite(write).unwrap_err();
    let mut stream = read.reunite(err.1).unwrap();
    stream.write_all(b"whole").await.unwrap();
    let mut buf = [0u8; 5];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"whole");
}

#[corio::test(backend = "both")]
async fn dropped_owned_write_half_sends_eof() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (_read, mut write) = a.into_split();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        got
    });
    write.write_all(&pattern(300_000, 3)).await.unwrap();
    drop(write);
    assert_eq!(
        checksum(&reader.await.unwrap()),
        checksum(&pattern(300_000, 3))
    );
}

#[corio::test(backend = "both")]
async fn datagrams_between_bound_and_unbound_sockets() {
    let (server_path, client_path) = (socket_path("dgram-server"), socket_path("dgram-client"));
    let server = UnixDatagram::bind(&server_path).unwrap();
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.send_to(b"from a path", &server_path).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"from a path");
    assert_eq!(from.as_pathname(), Some(client_path.as_path()));
    server
        .send_to(b"reply", from.as_pathname().unwrap())
        .await
        .unwrap();
    assert_eq!(client.recv(&mut buf).await.unwrap(), 5);
    let unbound = UnixDatagram::unbound().unwrap();
    unbound.send_to(b"anonymous", &server_path).await.unwrap();
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"anonymous");
    assert!(from.is_unnamed(), "{from:?}");
    unbound.connect(&server_path).unwrap();
    unbound.send(b"connected").await.unwrap();
    server.readable().await.unwrap();
    let (n, _) = server.try_recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"connected");
    std::fs::remove_file(&server_path).unwrap();
    std::fs::remove_file(&client_path).unwrap();
}

#[corio::test(backend = "both")]
async fn datagram_pair_round_trip() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let big = pattern(100_000, 4);
    a.send(&big).await.unwrap();
    a.try_send(b"small").unwrap();
    let mut buf = vec![0u8; 200_000];
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &big[..], "a datagram above 64 KiB arrives whole");
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"small");
    drop(b);
    let err = a.send(b"gone").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}
