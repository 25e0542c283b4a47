//! Helpers for the `net_*` tests: deterministic payloads, checksums, connected pairs, an
//! echo server, IPv6 detection and unique Unix socket paths.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use corio::net::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// `len` pseudo-random bytes, the same for the same `seed`.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// FNV-1a of `data`.
pub(crate) fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A connected (client, server) pair over 127.0.0.1.
pub(crate) async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.expect("connect"), accepted.expect("accept").0)
}

/// Accepts one connection and echoes it until EOF, then shuts down its write side.
pub(crate) fn echo_once(listener: TcpListener) -> JoinHandle<u64> {
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 32 * 1024];
        let mut total = 0u64;
        loop {
            let n = stream.read(&mut buf).await.expect("echo read");
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await.expect("echo write");
            total += n as u64;
        }
        stream.shutdown().await.expect("echo shutdown");
        total
    })
}

/// True when the machine can bind `[::1]`.
pub(crate) fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// A fresh path for a Unix socket; removed first if it exists.
pub(crate) fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("corio-{}-{n}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// The socket inode behind `fd` (`socket:[N]`), or `None` once the fd is closed.
pub(crate) fn fd_target(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|target| target.to_string_lossy().into_owned())
}
