//! The open-files limit (RLIMIT_NOFILE): raised before any child starts, so
//! that the server and the load generator, which inherit it, can each hold
//! every connection (10,000 idle ones with `--mode idle`). Only the soft limit
//! moves, up to the hard limit; a hard limit too low is an error that says so.

use rlimit::Resource;

/// File descriptors a process needs beside its connections (listeners,
/// rings, eventfds, pipes, the std streams).
pub(crate) const MARGIN: u64 = 64;

/// Raises the soft RLIMIT_NOFILE of this process to at least `needed`.
///
/// # Errors
/// The hard limit is below `needed`, or getrlimit/setrlimit fails; the
/// message names the limits and how to raise them.
pub(crate) fn raise(needed: u64) -> Result<(), String> {
    let (soft, hard) = Resource::NOFILE
        .get()
        .map_err(|e| format!("reading RLIMIT_NOFILE: {e}"))?;
    match plan(needed, soft, hard)? {
        Some(new_soft) => Resource::NOFILE
            .set(new_soft, hard)
            .map_err(|e| format!("raising RLIMIT_NOFILE from {soft} to {new_soft}: {e}")),
        None => Ok(()),
    }
}

/// The soft limit to set (`None`: `soft` is enough), or why `hard` is too low.
fn plan(needed: u64, soft: u64, hard: u64) -> Result<Option<u64>, String> {
    if soft >= needed {
        Ok(None)
    } else if hard >= needed {
        Ok(Some(needed))
    } else {
        Err(format!(
            "needs {needed} file descriptors per process, more than the hard limit of open \
             files allows ({hard}, `ulimit -Hn`; soft `ulimit -n` {soft}): raise it, e.g. \
             `ulimit -n {needed}` as root, or use fewer connections"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_soft_limit_only_when_needed() {
        assert_eq!(plan(100, 1024, 4096), Ok(None));
        assert_eq!(plan(2000, 1024, 4096), Ok(Some(2000)));
        assert_eq!(plan(4096, 1024, 4096), Ok(Some(4096)));
        let err = plan(5000, 1024, 4096).unwrap_err();
        assert!(err.contains("4096") && err.contains("ulimit -n"), "{err}");
    }

    #[test]
    fn raising_to_the_current_limit_works() {
        let (soft, _) = Resource::NOFILE.get().unwrap();
        assert_eq!(raise(soft), Ok(()));
        assert_eq!(Resource::NOFILE.get().unwrap().0, soft);
    }
}
