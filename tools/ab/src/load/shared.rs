//! State shared by all connections of the load generator (one thread, so
//! `Cell`/`RefCell`): the phase clock, the latency histogram, counters, and
//! the validation of every reply.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::proto::{ErrorKind, Reply};
use crate::cli::ExpectLen;
use crate::protocol::{LoadReport, LoadSpec, ProtoSpec};
use crate::stats;

/// Highest latency the histogram tracks exactly (larger ones saturate).
const MAX_LATENCY_NS: u64 = 120_000_000_000;

/// Counters, histogram and phase clock of one load run.
#[derive(Debug)]
pub(crate) struct Shared {
    /// When the load started (connections open from here).
    pub(crate) start: Instant,
    /// End of the warm-up = start of the measured window.
    pub(crate) warm_end: Instant,
    /// End of the measured window; moved earlier when `--requests` is reached.
    end: Cell<Instant>,
    /// Requests in flight per connection.
    pub(crate) depth: usize,
    /// Unanswered requests older than this are timeouts.
    pub(crate) timeout: Duration,
    /// Open loop: time between two sends of one connection.
    pub(crate) interval: Option<Duration>,
    /// Open loop: time between two sends overall (spreads connections).
    pub(crate) stagger: Option<Duration>,
    target: Option<u64>,
    expect_status: Option<u16>,
    expect_len: Cell<ExpectLen>,
    require_content_length: bool,
    hist: RefCell<Histogram<u64>>,
    good_window: Cell<u64>,
    good_total: Cell<u64>,
    errors_total: Cell<u64>,
    errors: RefCell<BTreeMap<String, u64>>,
    /// Woken when `--requests` good responses were counted.
    pub(crate) target_reached: Notify,
}

impl Shared {
    /// Phase clock and validation rules for `spec`, starting now.
    pub(crate) fn new(spec: &LoadSpec, start: Instant) -> Result<Shared, String> {
        let warm_end = start + Duration::from_secs_f64(spec.warmup_secs);
        let (expect_status, expect_len, require_content_length) = match &spec.proto {
            ProtoSpec::Http {
                expect_status,
                expect_len,
                require_content_length,
                ..
            } => (Some(*expect_status), *expect_len, *require_content_length),
            ProtoSpec::Echo { .. } => (None, ExpectLen::Any, false),
        };
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
            .map_err(|e| format!("histogram: {e}"))?;
        let rate = spec.rate.map(|r| Duration::from_secs_f64(1.0 / r));
        Ok(Shared {
            start,
            warm_end,
            end: Cell::new(warm_end + Duration::from_secs_f64(spec.duration_secs)),
            depth: spec.pipeline.max(1) as usize,
            timeout: Duration::from_secs_f64(spec.timeout_secs),
            interval: rate.map(|r| r * spec.connections),
            stagger: rate,
            target: spec.requests,
            expect_status,
            expect_len: Cell::new(expect_len),
            require_content_length,
            hist: RefCell::new(hist),
            good_window: Cell::new(0),
            good_total: Cell::new(0),
            errors_total: Cell::new(0),
            errors: RefCell::new(BTreeMap::new()),
            target_reached: Notify::new(),
        })
    }

    /// End of the measured window (so far).
    pub(crate) fn end(&self) -> Instant {
        self.end.get()
    }

    /// Whether `now` is inside the measured window.
    fn measuring(&self, now: Instant) -> bool {
        now >= self.warm_end && now < self.end.get()
    }

    /// Accounts one reply to a request sent (or due) at `start`.
    pub(crate) fn complete(&self, start: Instant, now: Instant, reply: Reply) {
        match self.check(reply) {
            Ok(()) => self.good(start, now),
            Err(kind) => self.error(now, kind, 1),
        }
    }

    /// Whether `reply` is a good one (status, length, framing, echo bytes).
    pub(super) fn check(&self, reply: Reply) -> Result<(), ErrorKind> {
        let resp = match reply {
            Reply::Echo { matches: true } => return Ok(()),
            Reply::Echo { matches: false } => return Err(ErrorKind::EchoMismatch),
            Reply::Http(resp) => resp,
        };
        if self.expect_status.is_some_and(|s| s != resp.status) {
            return Err(ErrorKind::Status(resp.status));
        }
        if self.require_content_length && !resp.content_length {
            return Err(ErrorKind::NoContentLength);
        }
        match self.expect_len.get() {
            ExpectLen::Any => Ok(()),
            ExpectLen::Exact(n) if n == resp.body_len => Ok(()),
            ExpectLen::Exact(_) => Err(ErrorKind::BodyLen),
            ExpectLen::Auto => {
                self.expect_len.set(ExpectLen::Exact(resp.body_len));
                Ok(())
            }
        }
    }

    fn good(&self, start: Instant, now: Instant) {
        self.good_total.set(self.good_total.get() + 1);
        if !self.measuring(now) {
            return;
        }
        let ns = now.saturating_duration_since(start).as_nanos() as u64;
        self.hist.borrow_mut().saturating_record(ns.max(1));
        let good = self.good_window.get() + 1;
        self.good_window.set(good);
        if self.target == Some(good) {
            self.end.set(now);
            self.target_reached.notify_one();
        }
    }

    /// Counts `n` errors of `kind`; those outside the window only count in
    /// the progress totals, except connect errors, which always count.
    pub(crate) fn error(&self, now: Instant, kind: ErrorKind, n: u64) {
        if n == 0 {
            return;
        }
        self.errors_total.set(self.errors_total.get() + n);
        if self.measuring(now) || kind == ErrorKind::Connect {
            *self
                .errors
                .borrow_mut()
                .entry(kind.to_string())
                .or_default() += n;
        }
    }

    /// (good responses, errors) since the start, for progress lines.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.good_total.get(), self.errors_total.get())
    }

    /// The figures of the measured window, which ended at `end`.
    pub(crate) fn report(&self, end: Instant) -> LoadReport {
        let window_secs = end.saturating_duration_since(self.warm_end).as_secs_f64();
        let responses = self.good_window.get();
        let errors = self.errors.borrow().clone();
        LoadReport {
            responses,
            window_secs,
            requests_per_sec: match window_secs > 0.0 {
                true => responses as f64 / window_secs,
                false => 0.0,
            },
            latency: stats::summarize(&self.hist.borrow()),
            error_total: errors.values().sum(),
            errors,
            body_len: match self.expect_len.get() {
                ExpectLen::Exact(n) => Some(n),
                ExpectLen::Auto | ExpectLen::Any => None,
            },
        }
    }
}
