//! The printed report (machine description, one table row per runtime,
//! footnotes) and the `--json` file with every run's raw figures.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::cli::{ExpectLen, Mode, Service};
use crate::plan::Plan;
use crate::procfs;
use crate::protocol::ProtoSpec;
use crate::results::{self, RowSummary, RunRecord, PERCENTILES};
use crate::stats::{self, Spread};
use crate::units::{group_thousands, latency, mib, sig3};
use crate::variant::Variant;

/// The machine and pinning, printed above the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    /// Kernel release.
    pub(crate) kernel: String,
    /// CPU model name.
    pub(crate) cpu_model: String,
    /// Usable CPUs.
    pub(crate) cpus: usize,
    /// CPUs of the server.
    pub(crate) server_cpus: String,
    /// CPUs of the load generator.
    pub(crate) load_cpus: String,
    /// Server workers.
    pub(crate) workers: u32,
}

impl Machine {
    /// Describes this machine for `plan`.
    pub(crate) fn describe(plan: &Plan) -> Machine {
        Machine {
            kernel: procfs::kernel_release(),
            cpu_model: procfs::cpu_model(),
            cpus: crate::affinity::CpuList::usable().len(),
            server_cpus: plan.server_cpus.to_string(),
            load_cpus: plan.load_cpus.to_string(),
            workers: plan.workers,
        }
    }

    /// One line: kernel, CPUs, pinning.
    pub(crate) fn line(&self) -> String {
        format!(
            "Linux {}, {} CPUs ({}), server on CPU {} with {} worker(s), load on CPU {}",
            self.kernel, self.cpus, self.cpu_model, self.server_cpus, self.workers, self.load_cpus
        )
    }
}

/// Column headers of the table.
const HEADERS: [&str; 12] = [
    "runtime",
    "req/s",
    "(min-max)",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "errors",
    "CPU µs/req",
    "(min-max)",
    "srv cores",
    "peak RSS",
];
const SYSCALL_HEADER: &str = "syscalls/req";

/// The layout of the table.
#[derive(Debug, Clone, Copy)]
enum Layout<'a> {
    /// [`HEADERS`] and syscalls (the hello and echo services).
    Plain,
    /// `--server file`: req/s and CPU µs/req side by side, each with its
    /// ratio to the reference (tokio) row, and MB/s of file data.
    File {
        reference: Option<&'a RowSummary>,
        body_len: Option<usize>,
    },
}

