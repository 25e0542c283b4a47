//! One run: start the server for a row, wait until it listens, start the
//! load generator, snapshot the server's CPU time and syscall count when the
//! measured window starts and ends, and collect the figures.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::child::{Failure, Supervised};
use crate::perf::SyscallCounter;
use crate::plan::{Plan, PORT_PLACEHOLDER, ROOT_PLACEHOLDER};
use crate::procfs;
use crate::progress::Progress;
use crate::protocol::{LoadEvent, LoadReport};
use crate::results::RunFigures;
use crate::ring::{self, Query, RingCounters};
use crate::variant::Variant;

/// Slack on top of the load's own duration before the parent gives up on it.
pub(crate) const LOAD_SLACK: Duration = Duration::from_secs(15);

/// Extra environment variables of a child.
pub(crate) type Env = Vec<(String, String)>;

/// Counters of a process tree at one instant.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at: Instant,
    cpu_ns: u64,
    syscalls: Option<u64>,
    /// corio's own counters, for a bundled corio server.
    ring: Option<RingCounters>,
}

/// A process tree whose CPU time and system calls are sampled.
#[derive(Debug)]
struct Watched {
    pids: Vec<u32>,
    counter: Result<SyscallCounter, String>,
    ring: Option<Query>,
}

impl Watched {
    fn new(root: u32, ring: Option<Query>) -> Watched {
        let pids = procfs::process_tree(root);
        let counter = SyscallCounter::open(&pids);
        Watched {
            pids,
            counter,
            ring,
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            cpu_ns: procfs::cpu_ns(&self.pids),
            syscalls: self.counter.as_ref().ok().and_then(|c| c.read().ok()),
            ring: self.ring.as_ref().and_then(Query::read),
        }
    }
}

/// Snapshots of the server, the load generator, and the busy time of their
/// CPUs at the window's start and end.
#[derive(Debug, Clone, Copy)]
struct Window {
    server: (Snapshot, Snapshot),
    load: (Snapshot, Snapshot),
    cpus_busy_ns: (u64, u64),
}

impl Window {
    /// CPU nanoseconds, and system calls if counted, of one side.
    fn delta(side: (Snapshot, Snapshot)) -> (u64, Option<u64>) {
        let (a, b) = side;
        let syscalls = a.syscalls.zip(b.syscalls).map(|(x, y)| y.saturating_sub(x));
        (b.cpu_ns.saturating_sub(a.cpu_ns), syscalls)
    }
}

/// Runs `variant` once and measures it.
///
/// # Errors
/// The server does not start or listen, dies during the run, or the load
/// generator fails; the failure carries the child's stderr tail.
pub(crate) fn run_once(
    plan: &Plan,
    variant: Variant,
    progress: &Progress,
) -> Result<RunFigures, Failure> {
    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    progress.phase("starting server");
    let (argv, mut env) = server_command(plan, variant, port)?;
    // A bundled corio server answers queries for its ring counters on its stdin.
    let counted = plan.server_cmd.is_none() && variant.corio_backend().is_some();
    if counted {
        env.push((ring::ENV.to_string(), "1".to_string()));
    }
    let mut server = Supervised::spawn("server", &argv, &env, &plan.server_cpus, counted)?;
    server.wait_listening(addr, plan.ready_timeout)?;
    let query = match (server.take_stdin(), server.take_stdout()) {
        (Some(stdin), Some(stdout)) => Some(Query::new(stdin, stdout)),
        _ => None,
    };
    let watched_server = Watched::new(server.pid(), query);
    let load = plan.load_for(port);
    let spec = serde_json::to_string(&load).map_err(|e| Failure::plain(e.to_string()))?;
    let argv = vec![self_exe()?, "load".into(), "--spec".into(), spec];
    let mut loader = Supervised::spawn("load generator", &argv, &[], &plan.load_cpus, true)?;
    let budget = Duration::from_secs_f64(load.warmup_secs + load.duration_secs + load.timeout_secs);
    let watched = [watched_server, Watched::new(loader.pid(), None)];
    let cpus = plan.server_cpus.union(&plan.load_cpus);
    let (window, report) = follow_load(
        &mut loader,
        &watched,
        cpus.ids(),
        budget + LOAD_SLACK,
        progress,
    )?;
    loader.wait_exit(Duration::from_secs(2));
    server.check_running("during the run")?;
    let figures = figures(report, &window, &watched[0]);
    server.kill();
    Ok(figures)
}

/// The server's argv and extra environment for `variant` on `port`.
pub(crate) fn server_command(
    plan: &Plan,
    variant: Variant,
    port: u16,
) -> Result<(Vec<String>, Env), Failure> {
    let mut env = vec![
        ("CORIO_WORKERS".to_string(), plan.workers.to_string()),
        ("PORT".to_string(), port.to_string()),
    ];
    if let Some(backend) = variant.corio_backend() {
        env.push(("CORIO_BACKEND".to_string(), backend.to_string()));
    }
    let root = plan
        .root
        .as_ref()
        .map(|r| r.path().to_string_lossy().into_owned());
    let argv = match &plan.server_cmd {
        Some(cmd) => cmd
            .iter()
            .map(|a| a.replace(PORT_PLACEHOLDER, &port.to_string()))
            .map(|a| match &root {
                Some(root) => a.replace(ROOT_PLACEHOLDER, root),
                None => a,
            })
            .collect(),
        None => {
            let mut argv = vec![
                self_exe()?,
                "serve".into(),
                "--runtime".into(),
                variant.serve_runtime().into(),
                "--port".into(),
                port.to_string(),
                "--workers".into(),
                plan.workers.to_string(),
                "--mode".into(),
                format!("{:?}", plan.mode).to_lowercase(),
            ];
            if let Some(root) = root {
                argv.extend(["--service".into(), "file".into(), "--root".into(), root]);
            }
            argv.extend(plan.scheduler.serve_args());
            argv
        }
    };
    Ok((argv, env))
}

