//! Giving freed memory back to the kernel once a worker's load drops.
//!
//! glibc's malloc keeps the pages of freed blocks for reuse and returns to the kernel only
//! what sits at the top of a heap, so after a wave of connections closes, a server's RSS
//! stays at its peak (plain tokio's too: about 11 KB per closed keep-alive connection).
//! Each worker watches its live task count once a second; when it has fallen by a quarter
//! of its peak, and by at least [`MIN_DROP`] tasks, since the last trim, the worker calls
//! `malloc_trim(0)`, which hands every free page of every arena back to the kernel, and
//! calls it once more at the next check, for what was freed after the count fell (a
//! connection's last buffers can go a moment after its task ended). A steady load never
//! trims; a trim costs one walk of the allocator's free lists.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::MissedTickBehavior;

use crate::metrics::Counters;

/// How often a worker looks at its task count.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The smallest drop in live tasks worth a trim: about 2.5 MiB of connection state.
const MIN_DROP: usize = 256;

/// The peak task count since the last trim, and the decision to trim.
#[derive(Debug, Default)]
struct Watermark {
    peak: usize,
    /// The last check trimmed for a drop: this one trims again.
    settling: bool,
}

impl Watermark {
    /// Records `alive` tasks; true when the drop from the peak calls for a trim (the peak
    /// then restarts from `alive`), or when the check before trimmed for one.
    fn trim_now(&mut self, alive: usize) -> bool {
        self.peak = self.peak.max(alive);
        let drop = self.peak - alive;
        if drop >= MIN_DROP && drop >= self.peak / 4 {
            self.peak = alive;
            self.settling = true;
            return true;
        }
        std::mem::take(&mut self.settling)
    }
}

/// Runs on every worker (unless `Builder::trim_memory(false)`): trims after large drops
/// in the live task count of the worker's tokio runtime, `handle`, and counts each trim
/// in `counters`.
pub(crate) async fn trim_after_drops(handle: Handle, counters: Arc<Counters>) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watermark = Watermark::default();
    loop {
        ticks.tick().await;
        if watermark.trim_now(handle.metrics().num_alive_tasks()) {
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

    #[test]
    fn trims_after_a_large_drop_only() {
        let mut mark = Watermark::default();
        assert!(!mark.trim_now(10_000), "rising load never trims");
        assert!(!mark.trim_now(9_000), "a 10% drop is noise");
        assert!(mark.trim_now(7_000), "a 30% drop trims");
        assert!(mark.trim_now(7_000), "the next check trims once more");
        assert!(!mark.trim_now(7_000), "the peak restarts at the trim");
        assert!(!mark.trim_now(6_000), "1,000 of 7,000 is under a quarter");
        assert!(mark.trim_now(5_000), "2,000 of 7,000 is over a quarter");
        assert!(mark.trim_now(5_500), "a rise after a trim still settles it");
        assert!(
            !mark.trim_now(5_000),
            "then a drop under a quarter does not trim"
        );
    }

    #[test]
    fn small_runtimes_do_not_trim_for_a_few_tasks() {
        let mut mark = Watermark::default();
        assert!(!mark.trim_now(200));
        assert!(!mark.trim_now(0), "a drop of 200 is below MIN_DROP");
        assert!(!mark.trim_now(300));
        assert!(mark.trim_now(10), "a drop of 290 is enough");
        assert!(mark.trim_now(10), "and settles");
        assert!(!mark.trim_now(10));
    }
}
