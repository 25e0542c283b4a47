//! File I/O throughput of `corio::fs` on corio-uring and corio-epoll against tokio on a
//! current_thread runtime (one worker each): 4 KiB random reads from a 256 MiB file at
//! queue depth 1 and 32 (32 concurrent tasks on the one worker), from the page cache and
//! with `O_DIRECT`; sequential 1 MiB writes; and open+read+close of 10,000 small (4 KiB)
//! files. IDs are `<case>/<backend>`.
//!
//! The tokio column uses tokio's own mechanism: `tokio::fs::read` and
//! `tokio::fs::File::write_all` where tokio::fs has the call, and for positional reads
//! (tokio::fs::File has none) `spawn_blocking` of a pread — one pool hop per read, which
//! is what tokio::fs does per call, minus its seek. After criterion, the median of every
//! case is printed with the uring/tokio and uring/epoll ratios. Never asserts.
//!
//! Run: `cargo bench --bench fs` (about two minutes; the files go in the temp dir and are
//! removed at the end).

use std::collections::BTreeMap;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corio::buf::AlignedBuf;
use corio::{Backend, Builder, Runtime};
use criterion::{Criterion, Throughput};
use tokio::io::AsyncWriteExt;

const BIG: u64 = 256 << 20;
const BLOCK: usize = 4096;
const WRITE: usize = 1 << 20;
const SMALL_FILES: usize = 10_000;
const DEPTH: usize = 32;

/// Per-iteration times of every bench id, for the summary.
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn record(id: &str, iters: u64, elapsed: Duration) -> Duration {
    let per = elapsed.as_secs_f64() / iters.max(1) as f64;
    SAMPLES
        .lock()
        .unwrap()
        .entry(id.to_owned())
        .or_default()
        .push(per);
    elapsed
}

/// The i-th random 4 KiB-aligned offset in the big file.
fn offset(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % (BIG / BLOCK as u64)) * BLOCK as u64
}

