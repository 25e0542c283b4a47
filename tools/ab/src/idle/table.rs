//! Idle mode's printed report: per row the connections held, the server's
//! RSS before, while they are idle and after they closed, bytes per
//! connection, the share of the growth returned, and the open fds.

use std::fmt::Write as _;

use super::figures::IdleRow;
use super::FDS_BACK_MAX;
use crate::plan::Plan;
use crate::report::{name_cell, note_index, range, table_lines, Machine};
use crate::stats::Spread;
use crate::units::{group_thousands, mib, percent, signed_thousands};

/// Column headers.
const HEADERS: [&str; 10] = [
    "runtime",
    "held",
    "errors",
    "RSS base",
    "RSS idle",
    "B/conn",
    "(min-max)",
    "RSS after",
    "returned",
    "fds base/idle/after",
];

/// The whole printed report.
pub(crate) fn table(plan: &Plan, machine: &Machine, rows: &[IdleRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\ncorio-ab: {}", plan.shape());
    let _ = writeln!(out, "machine:  {}\n", machine.line());
    let mut notes = plan.notes.clone();
    let body: Vec<_> = rows
        .iter()
        .map(|row| {
            let cells = match row.ok_runs {
                0 => Err(row.failure.as_deref().unwrap_or("no run finished")),
                _ => Ok(row_cells(row, &mut notes)),
            };
            (row.variant.name(), cells)
        })
        .collect();
    let header = HEADERS.iter().map(|h| h.to_string()).collect();
    for line in table_lines(header, &body) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\nRSS: VmRSS of the server's processes, median of the reps; base: listening, no connection;\n\
         idle: the connections held open and idle, each after one answered request; after: every\n\
         connection closed and the server's fds back at base. B/conn: (idle - base) / held, median\n\
         of the reps (min-max); returned: share of that growth given back after the close (100% =\n\
         back at base). Kernel socket buffers are not part of RSS."
    );
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(out, "[{}] {note}", i + 1);
    }
    out
}

/// The cells of one row that has figures.
fn row_cells(row: &IdleRow, notes: &mut Vec<String>) -> Vec<String> {
    let name = row.variant.name();
    let mut errors = row.errors.to_string();
    if row.errors > 0 {
        let kinds: Vec<String> = row
            .error_kinds
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        let note = format!(
            "{name}: connections lost over the runs: {}",
            kinds.join(", ")
        );
        errors.push_str(&format!(" [{}]", note_index(notes, note)));
    }
    let median =
        |s: Option<Spread>, fmt: fn(f64) -> String| s.map_or("-".to_string(), |s| fmt(s.median));
    let [base, idle, after] = row.fds;
    let mut fds = [base, idle, after]
        .map(|s| median(s, group_thousands))
        .join("/");
    if row.fds_not_back > 0 {
        let note = format!(
            "{name}: in {} of {} runs the server still had more fds open than at base {} s \
             after the close",
            row.fds_not_back,
            row.ok_runs,
            FDS_BACK_MAX.as_secs()
        );
        fds.push_str(&format!(" [{}]", note_index(notes, note)));
    }
    vec![
        name_cell(name, (row.ok_runs, row.runs), row.failure.as_deref(), notes),
        median(row.held, group_thousands),
        errors,
        median(row.rss_kib[0], mib),
        median(row.rss_kib[1], mib),
        median(row.bytes_per_conn, signed_thousands),
        range(row.bytes_per_conn, signed_thousands),
        median(row.rss_kib[2], mib),
        median(row.returned, percent),
        fds,
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::variant::Variant;

    fn spread(v: f64) -> Option<Spread> {
        Some(Spread {
            median: v,
            min: v,
            max: v,
        })
    }

    #[test]
    fn row_shows_medians_and_notes() {
        let row = IdleRow {
            variant: Variant::CorioUring,
            ok_runs: 3,
            runs: 3,
            failure: None,
            held: spread(9990.0),
            errors: 10,
            error_kinds: BTreeMap::from([("connect".to_string(), 10), ("timeout".to_string(), 0)]),
            rss_kib: [spread(2048.0), spread(45_056.0), spread(14_336.0)],
            fds: [spread(12.0), spread(10_002.0), spread(12.0)],
            bytes_per_conn: Some(Spread {
                median: 4407.6,
                min: -20.0,
                max: 4500.0,
            }),
            returned: spread(0.714),
            fds_not_back: 1,
        };
        let mut notes = Vec::new();
        let cells = row_cells(&row, &mut notes);
        assert_eq!(
            cells,
            [
                "corio-uring",
                "9,990",
                "10 [1]",
                "2.0 MiB",
                "44.0 MiB",
                "4,408",
                "(-20-4,500)",
                "14.0 MiB",
                "71%",
                "12/10,002/12 [2]",
            ]
        );
        assert_eq!(
            notes[0],
            "corio-uring: connections lost over the runs: connect 10"
        );
        assert!(notes[1].contains("1 of 3 runs"), "{}", notes[1]);
    }
}