impl<'a> Layout<'a> {
    fn of(plan: &Plan, rows: &'a [RowSummary]) -> Layout<'a> {
        match plan.service {
            Service::Hello => Layout::Plain,
            Service::File => Layout::File {
                reference: results::reference_row(rows),
                body_len: body_len(plan),
            },
        }
    }

    fn header(self) -> Vec<String> {
        let mut header: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
        header.push(SYSCALL_HEADER.to_string());
        let Layout::File { reference, .. } = self else {
            return header;
        };
        let vs = format!("÷{}", reference.map_or("tokio", |r| r.variant.name()));
        file_columns(&header, [vs.clone(), vs, "MB/s".to_string()])
    }

    /// Reorders [`row_cells`]' output as [`Layout::header`] does.
    fn cells(self, row: &RowSummary, plain: Vec<String>) -> Vec<String> {
        let Layout::File {
            reference,
            body_len,
        } = self
        else {
            return plain;
        };
        let ratio = |figure: fn(&RowSummary) -> Option<stats::Spread>| {
            reference
                .and_then(|r| results::ratio(row, r, figure))
                .map_or("-".to_string(), |x| format!("{x:.2}"))
        };
        let mbps = row
            .rps
            .zip(body_len)
            .map_or("-".to_string(), |(s, n)| sig3(s.median * n as f64 / 1e6));
        file_columns(
            &plain,
            [ratio(|r| r.rps), ratio(|r| r.cpu_us_per_req), mbps],
        )
    }

    fn footnote(self) -> Option<String> {
        let Layout::File { reference, .. } = self else {
            return None;
        };
        Some(match reference {
            Some(r) => format!(
                "÷{0}: the row's median over {0}'s (req/s: above 1 serves more; CPU µs/req: below\n\
                 1 costs less); MB/s: req/s x file size.",
                r.variant.name()
            ),
            None => "÷tokio: no tokio row has figures, so no ratios; MB/s: req/s x file size."
                .to_string(),
        })
    }
}

/// The plain columns (name, req/s, its range, latencies, errors, CPU µs/req,
/// its range, cores, RSS, syscalls) reordered for `--server file`: name,
/// req/s, range, `extra[0]` (its ratio), CPU µs/req, range, `extra[1]`,
/// `extra[2]` (MB/s), then the rest in their plain order.
fn file_columns(plain: &[String], extra: [String; 3]) -> Vec<String> {
    const ORDER: [usize; 13] = [0, 1, 2, 8, 9, 3, 4, 5, 6, 7, 10, 11, 12];
    let mut out: Vec<String> = ORDER.iter().map(|&i| plain[i].clone()).collect();
    let [rps_ratio, cpu_ratio, mbps] = extra;
    out.insert(3, rps_ratio);
    out.insert(6, cpu_ratio);
    out.insert(7, mbps);
    out
}

/// The file size every response carried, if the plan fixed it.
fn body_len(plan: &Plan) -> Option<usize> {
    match &plan.load.proto {
        ProtoSpec::Http {
            expect_len: ExpectLen::Exact(n),
            ..
        } => Some(*n),
        _ => None,
    }
}

/// What serves in file mode, for the header.
fn servers_line(plan: &Plan) -> Option<String> {
    let root = plan.root.as_ref()?;
    let dir = root.path().display();
    let files = match root.is_generated() {
        true => format!("generated files in {dir}"),
        false => format!("files in {dir}"),
    };
    Some(match plan.server_cmd {
        Some(_) => format!("servers:  your command, given {{root}} = {files}"),
        None => format!(
            "servers:  corio rows: examples/file_server's service (corio::fs); \
             tokio rows: tower-http ServeDir (tokio::fs); {files}"
        ),
    })
}

/// The whole printed report.
pub(crate) fn table(plan: &Plan, machine: &Machine, rows: &[RowSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\ncorio-ab: {}", plan.shape());
    if let Some(line) = servers_line(plan) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "machine:  {}\n", machine.line());
    let mut notes: Vec<String> = plan.notes.clone();
    let layout = Layout::of(plan, rows);
    let body: Vec<_> = rows
        .iter()
        .map(|row| {
            let cells = match row.ok_runs {
                0 => Err(row.failure.as_deref().unwrap_or("no run finished")),
                _ => Ok(layout.cells(row, row_cells(row, &mut notes))),
            };
            (row.variant.name(), cells)
        })
        .collect();
    for line in table_lines(layout.header(), &body) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\nreq/s and CPU µs/req: median of the reps (min-max); latency: median of the reps' percentiles;\n\
         CPU µs/req: server CPU time of all its threads / good responses (lower is better; on a small\n\
         machine it ranks servers more reliably than req/s); srv cores: server CPU time / window."
    );
    if let Some(line) = layout.footnote() {
        let _ = writeln!(out, "{line}");
    }
    for line in ring_lines(rows) {
        let _ = writeln!(out, "{line}");
    }
    notes.extend(load_note(plan, rows));
    notes.extend(background_note(rows));
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}", i + 1);
    }
    out
}

/// corio's own counters per response for the rows that report them (the
/// bundled corio servers); nothing when no row does.
fn ring_lines(rows: &[RowSummary]) -> Vec<String> {
    let body: Vec<_> = rows
        .iter()
        .filter_map(|row| {
            let per_req = row.ring_per_req?;
            let mut cells = vec![row.variant.name().to_string()];
            cells.extend(per_req.iter().map(|s| sig3(s.median)));
            Some((row.variant.name(), Ok(cells)))
        })
        .collect();
    if body.is_empty() {
        return Vec::new();
    }
    let mut header = vec!["per response".to_string()];
    header.extend(crate::ring::LABELS.iter().map(|l| l.to_string()));
    let mut lines = vec![String::new()];
    lines.extend(table_lines(header, &body));
    lines.push(
        "corio::metrics of the corio rows, summed over workers, per good response (median of the reps):\n\
         ring enters, SQEs submitted, CQEs reaped, eventfd wake-ups of the driver, worker parks,\n\
         multishot ops armed, turns that found the CQ overflowed, receives ended by ENOBUFS (every\n\
         provided buffer in use)."
            .to_string(),
    );
    lines
}

