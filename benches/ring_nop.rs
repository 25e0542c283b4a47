//! Ring round trip: one NOP submitted and completed through a worker's io_uring, and a
//! batch of 64 NOPs submitted together. Measures the driver's own cost per op (push,
//! submit, reap, wake) with no kernel I/O behind it, on a ring entered through its
//! registered fd (the default) and through its plain fd. uring backend only: epoll has no
//! equivalent.

use std::time::{Duration, Instant};

use corio::{Backend, Builder};
use criterion::Criterion;

fn ring_nop(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    group.measurement_time(Duration::from_secs(5));
    // The ring entered through its registered index (the default), then through its fd.
    for (name, registered) in [("uring", true), ("uring_plain_fd", false)] {
        let built = Builder::new()
            .workers(1)
            .backend(Backend::Uring)
            .register_ring_fd(registered)
            .build();
        let rt = match built {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("ring_nop: io_uring unavailable, nothing to measure: {err}");
                return;
            }
        };
        println!("kernel {}, backend {}", kernel(), rt.backend());
        group.bench_function(format!("{name}/nop"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        corio_runtime::nop().await.expect("nop");
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("{name}/nop_batch64"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let batch =
                            futures::future::join_all((0..64).map(|_| corio_runtime::nop()));
                        for result in batch.await {
                            result.expect("nop");
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    ring_nop(&mut criterion);
    criterion.final_summary();
}
