//! `TcpStream::split` and `into_split` on both backends: halves driven concurrently (the
//! owned ones from tasks on different workers), `reunite`, the shutdown an owned write
//! half sends when dropped (after its last write, on any worker), `forget`, and readiness
//! on halves.

mod support;

use std::io;
use std::time::Duration;

use support::net::{checksum, pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[corio::test(backend = "both")]
async fn borrowed_halves_read_and_write_concurrently() {
    let (mut client, mut server) = tcp_pair().await;
    let echo = tokio::spawn(async move {
        let (mut read, mut write) = server.split();
        tokio::io::copy(&mut read, &mut write).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let data = pattern(2 << 20, 1);
    let (mut read, mut write) = client.split();
    assert!(read.peer_addr().unwrap() == write.peer_addr().unwrap());
    let writer = async {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let ((), read_result) = tokio::join!(writer, read.read_to_end(&mut back));
    read_result.unwrap();
    echo.await.unwrap();
    assert_eq!(checksum(&back), checksum(&data));
}

#[corio::test(backend = "both", workers = 2)]
async fn owned_halves_run_in_tasks_on_different_workers() {
    let (client, mut server) = tcp_pair().await;
    let (mut read, mut write) = client.into_split();
    let data = pattern(4 << 20, 2);
    let to_send = data.clone();
    let writer = corio::spawn_on(1, async move {
        for chunk in to_send.chunks(100_000) {
            write.write_all(chunk).await.unwrap();
        }
        write.flush().await.unwrap();
        (write, corio::worker_id())
    });
    let reader = tokio::spawn(async move {
        let mut back = vec![0u8; 4 << 20];
        read.read_exact(&mut back).await.unwrap();
        (read, back)
    });
    let (mut s_read, mut s_write) = server.split();
    tokio::io::copy(&mut (&mut s_read).take(4 << 20), &mut s_write)
        .await
        .unwrap();
    let (write, worker) = writer.await.unwrap();
    assert_eq!(worker, 1);
    let (read, back) = reader.await.unwrap();
    assert_eq!(checksum(&back), checksum(&data));
    let mut stream = read.reunite(write).expect("halves of one stream");
    stream.write_all(b"reunited").await.unwrap();
    let mut buf = [0u8; 8];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"reunited");
}

#[corio::test(backend = "both")]
async fn reunite_rejects_halves_of_different_streams() {
    let (a, _a_peer) = tcp_pair().await;
    let (b, _b_peer) = tcp_pair().await;
    let (a_read, a_write) = a.into_split();
    let (b_read, b_write) = b.into_split();
    let err = a_read.reunite(b_write).unwrap_err();
    assert!(err.to_string().contains("not from the same socket"));
    let (a_read, b_write) = (err.0, err.1);
    assert!(a_read.reunite(a_write).is_ok());
    assert!(b_write.reunite(b_read).is_ok());
}

#[corio::test(backend = "both")]
async fn dropped_write_half_shuts_down_after_its_last_write() {
    let (client, mut server) = tcp_pair().await;
    let (mut read, mut write) = client.into_split();
    let data = pattern(1 << 20, 3);
    let peer = tokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        server.write_all(b"bye").await.unwrap();
        got
    });
    write.write_all(&data).await.unwrap();
    // No flush: the last write may still be in flight when the half is dropped.
    drop(write);
    let got = peer.await.unwrap();
    assert_eq!(checksum(&got), checksum(&data), "every byte, then EOF");
    let mut bye = [0u8; 3];
    read.read_exact(&mut bye).await.unwrap();
    assert_eq!(&bye, b"bye", "the read half still works");
}

#[corio::test(backend = "both", workers = 2)]
async fn write_half_dropped_on_another_worker_still_shuts_down() {
    let (client, mut server) = tcp_pair().await;
    let (mut read, mut write) = client.into_split();
    let data = pattern(1 << 20, 5);
    let peer = tokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        server.write_all(b"bye").await.unwrap();
        got
    });
    write.write_all(&data).await.unwrap();
    // The last send may still run on this worker's ring; the drop happens elsewhere.
    let other = 1 - corio::worker_id();
    corio::spawn_on(other, async move { drop(write) })
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), peer)
        .await
        .expect("EOF reaches the peer while the read half lives")
        .unwrap();
    assert_eq!(checksum(&got), checksum(&data), "every byte, then EOF");
    let mut bye = [0u8; 3];
    read.read_exact(&mut bye).await.unwrap();
    assert_eq!(&bye, b"bye");
}

#[corio::test(backend = "both")]
async fn forgotten_write_half_sends_no_eof_until_the_read_half_goes() {
    let (client, mut server) = tcp_pair().await;
    let (read, mut write) = client.into_split();
    write.write_all(b"data").await.unwrap();
    write.flush().await.unwrap();
    write.forget();
    let mut buf = [0u8; 16];
    server.read_exact(&mut buf[..4]).await.unwrap();
    let read_more = tokio::time::timeout(Duration::from_millis(100), server.read(&mut buf)).await;
    assert!(read_more.is_err(), "no EOF while the read half lives");
    drop(read);
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
}

#[corio::test(backend = "both")]
async fn halves_have_readiness_methods() {
    let (client, mut server) = tcp_pair().await;
    let (mut read, write) = client.into_split();
    write.writable().await.unwrap();
    let mut sent = 0;
    while sent < 5 {
        match write.try_write(&b"hello"[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => write.writable().await.unwrap(),
            Err(e) => panic!("{e}"),
        }
    }
    let mut buf = [0u8; 5];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    server.write_all(b"world").await.unwrap();
    let mut peeked = [0u8; 5];
    assert_eq!(read.peek(&mut peeked).await.unwrap(), 5);
    let mut got = Vec::new();
    while got.len() < 5 {
        read.readable().await.unwrap();
        match read.try_read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, b"world");
    assert_eq!(&peeked, b"world");
}