/// Reads the load child's events until its report, snapshotting the server
/// on the window markers.
fn follow_load(
    loader: &mut Supervised,
    [server, load]: &[Watched; 2],
    cpus: &[usize],
    budget: Duration,
    progress: &Progress,
) -> Result<(Window, LoadReport), Failure> {
    let events = spawn_reader(loader)?;
    let deadline = Deadline::after(budget);
    let (mut start, mut end) = (None, None);
    progress.phase("warm-up");
    loop {
        match next_event(loader, &events, deadline, "report")? {
            LoadEvent::Progress {
                measuring,
                responses,
                errors,
            } => progress.counts(measuring, responses, errors),
            LoadEvent::MeasureStart => {
                start = Some((server.snapshot(), load.snapshot(), procfs::busy_ns(cpus)));
                progress.phase("measuring");
            }
            LoadEvent::MeasureEnd => {
                end = Some((server.snapshot(), load.snapshot(), procfs::busy_ns(cpus)))
            }
            LoadEvent::Holding(_) | LoadEvent::Closed => {
                return Err(Failure::plain(
                    "load generator held idle connections instead of loading",
                ))
            }
            LoadEvent::Report(report) => {
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(Failure::plain(
                        "load generator reported before its window ended",
                    ));
                };
                let window = Window {
                    server: (start.0, end.0),
                    load: (start.1, end.1),
                    cpus_busy_ns: (start.2, end.2),
                };
                return Ok((window, report));
            }
        }
    }
}

/// The load child's stdout lines: events, or a line that is not one.
pub(crate) type Events = mpsc::Receiver<Result<LoadEvent, String>>;

/// When to give up waiting for the load child, and the budget it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub(crate) fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + budget,
            budget,
        }
    }
}

/// The load child's next event, awaited until `deadline`; `what` names what
/// the caller waits for, in the messages.
///
/// # Errors
/// The child printed something else, gave nothing in time, or exited.
pub(crate) fn next_event(
    loader: &mut Supervised,
    events: &Events,
    deadline: Deadline,
    what: &str,
) -> Result<LoadEvent, Failure> {
    let left = deadline.at.saturating_duration_since(Instant::now());
    match events.recv_timeout(left) {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(bad_line)) => Err(loader.failure(format!("load generator printed `{bad_line}`"))),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(loader.failure(format!(
            "load generator gave no {what} within {:.0}s",
            deadline.budget.as_secs_f64()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            loader.wait_exit(Duration::from_secs(1));
            loader.check_running(&format!("without a {what}"))?;
            Err(loader.failure("load generator closed its output".into()))
        }
    }
}

/// Parses the load child's stdout lines on a thread.
pub(crate) fn spawn_reader(loader: &mut Supervised) -> Result<Events, Failure> {
    let stdout = loader
        .take_stdout()
        .ok_or_else(|| Failure::plain("load generator has no stdout"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let event = serde_json::from_str::<LoadEvent>(&line).map_err(|_| line);
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

fn figures(load: LoadReport, window: &Window, server: &Watched) -> RunFigures {
    let (server_cpu_ns, syscalls) = Window::delta(window.server);
    let (load_cpu_ns, load_syscalls) = Window::delta(window.load);
    let secs = window
        .server
        .1
        .at
        .duration_since(window.server.0.at)
        .as_secs_f64();
    let per_req = |total: f64| (load.responses > 0).then(|| total / load.responses as f64);
    let cores = |ns: u64| {
        if secs > 0.0 {
            ns as f64 / 1e9 / secs
        } else {
            0.0
        }
    };
    RunFigures {
        cpu_us_per_req: per_req(server_cpu_ns as f64 / 1000.0),
        server_cores: cores(server_cpu_ns),
        server_cpu_ns,
        server_window_secs: secs,
        peak_rss_kib: procfs::peak_rss_kib(&server.pids),
        syscalls_per_req: syscalls.and_then(|s| per_req(s as f64)),
        syscalls,
        syscalls_unavailable: match (&server.counter, syscalls) {
            (Err(reason), _) => Some(reason.clone()),
            (Ok(_), None) => Some("reading the perf counters failed".to_string()),
            (Ok(_), Some(_)) => None,
        },
        server_threads: server.pids.iter().map(|&p| procfs::threads(p).len()).sum(),
        load_cores: cores(load_cpu_ns),
        background_cores: cores(
            (window.cpus_busy_ns.1.saturating_sub(window.cpus_busy_ns.0))
                .saturating_sub(server_cpu_ns + load_cpu_ns),
        ),
        load_syscalls_per_req: load_syscalls.and_then(|s| per_req(s as f64)),
        ring: window
            .server
            .0
            .ring
            .zip(window.server.1.ring)
            .map(|(a, b)| a.until(b)),
        load,
    }
}

/// A port nobody listens on right now (the kernel picks it).
pub(crate) fn free_port() -> Result<u16, Failure> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Failure::plain(format!("finding a free port: {e}")))
}

/// The path of corio-ab's own executable, which the children run.
pub(crate) fn self_exe() -> Result<String, Failure> {
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| Failure::plain(format!("cannot find corio-ab's own executable: {e}")))
}
