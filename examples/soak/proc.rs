//! What the soak reads about its own process: open fds and resident memory.

use std::time::Duration;

/// Open fds and resident set size at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) fds: usize,
    pub(crate) rss: u64,
    /// io_uring ops in flight on all workers (0 on epoll).
    pub(crate) ops: usize,
}

/// Open file descriptors of this process.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// `VmRSS` of this process, in bytes.
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Waits until the fd count holds still (the server has closed the connections the
/// clients dropped), at most 10 s, then samples.
pub(crate) async fn settle() -> Sample {
    let mut last = open_fds();
    let mut still = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = open_fds();
        still = if now == last { still + 1 } else { 0 };
        last = now;
        if still == 5 {
            break;
        }
    }
    Sample {
        fds: last,
        rss: rss_bytes(),
        ops: ring_ops().await,
    }
}

/// Ring ops in flight, summed over the workers.
async fn ring_ops() -> usize {
    let mut ops = 0;
    for worker in 0..corio::workers() {
        let count = corio::spawn_on(worker, async { corio::metrics::ring_ops_in_flight() });
        ops += count.await.ok().flatten().unwrap_or(0);
    }
    ops
}
