//! `corio::metrics` on both backends: the ring counters move with the I/O a worker does
//! (and stay zero on epoll), connections are counted on their home worker until they
//! drop, and spawns from other threads are counted where they land.

mod support;

use std::time::Duration;

use corio::metrics::{snapshot, WorkerMetrics};
use corio::BackendKind;
use support::net::tcp_pair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn this_worker() -> WorkerMetrics {
    snapshot().workers[corio::worker_id()]
}

#[corio::test(backend = "both", workers = 1)]
async fn ring_counters_follow_the_io() {
    let before = this_worker();
    let (mut a, mut b) = tcp_pair().await;
    let mut buf = [0u8; 64];
    for round in 0..50u8 {
        a.write_all(&[round; 64]).await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [round; 64]);
    }
    // Let the driver turn once more so the in-flight gauge is current.
    tokio::task::yield_now().await;
    let after = this_worker();
    let uring = corio::backend().kind == BackendKind::Uring;
    let moved = |f: fn(&WorkerMetrics) -> u64| f(&after) - f(&before);
    if uring {
        assert!(moved(|m| m.enters) > 0, "{before:?} -> {after:?}");
        assert!(moved(|m| m.sqes_submitted) > 0, "{after:?}");
        assert!(moved(|m| m.cqes_reaped) > 0, "{after:?}");
        assert!(
            moved(|m| m.multishot_arms) >= 1,
            "a read armed a multishot poll"
        );
        assert!(after.ops_in_flight >= 1, "the armed read poll is in flight");
        assert!(
            moved(|m| m.cqes_reaped) <= moved(|m| m.sqes_submitted) + 2 * 50,
            "at most one poll CQE per round beyond the SQEs' own: {after:?}"
        );
    } else {
        assert_eq!(
            (
                after.enters,
                after.sqes_submitted,
                after.cqes_reaped,
                after.multishot_arms
            ),
            (0, 0, 0, 0),
            "epoll has no ring"
        );
    }
    assert_eq!(after.cq_dropped, 0);
    assert!(after.alive_tasks >= 1, "the test's own task");
}

#[corio::test(backend = "both", workers = 1)]
async fn a_completion_while_parked_wakes_through_the_eventfd() {
    let (mut a, b) = tcp_pair().await;
    let before = this_worker();
    // Another thread writes while the worker is parked waiting for the read.
    let b = b.into_std().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        std::io::Write::write_all(&mut &b, b"wake").unwrap();
        b
    });
    let mut buf = [0u8; 4];
    a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"wake");
    let after = this_worker();
    assert!(
        after.parks > before.parks,
        "the worker parked while it waited"
    );
    let wakeups = after.eventfd_wakeups - before.eventfd_wakeups;
    match corio::backend().kind {
        BackendKind::Uring => assert!(wakeups >= 1, "{before:?} -> {after:?}"),
        BackendKind::Epoll => assert_eq!(wakeups, 0),
    }
    drop(writer.join().unwrap());
}

#[corio::test(backend = "both", workers = 2)]
async fn connections_are_counted_on_their_home_worker_until_dropped() {
    let home = corio::worker_id();
    let base = snapshot().workers[home].connections;
    let (a, b) = tcp_pair().await;
    assert_eq!(snapshot().workers[home].connections, base + 2);
    // A stream dropped on another worker still leaves its home worker's count.
    let other = 1 - home;
    corio::spawn_on(other, async move { drop(a) })
        .await
        .unwrap();
    assert_eq!(snapshot().workers[home].connections, base + 1);
    drop(b);
    assert_eq!(snapshot().workers[home].connections, base);
}

#[test]
fn spawns_from_other_threads_are_counted_where_they_land() {
    for backend in [corio::Backend::Uring, corio::Backend::Epoll] {
        let builder = corio::Builder::new().workers(2);
        let Some(rt) = corio::__private::test_runtime_with(backend, builder) else {
            continue;
        };
        let before = rt.metrics();
        for _ in 0..10 {
            rt.block_on(rt.handle().spawn(async {})).unwrap();
        }
        let after = rt.metrics();
        let landed: u64 = (0..2)
            .map(|w| after.workers[w].remote_spawns - before.workers[w].remote_spawns)
            .sum();
        assert_eq!(landed, 10, "{backend:?}: {after:?}");
        assert_eq!(
            after.total().remote_spawns,
            before.total().remote_spawns + 10
        );
        // A worker spawning onto itself is not remote.
        let own = rt.block_on(async {
            let on_worker = corio::spawn_on(0, async {
                let before = snapshot().workers[0].remote_spawns;
                corio::spawn_on(0, async {}).await.unwrap();
                snapshot().workers[0].remote_spawns - before
            });
            on_worker.await.unwrap()
        });
        assert_eq!(own, 0, "{backend:?}");
    }
}

#[corio::test(backend = "both", workers = 2)]
async fn spawn_avoids_the_worker_holding_more_tasks() {
    let (release, released) = tokio::sync::watch::channel(false);
    let wait = |mut released: tokio::sync::watch::Receiver<bool>| async move {
        let _ = released.wait_for(|&go| go).await;
        corio::worker_id()
    };
    let held: Vec<_> = (0..100)
        .map(|_| corio::spawn_on(1, wait(released.clone())))
        .collect();
    // Worker 1 now holds 100 more live tasks than worker 0.
    let placed: Vec<_> = (0..10)
        .map(|_| corio::spawn(wait(released.clone())))
        .collect();
    assert!(snapshot().workers[1].alive_tasks >= 100);
    release.send(true).unwrap();
    for task in held {
        assert_eq!(task.await.unwrap(), 1);
    }
    for task in placed {
        assert_eq!(task.await.unwrap(), 0, "placed on the busier worker");
    }
}

#[corio::test(backend = "both", workers = 1)]
async fn a_worker_that_never_parks_still_completes_io() {
    let (mut a, b) = tcp_pair().await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinning = done.clone();
    // Always runnable: the worker never parks while it spins, so completions must
    // reach the reader without the park hook.
    let spinner = tokio::spawn(async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !spinning.load(std::sync::atomic::Ordering::Relaxed) {
            assert!(
                std::time::Instant::now() < deadline,
                "the reads never completed"
            );
            tokio::task::yield_now().await;
        }
    });
    let b = b.into_std().unwrap();
    let writer = std::thread::spawn(move || {
        for round in 0..100u8 {
            std::thread::sleep(Duration::from_micros(200));
            std::io::Write::write_all(&mut &b, &[round]).unwrap();
        }
        b
    });
    let parks = this_worker().parks;
    for round in 0..100u8 {
        let mut byte = [0u8];
        a.read_exact(&mut byte).await.unwrap();
        assert_eq!(byte[0], round);
    }
    assert_eq!(
        this_worker().parks,
        parks,
        "the spinner kept the worker awake"
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.await.unwrap();
    drop(writer.join().unwrap());
}