struct Fixture {
    dir: PathBuf,
    big: PathBuf,
    small: Vec<PathBuf>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = std::env::temp_dir().join(format!("corio-bench-fs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("small")).unwrap();
        let big = dir.join("big");
        let chunk: Vec<u8> = (0..WRITE).map(|i| (i * 7 + 3) as u8).collect();
        let file = std::fs::File::create(&big).unwrap();
        for i in 0..BIG / WRITE as u64 {
            file.write_all_at(&chunk, i * WRITE as u64).unwrap();
        }
        file.sync_all().unwrap();
        let small = (0..SMALL_FILES)
            .map(|i| {
                let path = dir.join(format!("small/{i:05}"));
                std::fs::write(&path, &chunk[i % 1000..i % 1000 + BLOCK]).unwrap();
                path
            })
            .collect();
        let _ = std::fs::read(&big); // into the page cache
        Fixture { dir, big, small }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn corio_rt(backend: Backend) -> Option<Runtime> {
    match Builder::new().workers(1).backend(backend).build() {
        Ok(rt) => Some(rt),
        Err(err) => {
            eprintln!("fs bench: {backend:?} unavailable: {err}");
            None
        }
    }
}

/// `iters` random reads split over `depth` tasks on corio's worker 0.
fn corio_reads(rt: &Runtime, path: &Path, direct: bool, depth: usize, iters: u64) -> Duration {
    let path = path.to_owned();
    rt.block_on_local(move || async move {
        let mut options = corio::fs::OpenOptions::new();
        options.read(true);
        if direct {
            options.custom_flags(libc::O_DIRECT);
        }
        let file = Rc::new(options.open(&path).await.expect("open"));
        let start = Instant::now();
        let tasks: Vec<_> = (0..depth as u64)
            .map(|t| {
                let file = file.clone();
                corio::spawn_local(async move {
                    let mut buf = AlignedBuf::new(BLOCK, BLOCK);
                    let mut i = t;
                    while i < iters {
                        let (n, back) = file.read_at(buf, offset(i)).await;
                        assert_eq!(n.expect("read"), BLOCK);
                        buf = back;
                        i += depth as u64;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
}

/// The same reads on tokio: each one `spawn_blocking` of a pread.
fn tokio_reads(
    rt: &tokio::runtime::Runtime,
    path: &Path,
    direct: bool,
    depth: usize,
    iters: u64,
) -> Duration {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let file = Arc::new(options.open(path).expect("open"));
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..depth as u64)
            .map(|t| {
                let file = file.clone();
                tokio::spawn(async move {
                    let mut buf = AlignedBuf::new(BLOCK, BLOCK);
                    let mut i = t;
                    while i < iters {
                        let f = file.clone();
                        let at = offset(i);
                        buf = tokio::task::spawn_blocking(move || {
                            f.read_exact_at(&mut buf, at).expect("read");
                            buf
                        })
                        .await
                        .unwrap();
                        i += depth as u64;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
}

fn corio_writes(rt: &Runtime, path: &Path, iters: u64) -> Duration {
    let path = path.to_owned();
    rt.block_on_local(move || async move {
        let file = corio::fs::File::create(&path).await.expect("create");
        let mut buf = vec![5u8; WRITE];
        let start = Instant::now();
        for i in 0..iters {
            let at = (i % 64) * WRITE as u64;
            let (r, back) = file.write_all_at(buf, at).await;
            r.expect("write");
            buf = back;
        }
        start.elapsed()
    })
}

fn tokio_writes(rt: &tokio::runtime::Runtime, path: &Path, iters: u64) -> Duration {
    let path = path.to_owned();
    rt.block_on(async move {
        let mut file = tokio::fs::File::create(&path).await.expect("create");
        let buf = vec![5u8; WRITE];
        let start = Instant::now();
        for i in 0..iters {
            if i % 64 == 0 {
                tokio::io::AsyncSeekExt::rewind(&mut file).await.unwrap();
            }
            file.write_all(&buf).await.expect("write");
        }
        file.flush().await.unwrap();
        start.elapsed()
    })
}

fn corio_small(rt: &Runtime, files: Arc<Vec<PathBuf>>, iters: u64) -> Duration {
    rt.block_on_local(move || async move {
        let start = Instant::now();
        for i in 0..iters as usize {
            let data = corio::fs::read(&files[i % files.len()])
                .await
                .expect("read");
            assert_eq!(data.len(), BLOCK);
        }
        start.elapsed()
    })
}

fn tokio_small(rt: &tokio::runtime::Runtime, files: Arc<Vec<PathBuf>>, iters: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        for i in 0..iters as usize {
            let data = tokio::fs::read(&files[i % files.len()])
                .await
                .expect("read");
            assert_eq!(data.len(), BLOCK);
        }
        start.elapsed()
    })
}

fn fs_benches(c: &mut Criterion, fixture: &Fixture) {
    let uring = corio_rt(Backend::Uring);
    let epoll = corio_rt(Backend::Epoll);
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(rt) = &uring {
        println!("kernel {}, {}", kernel(), rt.backend());
    }
    let corio: Vec<(&str, &Runtime)> = [("corio-uring", &uring), ("corio-epoll", &epoll)]
        .into_iter()
        .filter_map(|(name, rt)| rt.as_ref().map(|rt| (name, rt)))
        .collect();

    for (case, direct, depth) in [
        ("read4k_qd1_cached", false, 1),
        ("read4k_qd32_cached", false, DEPTH),
        ("read4k_qd1_direct", true, 1),
        ("read4k_qd32_direct", true, DEPTH),
    ] {
        let mut group = c.benchmark_group(case);
        group.throughput(Throughput::Bytes(BLOCK as u64));
        for (name, rt) in &corio {
            let id = format!("{case}/{name}");
            group.bench_function(*name, |b| {
                b.iter_custom(|n| record(&id, n, corio_reads(rt, &fixture.big, direct, depth, n)))
            });
        }
        let id = format!("{case}/tokio");
        group.bench_function("tokio", |b| {
            b.iter_custom(|n| {
                record(
                    &id,
                    n,
                    tokio_reads(&tokio_rt, &fixture.big, direct, depth, n),
                )
            })
        });
        group.finish();
    }

    let out = fixture.dir.join("written");
    let mut group = c.benchmark_group("write1m_seq");
    group.throughput(Throughput::Bytes(WRITE as u64));
    for (name, rt) in &corio {
        let id = format!("write1m_seq/{name}");
        group.bench_function(*name, |b| {
            b.iter_custom(|n| record(&id, n, corio_writes(rt, &out, n)))
        });
    }
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| record("write1m_seq/tokio", n, tokio_writes(&tokio_rt, &out, n)))
    });
    group.finish();

    let files = Arc::new(fixture.small.clone());
    let mut group = c.benchmark_group("small_files");
    group.throughput(Throughput::Elements(1));
    for (name, rt) in &corio {
        let id = format!("small_files/{name}");
        let files = files.clone();
        group.bench_function(*name, |b| {
            b.iter_custom(|n| record(&id, n, corio_small(rt, files.clone(), n)))
        });
    }
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| {
            record(
                "small_files/tokio",
                n,
                tokio_small(&tokio_rt, files.clone(), n),
            )
        })
    });
    group.finish();
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn summary() {
    let samples = SAMPLES.lock().unwrap();
    let cases: Vec<&str> = {
        let mut cases: Vec<&str> = samples.keys().filter_map(|k| k.split('/').next()).collect();
        cases.dedup();
        cases
    };
    println!(
        "\n{:<20} {:>14} {:>14} {:>14} {:>12} {:>12}",
        "case", "corio-uring", "corio-epoll", "tokio", "uring/tokio", "uring/epoll"
    );
    for case in cases {
        let rate = |backend: &str| {
            samples
                .get(&format!("{case}/{backend}"))
                .map(|s| 1.0 / median(s))
        };
        let (unit, scale) = match case {
            "small_files" => ("files/s", 1.0),
            "write1m_seq" => ("MiB/s", WRITE as f64 / (1 << 20) as f64),
            _ => ("MiB/s", BLOCK as f64 / (1 << 20) as f64),
        };
        let show =
            |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{:.0} {unit}", r * scale));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "-".to_owned(),
        };
        let (u, e, t) = (rate("corio-uring"), rate("corio-epoll"), rate("tokio"));
        println!(
            "{case:<20} {:>14} {:>14} {:>14} {:>12} {:>12}",
            show(u),
            show(e),
            show(t),
            ratio(u, t),
            ratio(u, e)
        );
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    let fixture = Fixture::new();
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    fs_benches(&mut criterion, &fixture);
    criterion.final_summary();
    summary();
}
