//! corio's own counters (`corio::metrics`) for the corio rows: the bundled
//! server answers each line on its stdin with one JSON line of its totals,
//! and the parent asks at the start and the end of the measured window.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Set by the parent for a bundled corio server: answer counter queries.
pub(crate) const ENV: &str = "CORIO_AB_COUNTERS";

/// The counters the table shows, summed over the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RingCounters {
    pub(crate) enters: u64,
    pub(crate) sqes: u64,
    pub(crate) cqes: u64,
    pub(crate) eventfd_wakeups: u64,
    pub(crate) parks: u64,
    pub(crate) multishot_arms: u64,
    pub(crate) cq_overflows: u64,
    pub(crate) recv_enobufs: u64,
}

/// How many counters the table shows.
pub(crate) const COUNT: usize = 8;

/// Column labels, in [`RingCounters::values`] order.
pub(crate) const LABELS: [&str; COUNT] = [
    "enters",
    "SQEs",
    "CQEs",
    "eventfd wake-ups",
    "parks",
    "multishot arms",
    "CQ overflows",
    "ENOBUFS",
];

impl RingCounters {
    fn of(metrics: &corio::metrics::RuntimeMetrics) -> RingCounters {
        let total = metrics.total();
        RingCounters {
            enters: total.enters,
            sqes: total.sqes_submitted,
            cqes: total.cqes_reaped,
            eventfd_wakeups: total.eventfd_wakeups,
            parks: total.parks,
            multishot_arms: total.multishot_arms,
            cq_overflows: total.cq_overflows,
            recv_enobufs: total.recv_enobufs,
        }
    }

    /// What happened between `self` and the later `end`.
    pub(crate) fn until(self, end: RingCounters) -> RingCounters {
        RingCounters {
            enters: end.enters.saturating_sub(self.enters),
            sqes: end.sqes.saturating_sub(self.sqes),
            cqes: end.cqes.saturating_sub(self.cqes),
            eventfd_wakeups: end.eventfd_wakeups.saturating_sub(self.eventfd_wakeups),
            parks: end.parks.saturating_sub(self.parks),
            multishot_arms: end.multishot_arms.saturating_sub(self.multishot_arms),
            cq_overflows: end.cq_overflows.saturating_sub(self.cq_overflows),
            recv_enobufs: end.recv_enobufs.saturating_sub(self.recv_enobufs),
        }
    }

    /// The counters in [`LABELS`] order.
    pub(crate) fn values(self) -> [u64; COUNT] {
        [
            self.enters,
            self.sqes,
            self.cqes,
            self.eventfd_wakeups,
            self.parks,
            self.multishot_arms,
            self.cq_overflows,
            self.recv_enobufs,
        ]
    }
}

/// Server side: answers every line on stdin with the runtime's totals, on a
/// thread of its own, until stdin closes.
pub(crate) fn answer_queries(handle: corio::Handle) {
    std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                return;
            }
            let counters = RingCounters::of(&handle.metrics());
            let Ok(json) = serde_json::to_string(&counters) else {
                return;
            };
            if writeln!(out, "{json}").and_then(|()| out.flush()).is_err() {
                return;
            }
        }
    });
}

/// Parent side: the pipes to a server that answers queries.
#[derive(Debug)]
pub(crate) struct Query(Mutex<(ChildStdin, BufReader<ChildStdout>)>);

impl Query {
    pub(crate) fn new(stdin: ChildStdin, stdout: ChildStdout) -> Query {
        Query(Mutex::new((stdin, BufReader::new(stdout))))
    }

    /// The server's counters now; `None` when it does not answer.
    pub(crate) fn read(&self) -> Option<RingCounters> {
        let mut pipes = self.0.lock().ok()?;
        let (stdin, stdout) = &mut *pipes;
        writeln!(stdin, "counters")
            .and_then(|()| stdin.flush())
            .ok()?;
        let mut line = String::new();
        stdout.read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_per_counter() {
        let a = RingCounters {
            enters: 10,
            cqes: 5,
            ..RingCounters::default()
        };
        let b = RingCounters {
            enters: 25,
            cqes: 9,
            parks: 3,
            recv_enobufs: 2,
            ..RingCounters::default()
        };
        assert_eq!(a.until(b).values(), [15, 0, 4, 0, 3, 0, 0, 2]);
        assert_eq!(
            b.until(a).values(),
            [0; COUNT],
            "a restarted server is not negative"
        );
    }

    #[test]
    fn counters_follow_the_backend() {
        for backend in [corio::Backend::Uring, corio::Backend::Epoll] {
            let builder = corio::Builder::new().workers(1);
            let Some(rt) = corio::__private::test_runtime_with(backend, builder) else {
                continue;
            };
            rt.block_on(async {
                let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let client = corio::net::TcpStream::connect(addr);
                let (client, accepted) = tokio::join!(client, listener.accept());
                client.unwrap();
                accepted.unwrap();
            });
            let counters = RingCounters::of(&rt.metrics());
            match backend {
                corio::Backend::Uring => assert!(counters.cqes > 0, "{counters:?}"),
                _ => assert_eq!(counters.cqes, 0, "{counters:?}"),
            }
        }
    }
}
