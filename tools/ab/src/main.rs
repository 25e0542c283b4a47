//! `corio-ab`: the A/B benchmark of corio's io_uring and epoll backends
//! against plain tokio.
//!
//! The parent process orchestrates; it re-executes itself as its two kinds
//! of children: `corio-ab serve` (the bundled hyper hello / echo server, see
//! [`serve`]) and `corio-ab load` (the load generator, see [`load`]), each
//! pinned to its own CPUs. A user's server binary replaces `serve`. The
//! `raw-uring` and `raw-epoll` rows run reference servers written without a
//! runtime ([`raw`]).
//!
//! ```text
//! corio-ab (parent: plan, interleaved runs, /proc + perf snapshots, table, JSON, SVG)
//! ├── server child  (pinned to --server-cpus; CORIO_BACKEND / CORIO_WORKERS set per row)
//! └── load child    (pinned to --load-cpus; JSON lines on stdout)
//! ```
//!
//! `--mode http` (default) and `--mode echo` load the server for a window
//! and measure throughput, latency and CPU per request ([`run`]).
//! `--mode idle` measures memory per idle keep-alive connection ([`idle`]):
//! the server's RSS and fds are sampled listening (baseline), with
//! `--connections` (default 10,000) connections held idle after one answered
//! request each, and after the load child closed them all; the table gives
//! bytes of RSS per connection and how much of the growth the server gave
//! back, e.g. `corio-ab --mode idle -c 10000 --reps 3`. The open-files limit
//! is raised for the children ([`nofile`]).

mod affinity;
mod bench;
mod child;
mod cli;
mod files;
mod idle;
mod load;
mod nofile;
mod perf;
mod plan;
mod procfs;
mod progress;
mod protocol;
mod raw;
mod report;
mod results;
mod ring;
mod run;
mod serve;
mod serve_file;
mod stats;
mod svg;
mod units;
mod variant;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Serve(args)) => serve::main(args).map(|()| ExitCode::SUCCESS),
        Some(Command::Load(args)) => load::main(args).map(|()| ExitCode::SUCCESS),
        None => bench::main(&cli.bench),
    };
    result.unwrap_or_else(|e| {
        eprintln!("corio-ab: error: {e}");
        ExitCode::from(2)
    })
}
