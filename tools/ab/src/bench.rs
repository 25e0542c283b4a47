//! The benchmark: rows run interleaved (A B C A B C ...) for `--reps`
//! rounds; a row that fails is reported with its reason and skipped in
//! later rounds while the others go on. Then the table, JSON and SVG (in
//! idle mode: the idle table and JSON).

use std::collections::HashMap;
use std::process::ExitCode;

use crate::child::Failure;
use crate::cli::{BenchArgs, Mode};
use crate::idle::{self, IdleRow};
use crate::nofile;
use crate::perf;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::{self, Machine};
use crate::results::{RowSummary, RunFigures, RunRecord};
use crate::run;
use crate::svg;
use crate::units::{group_thousands, latency, sig3};
use crate::variant::Variant;

/// Runs the benchmark described by `args`; exit code 1 if no row worked.
///
/// # Errors
/// Invalid options, too low a limit of open files, or the JSON/SVG file
/// cannot be written.
pub(crate) fn main(args: &BenchArgs) -> Result<ExitCode, String> {
    let plan = Plan::new(args)?;
    let connections = plan.load.connections;
    // The children inherit the raised limit.
    nofile::raise(u64::from(connections) + nofile::MARGIN)
        .map_err(|e| format!("--connections {connections}: {e}"))?;
    let machine = Machine::describe(&plan);
    eprintln!("corio-ab: {}", plan.shape());
    eprintln!("corio-ab: {}", machine.line());
    let ok_rows = match plan.mode {
        Mode::Idle => idle_rows(args, &plan, &machine)?,
        Mode::Http | Mode::Echo => load_rows(args, &plan, &machine)?,
    };
    let rows = plan.variants.len();
    match ok_rows {
        0 => {
            eprintln!("corio-ab: every row failed");
            Ok(ExitCode::FAILURE)
        }
        n if n < rows => {
            eprintln!(
                "corio-ab: {} of {rows} rows failed (see the table)",
                rows - n
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The load modes (http, echo): runs, table, JSON, SVG; the rows that worked.
fn load_rows(args: &BenchArgs, plan: &Plan, machine: &Machine) -> Result<usize, String> {
    perf::prepare();
    let records = run_all(plan, run::run_once, describe_load);
    let rows: Vec<RowSummary> = plan
        .variants
        .iter()
        .map(|&v| RowSummary::of(v, &records))
        .collect();
    print!("{}", report::table(plan, machine, &rows));
    if let Some(path) = &args.json {
        let reference = report::json_reference(plan, &rows);
        report::write_json(path, plan, machine, reference, &rows, &records)?;
        eprintln!("corio-ab: wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg::chart(plan, machine, &rows))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("corio-ab: wrote {}", path.display());
    }
    Ok(rows.iter().filter(|r| r.ok_runs > 0).count())
}

/// Idle mode: runs, table, JSON; the rows that worked.
fn idle_rows(args: &BenchArgs, plan: &Plan, machine: &Machine) -> Result<usize, String> {
    let records = run_all(plan, idle::run_once, idle::describe);
    let rows: Vec<IdleRow> = plan
        .variants
        .iter()
        .map(|&v| IdleRow::of(v, &records))
        .collect();
    print!("{}", idle::table(plan, machine, &rows));
    if let Some(path) = &args.json {
        report::write_json(path, plan, machine, None, &rows, &records)?;
        eprintln!("corio-ab: wrote {}", path.display());
    }
    Ok(rows.iter().filter(|r| r.ok_runs > 0).count())
}

/// One line on a finished load run, for the progress output.
fn describe_load(figures: &RunFigures) -> String {
    format!(
        "{} req/s, p99 {}, {} errors, server {} µs/req ({:.2} cores), load generator {:.2} cores",
        group_thousands(figures.load.requests_per_sec),
        latency(figures.load.latency.p99_us),
        figures.load.error_total,
        figures.cpu_us_per_req.map_or("-".to_string(), sig3),
        figures.server_cores,
        figures.load_cores,
    )
}

/// Every run of the plan, in interleaved order: `run` measures one,
/// `describe` sums it up in a progress line.
fn run_all<F>(
    plan: &Plan,
    run: fn(&Plan, Variant, &Progress) -> Result<F, Failure>,
    describe: fn(&F) -> String,
) -> Vec<RunRecord<F>> {
    let progress = Progress::new(u64::from(plan.reps) * plan.variants.len() as u64);
    for note in &plan.notes {
        progress.note(&format!("note: {note}"));
    }
    let mut failed: HashMap<_, (String, String)> = HashMap::new();
    let mut records = Vec::new();
    for rep in 1..=plan.reps {
        for &variant in &plan.variants {
            let label = format!("{variant} (rep {rep}/{})", plan.reps);
            if let Some((short, brief)) = failed.get(&variant) {
                progress.finish_run(&format!("{label}: skipped, failed before"));
                records.push(RunRecord {
                    variant,
                    rep,
                    figures: None,
                    error: Some(short.clone()),
                    error_brief: Some(brief.clone()),
                });
                continue;
            }
            progress.start_run(label.clone());
            match run(plan, variant, &progress) {
                Ok(figures) => {
                    progress.finish_run(&format!("{label}: {}", describe(&figures)));
                    records.push(RunRecord {
                        variant,
                        rep,
                        figures: Some(figures),
                        error: None,
                        error_brief: None,
                    });
                }
                Err(failure) => {
                    progress.finish_run(&format!("{label}: FAILED: {failure}"));
                    let (short, brief) = (failure.short(), failure.brief());
                    failed.insert(variant, (short.clone(), brief.clone()));
                    records.push(RunRecord {
                        variant,
                        rep,
                        figures: None,
                        error: Some(short),
                        error_brief: Some(brief),
                    });
                }
            }
        }
    }
    progress.finish();
    records
}
