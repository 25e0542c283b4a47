//! Ten thousand recv ops dropped while in flight: no buffer is freed before its CQE, no
//! fd leaks, and the ring keeps serving. Driven through the native `Socket` API, so it
//! runs on the uring backend only; tests/op_drop_in_flight.rs covers both backends
//! through `corio::net`.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio_runtime::buf::{IoBuf, IoBufMut};
use corio_runtime::{ring_ops_in_flight, Backend, Socket};

const SOCKETS: usize = 100;
const OPS_PER_SOCKET: usize = 100;

/// A heap buffer that counts live instances, so the test sees when the runtime frees it.
struct Canary {
    bytes: Vec<u8>,
    live: Arc<AtomicUsize>,
}

impl Canary {
    fn new(live: &Arc<AtomicUsize>) -> Canary {
        live.fetch_add(1, Ordering::SeqCst);
        Canary {
            bytes: Vec::with_capacity(64),
            live: live.clone(),
        }
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

// SAFETY: delegates to the inner Vec, whose heap memory does not move with the Canary.
unsafe impl IoBuf for Canary {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.bytes_total()
    }
}

// SAFETY: delegates to the inner Vec.
unsafe impl IoBufMut for Canary {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, len: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.bytes.set_init(len) }
    }
}

/// Serializes the tests of this file: fd counts are process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn dropped_in_flight_recvs_keep_buffers_until_their_cqes() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(rt) = corio_runtime::__private::test_runtime(Backend::Uring, Some(1)) else {
        return;
    };
    let baseline_fds = open_fds();
    rt.block_on_local(move || async move {
        let live = Arc::new(AtomicUsize::new(0));
        let mut peers = Vec::new();
        let mut ops = Vec::new();
        for _ in 0..SOCKETS {
            let (ours, theirs) = UnixStream::pair().unwrap();
            let socket = Socket::from_owned(OwnedFd::from(ours));
            for _ in 0..OPS_PER_SOCKET {
                ops.push(socket.recv(Canary::new(&live)).map_err(|(e, _)| e).unwrap());
            }
            peers.push(theirs);
        }
        let total = SOCKETS * OPS_PER_SOCKET;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(ring_ops_in_flight(), Some(total), "every recv is in flight");

        drop(ops);
        assert_eq!(
            live.load(Ordering::SeqCst),
            total,
            "no buffer may be freed when its future drops: the kernel still owns it"
        );
        wait_until("every cancelled recv's CQE", || {
            ring_ops_in_flight() == Some(0)
        })
        .await;
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "each buffer freed after its CQE"
        );

        // The ring keeps serving.
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let socket = Socket::from_owned(OwnedFd::from(ours));
        theirs.write_all(b"still here").unwrap();
        let (n, buf) = socket
            .recv(Vec::with_capacity(32))
            .map_err(|(e, _)| e)
            .unwrap()
            .await;
        assert_eq!(&buf[..n.unwrap()], b"still here");
        drop(peers);
    });
    assert_eq!(open_fds(), baseline_fds, "no fd leaked");
}

#[test]
fn more_ops_than_sq_entries_all_complete() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let builder = corio_runtime::Builder::new().workers(1).ring_entries(8);
    let Some(rt) = corio_runtime::__private::test_runtime_with(Backend::Uring, builder) else {
        return;
    };
    let results = rt.block_on_local(|| async {
        futures::future::join_all((0..64).map(|_| corio_runtime::nop())).await
    });
    assert_eq!(results.len(), 64);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}
