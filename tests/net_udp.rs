//! `corio::net::UdpSocket` on both backends: `send_to`/`recv_from` round trips with the
//! right sender addresses, connected `send`/`recv`, truncation, receives cancelled by
//! `select!` that lose no datagram, the readiness API, ICMP refusals and IPv6.

mod support;

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use corio::net::UdpSocket;
use support::net::ipv6_available;

#[corio::test(backend = "both")]
async fn send_to_and_recv_from_report_the_sender() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_eq!(a.send_to(b"ping", b_addr).await.unwrap(), 4);
    let mut buf = [0u8; 64];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping"[..], a_addr));
    b.send_to(b"pong!", from).await.unwrap();
    let (n, from) = a.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"pong!"[..], b_addr));
    // An empty datagram is a datagram too.
    a.send_to(b"", b_addr).await.unwrap();
    assert_eq!(b.recv_from(&mut buf).await.unwrap(), (0, a_addr));
}

#[corio::test(backend = "both")]
async fn connected_sockets_send_and_recv() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let err = a.peer_addr().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    let mut buf = [0u8; 16];
    for i in 0..100u8 {
        a.send(&[i; 3]).await.unwrap();
        assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], &[i; 3], "datagrams arrive in order on loopback");
    }
}

#[corio::test(backend = "both")]
async fn long_datagrams_are_truncated_to_the_buffer() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b.local_addr().unwrap();
    let big: Vec<u8> = (0..60_000u32).map(|i| i as u8).collect();
    a.send_to(&big, b_addr).await.unwrap();
    a.send_to(b"next", b_addr).await.unwrap();
    let mut small = [0u8; 10];
    let (n, _) = b.recv_from(&mut small).await.unwrap();
    assert_eq!(&small[..n], &big[..10]);
    let mut buf = vec![0u8; 65_536];
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"next", "the rest of the long datagram is gone");
}

#[corio::test(backend = "both")]
async fn cancelled_receives_lose_no_datagram() {
    let receiver = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = receiver.local_addr().unwrap();
    const COUNT: u32 = 300;
    let send = tokio::spawn(async move {
        for seq in 0..COUNT {
            sender.send_to(&seq.to_be_bytes(), target).await.unwrap();
            if seq % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let (mut seen, mut timeouts) = (BTreeSet::new(), 0);
    let mut buf = [0u8; 4];
    while seen.len() < COUNT as usize {
        tokio::select! {
            got = receiver.recv_from(&mut buf) => {
                let (n, _) = got.unwrap();
                assert_eq!(n, 4);
                assert!(seen.insert(u32::from_be_bytes(buf)), "no datagram twice");
            }
            () = tokio::time::sleep(Duration::from_micros(300)) => timeouts += 1,
        }
        assert!(
            timeouts < 100_000,
            "datagrams went missing: {} seen",
            seen.len()
        );
    }
    send.await.unwrap();
    assert!(timeouts > 0, "some receives were cancelled");
}

#[corio::test(backend = "both")]
async fn readiness_and_try_methods() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b.local_addr().unwrap();
    let mut buf = [0u8; 16];
    let err = b.try_recv_from(&mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    a.writable().await.unwrap();
    assert_eq!(a.try_send_to(b"hello", b_addr).unwrap(), 5);
    let (n, from) = loop {
        b.readable().await.unwrap();
        match b.try_recv_from(&mut buf) {
            Ok(got) => break got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr().unwrap()));
    // A receive started (and dropped) through `recv_from` is still taken by `try_recv`.
    let pending = tokio::time::timeout(Duration::from_millis(20), b.recv_from(&mut buf)).await;
    assert!(pending.is_err());
    a.send_to(b"again", b_addr).await.unwrap();
    b.readable().await.unwrap();
    let n = b.try_recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"again");
}

#[corio::test(backend = "both")]
async fn sending_to_a_closed_port_is_refused() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    a.connect(closed.local_addr().unwrap()).await.unwrap();
    drop(closed);
    a.send(b"anyone?").await.unwrap();
    let mut buf = [0u8; 8];
    let err = a.recv(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[corio::test(backend = "both")]
async fn ipv6_round_trip() {
    if !ipv6_available() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let a = UdpSocket::bind("[::1]:0").await.unwrap();
    let b = UdpSocket::bind("[::1]:0").await.unwrap();
    a.send_to(b"v6", b.local_addr().unwrap()).await.unwrap();
    let mut buf = [0u8; 4];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"v6"[..], a.local_addr().unwrap()));
    assert!(from.is_ipv6());
}

#[corio::test(backend = "both")]
async fn concurrent_receivers_share_the_datagrams() {
    let receiver = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let target = receiver.local_addr().unwrap();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let receiver = receiver.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4];
                while let Ok(Ok((4, _))) =
                    tokio::time::timeout(Duration::from_millis(300), receiver.recv_from(&mut buf))
                        .await
                {
                    seen.push(u32::from_be_bytes(buf));
                }
                seen
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for seq in 0..100u32 {
        sender.send_to(&seq.to_be_bytes(), target).await.unwrap();
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        for seq in task.await.unwrap() {
            assert!(all.insert(seq), "datagram {seq} delivered twice");
        }
    }
    assert_eq!(
        all.len(),
        100,
        "every datagram reaches one of the receivers"
    );
}
