//! The stream adapters under randomized use, on both backends: writes of random sizes
//! (plain and vectored, flushed or not), reads into random-sized buffers, and read
//! futures polled once and dropped while pending. Whatever the
//! order of events, the reader gets exactly the bytes written, in order.

mod support;

use std::io::IoSlice;

use support::net::{checksum, pattern, tcp_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ROUNDS: u64 = 40;
const TOTAL: usize = 256 * 1024;

#[corio::test(backend = "both")]
async fn random_reads_writes_and_dropped_reads_lose_nothing() {
    let mut dropped_polled = 0u32;
    for seed in 1..=ROUNDS {
        let (mut writer, mut reader) = tcp_pair().await;
        let data = pattern(TOTAL, seed);
        let sent = data.clone();
        let write_side = tokio::spawn(async move {
            let mut rng = Rng(seed * 7 + 1);
            let mut at = 0;
            while at < sent.len() {
                let n = (1 + rng.below(20_000)).min(sent.len() - at);
                let chunk = &sent[at..at + n];
                let written = if rng.below(3) == 0 {
                    let (a, b) = chunk.split_at(n / 2);
                    writer
                        .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                        .await
                } else {
                    writer.write(chunk).await
                }
                .expect("write");
                at += written;
                if rng.below(4) == 0 {
                    writer.flush().await.expect("flush");
                }
            }
            writer.shutdown().await.expect("shutdown");
        });

        let mut rng = Rng(seed * 13 + 5);
        let mut got = Vec::with_capacity(TOTAL);
        let mut dropped = 0u32;
        loop {
            let mut buf = vec![0u8; 1 + rng.below(9000)];
            if rng.below(3) == 0 {
                // Poll a read once and drop it if it is not ready: the recv it started
                // stays with the stream, and its bytes must reach a later read.
                let mut read = std::pin::pin!(reader.read(&mut buf));
                match futures::poll!(read.as_mut()) {
                    std::task::Poll::Ready(read) => {
                        let n = read.expect("read");
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    std::task::Poll::Pending => {
                        dropped += 1;
                        dropped_polled += 1;
                        tokio::task::yield_now().await;
                    }
                }
            } else {
                let n = reader.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        write_side.await.expect("writer");
        assert_eq!(
            got.len(),
            TOTAL,
            "seed {seed}: byte count ({dropped} reads dropped)"
        );
        assert_eq!(
            checksum(&got),
            checksum(&data),
            "seed {seed}: bytes in order"
        );
    }
    assert!(
        dropped_polled > 0,
        "some read futures were dropped after being polled"
    );
}
