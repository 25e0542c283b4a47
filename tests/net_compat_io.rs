//! tokio's I/O utilities on corio streams, on both backends: `tokio::io::copy`,
//! `copy_bidirectional` through a proxy, `BufReader`/`BufWriter`, `read_to_end`,
//! `tokio::io::split`, and `tokio_util::codec::Framed` with `LinesCodec`.

mod support;

use corio::net::{TcpListener, TcpStream};
use futures::{SinkExt, StreamExt};
use support::net::{checksum, echo_once, pattern, tcp_pair};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio_util::codec::{Framed, LinesCodec};

#[corio::test(backend = "both")]
async fn io_copy_echoes_through_halves() {
    let (mut client, mut server) = tcp_pair().await;
    let echo = tokio::spawn(async move {
        let (mut read, mut write) = server.split();
        let n = tokio::io::copy(&mut read, &mut write).await.unwrap();
        write.shutdown().await.unwrap();
        n
    });
    let data = pattern(3 << 20, 1);
    let (mut read, mut write) = client.split();
    let send = async {
        let n = tokio::io::copy(&mut &data[..], &mut write).await.unwrap();
        write.shutdown().await.unwrap();
        n
    };
    let mut back = Vec::new();
    let (sent, received) = tokio::join!(send, tokio::io::copy(&mut read, &mut back));
    assert_eq!(sent, data.len() as u64);
    assert_eq!(received.unwrap(), data.len() as u64);
    assert_eq!(echo.await.unwrap(), data.len() as u64);
    assert_eq!(checksum(&back), checksum(&data));
}

#[corio::test(backend = "both")]
async fn copy_bidirectional_proxies_both_ways_and_propagates_eof() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let echo = echo_once(upstream);
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let proxy = tokio::spawn(async move {
        let (mut inbound, _) = front.accept().await.unwrap();
        let mut outbound = TcpStream::connect(upstream_addr).await.unwrap();
        tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
            .await
            .unwrap()
    });
    let data = pattern(1 << 20, 2);
    let mut client = TcpStream::connect(front_addr).await.unwrap();
    let (mut read, mut write) = client.split();
    let send = async {
        write.write_all(&data).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let ((), n) = tokio::join!(send, read.read_to_end(&mut back));
    n.unwrap();
    let (up, down) = proxy.await.unwrap();
    assert_eq!((up, down), (data.len() as u64, data.len() as u64));
    assert_eq!(echo.await.unwrap(), data.len() as u64);
    assert_eq!(checksum(&back), checksum(&data));
}

#[corio::test(backend = "both")]
async fn buf_reader_and_buf_writer_carry_lines() {
    let (client, server) = tcp_pair().await;
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(server).lines();
        let mut count = 0usize;
        while let Some(line) = lines.next_line().await.unwrap() {
            assert_eq!(line, format!("line {count} {}", "x".repeat(count % 50)));
            count += 1;
        }
        count
    });
    let mut writer = BufWriter::new(client);
    for i in 0..5_000 {
        writer
            .write_all(format!("line {i} {}\n", "x".repeat(i % 50)).as_bytes())
            .await
            .unwrap();
    }
    writer.shutdown().await.unwrap();
    assert_eq!(reader.await.unwrap(), 5_000);
}

#[corio::test(backend = "both")]
async fn read_to_end_and_tokio_split() {
    let (client, mut server) = tcp_pair().await;
    let data = pattern(700_000, 3);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        server.write_all(&data).await.unwrap();
        server.shutdown().await.unwrap();
    });
    let (mut read, _write) = tokio::io::split(client);
    let mut got = Vec::new();
    assert_eq!(read.read_to_end(&mut got).await.unwrap(), expected.len());
    writer.await.unwrap();
    assert_eq!(checksum(&got), checksum(&expected));
}

#[corio::test(backend = "both")]
async fn framed_lines_codec_round_trips() {
    let (client, server) = tcp_pair().await;
    let server = tokio::spawn(async move {
        let mut framed = Framed::new(server, LinesCodec::new());
        while let Some(line) = framed.next().await {
            let line = line.unwrap();
            framed.send(line.to_uppercase()).await.unwrap();
        }
    });
    let mut framed = Framed::new(client, LinesCodec::new());
    for i in 0..1_000 {
        framed.send(format!("hello {i}")).await.unwrap();
        let reply = framed.next().await.unwrap().unwrap();
        assert_eq!(reply, format!("HELLO {i}"));
    }
    drop(framed);
    server.await.unwrap();
}
