//! tokio::fs with and without tokio's own io-uring backend, on the fs
//! workloads of corio's `benches/fs.rs`: the fourth column of that bench.
//!
//! Run (from the repository root; about a minute on 2 CPUs):
//!
//! ```sh
//! cd benches/tokio-uring-fs && RUSTFLAGS="--cfg tokio_unstable" cargo run --release
//! cd benches/tokio-uring-fs && cargo run --release -- --runs 3 --secs 0.3 --only random
//! ```
//!
//! (`.cargo/config.toml` here already passes `--cfg tokio_unstable`, so plain
//! `cargo run --release` in this directory works too, unless RUSTFLAGS is set.)
//!
//! Two columns, from one binary built with tokio's `io-uring` feature:
//! - `tokio::fs`: a current_thread runtime without the I/O driver
//!   (`enable_time` only). tokio::fs then finds no driver and takes its
//!   blocking-pool path, the same code as a build without the feature.
//! - `tokio::fs io-uring`: a current_thread runtime with `enable_io_uring()`.
//!   tokio 1.54 sends only these calls through its ring: `OpenOptions::open`
//!   (openat), `fs::read` (openat + statx + read), `fs::write` (openat +
//!   write), `File`'s `AsyncRead` (read at the file position), `fs::rename`,
//!   `fs::try_exists` (statx). Seek, `File` writes, flush, fsync and close
//!   stay on the blocking pool or the calling thread (see README.md).
//!
//! Each cell is the median of `--runs` timed runs (after one warm-up run),
//! the two columns interleaved run by run. Output: one plain table.

mod data;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;

use data::DataSet;
use workload::{Run, Workload};

/// Whether this build has tokio's io-uring fs.
const URING_BUILT: bool = cfg!(all(tokio_unstable, feature = "io-uring"));

/// Command-line options.
#[derive(Debug)]
struct Options {
    runs: usize,
    window: Duration,
    only: Option<String>,
    dir: PathBuf,
}

/// The two columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// tokio::fs on the blocking pool.
    Blocking,
    /// tokio::fs through tokio's io_uring driver.
    Uring,
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tokio-uring-fs: {e}\nusage: tokio-uring-fs [--runs N] [--secs S] [--only TEXT] [--dir DIR]");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio-uring-fs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        runs: 5,
        window: Duration::from_millis(500),
        only: None,
        dir: std::env::temp_dir(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--runs" => {
                options.runs = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=50).contains(n))
                    .ok_or("--runs: 1 to 50")?
            }
            "--secs" => {
                let secs: f64 = value.parse().map_err(|_| "--secs: a number")?;
                if !(0.01..=10.0).contains(&secs) {
                    return Err("--secs: 0.01 to 10".into());
                }
                options.window = Duration::from_secs_f64(secs);
            }
            "--only" => options.only = Some(value),
            "--dir" => options.dir = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(), String> {
    eprintln!(
        "tokio-uring-fs: writing 256 MiB + 10,000 small files under {}",
        options.dir.display()
    );
    let data = Arc::new(DataSet::create(&options.dir).map_err(|e| format!("data set: {e}"))?);
    let backends: &[Backend] = match URING_BUILT {
        true => &[Backend::Blocking, Backend::Uring],
        false => &[Backend::Blocking],
    };
    let runtimes: Vec<Runtime> = backends
        .iter()
        .map(|&b| runtime(b))
        .collect::<Result<_, _>>()?;
    print_header(options);
    for workload in Workload::ALL {
        let name = workload.name();
        if options
            .only
            .as_ref()
            .is_some_and(|o| !name.to_lowercase().contains(&o.to_lowercase()))
        {
            continue;
        }
        if matches!(workload, Workload::RandRead { direct: false, .. }) {
            data.warm_page_cache()
                .map_err(|e| format!("warming the page cache: {e}"))?;
        }
        let cells = measure(workload, &data, &runtimes, options);
        print_row(&name, &cells);
    }
    println!("\nops/s: reads, writes or files per second, median of {} runs (min-max); MB/s: 10^6 bytes/s; ratio: io-uring ops/s / tokio::fs ops/s;\nCQEs/op: io_uring completions (from /proc/self/fdinfo) per operation in the io-uring column: 0 means tokio did not use its ring.", options.runs);
    Ok(())
}

/// A current_thread runtime for `backend`.
fn runtime(backend: Backend) -> Result<Runtime, String> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time();
    if backend == Backend::Uring {
        enable_uring(&mut builder);
    }
    builder
        .build()
        .map_err(|e| format!("building the runtime: {e}"))
}

#[cfg(all(tokio_unstable, feature = "io-uring"))]
fn enable_uring(builder: &mut tokio::runtime::Builder) {
    builder.enable_io_uring();
}

#[cfg(not(all(tokio_unstable, feature = "io-uring")))]
fn enable_uring(_: &mut tokio::runtime::Builder) {
    unreachable!("Backend::Uring is only run when URING_BUILT")
}

