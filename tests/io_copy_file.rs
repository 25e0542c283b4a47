//! `corio::io::copy_file_to` and `copy_to_file` on both backends: a 64 MiB file arrives
//! intact over TCP (the socket back-pressured by a slow reader) and 64 MiB from a socket
//! lands intact in a file; ranges at offsets over a Unix stream keep their order with the
//! stream's own reads and writes; a copy stops at the end of the file or the stream.

#[path = "fs_support/mod.rs"]
mod fs_support;
mod support;

use corio::fs::File;
use corio::net::UnixStream;
use fs_support::TempDir;
use support::net::{checksum, pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[corio::test(backend = "both")]
async fn a_64_mib_file_arrives_intact() {
    const LEN: usize = 64 << 20;
    let dir = TempDir::new("copy-64m");
    let path = dir.join("big");
    let data = pattern(LEN, 21);
    std::fs::write(&path, &data).unwrap();
    let file = File::open(&path).await.unwrap();
    let (mut client, server) = tcp_pair().await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(LEN);
        let mut buf = vec![0u8; 61_440];
        loop {
            let n = client.read(&mut buf).await.unwrap();
            if n == 0 {
                break got;
            }
            got.extend_from_slice(&buf[..n]);
            if got.len() < 2 << 20 {
                // A slow start: the socket fills and the copy must wait for room.
                tokio::task::yield_now().await;
            }
        }
    });
    let sent = corio::io::copy_file_to(&file, 0, LEN as u64, &server)
        .await
        .unwrap();
    assert_eq!(sent, LEN as u64);
    let mut server = server;
    server.shutdown().await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got.len(), LEN);
    assert_eq!(checksum(&got), checksum(&data));
}

#[corio::test(backend = "both")]
async fn ranges_keep_order_with_the_streams_own_writes() {
    let dir = TempDir::new("copy-range");
    let path = dir.join("file");
    let data = pattern(300_000, 22);
    std::fs::write(&path, &data).unwrap();
    let file = File::open(&path).await.unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"head:").await.unwrap();
    let sent = corio::io::copy_file_to(&file, 1000, 5000, &a)
        .await
        .unwrap();
    assert_eq!(sent, 5000);
    a.write_all(b":mid:").await.unwrap();
    // Past the end: stops at the end of the file.
    let sent = corio::io::copy_file_to(&file, 299_000, 10_000, &a)
        .await
        .unwrap();
    assert_eq!(sent, 1000, "only what the file has");
    a.write_all(b":tail").await.unwrap();
    a.shutdown().await.unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    let expected = [
        &b"head:"[..],
        &data[1000..6000],
        b":mid:",
        &data[299_000..],
        b":tail",
    ]
    .concat();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}

#[corio::test(backend = "both")]
async fn a_copy_to_a_closed_peer_fails() {
    let dir = TempDir::new("copy-closed");
    let path = dir.join("file");
    std::fs::write(&path, pattern(8 << 20, 23)).unwrap();
    let file = File::open(&path).await.unwrap();
    let (client, server) = tcp_pair().await;
    drop(client);
    let err = corio::io::copy_file_to(&file, 0, 8 << 20, &server)
        .await
        .expect_err("the peer is gone");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
}

#[corio::test(backend = "both")]
async fn sixty_four_mib_from_a_socket_land_intact_in_a_file() {
    const LEN: usize = 64 << 20;
    let dir = TempDir::new("copy-in-64m");
    let path = dir.join("received");
    let data = pattern(LEN, 24);
    let (mut client, server) = tcp_pair().await;
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        client.write_all(&sent).await.unwrap();
        client.shutdown().await.unwrap();
    });
    let file = File::create(&path).await.unwrap();
    let copied = corio::io::copy_to_file(&server, &file, 0, LEN as u64 + 1)
        .await
        .unwrap();
    assert_eq!(copied, LEN as u64, "stops at the stream's EOF");
    writer.await.unwrap();
    file.sync_all().await.unwrap();
    let got = std::fs::read(&path).unwrap();
    assert_eq!(got.len(), LEN);
    assert_eq!(checksum(&got), checksum(&data));
}

#[corio::test(backend = "both")]
async fn copy_to_file_takes_exactly_its_range_and_leaves_the_rest() {
    let dir = TempDir::new("copy-in-range");
    let path = dir.join("file");
    std::fs::write(&path, vec![b'.'; 100]).unwrap();
    let file = corio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"0123456789abcdef").await.unwrap();
    // Bytes already read through AsyncRead are not copied again.
    let mut first = [0u8; 2];
    b.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"01");
    let copied = corio::io::copy_to_file(&b, &file, 50, 10).await.unwrap();
    assert_eq!(copied, 10);
    let mut rest = [0u8; 4];
    b.read_exact(&mut rest).await.unwrap();
    assert_eq!(
        &rest, b"cdef",
        "the bytes after the range stay in the stream"
    );
    drop(file);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(&on_disk[..50], &[b'.'; 50][..]);
    assert_eq!(&on_disk[50..60], b"23456789ab");
    assert_eq!(&on_disk[60..], &[b'.'; 40][..]);
}
