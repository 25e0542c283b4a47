//! The load generator child (`corio-ab load --spec JSON`): one tokio
//! current_thread runtime with a task per connection, pinned by the parent
//! to the load CPUs. It runs the warm-up, the measured window, and prints
//! JSON lines ([`LoadEvent`]) on stdout: progress, window start and end
//! markers (the parent snapshots the server's counters on them), the report.
//! With `--mode idle` it opens and holds the connections instead ([`idle`]).

mod conn;
mod http;
mod idle;
mod proto;
mod shared;

use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cli::LoadArgs;
use crate::nofile;
use crate::protocol::{LoadEvent, LoadSpec};
use proto::Proto;
use shared::Shared;

/// Time between two progress lines.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs the load described by `args.spec` and reports on stdout.
///
/// # Errors
/// A bad spec, a non-loopback address, too low a limit of open files, or
/// stdout closed by the parent.
pub(crate) fn main(args: &LoadArgs) -> Result<(), String> {
    let spec: LoadSpec =
        serde_json::from_str(&args.spec).map_err(|e| format!("bad load spec: {e}"))?;
    if !spec.addr.ip().is_loopback() {
        return Err(format!(
            "refusing to load {}: only loopback addresses",
            spec.addr
        ));
    }
    nofile::raise(u64::from(spec.connections) + nofile::MARGIN)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building the load runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    match spec.idle {
        true => local.block_on(&rt, idle::run(spec)),
        false => local.block_on(&rt, run(spec)),
    }
}

async fn run(spec: LoadSpec) -> Result<(), String> {
    let proto = Rc::new(Proto::new(&spec.proto, spec.addr));
    let shared = Rc::new(Shared::new(&spec, Instant::now())?);
    let tasks: Vec<_> = (0..spec.connections)
        .map(|i| tokio::task::spawn_local(conn::run(shared.clone(), proto.clone(), spec.addr, i)))
        .collect();
    let result = phases(&shared).await;
    for task in &tasks {
        task.abort();
    }
    result
}

/// Warm-up, then the measured window, with progress lines all along.
async fn phases(shared: &Shared) -> Result<(), String> {
    progress_until(shared, shared.warm_end, false).await?;
    emit(&LoadEvent::MeasureStart)?;
    let end = tokio::select! {
        r = progress_until(shared, shared.end(), true) => { r?; shared.end() }
        () = shared.target_reached.notified() => shared.end(),
    };
    emit(&LoadEvent::MeasureEnd)?;
    emit(&LoadEvent::Report(shared.report(end)))
}

/// Prints progress every [`PROGRESS_EVERY`] until `until`.
async fn progress_until(shared: &Shared, until: Instant, measuring: bool) -> Result<(), String> {
    let mut next = Instant::now() + PROGRESS_EVERY;
    while Instant::now() < until {
        tokio::time::sleep_until(next.min(until)).await;
        if Instant::now() >= next {
            let (responses, errors) = shared.totals();
            emit(&LoadEvent::Progress {
                measuring,
                responses,
                errors,
            })?;
            next += PROGRESS_EVERY;
        }
    }
    Ok(())
}

fn emit(event: &LoadEvent) -> Result<(), String> {
    let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing to the parent: {e}"))
}
