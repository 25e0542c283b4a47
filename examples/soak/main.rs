//! A soak: the hyper hello service under every kind of traffic the fault suite sends —
//! keep-alive requests, echoed bodies, large streamed responses, short connections, peers
//! that reset mid-request and mid-response, clients that never send, 1-byte writers,
//! cancelled reads and writes, aborted tasks — on both backends at once.
//!
//! Run:    cargo run --release --example soak -- --secs 60
//!         (`--backends uring`, `--workers 2`, `--lanes 4`, `--only reset-request,exhaust`
//!         narrow or widen it)
//! Expect: one block per backend with requests served, errors by kind, and fds and RSS at
//!         the start and the end of the measured window; the last line says PASS or FAIL.
//!         Exit 0 only when no unexpected error happened, no echoed or streamed byte was
//!         lost, duplicated or changed, and neither fds nor RSS grew.
//!
//! Each backend runs in its own child process (this binary, re-run with `--child`), so
//! that its fds and RSS are its own; the parent runs them side by side and sums up.

mod client;
mod proc;
mod server;
mod tally;

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::tally::Report;

/// RLIMIT_NOFILE of each child.
const FD_LIMIT: u64 = 4096;

/// The soak's command line.
#[derive(Debug, Parser)]
#[command(about = "Soak corio's hyper hello service with mixed and faulty traffic")]
struct Args {
    /// How long to run, in seconds, warm-up included.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Backends to soak, side by side.
    #[arg(long, value_delimiter = ',', default_value = "uring,epoll")]
    backends: Vec<String>,
    /// Workers of each runtime.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Concurrent clients of every kind.
    #[arg(long, default_value_t = 2)]
    lanes: usize,
    /// Kinds of traffic to run (default: all of them).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<client::Kind>,
    /// Internal: run one backend in this process.
    #[arg(long, hide = true)]
    child: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match &args.child {
        Some(backend) => child(&args, backend),
        None => parent(&args),
    }
}

/// Runs one child per backend at once and prints their reports.
fn parent(args: &Args) -> ExitCode {
    let exe = std::env::current_exe().expect("the soak's own path");
    let children: Vec<_> = args
        .backends
        .iter()
        .map(|backend| {
            let child = Command::new(&exe)
                .args(["--child", backend, "--secs", &args.secs.to_string()])
                .args(["--workers", &args.workers.to_string()])
                .args(["--lanes", &args.lanes.to_string()])
                .args(args.only.iter().flat_map(|kind| {
                    let name = kind.to_possible_value().expect("kinds have names");
                    ["--only".to_owned(), name.get_name().to_owned()]
                }))
                .env(corio::BACKEND_ENV, backend)
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a soak child");
            (backend, child)
        })
        .collect();
    let mut failed = false;
    for (backend, child) in children {
        let output = child.wait_with_output().expect("wait for a soak child");
        print!("{}", String::from_utf8_lossy(&output.stdout));
        if !output.status.success() {
            println!("{backend}: FAIL ({})", output.status);
            failed = true;
        }
    }
    println!("soak {}", if failed { "FAIL" } else { "PASS" });
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Soaks one backend: warm up, measure, run the mix, measure again, judge.
fn child(args: &Args, backend: &str) -> ExitCode {
    let kind = match corio::Backend::parse(backend) {
        Ok(kind) => kind,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    // Few enough fds that taking all of them is quick, enough for every lane's sockets.
    let nofile = rlimit::Resource::NOFILE;
    let limited = rlimit::getrlimit(nofile)
        .and_then(|(_, hard)| rlimit::setrlimit(nofile, FD_LIMIT.min(hard), hard));
    if let Err(err) = limited {
        println!("{backend}: cannot set RLIMIT_NOFILE to {FD_LIMIT}: {err}");
        return ExitCode::FAILURE;
    }
    let rt = match corio::Builder::new()
        .workers(args.workers)
        .backend(kind)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            println!("{backend}: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let total = Duration::from_secs(args.secs.max(2));
    let warmup = (total / 5).min(Duration::from_secs(5));
    let kinds = if args.only.is_empty() {
        client::KINDS.to_vec()
    } else {
        args.only.clone()
    };
    let report: Report = rt.block_on(client::soak(args.lanes, &kinds, warmup, total - warmup));
    print!("{}", report.render(&rt.backend().to_string()));
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
