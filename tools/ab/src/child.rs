//! Child processes (the server, the load generator): spawned pinned to their
//! CPUs in a process group of their own, with the tail of their stderr kept
//! for error messages, killed as a group when dropped, and killed by the
//! kernel if corio-ab itself dies (Ctrl-C), so that no server outlives it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::affinity::{self, CpuList, Mask};

/// Lines of stderr kept for error messages.
const TAIL_LINES: usize = 12;
/// Longest stderr line kept, in bytes.
const TAIL_LINE_MAX: usize = 400;

/// The last lines a child wrote to stderr.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Set when the reader reached the end of the stream.
    done: Arc<AtomicBool>,
}

impl Tail {
    /// Reads `from` line by line on a thread, keeping the last lines.
    fn capture(from: impl Read + Send + 'static) -> Tail {
        let tail = Tail::default();
        let (lines, done) = (tail.lines.clone(), tail.done.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(mut line) = line else { break };
                if line.len() > TAIL_LINE_MAX {
                    let cut = (0..=TAIL_LINE_MAX)
                        .rev()
                        .find(|&i| line.is_char_boundary(i));
                    line.truncate(cut.unwrap_or(0));
                }
                let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
                if lines.len() == TAIL_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
            done.store(true, Ordering::Release);
        });
        tail
    }

    /// Waits until the stream ended (the child and anything that inherited
    /// its stderr are gone), at most `timeout`.
    fn wait_done(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.done.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The kept lines, or `(no output)`.
    pub(crate) fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        match lines.is_empty() {
            true => "(no output)".to_string(),
            false => lines.iter().cloned().collect::<Vec<_>>().join("\n"),
        }
    }

    /// The last non-empty line, for one-line reasons in the table.
    pub(crate) fn last_line(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().rev().find(|l| !l.trim().is_empty()).cloned()
    }
}

/// Why a child failed: a one-line summary and the tail of its stderr.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Failure {
    /// What happened, e.g. `server exited (exit status: 1) before listening on ...`.
    pub(crate) summary: String,
    /// The last stderr lines of the child, if it had one.
    pub(crate) stderr: Option<String>,
    /// The last non-empty stderr line (the usual error message).
    pub(crate) last_line: Option<String>,
}

impl Failure {
    /// A failure without a child's output.
    pub(crate) fn plain(summary: impl Into<String>) -> Failure {
        Failure {
            summary: summary.into(),
            stderr: None,
            last_line: None,
        }
    }

    /// The gist for a chart label: the last stderr line, else the summary.
    pub(crate) fn brief(&self) -> String {
        match &self.last_line {
            Some(line) => {
                let line = line.trim();
                line.strip_prefix("corio-ab: error: ")
                    .unwrap_or(line)
                    .to_string()
            }
            None => self.summary.clone(),
        }
    }

    /// One line for the table: the summary and the last stderr line.
    pub(crate) fn short(&self) -> String {
        match &self.last_line {
            Some(line) => format!("{}: {}", self.summary, line.trim()),
            None => self.summary.clone(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary)?;
        if let Some(tail) = &self.stderr {
            write!(
                f,
                "\n  --- stderr (last lines) ---\n  {}",
                tail.replace('\n', "\n  ")
            )?;
        }
        Ok(())
    }
}

/// A running child process; killed with its process group on drop.
#[derive(Debug)]
pub(crate) struct Supervised {
    child: Child,
    name: String,
    /// Tail of its stderr.
    pub(crate) stderr: Tail,
}

impl Supervised {
    /// Spawns `argv` pinned to `cpus`, with `env` added, stdin and stdout
    /// closed, or piped when `pipes` (the load generator: events out,
    /// idle mode's close command in).
    ///
    /// # Errors
    /// The program cannot be started (not found, not executable, bad CPUs).
    pub(crate) fn spawn(
        name: &str,
        argv: &[String],
        env: &[(String, String)],
        cpus: &CpuList,
        pipes: bool,
    ) -> Result<Supervised, Failure> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Failure::plain("empty command"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(if pipes { Stdio::piped() } else { Stdio::null() })
            .stdout(if pipes { Stdio::piped() } else { Stdio::null() })
            .stderr(Stdio::piped())
            .process_group(0);
        prepare_child(&mut cmd, cpus.mask());
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure::plain(format!("cannot start {name} `{program}`: {e}")))?;
        let stderr = child.stderr.take().map(Tail::capture).unwrap_or_default();
        Ok(Supervised {
            child,
            name: name.to_string(),
            stderr,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Takes the piped stdout (once).
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Takes the piped stdin (once).
    pub(crate) fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// `Err` with the exit status and stderr tail if the child has exited.
    pub(crate) fn check_running(&mut self, when: &str) -> Result<(), Failure> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                // Let the stderr thread read the last lines.
                self.stderr.wait_done(Duration::from_millis(500));
                Err(self.failure(format!("{} exited ({status}) {when}", self.name)))
            }
            Err(e) => Err(Failure::plain(format!(
                "{} {when}: wait failed: {e}",
                self.name
            ))),
        }
    }

    /// A failure of this child, with its stderr tail.
    pub(crate) fn failure(&self, summary: String) -> Failure {
        Failure {
            summary,
            stderr: Some(self.stderr.text()),
            last_line: self.stderr.last_line(),
        }
    }

    /// Waits until `addr` accepts a TCP connection.
    ///
    /// # Errors
    /// The child exits first, or `timeout` passes; the message has its stderr tail.
    pub(crate) fn wait_listening(
        &mut self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running(&format!("before listening on {addr}"))?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.failure(format!(
                    "{} did not listen on {addr} within {:.1}s",
                    self.name,
                    timeout.as_secs_f64()
                )));
            }
            let attempt = left.min(Duration::from_millis(200));
            if TcpStream::connect_timeout(&addr, attempt).is_ok() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// Waits for the child to exit by itself, at most `timeout`.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Kills the child's whole process group and reaps the child.
    pub(crate) fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill_group(self.child.id());
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Makes the child pin itself to `mask` and ask for SIGKILL when corio-ab
/// dies; the exec fails (and `spawn` returns the error) if either fails.
fn prepare_child(cmd: &mut Command, mask: Mask) {
    let setup = move || {
        affinity::set_own_affinity(&mask)?;
        die_with_parent()
    };
    // SAFETY: the closure runs in the forked child before exec; it makes two
    // raw syscalls on values captured by value and builds `io::Error`s from
    // errno, none of which allocates or takes a lock (async-signal-safe).
    unsafe {
        cmd.pre_exec(setup);
    }
}

/// PR_SET_PDEATHSIG: SIGKILL this process when its parent thread exits.
/// Async-signal-safe: used between fork and exec.
fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl(2) PR_SET_PDEATHSIG takes a signal number and reads no
    // memory; the unused arguments are zero as the man page asks.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// SIGKILLs process group `pgid` (the child was made its group's leader), so
/// that a server started through a shell does not outlive the run.
fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: kill(2) only takes integers; a negative pid names the process
    // group this module created with `process_group(0)` for its own child,
    // which is not reaped yet, so the group id cannot have been reused.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}
