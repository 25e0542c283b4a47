//! `#[corio::test]` expansions run for real: each form here must build and pass on both
//! backends (the uring halves skip, with a message, where `io_uring` is unavailable).

use std::sync::atomic::{AtomicUsize, Ordering};

#[corio::test]
async fn auto_backend() {
    assert_eq!(std::future::ready(1).await, 1);
}

#[corio::test(backend = "epoll")]
async fn epoll_only() {}

#[corio::test(backend = "both")]
async fn both() {
    // Runs as `uring_both` and `epoll_both`.
    std::future::ready(()).await;
}

#[corio::test(backend = "both", workers = 2)]
async fn both_with_result() -> Result<(), String> {
    let n: u8 = "3".parse().map_err(|e| format!("{e}"))?;
    assert_eq!(n, 3);
    Ok(())
}

#[corio::test(backend = "both")]
#[should_panic(expected = "boom")]
async fn both_should_panic() {
    panic!("boom");
}

static NOT_SEND_RUNS: AtomicUsize = AtomicUsize::new(0);

#[corio::test(backend = "epoll")]
async fn body_may_hold_non_send_values() {
    let local = std::rc::Rc::new(1);
    std::future::ready(()).await;
    NOT_SEND_RUNS.fetch_add(*local, Ordering::SeqCst);
    assert!(NOT_SEND_RUNS.load(Ordering::SeqCst) >= 1);
}

#[corio::test(backend = "epoll")]
async fn error_type_need_not_be_send() -> Result<(), Box<dyn std::error::Error>> {
    let n: i32 = "-1".parse()?;
    assert_eq!(n, -1);
    Ok(())
}
