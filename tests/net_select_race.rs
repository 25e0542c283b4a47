//! A read raced against a short timer in `tokio::select!` 10,000 times, on both backends,
//! while the peer delivers data in bursts: every byte arrives, in order. On io_uring each
//! lost race drops a read future whose recv is in flight; the stream keeps that recv and
//! the next read takes its bytes. The same race with `readable` + `try_read`.

mod support;

use std::io;
use std::time::Duration;

use corio::net::TcpStream;
use support::net::{checksum, pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RACES: usize = 10_000;
const CHUNKS: usize = 20_000;

/// Writes `data` in small chunks, yielding between them and pausing every 100 chunks so
/// that the reader's timer wins some races.
fn deliver_in_bursts(mut stream: TcpStream, data: Vec<u8>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rest = &data[..];
        for i in 0.. {
            if rest.is_empty() {
                break;
            }
            let take = rest.len().min(1 + i % 61);
            stream.write_all(&rest[..take]).await.unwrap();
            rest = &rest[take..];
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
        stream.shutdown().await.unwrap();
    })
}

fn payload() -> Vec<u8> {
    pattern(CHUNKS * 31, 42)
}

fn short_timer() -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_micros(500))
}

#[corio::test(backend = "both")]
async fn read_raced_against_a_timer_loses_no_bytes() {
    let (mut client, server) = tcp_pair().await;
    let data = payload();
    let writer = deliver_in_bursts(server, data.clone());
    let (mut got, mut timeouts) = (Vec::with_capacity(data.len()), 0);
    let mut buf = [0u8; 128];
    for _ in 0..RACES {
        tokio::select! {
            n = client.read(&mut buf) => got.extend_from_slice(&buf[..n.unwrap()]),
            () = short_timer() => timeouts += 1,
        }
    }
    client.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert!(timeouts > 0, "the timer won some races");
    assert!(timeouts < RACES, "reads won some races");
    assert_eq!(got.len(), data.len());
    assert_eq!(checksum(&got), checksum(&data), "bytes arrive in order");
}

#[corio::test(backend = "both")]
async fn readable_raced_against_a_timer_loses_no_bytes() {
    let (mut client, server) = tcp_pair().await;
    let data = payload();
    let writer = deliver_in_bursts(server, data.clone());
    let (mut got, mut timeouts) = (Vec::with_capacity(data.len()), 0);
    let mut buf = [0u8; 128];
    for _ in 0..RACES {
        tokio::select! {
            ready = client.readable() => {
                ready.unwrap();
                match client.try_read(&mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            () = short_timer() => timeouts += 1,
        }
    }
    client.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert!(timeouts > 0, "the timer won some races");
    assert_eq!(checksum(&got), checksum(&data), "bytes arrive in order");
}
