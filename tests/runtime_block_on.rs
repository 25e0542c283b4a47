//! `Runtime::block_on` runs any future on the calling thread, which is a guest of the
//! runtime meanwhile: tokio's and corio's spawn, time and backend queries work there.
//! `Handle` spawns from any thread and `enter` makes a thread a guest; the runtime shuts
//! down without waiting for blocking tasks when asked. Every case runs on both backends,
//! as `uring::<case>` and `epoll::<case>`.

use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use corio::{Backend, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WORKERS: usize = 2;

/// Defines `uring::<case>` and `epoll::<case>` for each `case(Runtime)` listed.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod uring {
            $(#[test] fn $case() { super::run(super::Backend::Uring, super::$case) })*
        }
        mod epoll {
            $(#[test] fn $case() { super::run(super::Backend::Epoll, super::$case) })*
        }
    };
}

on_both_backends!(
    block_on_runs_a_borrowing_future_on_the_calling_thread,
    block_on_runs_a_non_send_future,
    tokio_spawn_inside_block_on_runs_on_worker_0,
    tokio_time_works_inside_block_on,
    spawn_blocking_works_inside_block_on,
    corio_spawn_inside_block_on_spreads_over_workers,
    backend_inside_block_on_is_the_runtimes,
    a_panicking_future_leaves_the_guest_context,
    handle_spawns_from_a_plain_thread,
    enter_makes_tokio_spawn_work,
    nested_enter_guards_restore_in_order,
    shutdown_background_does_not_wait_for_blocking_tasks,
    block_on_inside_a_worker_panics,
    block_on_inside_block_on_panics,
    block_on_tcp_round_trip,
);

/// Runs `case` with a fresh runtime of `backend`; the uring half skips, with a message,
/// where io_uring is unavailable, unless `CORIO_REQUIRE_URING=1`.
fn run(backend: Backend, case: fn(Runtime)) {
    if let Some(rt) = corio::__private::test_runtime(backend, Some(WORKERS)) {
        case(rt);
    }
}

/// True when this thread is a guest of (or a worker in) some corio runtime.
fn in_runtime() -> bool {
    corio_runtime::current_backend().is_some()
}

fn block_on_runs_a_borrowing_future_on_the_calling_thread(rt: Runtime) {
    let words = String::from("borrowed by the future");
    let mut seen = Vec::new();
    let caller = thread::current().id();
    let ran_on = rt.block_on(async {
        tokio::task::yield_now().await;
        seen.extend(words.split(' '));
        thread::current().id()
    });
    assert_eq!(seen, ["borrowed", "by", "the", "future"]);
    assert_eq!(
        ran_on, caller,
        "block_on polls the future on the calling thread"
    );
}

fn block_on_runs_a_non_send_future(rt: Runtime) {
    let value = rt.block_on(async {
        let shared = Rc::new(5);
        tokio::task::yield_now().await;
        *shared + 1
    });
    assert_eq!(value, 6);
}

fn tokio_spawn_inside_block_on_runs_on_worker_0(rt: Runtime) {
    let worker = rt.block_on(async {
        tokio::spawn(async { corio::worker_id() })
            .await
            .expect("the task finishes")
    });
    assert_eq!(worker, 0, "a guest's tokio::spawn lands on worker 0");
}

fn tokio_time_works_inside_block_on(rt: Runtime) {
    let (slept, timed_out) = rt.block_on(async {
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let slept = start.elapsed();
        let never = std::future::pending::<()>();
        let timed_out = tokio::time::timeout(Duration::from_millis(5), never).await;
        (slept, timed_out.is_err())
    });
    assert!(slept >= Duration::from_millis(20), "slept only {slept:?}");
    assert!(timed_out, "the timeout fires");
}

fn spawn_blocking_works_inside_block_on(rt: Runtime) {
    let caller = thread::current().id();
    let ran_on = rt.block_on(async {
        tokio::task::spawn_blocking(|| thread::current().id())
            .await
            .expect("the blocking task finishes")
    });
    assert_ne!(ran_on, caller, "blocking work runs on the blocking pool");
    let from_runtime = rt.block_on(rt.spawn_blocking(|| 3));
    assert_eq!(from_runtime.expect("the blocking task finishes"), 3);
}

