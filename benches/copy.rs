//! File ↔ socket copies through corio: `corio::io::copy_file_to` (splice on io_uring,
//! sendfile(2) on epoll) against `read_at` + `write_all_owned`, and `corio::io::copy_to_file`
//! (splice on io_uring) against `read_owned` + `write_all_at`, moving 16 MiB over a loopback
//! TCP connection per iteration. Both ends run on the one worker, so throughput is the CPU
//! cost of the whole transfer. IDs are `<direction>/<backend>-<method>`; after criterion the
//! median of each pair is printed with the zero-copy ÷ read+write ratio. Never asserts.
//!
//! Run: `cargo bench --bench copy` (about a minute).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corio::fs::File;
use corio::net::{TcpListener, TcpStream};
use corio::{Backend, Builder, Runtime};
use criterion::{Criterion, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LEN: usize = 16 << 20;
const CHUNK: usize = 256 << 10;

static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(id: &str, iters: u64, elapsed: Duration) -> Duration {
    let per = elapsed.as_secs_f64() / iters.max(1) as f64;
    let mut samples = SAMPLES.lock().unwrap();
    samples.entry(id.to_owned()).or_default().push(per);
    elapsed
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.unwrap(), accepted.unwrap().0)
}

/// Sends the file at `path` `iters` times, by splice/sendfile or by read + write.
fn file_to_socket(rt: &Runtime, path: &Path, zero_copy: bool, iters: u64) -> Duration {
    let path = path.to_owned();
    rt.block_on_local(move || async move {
        let file = File::open(&path).await.unwrap();
        let (mut sink, source) = pair().await;
        let total = LEN as u64 * iters;
        let drain = corio::spawn_local(async move {
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            while got < total {
                got += sink.read(&mut buf).await.unwrap() as u64;
            }
        });
        let start = Instant::now();
        for _ in 0..iters {
            if zero_copy {
                let n = corio::io::copy_file_to(&file, 0, LEN as u64, &source).await;
                assert_eq!(n.unwrap(), LEN as u64);
            } else {
                let mut buf = Vec::with_capacity(CHUNK);
                let mut at = 0;
                while at < LEN as u64 {
                    buf.clear();
                    let (n, back) = file.read_at(buf, at).await;
                    let n = n.unwrap();
                    let (r, back) = source.write_all_owned(back).await;
                    r.unwrap();
                    buf = back;
                    at += n as u64;
                }
            }
        }
        drain.await.unwrap();
        start.elapsed()
    })
}

/// Receives 16 MiB into the file at `path` `iters` times, by splice or by read + write.
fn socket_to_file(rt: &Runtime, path: &Path, zero_copy: bool, iters: u64) -> Duration {
    let path = path.to_owned();
    rt.block_on_local(move || async move {
        let file = File::create(&path).await.unwrap();
        let (mut tap, sink) = pair().await;
        let total = LEN * iters as usize;
        let feed = corio::spawn_local(async move {
            let chunk = vec![7u8; CHUNK];
            let mut sent = 0;
            while sent < total {
                tap.write_all(&chunk).await.unwrap();
                sent += CHUNK;
            }
        });
        let start = Instant::now();
        for _ in 0..iters {
            if zero_copy {
                let n = corio::io::copy_to_file(&sink, &file, 0, LEN as u64).await;
                assert_eq!(n.unwrap(), LEN as u64);
            } else {
                let mut buf = Vec::with_capacity(CHUNK);
                let mut at = 0;
                while at < LEN as u64 {
                    buf.clear();
                    let want = CHUNK.min(LEN - at as usize);
                    let (n, back) = sink.read_owned(corio::buf::IoBuf::slice(buf, ..want)).await;
                    let n = n.unwrap();
                    let (r, back) = file.write_all_at(back.into_inner(), at).await;
                    r.unwrap();
                    buf = back;
                    at += n as u64;
                }
            }
        }
        feed.await.unwrap();
        start.elapsed()
    })
}

fn summary() {
    let samples = SAMPLES.lock().unwrap();
    let median = |id: &str| {
        let mut v = samples.get(id)?.clone();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    };
    println!(
        "\n{:<16} {:<8} {:>14} {:>14} {:>18}",
        "direction", "backend", "zero-copy", "read+write", "zero-copy ÷ r+w"
    );
    for direction in ["file_to_socket", "socket_to_file"] {
        for backend in ["uring", "epoll"] {
            let zero = median(&format!("{direction}/{backend}-zero-copy"));
            let plain = median(&format!("{direction}/{backend}-read-write"));
            if let (Some(zero), Some(plain)) = (zero, plain) {
                let mib = |t: f64| LEN as f64 / t / f64::from(1 << 20);
                println!(
                    "{direction:<16} {backend:<8} {:>9.0} MiB/s {:>9.0} MiB/s {:>17.2}x",
                    mib(zero),
                    mib(plain),
                    plain / zero
                );
            }
        }
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("corio-bench-copy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source: PathBuf = dir.join("source");
    std::fs::write(&source, vec![3u8; LEN]).unwrap();
    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    for (name, backend) in [("uring", Backend::Uring), ("epoll", Backend::Epoll)] {
        let rt = match Builder::new().workers(1).backend(backend).build() {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("copy bench: {name} unavailable: {err}");
                continue;
            }
        };
        for direction in ["file_to_socket", "socket_to_file"] {
            let mut group = criterion.benchmark_group(direction);
            group.throughput(Throughput::Bytes(LEN as u64));
            for (method, zero_copy) in [("zero-copy", true), ("read-write", false)] {
                let id = format!("{name}-{method}");
                let full = format!("{direction}/{id}");
                let target = dir.join(format!("{name}-{method}"));
                group.bench_function(&id, |b| {
                    b.iter_custom(|iters| {
                        let elapsed = if direction == "file_to_socket" {
                            file_to_socket(&rt, &source, zero_copy, iters)
                        } else {
                            socket_to_file(&rt, &target, zero_copy, iters)
                        };
                        record(&full, iters, elapsed)
                    })
                });
            }
            group.finish();
        }
    }
    criterion.final_summary();
    summary();
    let _ = std::fs::remove_dir_all(&dir);
}