/// A warning when the load generator was (nearly) saturated.
fn load_note(plan: &Plan, rows: &[RowSummary]) -> Option<String> {
    let busiest = rows
        .iter()
        .filter_map(|r| r.load_cores)
        .map(|s| s.max)
        .fold(0.0, f64::max);
    let cpus = plan.load_cpus.len() as f64;
    (busiest > 0.85 * cpus).then(|| {
        format!(
            "the load generator used up to {busiest:.2} of its {cpus} CPU(s): both sides were \
             saturated, so req/s may understate the faster server; CPU µs/req still compares them"
        )
    })
}

/// A warning when other processes used the benchmark's CPUs.
fn background_note(rows: &[RowSummary]) -> Option<String> {
    let worst = rows
        .iter()
        .filter_map(|r| r.background_cores)
        .map(|s| s.max)
        .fold(0.0, f64::max);
    (worst > 0.1).then(|| {
        format!(
            "other processes used up to {worst:.2} cores of the benchmark's CPUs during a window: \
             the figures are disturbed; rerun on a quiet machine"
        )
    })
}

/// The lines of a table: `header`, then one line per row in order: its
/// cells aligned in columns, or `name  FAILED: reason`.
pub(crate) fn table_lines(
    mut header: Vec<String>,
    rows: &[(&str, Result<Vec<String>, &str>)],
) -> Vec<String> {
    // Column 0 is as wide as the longest name, failed rows included.
    let longest = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    header[0] = format!("{:<longest$}", header[0]);
    let mut cells = vec![header];
    cells.extend(rows.iter().filter_map(|(_, r)| r.as_ref().ok().cloned()));
    let name_width = cells
        .iter()
        .map(|r| r[0].chars().count())
        .max()
        .unwrap_or(0);
    let mut rendered = render(&cells).into_iter();
    let mut lines: Vec<String> = rendered.next().into_iter().collect();
    for (name, row) in rows {
        match row {
            Ok(_) => lines.extend(rendered.next()),
            Err(reason) => lines.push(format!("{name:<name_width$}  FAILED: {reason}")),
        }
    }
    lines
}

/// A row's name, with a note when some of its runs failed.
pub(crate) fn name_cell(
    name: &str,
    (ok_runs, runs): (usize, usize),
    failure: Option<&str>,
    notes: &mut Vec<String>,
) -> String {
    if ok_runs == runs {
        return name.to_string();
    }
    let note = format!(
        "{name}: {} of {runs} runs failed: {}",
        runs - ok_runs,
        failure.unwrap_or("?")
    );
    format!("{name} [{}]", note_index(notes, note))
}

/// The cells of one row that has figures.
fn row_cells(row: &RowSummary, notes: &mut Vec<String>) -> Vec<String> {
    let name = name_cell(
        row.variant.name(),
        (row.ok_runs, row.runs),
        row.failure.as_deref(),
        notes,
    );
    let syscalls = match (&row.syscalls_per_req, &row.syscalls_unavailable) {
        (Some(s), _) => sig3(s.median),
        (None, Some(reason)) => {
            format!("n/a [{}]", note_index(notes, format!("syscalls: {reason}")))
        }
        (None, None) => "-".to_string(),
    };
    let lat = |i: usize| row.latency_us[i].map_or("-".to_string(), |s| latency(s.median));
    vec![
        name,
        row.rps.map_or("-".into(), |s| group_thousands(s.median)),
        range(row.rps, group_thousands),
        lat(0),
        lat(1),
        lat(2),
        lat(3),
        row.errors.to_string(),
        row.cpu_us_per_req.map_or("-".into(), |s| sig3(s.median)),
        range(row.cpu_us_per_req, sig3),
        row.server_cores
            .map_or("-".into(), |s| format!("{:.2}", s.median)),
        row.peak_rss_kib.map_or("-".into(), |s| mib(s.median)),
        syscalls,
    ]
}

