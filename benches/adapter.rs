//! Adapter copy cost: bulk transfer of 16 MiB over one loopback connection through
//! `AsyncRead`/`AsyncWrite` in 16 KiB chunks, on corio-uring (owned-buffer adapters that
//! copy), corio-epoll and plain tokio current_thread (both read into the caller's buffer).
//! Reported as throughput; ids are `<backend>/16MiB`.

use std::time::{Duration, Instant};

use corio::{Backend, Builder};
use criterion::{Criterion, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOTAL: usize = 16 << 20;
const CHUNK: usize = 16 << 10;

/// Sends `TOTAL` bytes from a writer task to a reader and returns the elapsed time.
macro_rules! transfer {
    ($listener:ty, $stream:ty) => {
        async {
            let listener = <$listener>::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let writer = tokio::spawn(async move {
                let mut out = <$stream>::connect(addr).await.expect("connect");
                let chunk = vec![7u8; CHUNK];
                for _ in 0..TOTAL / CHUNK {
                    out.write_all(&chunk).await.expect("write");
                }
                out.shutdown().await.expect("shutdown");
            });
            let (mut input, _) = listener.accept().await.expect("accept");
            let start = Instant::now();
            let mut buf = vec![0u8; CHUNK];
            let mut seen = 0;
            loop {
                let n = input.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                seen += n;
            }
            writer.await.expect("writer");
            assert_eq!(seen, TOTAL);
            start.elapsed()
        }
    };
}

fn adapter(c: &mut Criterion) {
    let mut group = c.benchmark_group("adapter");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (name, backend) in [("uring", Backend::Uring), ("epoll", Backend::Epoll)] {
        let Ok(rt) = Builder::new().workers(1).backend(backend).build() else {
            eprintln!("adapter: skipping {name}: backend unavailable");
            continue;
        };
        println!("backend {}", rt.backend());
        group.bench_function(format!("corio-{name}/16MiB"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += transfer!(corio::net::TcpListener, corio::net::TcpStream).await;
                    }
                    total
                })
            })
        });
    }
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    group.bench_function("tokio-ct/16MiB", |b| {
        b.iter_custom(|iters| {
            tokio_rt.block_on(async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += transfer!(tokio::net::TcpListener, tokio::net::TcpStream).await;
                }
                total
            })
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    adapter(&mut criterion);
    criterion.final_summary();
}
