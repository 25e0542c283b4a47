//! What the kernel reports about this process, for the resource tests: resident memory
//! (`/proc/self/status`), CPU time (`/proc/self/stat`), anonymous mappings
//! (`/proc/self/smaps`), TCP sockets held (`/proc/net/tcp*` against `/proc/self/fd`), and the
//! TCP buffer limits (`/proc/sys/net/ipv4`).

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// Clock ticks per second of the times in `/proc/<pid>/stat`: the kernel's `USER_HZ`, 100 on
/// every Linux architecture (`sysconf(_SC_CLK_TCK)` reports the same constant).
const USER_HZ: u64 = 100;

/// Resident set size (`VmRSS`) in bytes.
pub(crate) fn rss_bytes() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// Peak resident set size (`VmHWM`) in bytes.
pub(crate) fn peak_rss_bytes() -> u64 {
    status_kib("VmHWM:") * 1024
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib = line.trim().trim_end_matches("kB").trim();
    kib.parse().expect("a size in kB")
}

/// Reads the CPU time (user + system) all threads of this process have used. It keeps
/// `/proc/self/stat` open, so it works while the process is out of fds.
#[derive(Debug)]
pub(crate) struct CpuClock(File);

impl CpuClock {
    /// Opens `/proc/self/stat`.
    pub(crate) fn open() -> CpuClock {
        CpuClock(File::open("/proc/self/stat").expect("open /proc/self/stat"))
    }

    /// The CPU time used so far.
    pub(crate) fn used(&self) -> Duration {
        let mut buf = [0; 4096];
        let n = self.0.read_at(&mut buf, 0).expect("read /proc/self/stat");
        let stat = std::str::from_utf8(&buf[..n]).expect("UTF-8 stat");
        // The command name (field 2) is in parentheses and may contain spaces: count fields
        // from after its closing parenthesis, where field 3 (state) starts.
        let (_, rest) = stat.rsplit_once(')').expect("a comm field");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |field: usize| -> u64 { fields[field - 3].parse().expect("clock ticks") };
        let (utime, stime) = (ticks(14), ticks(15));
        Duration::from_millis((utime + stime) * 1000 / USER_HZ)
    }
}

/// Anonymous memory of this process in `/proc/self/smaps`: how many private anonymous
/// mappings it has and how many bytes of them are resident. malloc's heaps live there (the
/// main arena's `[heap]` and the 64 MiB-aligned heaps of the other arenas), so when RSS does
/// not fall after a load this shows whether it is malloc keeping freed pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AnonMemory {
    /// Private mappings with no file behind them (`[heap]` included).
    pub(crate) mappings: usize,
    /// Their resident bytes.
    pub(crate) rss: u64,
    /// Resident bytes of the largest one.
    pub(crate) largest_rss: u64,
}

/// See [`AnonMemory`].
pub(crate) fn anon_memory() -> AnonMemory {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut memory = AnonMemory::default();
    let mut anonymous = false;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A mapping's header: `start-end perms offset dev inode [path]`.
        if fields.first().is_some_and(|range| range.contains('-')) && fields.len() >= 5 {
            let path = fields.get(5).copied().unwrap_or("");
            anonymous = fields[4] == "0" && (path.is_empty() || path == "[heap]");
            memory.mappings += usize::from(anonymous);
        } else if anonymous && fields.first() == Some(&"Rss:") {
            let rss = fields[1].parse::<u64>().expect("Rss in kB") * 1024;
            memory.rss += rss;
            memory.largest_rss = memory.largest_rss.max(rss);
        }
    }
    memory
}

/// How many of this process's fds are TCP sockets. Unlike the count of all fds this does
/// not move when a test running in parallel starts or stops a runtime (rings, eventfds,
/// epoll fds, signal sockets), so a test can compare it with a baseline.
pub(crate) fn tcp_fds() -> usize {
    let mut tcp = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        let inodes = text.lines().skip(1).filter_map(|line| {
            let inode: u64 = line.split_whitespace().nth(9)?.parse().ok()?;
            (inode != 0).then_some(inode)
        });
        tcp.extend(inodes);
    }
    socket_inodes()
        .iter()
        .filter(|inode| tcp.contains(inode))
        .count()
}

/// The socket inodes this process's fds refer to, one entry per fd.
fn socket_inodes() -> Vec<u64> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    dir.filter_map(|entry| {
        let target = std::fs::read_link(entry.ok()?.path()).ok()?;
        let inode = target
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?;
        inode.parse().ok()
    })
    .collect()
}

/// The largest send buffer TCP autotuning gives a socket (`tcp_wmem`'s third value).
pub(crate) fn tcp_wmem_max() -> u64 {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").expect("read tcp_wmem");
    let max = wmem.split_whitespace().nth(2).expect("three values");
    max.parse().expect("a size in bytes")
}

/// Sets this process's soft and hard `RLIMIT_NOFILE` (raising the hard limit needs
/// `CAP_SYS_RESOURCE`, which the tests have as root).
pub(crate) fn set_nofile_limit(soft: u64, hard: u64) {
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard)
        .unwrap_or_else(|err| panic!("setrlimit(RLIMIT_NOFILE, {soft}, {hard}): {err}"));
}

/// This process's (soft, hard) `RLIMIT_NOFILE`.
pub(crate) fn nofile_limit() -> (u64, u64) {
    rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit(RLIMIT_NOFILE)")
}