/// What one column measured for one workload.
#[derive(Debug)]
struct Cell {
    runs: Result<Vec<Run>, String>,
    /// io_uring completions in this process during the timed runs.
    cqes: u64,
}

impl Cell {
    /// Completions per operation, if the runs worked.
    fn cqes_per_op(&self) -> Option<f64> {
        let ops: u64 = self.runs.as_ref().ok()?.iter().map(|r| r.ops).sum();
        (ops > 0).then(|| self.cqes as f64 / ops as f64)
    }
}

/// Warm-up, then `options.runs` timed runs on every runtime, interleaved.
fn measure(
    workload: Workload,
    data: &Arc<DataSet>,
    runtimes: &[Runtime],
    options: &Options,
) -> Vec<Cell> {
    let mut cells: Vec<Cell> = runtimes
        .iter()
        .map(|_| Cell {
            runs: Ok(Vec::new()),
            cqes: 0,
        })
        .collect();
    for round in 0..=options.runs {
        for (rt, cell) in runtimes.iter().zip(&mut cells) {
            let Ok(runs) = &mut cell.runs else { continue };
            let before = ring_completions();
            match rt.block_on(workload.run(data, options.window)) {
                Ok(run) if round > 0 => {
                    runs.push(run);
                    cell.cqes += ring_completions().wrapping_sub(before);
                }
                Ok(_) => {}
                Err(e) => cell.runs = Err(describe(e)),
            }
        }
    }
    cells
}

fn describe(e: std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EINVAL) => "EINVAL (unaligned O_DIRECT buffer)".into(),
        _ => e.to_string(),
    }
}

/// Completions posted so far on every io_uring instance of this process:
/// the `CqTail` of each fd linking to `anon_inode:[io_uring]`, from
/// /proc/self/fdinfo (a u32 that wraps; summed as u64 deltas stay right for
/// fewer than 2^32 completions per run).
fn ring_completions() -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut total = 0u64;
    for fd in fds.flatten() {
        let is_ring =
            std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("io_uring"));
        if !is_ring {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ));
        let tail = info.ok().and_then(|i| {
            i.lines()
                .find_map(|l| l.strip_prefix("CqTail:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        total = total.wrapping_add(tail.unwrap_or(0));
    }
    total
}

/// The median, min and max of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    (median, values[0], values[n - 1])
}

const COLUMNS: [&str; 6] = [
    "tokio::fs ops/s",
    "(min-max)",
    "MB/s",
    "io-uring ops/s",
    "(min-max)",
    "MB/s",
];

fn print_header(options: &Options) {
    println!(
        "\ntokio {} fs, current_thread runtime, {} runs per cell (random reads: {} s each), Linux {}, {} CPUs, load average {}",
        tokio_version(),
        options.runs,
        options.window.as_secs_f64(),
        kernel(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
    );
    if !URING_BUILT {
        println!("io-uring column: not built (needs RUSTFLAGS=\"--cfg tokio_unstable\" and the io-uring feature)");
    }
    println!(
        "\n{:<42} {:>15} {:>17} {:>7} {:>15} {:>17} {:>7} {:>6} {:>9}",
        "workload",
        COLUMNS[0],
        COLUMNS[1],
        COLUMNS[2],
        COLUMNS[3],
        COLUMNS[4],
        COLUMNS[5],
        "ratio",
        "CQEs/op"
    );
}

fn print_row(name: &str, cells: &[Cell]) {
    let mut line = format!("{name:<42}");
    let mut medians = Vec::new();
    for cell in cells {
        match &cell.runs {
            Ok(runs) if !runs.is_empty() => {
                let ops = spread(
                    runs.iter()
                        .map(|r| r.ops as f64 / r.elapsed.as_secs_f64())
                        .collect(),
                );
                let mbps = spread(
                    runs.iter()
                        .map(|r| r.bytes as f64 / r.elapsed.as_secs_f64() / 1e6)
                        .collect(),
                );
                line += &format!(
                    " {:>15.0} {:>17} {:>7.0}",
                    ops.0,
                    format!("({:.0}-{:.0})", ops.1, ops.2),
                    mbps.0
                );
                medians.push(Some(ops.0));
            }
            Ok(_) => {
                line += &format!(" {:>41}", "no runs");
                medians.push(None);
            }
            Err(e) => {
                line += &format!(" {:>41}", format!("error: {e}"));
                medians.push(None);
            }
        }
    }
    if let [Some(a), Some(b)] = medians[..] {
        line += &format!(" {:>6.2}", b / a);
    } else if cells.len() == 2 {
        line += &format!(" {:>6}", "-");
    }
    if let Some(uring) = cells.get(1) {
        line += &format!(
            " {:>9}",
            uring
                .cqes_per_op()
                .map_or("-".into(), |c| format!("{c:.2}"))
        );
    }
    println!("{line}");
}

/// The tokio version in this crate's Cargo.lock.
fn tokio_version() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"tokio\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return v.trim_end_matches('"').to_string();
            }
        }
    }
    "?".into()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or("?".into(), |s| {
        s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    })
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("?".into(), |s| s.trim().to_string())
}
