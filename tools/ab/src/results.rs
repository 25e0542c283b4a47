//! The figures of each run, and their summary per row (median with
//! min–max over the repetitions), as written to `--json` and drawn.

use serde::Serialize;

use crate::protocol::LoadReport;
use crate::ring::{self, RingCounters};
use crate::stats::Spread;
use crate::variant::Variant;

/// Everything measured in one run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunFigures {
    /// The load generator's view: throughput, latency, errors.
    pub(crate) load: LoadReport,
    /// Server CPU time (all threads) during the window, nanoseconds.
    pub(crate) server_cpu_ns: u64,
    /// The window as timed by the parent around its snapshots, seconds.
    pub(crate) server_window_secs: f64,
    /// Server CPU per good response, microseconds.
    pub(crate) cpu_us_per_req: Option<f64>,
    /// Server CPU time / window (1.0 = one core busy).
    pub(crate) server_cores: f64,
    /// Peak RSS (VmHWM) of the server processes, KiB.
    pub(crate) peak_rss_kib: Option<u64>,
    /// Server system calls during the window.
    pub(crate) syscalls: Option<u64>,
    /// Server system calls per good response.
    pub(crate) syscalls_per_req: Option<f64>,
    /// Why syscalls were not counted.
    pub(crate) syscalls_unavailable: Option<String>,
    /// Server threads at the end of the run.
    pub(crate) server_threads: usize,
    /// Load generator CPU time / window: near its CPU count, the generator
    /// may limit the throughput.
    pub(crate) load_cores: f64,
    /// Load generator system calls per good response.
    pub(crate) load_syscalls_per_req: Option<f64>,
    /// CPU time of other processes on the benchmark's CPUs / window (by
    /// /proc/stat, 10 ms ticks): above ~0.1 the figures are disturbed.
    pub(crate) background_cores: f64,
    /// corio's ring counters during the window (bundled corio rows).
    pub(crate) ring: Option<RingCounters>,
}

/// One run: which row, which repetition, and what came out (the figures of
/// a load run, or [`IdleFigures`](crate::idle::IdleFigures) in idle mode).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRecord<F = RunFigures> {
    /// The row.
    pub(crate) variant: Variant,
    /// Repetition, from 1.
    pub(crate) rep: u32,
    /// The figures, when the run worked.
    pub(crate) figures: Option<F>,
    /// Why it did not, when it failed (or was skipped after a failure).
    pub(crate) error: Option<String>,
    /// The gist of `error` (the server's last stderr line, usually).
    pub(crate) error_brief: Option<String>,
}

/// One row of the table: the medians over its successful runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RowSummary {
    /// The row.
    pub(crate) variant: Variant,
    /// Runs that produced figures.
    pub(crate) ok_runs: usize,
    /// Runs attempted or skipped.
    pub(crate) runs: usize,
    /// The first failure, if any run failed.
    pub(crate) failure: Option<String>,
    /// Its gist, for the chart.
    pub(crate) failure_brief: Option<String>,
    /// Good responses per second.
    pub(crate) rps: Option<Spread>,
    /// Latency percentiles, microseconds: p50, p90, p99, p99.9.
    pub(crate) latency_us: [Option<Spread>; 4],
    /// Errors summed over all runs.
    pub(crate) errors: u64,
    /// Server CPU per response, microseconds.
    pub(crate) cpu_us_per_req: Option<Spread>,
    /// Server CPU use in cores.
    pub(crate) server_cores: Option<Spread>,
    /// Peak RSS, KiB.
    pub(crate) peak_rss_kib: Option<Spread>,
    /// System calls per response.
    pub(crate) syscalls_per_req: Option<Spread>,
    /// Why system calls were not counted.
    pub(crate) syscalls_unavailable: Option<String>,
    /// Load generator CPU use in cores.
    pub(crate) load_cores: Option<Spread>,
    /// CPU use of other processes on the benchmark's CPUs, in cores.
    pub(crate) background_cores: Option<Spread>,
    /// corio's ring counters per response, in [`crate::ring::LABELS`] order.
    pub(crate) ring_per_req: Option<[Spread; ring::COUNT]>,
}

