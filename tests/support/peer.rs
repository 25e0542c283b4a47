//! Helpers for the `cancel_storm` and `shutdown` tests: a corio stream whose peer is a
//! plain std socket (so the peer lives on its own thread, outside the runtime under
//! test), a byte stream of u64 counters that shows any lost, duplicated or reordered byte,
//! and a runner that checks a test leaves no fd and no ring op behind.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use corio::net::{TcpSocket, TcpStream};
use corio::Backend;

/// Serializes the tests of one binary: fd counts are process-wide.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `body` on worker 0 of a runtime of `backend` with `workers` workers, one test at
/// a time, and checks what it leaves: worker 0's ring back to the ops it had before
/// `body` (within `limit`, like `body` itself), and, once the runtime is dropped, as many
/// open fds as before it was built. Returns false when the uring half is skipped (no
/// io_uring here).
pub(crate) fn run_checked<F, Fut>(
    backend: Backend,
    workers: usize,
    limit: Duration,
    body: F,
) -> bool
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let _serial = serial();
    let fds = baseline_fds(backend);
    let Some(rt) = corio::__private::test_runtime(backend, Some(workers)) else {
        return false;
    };
    rt.block_on_local(move || async move {
        let idle = corio::metrics::ring_ops_in_flight();
        tokio::time::timeout(limit, body())
            .await
            .unwrap_or_else(|_| panic!("{backend:?}: the test did not finish within {limit:?}"));
        settle(limit, "the ring to drain", || {
            corio::metrics::ring_ops_in_flight() <= idle
        })
        .await;
        assert_eq!(corio::metrics::ring_ops_in_flight(), idle, "{backend:?}");
    });
    drop(rt);
    assert_eq!(super::open_fds(), fds, "{backend:?}: an fd leaked");
    true
}

/// The process's open fds before a runtime of `backend` starts, once a first runtime has
/// made what the process keeps for good (tokio's signal pipe is opened by the first
/// runtime and never closed).
pub(crate) fn baseline_fds(backend: Backend) -> usize {
    drop(corio::__private::test_runtime(backend, Some(1)));
    super::open_fds()
}

/// Waits (sleeping 2 ms at a time) until `done`, failing after `limit`: a hang detector,
/// not a measure of speed.
pub(crate) async fn settle(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A corio stream connected to a blocking std stream over 127.0.0.1, with the corio
/// side's send buffer set to `send_buffer` bytes when given (so its writes block soon).
pub(crate) async fn std_pair(send_buffer: Option<u32>) -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size).expect("SO_SNDBUF");
    }
    let ours = socket.connect(addr).await.expect("connect");
    // The handshake is done: the connection waits in the backlog, so this returns at once.
    let (theirs, _) = listener.accept().expect("accept");
    (ours, theirs)
}

/// Byte `offset` of the counter stream: u64 counters 0, 1, 2... in little-endian order.
pub(crate) fn counter_byte(offset: u64) -> u8 {
    (offset / 8).to_le_bytes()[(offset % 8) as usize]
}

/// Writes the first `total` bytes of the counter stream to `peer` in chunks of 1 to 97
/// bytes, pausing now and then so that the reader sometimes finds nothing to read, then
/// closes its write side.
pub(crate) fn send_counters(mut peer: std::net::TcpStream, total: u64) {
    let mut offset = 0;
    let mut chunk = Vec::with_capacity(97);
    for i in 0u64.. {
        if offset == total {
            break;
        }
        let len = (1 + (i * 31) % 97).min(total - offset);
        chunk.clear();
        chunk.extend((offset..offset + len).map(counter_byte));
        peer.write_all(&chunk).expect("peer write");
        offset += len;
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    peer.shutdown(Shutdown::Write).expect("peer shutdown");
}

/// Asserts that `got` is exactly the first `total` bytes of the counter stream.
pub(crate) fn check_counters(got: &[u8], total: u64) {
    if let Some(at) = (0..got.len()).find(|&i| got[i] != counter_byte(i as u64)) {
        panic!(
            "byte {at} of the stream is {:#04x}, expected {:#04x} (counter {}): a byte was \
             lost, duplicated or reordered",
            got[at],
            counter_byte(at as u64),
            at / 8
        );
    }
    assert_eq!(got.len() as u64, total, "every byte arrives");
}

/// Reads `peer` until EOF, pausing every 16 reads so that its sender's writes block;
/// returns what it read.
pub(crate) fn read_slowly(mut peer: std::net::TcpStream) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    for i in 0u64.. {
        let n = peer.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    Ok(got)
}

/// Connects to `addr` with a blocking std stream whose reads give up after `timeout`.
pub(crate) fn std_connect(addr: SocketAddr, timeout: Duration) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(timeout)).expect("SO_RCVTIMEO");
    stream
}
