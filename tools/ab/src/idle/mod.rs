//! `--mode idle`: memory per idle keep-alive connection. One run: the server
//! starts as in the load modes; once it listens and its RSS is steady it is
//! sampled (baseline: VmRSS of its processes and their open fds); the load
//! child opens `--connections` keep-alive connections, one request answered
//! on each, and holds them idle; once the server's RSS is steady again it is
//! sampled (idle); the load child closes them all; once the server's fds are
//! back at baseline (at most [`FDS_BACK_MAX`]) and its RSS is steady, it is
//! sampled a last time (after close). [`figures`] computes bytes per
//! connection and the share returned; [`table()`] prints the rows.

mod figures;
mod table;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::child::{Failure, Supervised};
use crate::plan::Plan;
use crate::procfs;
use crate::progress::Progress;
use crate::protocol::{IdleReport, LoadEvent, CLOSE, OPEN_SLACK};
use crate::run::{self, Deadline, Events, LOAD_SLACK};
use crate::units::{mib, percent, signed_thousands};
use crate::variant::Variant;
use figures::Sample;
pub(crate) use figures::{IdleFigures, IdleRow};
pub(crate) use table::table;

/// Time between two samples of the server.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// Shortest wait before a sample: past two of corio's once-a-second checks of whether
/// to give freed memory back (`Builder::trim_memory`).
const SETTLE_MIN: Duration = Duration::from_millis(2500);
/// Longest wait for a steady RSS; the sample is taken then anyway.
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// The RSS is steady when this many samples in a row ...
const STEADY_SAMPLES: usize = 5;
/// ... differ by at most this many KiB.
const STEADY_KIB: u64 = 16;
/// Longest wait after the close for the server's fds to be back at baseline.
const FDS_BACK_MAX: Duration = Duration::from_secs(10);
/// Longest wait for the load child to close its connections.
const CLOSE_MAX: Duration = Duration::from_secs(10);

/// Runs `variant` once: baseline, idle connections, after close.
///
/// # Errors
/// The server does not start or listen, dies during the run, or the load
/// generator fails; the failure carries the child's stderr tail.
pub(crate) fn run_once(
    plan: &Plan,
    variant: Variant,
    progress: &Progress,
) -> Result<IdleFigures, Failure> {
    let port = run::free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    progress.phase("starting server");
    let (argv, env) = run::server_command(plan, variant, port)?;
    let mut server = Supervised::spawn("server", &argv, &env, &plan.server_cpus, false)?;
    server.wait_listening(addr, plan.ready_timeout)?;
    let pids = procfs::process_tree(server.pid());
    progress.phase("baseline");
    let baseline = settle(&mut server, &pids, "before the connections")?;
    let mut loader = Loader::spawn(plan, port)?;
    progress.phase("opening connections");
    let open_budget = Duration::from_secs_f64(plan.load.timeout_secs) + OPEN_SLACK + LOAD_SLACK;
    let open = loader.holding(Deadline::after(open_budget), progress)?;
    progress.phase("idle");
    let idle = settle(&mut server, &pids, "while the connections were idle")?;
    progress.phase("closing");
    loader.close()?;
    let fds_back = fds_back(&pids, baseline.fds);
    let after_close = settle(&mut server, &pids, "after the connections closed")?;
    server.kill();
    Ok(IdleFigures::new(
        open,
        [baseline, idle, after_close],
        fds_back,
    ))
}

/// One line on a finished run, for the progress output.
pub(crate) fn describe(f: &IdleFigures) -> String {
    format!(
        "{} held, {} errors, {} B/conn, RSS {} -> {} -> {} (returned {}), fds {}/{}/{}",
        f.open.held,
        f.open.error_total,
        f.bytes_per_conn.map_or("-".to_string(), signed_thousands),
        mib(f.baseline.rss_kib as f64),
        mib(f.idle.rss_kib as f64),
        mib(f.after_close.rss_kib as f64),
        f.returned.map_or("-".to_string(), percent),
        f.baseline.fds,
        f.idle.fds,
        f.after_close.fds,
    )
}

/// The idle load child and its stdout events.
#[derive(Debug)]
struct Loader {
    child: Supervised,
    events: Events,
}

