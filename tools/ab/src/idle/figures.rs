//! Idle mode's figures: the three samples of the server in one run, what
//! they give (bytes of RSS per held connection, the share of that growth
//! returned after the close), and their medians per row.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::protocol::IdleReport;
use crate::results::RunRecord;
use crate::stats::Spread;
use crate::variant::Variant;

/// The server at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Sample {
    /// Resident memory (VmRSS) of the server processes, KiB.
    pub(crate) rss_kib: u64,
    /// Their open file descriptors.
    pub(crate) fds: u64,
}

/// Everything measured in one idle run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IdleFigures {
    /// What the load generator got: connections held, errors by kind.
    pub(crate) open: IdleReport,
    /// The server listening, before any connection.
    pub(crate) baseline: Sample,
    /// Every held connection open and idle.
    pub(crate) idle: Sample,
    /// After every connection closed.
    pub(crate) after_close: Sample,
    /// From the close until the server's fds were back at baseline, seconds;
    /// `None` if they were not within the bound.
    pub(crate) fds_back_secs: Option<f64>,
    /// RSS growth per held connection, bytes: [`bytes_per_connection`].
    pub(crate) bytes_per_conn: Option<f64>,
    /// Share of the growth returned after the close: [`returned_fraction`].
    pub(crate) returned: Option<f64>,
}

impl IdleFigures {
    /// The figures of a run that held `open.held` connections.
    pub(crate) fn new(
        open: IdleReport,
        [baseline, idle, after_close]: [Sample; 3],
        fds_back: Option<Duration>,
    ) -> IdleFigures {
        IdleFigures {
            bytes_per_conn: bytes_per_connection(baseline.rss_kib, idle.rss_kib, open.held),
            returned: returned_fraction(baseline.rss_kib, idle.rss_kib, after_close.rss_kib),
            fds_back_secs: fds_back.map(|d| d.as_secs_f64()),
            open,
            baseline,
            idle,
            after_close,
        }
    }
}

/// RSS growth per connection, bytes: (idle − baseline) / `held` (negative if
/// the server shrank); `None` without connections.
pub(crate) fn bytes_per_connection(baseline_kib: u64, idle_kib: u64, held: u64) -> Option<f64> {
    (held > 0).then(|| (idle_kib as f64 - baseline_kib as f64) * 1024.0 / held as f64)
}

/// Share of the idle growth given back once the connections closed:
/// (idle − after) / (idle − baseline); 1 is back at baseline, 0 nothing
/// returned, above 1 below baseline. `None` when the RSS did not grow.
pub(crate) fn returned_fraction(baseline_kib: u64, idle_kib: u64, after_kib: u64) -> Option<f64> {
    let growth = idle_kib as f64 - baseline_kib as f64;
    (growth > 0.0).then(|| (idle_kib as f64 - after_kib as f64) / growth)
}

/// One row of the idle table: medians over its successful runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IdleRow {
    /// The row.
    pub(crate) variant: Variant,
    /// Runs that produced figures.
    pub(crate) ok_runs: usize,
    /// Runs attempted or skipped.
    pub(crate) runs: usize,
    /// The first failure, if any run failed.
    pub(crate) failure: Option<String>,
    /// Connections held.
    pub(crate) held: Option<Spread>,
    /// Connections lost, summed over the runs.
    pub(crate) errors: u64,
    /// The same by kind.
    pub(crate) error_kinds: BTreeMap<String, u64>,
    /// RSS, KiB: baseline, idle, after close.
    pub(crate) rss_kib: [Option<Spread>; 3],
    /// Open fds: baseline, idle, after close.
    pub(crate) fds: [Option<Spread>; 3],
    /// RSS growth per held connection, bytes (median of the runs' values).
    pub(crate) bytes_per_conn: Option<Spread>,
    /// Share of the growth returned after the close (median of the runs').
    pub(crate) returned: Option<Spread>,
    /// Runs whose fds were not back at baseline within the bound.
    pub(crate) fds_not_back: usize,
}

