//! Giving freed memory back to the kernel once a worker's load drops.
//!
//! glibc's malloc keeps the pages of freed blocks for reuse and returns to the kernel only
//! what sits at the top of a heap, so after a wave of connections closes, a server's RSS
//! stays at its peak (plain tokio's too: about 11 KB per closed keep-alive connection).
//! Once a second each worker looks at its live task count and at its `corio::net`
//! connections; when either has fallen by a quarter of its peak, and by at least
//! [`MIN_DROP`], since the last trim, the worker calls `malloc_trim(0)`, which hands every
//! free page of every arena back to the kernel, and calls it once more at the next check,
//! for what was freed after the count fell (a connection's last buffers can go a moment
//! after its task ended). The task count is sampled, so a wave of tasks that comes and
//! goes between two checks is missed; the connection count keeps its exact high-water
//! mark between checks, so a wave of connections is not. A steady load never trims; a
//! trim costs one walk of the allocator's free lists.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::MissedTickBehavior;

use crate::metrics::Counters;

/// How often a worker looks at its task and connection counts.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The smallest drop in live tasks worth a trim: about 2.5 MiB of connection state.
const MIN_DROP: usize = 256;

/// The peak of a count (tasks or connections) since the last trim, and the decision to
/// trim.
#[derive(Debug, Default)]
struct Watermark {
    peak: usize,
    /// The last check trimmed for a drop: this one trims again.
    settling: bool,
}

impl Watermark {
    /// Records a count that is `now` and was at most `high` since the last check; true
    /// when the drop from the peak calls for a trim (the peak then restarts from `now`),
    /// or when the check before trimmed for one.
    fn trim_now(&mut self, now: usize, high: usize) -> bool {
        self.peak = self.peak.max(high).max(now);
        let drop = self.peak - now;
        if drop >= MIN_DROP && drop >= self.peak / 4 {
            self.peak = now;
            self.settling = true;
            return true;
        }
        std::mem::take(&mut self.settling)
    }
}

/// Runs on every worker (unless `Builder::trim_memory(false)`): trims after large drops
/// in the live task count of the worker's tokio runtime, `handle`, or in the worker's
/// connections, and counts each trim in `counters`.
pub(crate) async fn trim_after_drops(handle: Handle, counters: Arc<Counters>) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let (mut tasks, mut connections) = (Watermark::default(), Watermark::default());
    loop {
        ticks.tick().await;
        let alive = handle.metrics().num_alive_tasks();
        let (open, high) = counters.connections_since();
        // `|`, not `||`: both watermarks see every check.
        if tasks.trim_now(alive, alive) | connections.trim_now(open, high) {
            release_free_memory();
            counters.memory_trims.add(1);
        }
    }
}

/// Returns the allocator's free pages to the kernel (glibc only; elsewhere a no-op).
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes no pointers and locks each arena it walks; it may be
    // called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sampled count: now and the high-water mark are the same figure.
    fn sampled(mark: &mut Watermark, alive: usize) -> bool {
        mark.trim_now(alive, alive)
    }

    #[test]
    fn trims_after_a_large_drop_only() {
        let mark = &mut Watermark::default();
        assert!(!sampled(mark, 10_000), "rising load never trims");
        assert!(!sampled(mark, 9_000), "a 10% drop is noise");
        assert!(sampled(mark, 7_000), "a 30% drop trims");
        assert!(sampled(mark, 7_000), "the next check trims once more");
        assert!(!sampled(mark, 7_000), "the peak restarts at the trim");
        assert!(!sampled(mark, 6_000), "1,000 of 7,000 is under a quarter");
        assert!(sampled(mark, 5_000), "2,000 of 7,000 is over a quarter");
        assert!(sampled(mark, 5_500), "a rise after a trim still settles it");
        assert!(
            !sampled(mark, 5_000),
            "then a drop under a quarter does not trim"
        );
    }

    #[test]
    fn small_runtimes_do_not_trim_for_a_few_tasks() {
        let mark = &mut Watermark::default();
        assert!(!sampled(mark, 200));
        assert!(!sampled(mark, 0), "a drop of 200 is below MIN_DROP");
        assert!(!sampled(mark, 300));
        assert!(sampled(mark, 10), "a drop of 290 is enough");
        assert!(sampled(mark, 10), "and settles");
        assert!(!sampled(mark, 10));
    }

    #[test]
    fn a_wave_between_two_checks_still_trims() {
        let mark = &mut Watermark::default();
        assert!(!mark.trim_now(3, 3));
        assert!(
            mark.trim_now(3, 10_003),
            "10,000 connections opened and closed since the last check"
        );
        assert!(mark.trim_now(3, 3), "and settles");
        assert!(!mark.trim_now(3, 3));
        assert!(
            !mark.trim_now(10_000, 10_000),
            "connections still open do not trim"
        );
        assert!(!mark.trim_now(10_000, 10_000), "nor at the next check");
    }
}
