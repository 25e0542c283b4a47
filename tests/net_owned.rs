//! Owned-buffer I/O on every socket type, both backends: round trips with each buffer type
//! (`Vec<u8>`, `Box<[u8]>`, `Bytes`, `BytesMut`, `&'static [u8]`, `AlignedBuf` and a slice
//! view of each), reads into a view that write only inside it, vectored reads and writes,
//! owned reads interleaved with `AsyncRead` and `try_read` (and dropped mid-flight) that
//! deliver every byte once and in order, and dropped datagram receives that lose nothing.

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::Context;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use corio::buf::{AlignedBuf, IoBuf};
use corio::net::{UdpSocket, UnixDatagram, UnixStream};
use support::net::{checksum, pattern, tcp_pair};
use support::poll_once_and_drop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads exactly `len` bytes with `read_owned` into fresh `Vec`s.
async fn read_owned_exact(stream: &UnixStream, len: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(len);
    while got.len() < len {
        let (n, buf) = stream.read_owned(Vec::with_capacity(len - got.len())).await;
        let n = n.unwrap();
        assert!(n > 0, "early EOF after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[corio::test(backend = "both")]
async fn every_buffer_type_round_trips_on_a_stream() {
    let (a, b) = UnixStream::pair().unwrap();
    static STATIC: &[u8] = b"static bytes";
    let mut aligned = AlignedBuf::new(4096, 4096);
    aligned[..5].copy_from_slice(b"align");

    let (r, _) = a.write_all_owned(b"vec".to_vec()).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(b"box".to_vec().into_boxed_slice()).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(Bytes::from_static(b"bytes")).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(BytesMut::from(&b"bytesmut"[..])).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(STATIC).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(aligned.slice(..5)).await;
    r.unwrap();
    let (r, _) = a.write_all_owned(b"--slice--".to_vec().slice(2..7)).await;
    r.unwrap();
    let (r, _) = a
        .write_all_owned(Bytes::from_static(b"xxbytesxx").slice(2..7))
        .await;
    r.unwrap();
    let expected: &[u8] = b"vecboxbytesbytesmutstatic bytesalignslicebytes";
    assert_eq!(read_owned_exact(&b, expected.len()).await, expected);

    // Reads: each buffer type the kernel can write into.
    let (r, _) = a.write_all_owned(pattern(64, 1)).await;
    r.unwrap();
    let (n, vec) = b.read_owned(Vec::with_capacity(16)).await;
    assert_eq!(n.unwrap(), 16);
    assert_eq!(vec.len(), 16, "a Vec's read bytes are initialized");
    let (n, boxed) = b.read_owned(vec![0u8; 16].into_boxed_slice()).await;
    assert_eq!(n.unwrap(), 16);
    let (n, bytes_mut) = b.read_owned(BytesMut::with_capacity(16)).await;
    assert_eq!(n.unwrap(), bytes_mut.len());
    let (n, aligned) = b.read_owned(AlignedBuf::new(16, 4096)).await;
    let n = n.unwrap();
    let mut all = [&vec[..], &boxed[..], &bytes_mut[..], &aligned[..n]].concat();
    if all.len() < 64 {
        all.extend(read_owned_exact(&b, 64 - all.len()).await);
    }
    assert_eq!(all, pattern(64, 1));
}

#[corio::test(backend = "both")]
async fn a_read_into_a_view_writes_only_inside_it() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r, _) = a.write_all_owned(vec![7u8; 100]).await;
    r.unwrap();
    let (n, view) = b.read_owned(vec![0xAAu8; 16].slice(4..8)).await;
    assert_eq!(n.unwrap(), 4, "the view holds 4 bytes");
    let buf = view.into_inner();
    assert_eq!(&buf[..4], &[0xAA; 4]);
    assert_eq!(&buf[4..8], &[7; 4]);
    assert_eq!(&buf[8..], &[0xAA; 8]);

    // A view of a Vec's spare capacity: the bytes before it are zeroed, not left
    // uninitialized, and the Vec's length covers what was read.
    let mut vec = Vec::with_capacity(32);
    vec.extend_from_slice(b"ab");
    let (n, view) = b.read_owned(vec.slice(10..20)).await;
    assert_eq!(n.unwrap(), 10);
    let vec = view.into_inner();
    assert_eq!(vec.len(), 20);
    assert_eq!(&vec[..2], b"ab");
    assert_eq!(&vec[2..10], &[0; 8]);
    assert_eq!(&vec[10..20], &[7; 10]);
}

#[corio::test(backend = "both")]
async fn vectored_owned_reads_and_writes_keep_order() {
    let (a, b) = UnixStream::pair().unwrap();
    let parts = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
    let (n, parts) = a.writev_owned(parts).await;
    assert_eq!(n.unwrap(), 13);
    assert_eq!(parts.len(), 3, "the buffers come back");
    let bufs = vec![
        Vec::with_capacity(3),
        Vec::with_capacity(6),
        Vec::with_capacity(10),
    ];
    let (n, bufs) = b.readv_owned(bufs).await;
    let n = n.unwrap();
    let got: Vec<u8> = bufs.concat();
    assert_eq!(got.len(), n);
    assert_eq!(&got[..], &b"one two three"[..n]);
    assert_eq!(&bufs[0][..], b"one");
}

#[corio::test(backend = "both")]
async fn write_owned_reports_what_the_kernel_took() {
    let (client, mut server) = tcp_pair().await;
    let (n, buf) = client.write_owned(pattern(10_000, 3)).await;
    let n = n.unwrap();
    assert!((1..=10_000).contains(&n));
    let (r, _) = client.write_all_owned(buf.slice(n..)).await;
    r.unwrap();
    let mut got = vec![0u8; 10_000];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, pattern(10_000, 3));
}

