//! Tests that need a process of their own (a lowered `RLIMIT_NOFILE`, an RSS no other test
//! disturbs, fds split between a server and its clients) re-run this test binary with only
//! themselves selected and [`CHILD_ENV`] set, as `tests/backend_fallback.rs` does; the child
//! runs the real body. Parent and child may talk in lines: the child prints to stdout, the
//! parent writes to the child's stdin.

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Set (to the test's name) in a child process.
pub(crate) const CHILD_ENV: &str = "CORIO_TEST_CHILD";

/// True in the child process.
pub(crate) fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// The name `#[corio::test(backend = "both")]` gave `test` on the running backend.
pub(crate) fn backend_test(test: &str) -> String {
    format!("{}_{test}", corio::backend().kind)
}

/// Runs `test` in a child (see [`ChildTest::finish`]); returns its stdout.
pub(crate) fn run(test: &str, envs: &[(&str, &str)], limit: Duration) -> String {
    ChildTest::spawn(test, envs).finish(limit)
}

/// In the child: the next line the parent writes (without its newline). Read on a thread
/// of its own, so the runtime keeps running meanwhile.
pub(crate) async fn parent_line() -> String {
    let (done, line) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).expect("read stdin");
        let _ = done.send(line);
    });
    let line = line.await.expect("the stdin reader panicked");
    assert!(!line.is_empty(), "the parent closed stdin");
    line.trim_end().to_owned()
}

/// A child process running one test of this binary (ignored tests included).
#[derive(Debug)]
pub(crate) struct ChildTest {
    test: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Stdout lines read so far.
    seen: String,
    stderr: Option<JoinHandle<String>>,
}

impl ChildTest {
    /// Starts `test` with `envs` set.
    pub(crate) fn spawn(test: &str, envs: &[(&str, &str)]) -> ChildTest {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--exact", test, "--nocapture", "--include-ignored"])
            .args(["--test-threads", "1"])
            .env(CHILD_ENV, test)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child test");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = Some(drain(child.stderr.take().expect("piped stderr")));
        ChildTest {
            test: test.to_owned(),
            child,
            stdin,
            stdout,
            seen: String::new(),
            stderr,
        }
    }

    /// Reads the child's stdout up to a line holding `prefix`; returns what follows it on
    /// that line, or `None` if the child's stdout ended first ([`ChildTest::finish`] then
    /// tells whether the child failed).
    pub(crate) fn expect(&mut self, prefix: &str) -> Option<String> {
        for line in self.stdout.by_ref() {
            let line = line.expect("read the child's stdout");
            self.seen.push_str(&line);
            self.seen.push('\n');
            // The harness prints `test <name> ... ` before the test's own first line.
            if let Some((_, rest)) = line.split_once(prefix) {
                return Some(rest.to_owned());
            }
        }
        None
    }

    /// As [`ChildTest::expect`], but fails the test, with the child's output, if the child
    /// ends first.
    pub(crate) fn expect_line(&mut self, prefix: &str) -> String {
        if let Some(rest) = self.expect(prefix) {
            return rest;
        }
        let status = self.child.wait().expect("wait for the child");
        let stderr = self.stderr.take().map(|stderr| stderr.join());
        let stderr = stderr.expect("stderr drained once").expect("stderr reader");
        panic!(
            "child {} ended ({status}) before printing {prefix:?}:\n{}{stderr}",
            self.test, self.seen
        );
    }

    /// Writes `line` to the child's stdin.
    pub(crate) fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the child");
    }

    /// Waits for the child until `limit` (then kills it), echoes its output, and returns its
    /// stdout; fails if the child failed.
    pub(crate) fn finish(self, limit: Duration) -> String {
        let ChildTest {
            test,
            mut child,
            stdin,
            stdout,
            seen,
            stderr,
        } = self;
        drop(stdin);
        let rest = std::thread::spawn(move || {
            let lines = stdout.map(|line| line.expect("read the child's stdout") + "\n");
            lines.collect::<String>()
        });
        let status = wait(&mut child, limit);
        let stdout = seen + &rest.join().expect("stdout reader");
        let stderr = stderr.expect("stderr drained once").join();
        let stderr = stderr.expect("stderr reader");
        eprintln!("--- child {test} ---\n{stdout}{stderr}--- end of child {test} ---");
        let status = status.unwrap_or_else(|| panic!("child {test} killed after {limit:?}"));
        assert!(status.success(), "child {test} failed: {status}");
        stdout
    }
}

/// Waits for `child` until `limit`, then kills it (`None`).
fn wait(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    None
}

/// Reads `pipe` to its end on a thread of its own, so the child never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text)
            .expect("read the child's output");
        text
    })
}