fn corio_spawn_inside_block_on_spreads_over_workers(rt: Runtime) {
    let workers: BTreeSet<usize> = rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| corio::spawn(async { corio::worker_id() }))
            .collect();
        let mut workers = BTreeSet::new();
        for task in tasks {
            workers.insert(task.await.expect("the task finishes"));
        }
        workers
    });
    assert_eq!(
        workers,
        (0..WORKERS).collect(),
        "round-robin reaches every worker"
    );
}

fn backend_inside_block_on_is_the_runtimes(rt: Runtime) {
    let expected = rt.backend().kind;
    assert!(!in_runtime(), "a test thread starts outside any runtime");
    let (info, current, home) = rt.block_on(async {
        (
            corio::backend(),
            corio_runtime::current_backend(),
            corio_runtime::home_handle(),
        )
    });
    assert_eq!(info, *rt.backend());
    assert_eq!(current, Some(expected));
    let home = home.expect("a guest has a home worker");
    let home_worker = rt.block_on(async {
        home.spawn(async { corio::worker_id() })
            .await
            .expect("the task finishes")
    });
    assert_eq!(home_worker, 0, "a guest's home is worker 0");
    assert!(
        !in_runtime(),
        "block_on leaves the guest context when it returns"
    );
}

fn a_panicking_future_leaves_the_guest_context(rt: Runtime) {
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { panic!("boom on the guest") })
    }));
    let payload = caught.expect_err("the future's panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom on the guest"));
    assert!(!in_runtime(), "the guest context is left while unwinding");
    assert_eq!(rt.block_on(async { 1 }), 1, "the runtime still runs");
}

fn handle_spawns_from_a_plain_thread(rt: Runtime) {
    let handle = rt.handle().clone();
    let (outside, task) = thread::spawn(move || (in_runtime(), handle.spawn(async { 7 })))
        .join()
        .expect("the spawning thread finishes");
    assert!(!outside, "the spawning thread is no guest");
    assert_eq!(rt.block_on(task).expect("the task finishes"), 7);
}

fn enter_makes_tokio_spawn_work(rt: Runtime) {
    let (task, kind) = {
        let _guard = rt.handle().enter();
        (
            tokio::spawn(async { corio::worker_id() }),
            corio::backend().kind,
        )
    };
    assert_eq!(kind, rt.backend().kind);
    assert!(!in_runtime(), "dropping the guard leaves the context");
    assert_eq!(rt.block_on(task).expect("the task finishes"), 0);
}

fn nested_enter_guards_restore_in_order(rt: Runtime) {
    let outer = rt.enter();
    {
        let _inner = rt.handle().enter();
        assert!(in_runtime());
    }
    assert!(in_runtime(), "the outer guard still holds");
    drop(outer);
    assert!(!in_runtime());
}

fn shutdown_background_does_not_wait_for_blocking_tasks(rt: Runtime) {
    let started = rt.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(());
            thread::sleep(Duration::from_secs(5));
        });
        rx.await.is_ok()
    });
    assert!(started, "the blocking task runs");
    let start = Instant::now();
    rt.shutdown_background();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "shutdown_background waited {took:?} for a blocking task"
    );
}

fn block_on_inside_a_worker_panics(rt: Runtime) {
    let rt = Arc::new(rt);
    let inner = rt.clone();
    let task = rt.spawn(async move { inner.block_on(async {}) });
    let err = rt
        .block_on(task)
        .expect_err("block_on on a worker must panic");
    assert!(err.is_panic(), "{err}");
    let message = panic_message(err.into_panic());
    assert!(
        message.contains("Cannot start a corio runtime from within a runtime"),
        "{message}"
    );
}

fn block_on_inside_block_on_panics(rt: Runtime) {
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async {}) })
    }));
    let message = panic_message(caught.expect_err("a nested block_on must panic"));
    assert!(
        message.contains("Cannot start a corio runtime from within a runtime"),
        "{message}"
    );
    assert!(!in_runtime());
}

fn block_on_tcp_round_trip(rt: Runtime) {
    let (from_client, from_server) = rt.block_on(async {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        let mut client = corio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        client.write_all(b"ping").await.expect("client write");
        let mut from_client = [0u8; 4];
        server
            .read_exact(&mut from_client)
            .await
            .expect("server read");
        server.write_all(b"pong!").await.expect("server write");
        let mut from_server = [0u8; 5];
        client
            .read_exact(&mut from_server)
            .await
            .expect("client read");
        (from_client, from_server)
    });
    assert_eq!(&from_client, b"ping");
    assert_eq!(&from_server, b"pong!");
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "<non-string panic>".to_owned(), |s| (*s).to_owned()),
    }
}