/// The reader takes a 4 MiB stream in turns: `read_owned`, `AsyncRead::read`, `try_read`,
/// and `read_owned` futures dropped after one poll. Every byte arrives once, in order.
#[corio::test(backend = "both")]
async fn owned_and_adapter_reads_interleaved_and_dropped_lose_nothing() {
    const LEN: usize = 4 << 20;
    let (mut client, mut server) = tcp_pair().await;
    let data = pattern(LEN, 9);
    let writer = tokio::spawn(async move {
        let mut rest = &data[..];
        let mut round = 0usize;
        while !rest.is_empty() {
            let take = rest.len().min(1 + (round * 7919) % 65_536);
            if round % 2 == 0 {
                client.write_all(&rest[..take]).await.unwrap();
            } else {
                let (r, _) = client.write_all_owned(rest[..take].to_vec()).await;
                r.unwrap();
            }
            rest = &rest[take..];
            round += 1;
        }
        client.shutdown().await.unwrap();
    });
    let mut got = Vec::with_capacity(LEN);
    let mut round = 0usize;
    loop {
        let size = 1 + (round * 104_729) % 40_000;
        let n = match round % 4 {
            0 => {
                let (n, buf) = server.read_owned(Vec::with_capacity(size)).await;
                let n = n.unwrap();
                got.extend_from_slice(&buf[..n]);
                n
            }
            1 => {
                let mut buf = vec![0u8; size];
                let n = server.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                n
            }
            2 => {
                let mut buf = vec![0u8; size];
                match server.try_read(&mut buf) {
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if n == 0 {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("try_read: {e}"),
                }
                round += 1;
                continue;
            }
            _ => {
                // Started, maybe completed by the kernel, then dropped: whatever it
                // received must come out of the next read.
                if let Some((n, buf)) =
                    poll_once_and_drop(server.read_owned(Vec::with_capacity(size)))
                {
                    let n = n.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    if n == 0 {
                        break;
                    }
                }
                tokio::task::yield_now().await;
                round += 1;
                continue;
            }
        };
        if n == 0 {
            break;
        }
        round += 1;
    }
    writer.await.unwrap();
    assert_eq!(got.len(), LEN, "every byte once");
    assert_eq!(checksum(&got), checksum(&pattern(LEN, 9)), "in order");
}

/// A `read_owned` the kernel completes after its future was dropped: the bytes come out
/// of the next `AsyncRead::read`.
#[corio::test(backend = "both")]
async fn bytes_received_for_a_dropped_read_owned_are_read_next() {
    let (mut client, mut server) = tcp_pair().await;
    for round in 0..50u8 {
        {
            let fut = server.read_owned(Vec::with_capacity(64));
            let mut fut = pin!(fut);
            let mut cx = Context::from_waker(std::task::Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending(), "nothing sent yet");
            client.write_all(&[round; 10]).await.unwrap();
            if round % 2 == 0 {
                // Let the kernel complete the receive before the future goes.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[round; 10][..n], "round {round}");
        if n < 10 {
            server.read_exact(&mut buf[n..10]).await.unwrap();
        }
    }
}

#[corio::test(backend = "both")]
async fn datagrams_round_trip_owned_and_a_dropped_receive_loses_none() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b.local_addr().unwrap();
    let (n, _) = a.send_to_owned(Bytes::from_static(b"hello"), b_addr).await;
    assert_eq!(n.unwrap(), 5);
    let (got, buf) = b.recv_from_owned(Vec::with_capacity(64)).await;
    let (n, from) = got.unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, a.local_addr().unwrap());

    for round in 0..20u8 {
        {
            let fut = b.recv_from_owned(Vec::with_capacity(64));
            let mut fut = pin!(fut);
            let mut cx = Context::from_waker(std::task::Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            a.send_to(&[round; 8], b_addr).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[round; 8], "round {round}: the datagram, whole");
        assert_eq!(from, a.local_addr().unwrap());
    }

    // Connected: recv_owned and send_owned, one datagram each, truncated like recv(2).
    a.connect(b_addr).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    let (n, _) = a.send_owned(b"connected".to_vec()).await;
    assert_eq!(n.unwrap(), 9);
    let (n, buf) = b.recv_owned(Vec::with_capacity(4)).await;
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"conn"[..]));
    let (n, _) = a.send_owned(Bytes::from_static(b"next")).await;
    assert_eq!(n.unwrap(), 4);
    let (n, buf) = b.recv_owned(BytesMut::with_capacity(64)).await;
    assert_eq!(
        (n.unwrap(), &buf[..]),
        (4, &b"next"[..]),
        "the rest of the first is gone"
    );

    let (ux, uy) = UnixDatagram::pair().unwrap();
    let (n, _) = ux.send_owned(b"pair".to_vec().slice(1..)).await;
    assert_eq!(n.unwrap(), 3);
    let (n, buf) = uy.recv_owned(Vec::with_capacity(8)).await;
    assert_eq!(&buf[..n.unwrap()], b"air");

    let path_a = support::net::socket_path("owned-a");
    let path_b = support::net::socket_path("owned-b");
    let ua = UnixDatagram::bind(&path_a).unwrap();
    let ub = UnixDatagram::bind(&path_b).unwrap();
    let (n, _) = ua.send_to_owned(b"unix".to_vec(), &path_b).await;
    assert_eq!(n.unwrap(), 4);
    let (got, buf) = ub.recv_from_owned(vec![0u8; 2].into_boxed_slice()).await;
    let (n, from) = got.unwrap();
    assert_eq!((n, &buf[..]), (2, &b"un"[..]), "truncated like recvfrom(2)");
    assert_eq!(from.as_pathname(), Some(path_a.as_path()));
    let _ = std::fs::remove_file(&path_a);
    let _ = std::fs::remove_file(&path_b);
}

/// On io_uring an owned read waiting for bytes is a ring op in flight (the kernel holds
/// the buffer); on epoll it is a readiness wait and no ring exists.
#[corio::test(backend = "both")]
async fn a_pending_read_owned_is_a_ring_op_on_uring() {
    let (a, b) = UnixStream::pair().unwrap();
    let before = corio::metrics::ring_ops_in_flight();
    let fut = b.read_owned(Vec::with_capacity(8));
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    let during = corio::metrics::ring_ops_in_flight();
    match corio::backend().kind {
        corio::BackendKind::Uring => {
            assert!(during > before, "in flight: {before:?} -> {during:?}");
        }
        corio::BackendKind::Epoll => assert_eq!(during, None),
    }
    let (r, _) = a.write_all_owned(b"go".to_vec()).await;
    r.unwrap();
    let (n, buf) = fut.await;
    assert_eq!(&buf[..n.unwrap()], b"go");
}
