//! CPU lists (`0-3,6`) and pinning with `sched_setaffinity`, which the
//! children apply to themselves between fork and exec so that every thread
//! they start inherits the mask.

use std::fmt;
use std::str::FromStr;

/// A sorted, de-duplicated set of CPU ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CpuList(Vec<usize>);

/// Highest CPU id accepted (the size of `cpu_set_t`).
const MAX_CPUS: usize = 1024;

impl CpuList {
    /// The CPU ids, ascending.
    pub(crate) fn ids(&self) -> &[usize] {
        &self.0
    }

    /// Number of CPUs in the list.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The CPUs this process may run on (`Cpus_allowed_list` in
    /// /proc/self/status), or CPU 0..n from `available_parallelism`.
    pub(crate) fn usable() -> CpuList {
        let from_proc = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .and_then(|v| v.trim().parse().ok())
            });
        from_proc.unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            CpuList((0..n).collect())
        })
    }

    /// Splits the list in two halves (server, load); a single CPU is shared.
    pub(crate) fn split(&self) -> (CpuList, CpuList) {
        if self.0.len() < 2 {
            return (self.clone(), self.clone());
        }
        let (a, b) = self.0.split_at(self.0.len() / 2);
        (CpuList(a.to_vec()), CpuList(b.to_vec()))
    }

    /// Whether the two lists share a CPU.
    pub(crate) fn overlaps(&self, other: &CpuList) -> bool {
        self.0.iter().any(|c| other.0.contains(c))
    }

    /// The CPUs in either list.
    pub(crate) fn union(&self, other: &CpuList) -> CpuList {
        let mut ids = [self.0.as_slice(), other.0.as_slice()].concat();
        ids.sort_unstable();
        ids.dedup();
        CpuList(ids)
    }

    /// Whether every CPU of `self` is in `other`.
    pub(crate) fn is_subset_of(&self, other: &CpuList) -> bool {
        self.0.iter().all(|c| other.0.contains(c))
    }
}

impl FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut ids = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (parse_cpu(a)?, parse_cpu(b)?),
                None => (parse_cpu(part)?, parse_cpu(part)?),
            };
            if lo > hi {
                return Err(format!("CPU range `{part}` is reversed"));
            }
            ids.extend(lo..=hi);
        }
        if ids.is_empty() {
            return Err(format!(
                "expected a CPU list like `0` or `0-3,6`, got `{s}`"
            ));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(CpuList(ids))
    }
}

fn parse_cpu(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n < MAX_CPUS => Ok(n),
        _ => Err(format!("`{s}` is not a CPU id (0..{MAX_CPUS})")),
    }
}

impl fmt::Display for CpuList {
    /// Compact form: `0-3,6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            while i + 1 < self.0.len() && self.0[i + 1] == self.0[i] + 1 {
                i += 1;
            }
            let end = self.0[i];
            if !first {
                f.write_str(",")?;
            }
            first = false;
            match start == end {
                true => write!(f, "{start}")?,
                false => write!(f, "{start}-{end}")?,
            }
            i += 1;
        }
        Ok(())
    }
}

/// A `cpu_set_t`-compatible bit mask, built before `fork` so that the child
/// side only makes a syscall.
pub(crate) type Mask = [u64; MAX_CPUS / 64];

impl CpuList {
    /// The list as a `sched_setaffinity` mask.
    pub(crate) fn mask(&self) -> Mask {
        let mut mask = [0u64; MAX_CPUS / 64];
        for &c in &self.0 {
            mask[c / 64] |= 1 << (c % 64);
        }
        mask
    }
}

/// Pins the calling thread (and the threads it starts later) to `mask`.
/// Async-signal-safe: used between fork and exec.
///
/// # Errors
/// The kernel refuses the mask (e.g. no allowed CPU in it).
pub(crate) fn set_own_affinity(mask: &Mask) -> std::io::Result<()> {
    // SAFETY: sched_setaffinity(2) with pid 0 (this thread) reads exactly
    // `size_of::<Mask>()` bytes from `mask`, a live array owned by the caller.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of::<Mask>(),
            mask.as_ptr(),
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_ranges() {
        let l: CpuList = "3,0-1, 2,7".parse().unwrap();
        assert_eq!(l.ids(), &[0, 1, 2, 3, 7]);
        assert_eq!(l.to_string(), "0-3,7");
        assert!("".parse::<CpuList>().is_err());
        assert!("2-1".parse::<CpuList>().is_err());
        assert!("x".parse::<CpuList>().is_err());
        assert!("5000".parse::<CpuList>().is_err());
    }

    #[test]
    fn splits_in_halves() {
        let (a, b) = "0-3".parse::<CpuList>().unwrap().split();
        assert_eq!((a.to_string(), b.to_string()), ("0-1".into(), "2-3".into()));
        let (a, b) = "0".parse::<CpuList>().unwrap().split();
        assert_eq!(a, b);
        assert!(a.overlaps(&b));
    }

    #[test]
    fn mask_sets_bits() {
        let m = "0,65".parse::<CpuList>().unwrap().mask();
        assert_eq!((m[0], m[1]), (1, 2));
    }
}