/// Number of `note` in `notes` (1-based), adding it if new.
pub(crate) fn note_index(notes: &mut Vec<String>, note: String) -> usize {
    match notes.iter().position(|n| *n == note) {
        Some(i) => i + 1,
        None => {
            notes.push(note);
            notes.len()
        }
    }
}

/// `(min-max)` of `spread`, each formatted with `fmt`; empty without figures.
pub(crate) fn range(spread: Option<Spread>, fmt: fn(f64) -> String) -> String {
    spread.map_or(String::new(), |s| {
        format!("({}-{})", fmt(s.min), fmt(s.max))
    })
}

/// Aligns cells in columns (the first left-aligned, the others
/// right-aligned); one line per row.
fn render(cells: &[Vec<String>]) -> Vec<String> {
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| {
        cells
            .iter()
            .filter_map(|r| r.get(c))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..cols).map(width).collect();
    let mut out = Vec::new();
    for row in cells {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            match c {
                0 => line.push_str(&format!("{cell}{}", " ".repeat(pad))),
                _ => line.push_str(&format!("  {}{cell}", " ".repeat(pad))),
            }
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// The `--json` document; `S` is the rows' summary, `F` a run's figures
/// (those of the load modes, or of idle mode).
#[derive(Debug, Serialize)]
struct JsonReport<'a, S, F> {
    tool: &'static str,
    version: &'static str,
    shape: String,
    mode: Mode,
    service: Service,
    /// `--server file`: the row the ratios are taken to.
    reference: Option<Variant>,
    load: &'a crate::protocol::LoadSpec,
    reps: u32,
    machine: &'a Machine,
    percentiles: [&'static str; 4],
    summary: &'a [S],
    runs: &'a [RunRecord<F>],
}

/// Writes every run's raw figures and the summary to `path`; `reference`
/// is the row ratios are taken to (`--server file`).
///
/// # Errors
/// The file cannot be written.
pub(crate) fn write_json<S: Serialize, F: Serialize>(
    path: &Path,
    plan: &Plan,
    machine: &Machine,
    reference: Option<Variant>,
    rows: &[S],
    runs: &[RunRecord<F>],
) -> Result<(), String> {
    let doc = JsonReport {
        tool: "corio-ab",
        version: env!("CARGO_PKG_VERSION"),
        shape: plan.shape(),
        mode: plan.mode,
        service: plan.service,
        reference,
        load: &plan.load,
        reps: plan.reps,
        machine,
        percentiles: PERCENTILES,
        summary: rows,
        runs,
    };
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The row the `--json` ratios are taken to: the reference row with `--server file`.
pub(crate) fn json_reference(plan: &Plan, rows: &[RowSummary]) -> Option<Variant> {
    match plan.service {
        Service::File => results::reference_row(rows).map(|r| r.variant),
        Service::Hello => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_columns() {
        let cells = vec![
            vec!["a".to_string(), "1".to_string()],
            vec!["long".to_string(), "100".to_string()],
        ];
        assert_eq!(render(&cells), ["a       1", "long  100"]);
    }

    #[test]
    fn failed_rows_keep_their_place() {
        let header = vec!["runtime".to_string(), "x".to_string()];
        let ok = |n: &str| Ok(vec![n.to_string(), "12".to_string()]);
        let rows = [
            ("tokio-ct", ok("tokio-ct")),
            ("corio-uring", Err("server exited")),
            ("tokio-mt", ok("tokio-mt [1]")),
        ];
        assert_eq!(
            table_lines(header, &rows),
            [
                "runtime        x",
                "tokio-ct      12",
                "corio-uring   FAILED: server exited",
                "tokio-mt [1]  12",
            ]
        );
    }

    #[test]
    fn name_notes_failed_runs() {
        let mut notes = vec!["other".to_string()];
        assert_eq!(name_cell("a", (3, 3), None, &mut notes), "a");
        assert_eq!(name_cell("a", (2, 3), Some("boom"), &mut notes), "a [2]");
        assert_eq!(notes[1], "a: 1 of 3 runs failed: boom");
    }
}
