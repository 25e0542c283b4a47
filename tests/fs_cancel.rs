//! Buffer ownership of `corio::fs` when a `read_at` future is dropped in flight, on both
//! backends: a counting canary buffer must stay alive until the kernel (uring: the
//! cancelled read's CQE) or the blocking read (epoll: once data arrives) lets go of it.

#[path = "fs_support/mod.rs"]
mod fs_support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use corio::buf::{IoBuf, IoBufMut};
use corio::fs::OpenOptions;
use fs_support::TempDir;

/// A heap buffer that counts its drops.
struct Canary {
    bytes: Vec<u8>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: delegates to the inner Vec, whose heap allocation does not move with `Canary`.
unsafe impl IoBuf for Canary {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.capacity()
    }
}

// SAFETY: as for `IoBuf`; the Vec's spare capacity is writable.
unsafe impl IoBufMut for Canary {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, len: usize) {
        // SAFETY: forwarded: the first `len <= capacity` bytes are initialized.
        unsafe { self.bytes.set_len(len.max(self.bytes.len())) };
    }
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

use std::pin::Pin;

#[corio::test(backend = "both")]
async fn a_dropped_read_at_frees_its_buffer_only_after_the_kernel() {
    let uring = corio::backend().kind == corio::BackendKind::Uring;
    let dir = TempDir::new("cancel");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .await
        .unwrap();

    let dropped = Arc::new(AtomicUsize::new(0));
    let canary = Canary {
        bytes: Vec::with_capacity(64),
        dropped: dropped.clone(),
    };
    let mut read = Box::pin(file.read_at(canary, 0));
    assert!(poll_once(&mut read).is_pending(), "the FIFO is empty");
    // Let the SQE reach the kernel (or the blocking read start) and wait there.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(poll_once(&mut read).is_pending());
    let in_flight = corio::metrics::ring_ops_in_flight().unwrap_or(0);
    drop(read);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "freed before the kernel let go"
    );
    if uring {
        assert!(in_flight >= 1, "the read is an op on the ring");
        // The cancel's CQE is reaped on the next turn of the ring; then it is freed.
        wait_for("the cancelled read's CQE", || {
            dropped.load(Ordering::SeqCst) == 1
        })
        .await;
    } else {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            0,
            "the blocking read still holds it"
        );
        let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        std::io::Write::write_all(&mut writer, b"x").unwrap();
        wait_for("the blocking read to return", || {
            dropped.load(Ordering::SeqCst) == 1
        })
        .await;
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "freed exactly once");
}
