//! Spawn cost on a corio worker, per backend: `tokio::spawn` (stays local),
//! `corio::spawn_local`, and `corio::spawn` to another worker (round-robin over two
//! workers, so half the spawns cross threads), each awaited.

use std::time::{Duration, Instant};

use corio::{Backend, Builder};
use criterion::Criterion;

fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group.measurement_time(Duration::from_secs(3));
    for (name, backend) in [("uring", Backend::Uring), ("epoll", Backend::Epoll)] {
        let rt = match Builder::new().workers(2).backend(backend).build() {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("spawn: skipping {name}: {err}");
                continue;
            }
        };
        println!("backend {}", rt.backend());
        group.bench_function(format!("{name}/tokio_spawn"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        tokio::spawn(async move { i }).await.expect("join");
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("{name}/spawn_local"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        corio::spawn_local(async move { i }).await.expect("join");
                    }
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("{name}/corio_spawn"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || async move {
                    let start = Instant::now();
                    for i in 0..iters {
                        corio::spawn(async move { i }).await.expect("join");
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    spawn(&mut criterion);
    criterion.final_summary();
}