impl Loader {
    fn spawn(plan: &Plan, port: u16) -> Result<Loader, Failure> {
        let spec = serde_json::to_string(&plan.load_for(port))
            .map_err(|e| Failure::plain(e.to_string()))?;
        let argv = vec![run::self_exe()?, "load".into(), "--spec".into(), spec];
        let mut child = Supervised::spawn("load generator", &argv, &[], &plan.load_cpus, true)?;
        let events = run::spawn_reader(&mut child)?;
        Ok(Loader { child, events })
    }

    /// Waits until every connection was tried and the good ones are held.
    fn holding(&mut self, deadline: Deadline, progress: &Progress) -> Result<IdleReport, Failure> {
        loop {
            match run::next_event(&mut self.child, &self.events, deadline, "idle connections")? {
                LoadEvent::Progress {
                    responses, errors, ..
                } => progress.counts(false, responses, errors),
                LoadEvent::Holding(report) => return Ok(report),
                other => return Err(self.unexpected(&other)),
            }
        }
    }

    /// Tells the child to close every connection and waits until it did.
    fn close(&mut self) -> Result<(), Failure> {
        let mut stdin = self
            .child
            .take_stdin()
            .ok_or_else(|| Failure::plain("load generator has no stdin"))?;
        writeln!(stdin, "{CLOSE}")
            .and_then(|()| stdin.flush())
            .map_err(|e| {
                self.child
                    .failure(format!("telling the load generator to close: {e}"))
            })?;
        let deadline = Deadline::after(CLOSE_MAX);
        match run::next_event(&mut self.child, &self.events, deadline, "close")? {
            LoadEvent::Closed => {
                self.child.wait_exit(Duration::from_secs(2));
                Ok(())
            }
            other => Err(self.unexpected(&other)),
        }
    }

    fn unexpected(&self, event: &LoadEvent) -> Failure {
        self.child
            .failure(format!("load generator sent {event:?} in idle mode"))
    }
}

/// The server's RSS and fds now; `None` once its processes are gone.
fn sample(pids: &[u32]) -> Option<Sample> {
    Some(Sample {
        rss_kib: procfs::rss_kib(pids)?,
        fds: procfs::fd_count(pids)?,
    })
}

/// Samples the server every [`SAMPLE_EVERY`] until its RSS is steady (at
/// least [`SETTLE_MIN`], at most [`SETTLE_MAX`]) and returns the last sample.
fn settle(server: &mut Supervised, pids: &[u32], when: &str) -> Result<Sample, Failure> {
    let start = Instant::now();
    let mut rss = Vec::new();
    loop {
        let Some(now) = sample(pids) else {
            server.check_running(when)?;
            return Err(Failure::plain(format!(
                "cannot read the server's /proc/PID/status and fd {when}"
            )));
        };
        rss.push(now.rss_kib);
        let waited = start.elapsed();
        if waited >= SETTLE_MAX || (waited >= SETTLE_MIN && is_steady(&rss)) {
            server.check_running(when)?;
            return Ok(now);
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// Whether the last [`STEADY_SAMPLES`] RSS samples differ by at most
/// [`STEADY_KIB`].
fn is_steady(rss_kib: &[u64]) -> bool {
    let Some(last) = rss_kib.len().checked_sub(STEADY_SAMPLES) else {
        return false;
    };
    let window = &rss_kib[last..];
    let (lo, hi) = (window.iter().min(), window.iter().max());
    lo.zip(hi).is_some_and(|(lo, hi)| hi - lo <= STEADY_KIB)
}

/// Waits until the server has no more fds open than at `baseline`, at most
/// [`FDS_BACK_MAX`]; how long that took.
fn fds_back(pids: &[u32], baseline: u64) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if procfs::fd_count(pids).is_some_and(|n| n <= baseline) {
            return Some(start.elapsed());
        }
        if start.elapsed() >= FDS_BACK_MAX {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_after_enough_equal_samples() {
        assert!(!is_steady(&[]));
        assert!(!is_steady(&[100; STEADY_SAMPLES - 1]));
        assert!(is_steady(&[100; STEADY_SAMPLES]));
        let mut rising: Vec<u64> = (0..10).map(|i| 1000 + i * 400).collect();
        assert!(!is_steady(&rising));
        rising.extend([5000, 5016, 5010, 5000]);
        assert!(!is_steady(&rising), "5000 after 4600 is not steady yet");
        rising.push(5008);
        assert!(is_steady(&rising));
        rising.push(5017);
        assert!(!is_steady(&rising), "17 KiB apart");
    }
}