/// Latency percentiles' labels, in [`RowSummary::latency_us`] order.
pub(crate) const PERCENTILES: [&str; 4] = ["p50", "p90", "p99", "p99.9"];

impl RowSummary {
    /// Summarizes the runs of `variant` in `records`.
    pub(crate) fn of(variant: Variant, records: &[RunRecord]) -> RowSummary {
        let mine: Vec<&RunRecord> = records.iter().filter(|r| r.variant == variant).collect();
        let ok: Vec<&RunFigures> = mine.iter().filter_map(|r| r.figures.as_ref()).collect();
        let spread =
            |f: &dyn Fn(&RunFigures) -> Option<f64>| Spread::of(ok.iter().filter_map(|r| f(r)));
        RowSummary {
            variant,
            ok_runs: ok.len(),
            runs: mine.len(),
            failure: mine.iter().find_map(|r| r.error.clone()),
            failure_brief: mine.iter().find_map(|r| r.error_brief.clone()),
            rps: spread(&|r| Some(r.load.requests_per_sec)),
            latency_us: [
                spread(&|r| valid_latency(r, r.load.latency.p50_us)),
                spread(&|r| valid_latency(r, r.load.latency.p90_us)),
                spread(&|r| valid_latency(r, r.load.latency.p99_us)),
                spread(&|r| valid_latency(r, r.load.latency.p999_us)),
            ],
            errors: ok.iter().map(|r| r.load.error_total).sum(),
            cpu_us_per_req: spread(&|r| r.cpu_us_per_req),
            server_cores: spread(&|r| Some(r.server_cores)),
            peak_rss_kib: spread(&|r| r.peak_rss_kib.map(|k| k as f64)),
            syscalls_per_req: spread(&|r| r.syscalls_per_req),
            syscalls_unavailable: ok.iter().find_map(|r| r.syscalls_unavailable.clone()),
            load_cores: spread(&|r| Some(r.load_cores)),
            background_cores: spread(&|r| Some(r.background_cores)),
            ring_per_req: ring_per_req(&ok),
        }
    }
}

/// Each ring counter per good response, over the runs that have them.
fn ring_per_req(runs: &[&RunFigures]) -> Option<[Spread; ring::COUNT]> {
    let per_req: Vec<[f64; ring::COUNT]> = runs
        .iter()
        .filter(|r| r.load.responses > 0)
        .filter_map(|r| {
            let values = r.ring?.values();
            Some(values.map(|v| v as f64 / r.load.responses as f64))
        })
        .collect();
    let column = |i: usize| Spread::of(per_req.iter().map(|v| v[i]));
    let columns: [_; ring::COUNT] = std::array::from_fn(column);
    columns
        .iter()
        .all(Option::is_some)
        .then(|| columns.map(Option::unwrap))
}

/// Latencies only mean something when some responses were good.
fn valid_latency(r: &RunFigures, value: f64) -> Option<f64> {
    (r.load.responses > 0).then_some(value)
}

/// The row the others are compared with: the first tokio row that has
/// figures (tokio-ct before tokio-mt when both run, in plan order).
pub(crate) fn reference_row(rows: &[RowSummary]) -> Option<&RowSummary> {
    rows.iter()
        .find(|r| r.variant.is_tokio() && r.rps.is_some() && r.cpu_us_per_req.is_some())
}

/// `row`'s median over `reference`'s, for one figure.
pub(crate) fn ratio(
    row: &RowSummary,
    reference: &RowSummary,
    figure: fn(&RowSummary) -> Option<Spread>,
) -> Option<f64> {
    let (a, b) = (figure(row)?.median, figure(reference)?.median);
    (b > 0.0).then(|| a / b)
}
