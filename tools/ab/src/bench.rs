//! The benchmark: rows run interleaved (A B C A B C ...) for `--reps`
//! rounds; a row that fails is reported with its reason and skipped in
//! later rounds while the others go on. Then the table, JSON and SVG.

use std::collections::HashMap;
use std::process::ExitCode;

use crate::cli::BenchArgs;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::{self, Machine};
use crate::results::{RowSummary, RunRecord};
use crate::run;
use crate::svg;
use crate::units::{group_thousands, latency, sig3};

/// Runs the benchmark described by `args`; exit code 1 if no row worked.
///
/// # Errors
/// Invalid options, or the JSON/SVG file cannot be written.
pub(crate) fn main(args: &BenchArgs) -> Result<ExitCode, String> {
    let plan = Plan::new(args)?;
    let machine = Machine::describe(&plan);
    eprintln!("corio-ab: {}", plan.shape());
    eprintln!("corio-ab: {}", machine.line());
    let records = run_all(&plan);
    let rows: Vec<RowSummary> = plan
        .variants
        .iter()
        .map(|&v| RowSummary::of(v, &records))
        .collect();
    print!("{}", report::table(&plan, &machine, &rows));
    if let Some(path) = &args.json {
        report::write_json(path, &plan, &machine, &rows, &records)?;
        eprintln!("corio-ab: wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, svg::chart(&plan, &machine, &rows))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("corio-ab: wrote {}", path.display());
    }
    let ok_rows = rows.iter().filter(|r| r.ok_runs > 0).count();
    match ok_rows {
        0 => {
            eprintln!("corio-ab: every row failed");
            Ok(ExitCode::FAILURE)
        }
        n if n < rows.len() => {
            eprintln!(
                "corio-ab: {} of {} rows failed (see the table)",
                rows.len() - n,
                rows.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Every run of the plan, in interleaved order.
fn run_all(plan: &Plan) -> Vec<RunRecord> {
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
            match run::run_once(plan, variant, &progress) {
                Ok(figures) => {
                    progress.finish_run(&format!(
                        "{label}: {} req/s, p99 {}, {} errors, server {} µs/req ({:.2} cores), \
                         load generator {:.2} cores",
                        group_thousands(figures.load.requests_per_sec),
                        latency(figures.load.latency.p99_us),
                        figures.load.error_total,
                        figures.cpu_us_per_req.map_or("-".to_string(), sig3),
                        figures.server_cores,
                        figures.load_cores,
                    ));
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