impl IdleRow {
    /// Summarizes the runs of `variant` in `records`.
    pub(crate) fn of(variant: Variant, records: &[RunRecord<IdleFigures>]) -> IdleRow {
        let mine: Vec<_> = records.iter().filter(|r| r.variant == variant).collect();
        let ok: Vec<&IdleFigures> = mine.iter().filter_map(|r| r.figures.as_ref()).collect();
        let spread =
            |f: &dyn Fn(&IdleFigures) -> Option<f64>| Spread::of(ok.iter().filter_map(|r| f(r)));
        let samples = |f: fn(&Sample) -> u64| {
            [
                spread(&|r| Some(f(&r.baseline) as f64)),
                spread(&|r| Some(f(&r.idle) as f64)),
                spread(&|r| Some(f(&r.after_close) as f64)),
            ]
        };
        let mut error_kinds = BTreeMap::new();
        for (kind, n) in ok.iter().flat_map(|r| &r.open.errors) {
            *error_kinds.entry(kind.clone()).or_default() += n;
        }
        IdleRow {
            variant,
            ok_runs: ok.len(),
            runs: mine.len(),
            failure: mine.iter().find_map(|r| r.error.clone()),
            held: spread(&|r| Some(r.open.held as f64)),
            errors: ok.iter().map(|r| r.open.error_total).sum(),
            error_kinds,
            rss_kib: samples(|s| s.rss_kib),
            fds: samples(|s| s.fds),
            bytes_per_conn: spread(&|r| r.bytes_per_conn),
            returned: spread(&|r| r.returned),
            fds_not_back: ok.iter().filter(|r| r.fds_back_secs.is_none()).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_connection_is_growth_over_held() {
        // 625 KiB over 160 connections is 4000 bytes each.
        assert_eq!(bytes_per_connection(1000, 1625, 160), Some(4000.0));
        assert_eq!(bytes_per_connection(1000, 900, 100), Some(-1024.0));
        assert_eq!(bytes_per_connection(1000, 1625, 0), None);
    }

    #[test]
    fn returned_fraction_of_the_growth() {
        assert_eq!(returned_fraction(1000, 2000, 1290), Some(0.71));
        assert_eq!(returned_fraction(1000, 2000, 2000), Some(0.0));
        assert_eq!(returned_fraction(1000, 2000, 1000), Some(1.0));
        assert_eq!(returned_fraction(1000, 2000, 900), Some(1.1));
        assert_eq!(returned_fraction(1000, 2100, 2200), Some(-1.0 / 11.0));
        assert_eq!(returned_fraction(1000, 1000, 900), None);
    }

    fn run(rep: u32, held: u64, idle_kib: u64, fds_back: bool) -> RunRecord<IdleFigures> {
        let sample = |rss_kib, fds| Sample { rss_kib, fds };
        let open = IdleReport {
            held,
            open_secs: 1.0,
            errors: BTreeMap::from([("connect".to_string(), 1000 - held)]),
            error_total: 1000 - held,
        };
        let samples = [
            sample(1000, 10),
            sample(idle_kib, 10 + held),
            sample(1500, 10),
        ];
        let fds_back = fds_back.then_some(Duration::from_millis(20));
        RunRecord {
            variant: Variant::TokioCt,
            rep,
            figures: Some(IdleFigures::new(open, samples, fds_back)),
            error: None,
            error_brief: None,
        }
    }

    #[test]
    fn row_takes_medians_of_the_runs() {
        let failed = RunRecord {
            figures: None,
            error: Some("server exited".to_string()),
            ..run(3, 0, 0, true)
        };
        let other_row = RunRecord {
            variant: Variant::TokioMt,
            ..run(1, 1, 99_000, true)
        };
        // About 4000 and 6000 bytes per connection; 87% and 83% returned.
        let records = [
            run(1, 1000, 1000 + 3906, true),
            failed,
            run(2, 500, 1000 + 2930, false),
            other_row,
        ];
        let row = IdleRow::of(Variant::TokioCt, &records);
        assert_eq!((row.ok_runs, row.runs), (2, 3));
        assert_eq!(row.failure.as_deref(), Some("server exited"));
        let bytes = row.bytes_per_conn.unwrap();
        assert!((bytes.min - 3999.7).abs() < 0.1, "{bytes:?}");
        assert!((bytes.max - 6000.6).abs() < 0.1, "{bytes:?}");
        let returned = row.returned.unwrap();
        assert!((returned.min - 0.829).abs() < 0.001, "{returned:?}");
        assert!((returned.max - 0.872).abs() < 0.001, "{returned:?}");
        assert_eq!(row.held.unwrap().median, 750.0);
        assert_eq!(row.fds[1].unwrap().median, 760.0);
        assert_eq!(row.rss_kib[2].unwrap().median, 1500.0);
        assert_eq!((row.errors, row.error_kinds["connect"]), (500, 500));
        assert_eq!(row.fds_not_back, 1);
    }
}
