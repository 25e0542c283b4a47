//! Tasks inside corio workers: tokio's spawn, time, sync and Handle work; corio's spawn
//! functions place tasks where they say; workers are pinned.

mod support;

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::{Backend, Builder};

#[corio::test(backend = "both", workers = 2)]
async fn tokio_apis_work_inside_workers() {
    let worker = corio::worker_id();
    let handle = tokio::runtime::Handle::current();
    let stays = tokio::spawn(async { corio::worker_id() }).await.unwrap();
    assert_eq!(stays, worker, "tokio::spawn stays on its worker");
    let via_handle = handle.spawn(async { 7 }).await.unwrap();
    assert_eq!(via_handle, 7);

    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(start.elapsed() >= Duration::from_millis(30));
    let timed_out =
        tokio::time::timeout(Duration::from_millis(10), std::future::pending::<()>()).await;
    assert!(timed_out.is_err());

    let (tx, rx) = tokio::sync::oneshot::channel();
    let mutex = std::sync::Arc::new(tokio::sync::Mutex::new(0));
    let m2 = mutex.clone();
    tokio::spawn(async move {
        *m2.lock().await += 1;
        tx.send("done").unwrap();
    });
    assert_eq!(rx.await.unwrap(), "done");
    assert_eq!(*mutex.lock().await, 1);

    let local = tokio::task::spawn_local(async { Rc::new(5) })
        .await
        .unwrap();
    assert_eq!(*local, 5, "tokio::task::spawn_local works in the main task");
    drop(local);
}

#[corio::test(backend = "both", workers = 2)]
async fn corio_spawn_spreads_over_every_worker() {
    // Tasks that stay alive until released: each worker's live task count grows with
    // what it was given, so placement by task count keeps the split even.
    let (release, released) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for _ in 0..1000 {
        let mut released = released.clone();
        handles.push(corio::spawn(async move {
            let _ = released.wait_for(|&go| go).await;
            corio::worker_id()
        }));
    }
    release.send(true).unwrap();
    let mut per_worker: HashMap<usize, usize> = HashMap::new();
    for handle in handles {
        *per_worker.entry(handle.await.unwrap()).or_default() += 1;
    }
    assert_eq!(per_worker.len(), corio::workers(), "{per_worker:?}");
    for (worker, count) in &per_worker {
        assert!(
            *count >= 400,
            "worker {worker} got only {count} of 1000: {per_worker:?}"
        );
    }
}

#[corio::test(backend = "both", workers = 2)]
async fn spawn_on_runs_on_the_named_worker() {
    for target in 0..corio::workers() {
        let ran_on = corio::spawn_on(target, async { corio::worker_id() })
            .await
            .unwrap();
        assert_eq!(ran_on, target);
    }
}

#[corio::test(backend = "both")]
async fn spawn_local_runs_a_non_send_future() {
    let worker = corio::worker_id();
    let from_tokio_task = tokio::spawn(async move {
        corio::spawn_local(async move {
            let not_send = Rc::new(std::cell::Cell::new(40));
            tokio::task::yield_now().await;
            not_send.set(not_send.get() + 1);
            (not_send.get(), corio::worker_id())
        })
        .await
        .unwrap()
    });
    assert_eq!(from_tokio_task.await.unwrap(), (41, worker));
}

#[test]
fn block_on_sharded_runs_once_per_worker() {
    for backend in [Backend::Uring, Backend::Epoll] {
        let Some(rt) = corio::__private::test_runtime(backend, Some(2)) else {
            continue;
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        rt.block_on_sharded(move || {
            let seen = s2.clone();
            async move {
                seen.lock().unwrap().push(corio::worker_id());
                Ok::<(), std::io::Error>(())
            }
        })
        .unwrap();
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1], "{backend:?}");

        let err = rt
            .block_on_sharded(|| async {
                if corio::worker_id() == 1 {
                    Err(format!("shard {} failed", corio::worker_id()))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(err, "shard 1 failed", "{backend:?}");
    }
}

#[test]
fn workers_are_pinned_to_distinct_cpus() {
    let cpus = support::thread_cpus();
    for backend in [Backend::Uring, Backend::Epoll] {
        let Some(rt) = corio::__private::test_runtime(backend, Some(cpus.len())) else {
            continue;
        };
        let pinned = rt.block_on_local(|| async {
            let mut pinned = Vec::new();
            for worker in 0..corio::workers() {
                pinned.push(
                    corio::spawn_on(worker, async { support::thread_cpus() })
                        .await
                        .unwrap(),
                );
            }
            pinned
        });
        for (worker, set) in pinned.iter().enumerate() {
            assert_eq!(set, &vec![cpus[worker]], "{backend:?} worker {worker}");
        }
    }
}

#[test]
fn unpinned_workers_keep_the_process_mask() {
    let cpus = support::thread_cpus();
    let rt = Builder::new()
        .workers(1)
        .pin_workers(false)
        .backend(Backend::Epoll)
        .build()
        .unwrap();
    let set = rt.block_on_local(|| async { support::thread_cpus() });
    assert_eq!(set, cpus);
}

#[test]
fn a_panicking_main_future_panics_the_caller() {
    let rt = Builder::new()
        .workers(1)
        .backend(Backend::Epoll)
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { panic!("boom in worker") })
    }));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in worker"));
    assert_eq!(rt.block_on(async { 3 }), 3, "the runtime survives");
}

#[corio::test(backend = "both")]
async fn io_completes_while_another_task_spins_on_yield_now() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let io = tokio::spawn(async move {
        let mut client = corio::net::TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"x").await.unwrap();
        let mut byte = [0u8; 1];
        server.read_exact(&mut byte).await.unwrap();
        flag.store(true, Ordering::Release);
    });
    // This task never lets the worker park: the ring must still be driven.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "I/O starved by a yielding task");
        tokio::task::yield_now().await;
    }
    io.await.unwrap();
}

#[test]
fn shutdown_timeout_does_not_wait_for_blocking_tasks() {
    for backend in [Backend::Uring, Backend::Epoll] {
        let Some(rt) = corio::__private::test_runtime(backend, Some(2)) else {
            continue;
        };
        let started = rt.block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            corio::spawn_blocking(move || {
                tx.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(30));
            });
            rx.await.is_ok()
        });
        assert!(started, "{backend:?}: the blocking task runs");
        let start = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(100));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{backend:?}: shutdown waited {:?} for a blocking task",
            start.elapsed()
        );
    }
}
