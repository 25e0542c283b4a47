//! Counting what happened, and the verdict.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::proc::Sample;

/// RSS may grow by this much, or by a quarter of the start, whichever is more: the
/// allocator keeps some freed memory, but a leak of one buffer per request over a soak
/// of millions of requests does not fit in it.
const RSS_SLACK: u64 = 16 << 20;

/// Events (expected outcomes, including the faults the clients inject) and errors
/// (anything else), by kind.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    events: Mutex<BTreeMap<String, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    /// Counts one expected outcome.
    pub(crate) fn event(&self, kind: &str) {
        self.add(&self.events, kind, 1);
    }

    /// Counts `n` of an expected outcome.
    pub(crate) fn events(&self, kind: &str, n: u64) {
        self.add(&self.events, kind, n);
    }

    /// Counts one unexpected error.
    pub(crate) fn error(&self, kind: &str) {
        self.add(&self.errors, kind, 1);
    }

    fn add(&self, map: &Mutex<BTreeMap<String, u64>>, kind: &str, n: u64) {
        let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(kind.to_owned()).or_default() += n;
    }

    fn take(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
        std::mem::take(&mut *map.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// What one backend's soak saw.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) served: u64,
    pub(crate) server: String,
    pub(crate) events: BTreeMap<String, u64>,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) start: Sample,
    pub(crate) end: Sample,
}

impl Report {
    /// Builds the report, taking the tally's counts.
    pub(crate) fn new(
        tally: &Tally,
        served: u64,
        server: String,
        start: Sample,
        end: Sample,
    ) -> Report {
        Report {
            served,
            server,
            events: Tally::take(&tally.events),
            errors: Tally::take(&tally.errors),
            start,
            end,
        }
    }

    fn rss_allowed(&self) -> u64 {
        self.start.rss + RSS_SLACK.max(self.start.rss / 4)
    }

    /// No unexpected error, and neither fds nor RSS grew.
    pub(crate) fn passed(&self) -> bool {
        self.errors.is_empty()
            && self.end.fds <= self.start.fds
            && self.end.rss <= self.rss_allowed()
    }

    /// The report as printed: one block per backend.
    pub(crate) fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        let _ = writeln!(out, "== {backend}");
        let _ = writeln!(out, "  requests served   {}", self.served);
        let _ = writeln!(out, "  server            {}", self.server);
        for (kind, n) in &self.events {
            let _ = writeln!(out, "  ok    {kind:<24} {n}");
        }
        for (kind, n) in &self.errors {
            let _ = writeln!(out, "  ERROR {kind:<24} {n}");
        }
        let _ = writeln!(
            out,
            "  fds               {} -> {}{}",
            self.start.fds,
            self.end.fds,
            if self.end.fds > self.start.fds {
                "  GREW"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "  ring ops in flight {} -> {}{}",
            self.start.ops,
            self.end.ops,
            if self.end.ops > self.start.ops {
                "  GREW"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "  rss               {:.1} MiB -> {:.1} MiB (allowed {:.1}){}",
            mib(self.start.rss),
            mib(self.end.rss),
            mib(self.rss_allowed()),
            if self.end.rss > self.rss_allowed() {
                "  GREW"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "  verdict           {}",
            if self.passed() { "pass" } else { "FAIL" }
        );
        out
    }
}
