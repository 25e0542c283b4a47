//! Waking a task on another thread: `IORING_OP_MSG_RING` between two rings against
//! tokio's remote wake, one round trip (there and back) per iteration. Decides how
//! `corio::spawn` wakes another worker (issue 9).
//!
//! - `tokio_remote_wake`: two threads, each a tokio current_thread runtime with I/O
//!   enabled (as a corio worker hosts one); a task on each wakes the other's through a
//!   `Notify` (tokio pushes it on the other runtime's queue and writes its eventfd).
//! - `msg_ring/ring_parked`: two rings set up as a worker's; each thread sends with a
//!   `MSG_RING` SQE and waits in `io_uring_enter` for the other's CQE (the best case: a
//!   worker that parked in its ring).
//! - `msg_ring/epoll_parked`: the same, each thread waiting in `epoll_wait` on its ring's
//!   eventfd, as a corio worker parks inside tokio's reactor, then entering the ring once.
//! - `corio_spawn_on_other_worker`: the runtime's own path today, `corio::spawn_on` to the
//!   other of two workers, awaited (a spawn and two remote wakes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::{Backend, Builder};
use corio_runtime::__private::{msg_ring_round_trips, MsgPark};
use criterion::Criterion;
use tokio::sync::Notify;

fn cross_wake(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_wake");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("tokio_remote_wake", |b| b.iter_custom(tokio_round_trips));
    for (name, park) in [
        ("ring_parked", MsgPark::Ring),
        ("epoll_parked", MsgPark::Epoll),
    ] {
        if let Err(err) = msg_ring_round_trips(1, park) {
            eprintln!("cross_wake: MSG_RING unavailable, skipping msg_ring/{name}: {err}");
            continue;
        }
        group.bench_function(format!("msg_ring/{name}"), |b| {
            b.iter_custom(|rounds| msg_ring_round_trips(rounds, park).expect("MSG_RING"))
        });
    }
    match Builder::new().workers(2).backend(Backend::Uring).build() {
        Err(err) => eprintln!("cross_wake: io_uring unavailable, skipping corio: {err}"),
        Ok(rt) => {
            group.bench_function("corio_spawn_on_other_worker", |b| {
                b.iter_custom(|rounds| {
                    rt.block_on_local(move || async move {
                        let other = 1 - corio::worker_id();
                        let start = Instant::now();
                        for i in 0..rounds {
                            corio::spawn_on(other, async move { i })
                                .await
                                .expect("join");
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    group.finish();
}

/// `rounds` round trips between tasks on two current_thread runtimes, each woken from
/// the other's thread.
fn tokio_round_trips(rounds: u64) -> Duration {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    };
    let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (echo_ping, echo_pong) = (ping.clone(), pong.clone());
    let echo = std::thread::spawn(move || {
        runtime().block_on(async move {
            let task = tokio::spawn(async move {
                for _ in 0..rounds {
                    echo_ping.notified().await;
                    echo_pong.notify_one();
                }
            });
            task.await.expect("echo task");
        });
    });
    let elapsed = runtime().block_on(async move {
        let task = tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..rounds {
                ping.notify_one();
                pong.notified().await;
            }
            start.elapsed()
        });
        task.await.expect("ping task")
    });
    echo.join().expect("echo thread");
    elapsed
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    cross_wake(&mut criterion);
    criterion.final_summary();
}
