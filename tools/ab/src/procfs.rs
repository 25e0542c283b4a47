//! Reading the server's figures from /proc: its process tree, the CPU time
//! of all its threads (schedstat, nanoseconds), its current and peak RSS,
//! its open file descriptors, and the machine description printed above the
//! table.

use std::fs;

/// Nanoseconds per clock tick of /proc/*/stat (USER_HZ is 100 on Linux).
const NS_PER_TICK: u64 = 10_000_000;

/// `pid` and all its descendants (a server started through `sh -c` counts
/// with its children).
pub(crate) fn process_tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat_field(&format!("/proc/{pid}/stat"), 1)?)))
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

/// Field `n` (0 = state) after the `(comm)` of a /proc stat file.
fn stat_field(path: &str, n: usize) -> Option<u32> {
    let stat = fs::read_to_string(path).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n)?.parse().ok()
}

/// Sum of utime+stime fields of a /proc stat file, in nanoseconds.
fn stat_cpu_ns(path: &str) -> Option<u64> {
    let stat = fs::read_to_string(path).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * NS_PER_TICK)
}

/// CPU time consumed so far by every live thread of `pids`, nanoseconds:
/// /proc/PID/task/TID/schedstat (exact), else utime+stime (10 ms ticks).
pub(crate) fn cpu_ns(pids: &[u32]) -> u64 {
    pids.iter()
        .flat_map(|&pid| threads(pid).into_iter().map(move |tid| (pid, tid)))
        .filter_map(|(pid, tid)| {
            let dir = format!("/proc/{pid}/task/{tid}");
            schedstat_ns(&format!("{dir}/schedstat"))
                .or_else(|| stat_cpu_ns(&format!("{dir}/stat")))
        })
        .sum()
}

fn schedstat_ns(path: &str) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Thread ids of `pid`.
pub(crate) fn threads(pid: u32) -> Vec<u32> {
    fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Sum of the peak resident set sizes (VmHWM) of `pids`, KiB.
pub(crate) fn peak_rss_kib(pids: &[u32]) -> Option<u64> {
    sum_status_kib(pids, "VmHWM:")
}

/// Sum of the resident set sizes (VmRSS) of `pids` now, KiB.
pub(crate) fn rss_kib(pids: &[u32]) -> Option<u64> {
    sum_status_kib(pids, "VmRSS:")
}

/// Open file descriptors of `pids` now (entries of /proc/PID/fd), `None`
/// when no process could be read.
pub(crate) fn fd_count(pids: &[u32]) -> Option<u64> {
    let counts: Vec<u64> = pids
        .iter()
        .filter_map(|&pid| fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .map(|dir| dir.count() as u64)
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

fn sum_status_kib(pids: &[u32], key: &str) -> Option<u64> {
    let values: Vec<u64> = pids
        .iter()
        .filter_map(|&pid| status_kib(pid, key))
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix(key))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Time the CPUs in `cpus` spent busy (user, nice, system, steal) by
/// /proc/stat, nanoseconds (10 ms resolution), whoever ran there.
pub(crate) fn busy_ns(cpus: &[usize]) -> u64 {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let ticks: u64 = stat
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let cpu: usize = fields.next()?.strip_prefix("cpu")?.parse().ok()?;
            let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
            (cpus.contains(&cpu) && v.len() >= 8).then(|| v[0] + v[1] + v[2] + v[7])
        })
        .sum();
    ticks * NS_PER_TICK
}

/// Kernel release, e.g. `6.18.44`.
pub(crate) fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The CPU model name from /proc/cpuinfo.
pub(crate) fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(threads(me).contains(&me));
        assert!(cpu_ns(&[me]) > 0);
        assert!(peak_rss_kib(&[me]).unwrap() > 0);
        assert_eq!(process_tree(me)[0], me);
        assert!(busy_ns(&[0]) > 0);
        let rss = rss_kib(&[me]).unwrap();
        assert!(rss > 0 && rss <= peak_rss_kib(&[me]).unwrap());
    }

    #[test]
    fn counts_open_files() {
        // One shell forks both sleepers, so they inherit the same fds: whatever
        // this test binary had open without CLOEXEC (cargo's jobserver pipe
        // under CI, for one, and that may be fd 7). The one in the background
        // then opens 7, 8 and 9 over whatever was there.
        let pair = SleeperPair::spawn();
        let plain = settled_fds(pair.plain());
        let more = settled_fds(pair.three_more);
        assert!(plain.is_superset(&[0, 1, 2].into()), "{plain:?}");
        let expected: BTreeSet<u32> = plain.union(&[7, 8, 9].into()).copied().collect();
        assert_eq!(more, expected);
        let (a, b) = (plain.len() as u64, more.len() as u64);
        assert_eq!(fd_count(&[pair.plain(), pair.three_more]), Some(a + b));
        assert_eq!(fd_count(&[pair.plain(), u32::MAX]), Some(a));
        assert_eq!(fd_count(&[u32::MAX]), None);
    }

    /// `sh` starts `sleep` in the background with fds 7-9 open, prints its
    /// pid and then becomes a plain `sleep`; both are killed on drop.
    struct SleeperPair {
        shell: std::process::Child,
        three_more: u32,
    }

    impl SleeperPair {
        fn spawn() -> SleeperPair {
            use std::io::BufRead;
            let script = "sleep 5 7</dev/null 8</dev/null 9</dev/null & echo $!; exec sleep 5";
            let mut shell = std::process::Command::new("sh")
                .args(["-c", script])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(shell.stdout.as_mut().unwrap())
                .read_line(&mut line)
                .unwrap();
            let three_more = line.trim().parse().unwrap();
            SleeperPair { shell, three_more }
        }

        fn plain(&self) -> u32 {
            self.shell.id()
        }
    }

    impl Drop for SleeperPair {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .arg(self.three_more.to_string())
                .status();
            let _ = self.shell.kill();
            let _ = self.shell.wait();
        }
    }

    /// A child's open fds once it runs `sleep` (its shell has exec'd it).
    fn settled_fds(pid: u32) -> BTreeSet<u32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while comm(pid).as_deref() != Some("sleep") {
            assert!(std::time::Instant::now() < deadline, "sleep never started");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
            .collect()
    }

    fn comm(pid: u32) -> Option<String> {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        Some(comm.trim().to_string())
    }

    #[test]
    fn finds_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let tree = process_tree(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(tree.contains(&child.id()));
    }
}
