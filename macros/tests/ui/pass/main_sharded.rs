use std::sync::atomic::{AtomicUsize, Ordering};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[corio::main(sharded, workers = 2, backend = "epoll")]
async fn main() {
    RUNS.fetch_add(1, Ordering::SeqCst);
}
