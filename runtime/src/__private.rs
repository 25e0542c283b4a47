//! Support for the code `corio-macros` generates and for corio's own tests. Not a
//! public API.

use crate::driver::Ring;
pub use crate::driver::{msg_ring_round_trips, MsgPark};
use crate::{Backend, Builder, Runtime, Unavailable, BACKEND_ENV};

/// The variable that turns a skipped uring test half into a failure.
pub const REQUIRE_URING_ENV: &str = "CORIO_REQUIRE_URING";

/// Builds the runtime of one test half. `None` means skip: the uring half on a machine
/// without io_uring (the reason is printed). With `CORIO_REQUIRE_URING=1` that is a panic
/// instead, so CI cannot pass by testing half the product.
pub fn test_runtime(backend: Backend, workers: Option<usize>) -> Option<Runtime> {
    test_runtime_with(backend, Builder::new().workers(workers.unwrap_or(1)))
}

/// As [`test_runtime`], from a configured builder; `CORIO_BACKEND` and `CORIO_WORKERS`
/// are ignored so each half runs the backend it names.
pub fn test_runtime_with(backend: Backend, builder: Builder) -> Option<Runtime> {
    start_test(backend, builder.backend(backend).ignore_env())
}

/// The runtime of a `#[corio::test]` that names no backend: `CORIO_BACKEND` picks it
/// (`auto` when unset). `CORIO_WORKERS` is ignored. Skips as [`test_runtime`] does when
/// `CORIO_BACKEND=uring` asks for an io_uring the machine cannot give.
pub fn env_test_runtime(workers: Option<usize>) -> Option<Runtime> {
    let builder = Builder::new()
        .workers(workers.unwrap_or(1))
        .ignore_workers_env();
    start_test(env_backend(), builder)
}

/// `builder` with the backend an attribute names: `CORIO_BACKEND` does not override it.
pub fn named_backend(builder: Builder, backend: Backend) -> Builder {
    builder.backend(backend).ignore_backend_env()
}

/// True when `CORIO_REQUIRE_URING=1`: a test that would skip its uring half must fail.
pub fn uring_required() -> bool {
    std::env::var(REQUIRE_URING_ENV).is_ok_and(|v| v == "1")
}

/// Builds a test runtime that asked for `requested`; see [`test_runtime`] for the skip.
fn start_test(requested: Backend, builder: Builder) -> Option<Runtime> {
    match builder.build() {
        Ok(rt) => Some(rt),
        Err(err) if requested == Backend::Uring && !uring_required() => {
            eprintln!("skipping the io_uring half of this test: {err}");
            None
        }
        Err(err) => panic!("corio: cannot start the {requested:?} test runtime: {err}"),
    }
}

/// The backend `CORIO_BACKEND` asks for, to decide whether a failed start is a skip. An
/// invalid value counts as `Auto`: `Builder::build` reports it.
fn env_backend() -> Backend {
    std::env::var(BACKEND_ENV)
        .ok()
        .and_then(|value| Backend::parse(&value).ok())
        .unwrap_or(Backend::Auto)
}

/// Makes every later ring setup of this process, the probe's and each worker's, treat the
/// required opcode `name` (e.g. `"IORING_OP_SHUTDOWN"`) as missing, so that io_uring is
/// unavailable with [`Unavailable::MissingOpcode`]. For tests of the epoll fallback, in a
/// process of their own. False when `name` is not a required opcode.
pub fn force_required_opcode_missing(name: &str) -> bool {
    Ring::force_required_missing(name)
}

/// Lets the next `rings` worker rings of this process start and makes every later one
/// fail with `reason`, while the probe still succeeds: a worker that fails after `Auto`
/// chose io_uring. For tests, in a process of their own.
pub fn fail_worker_rings_after(rings: usize, reason: Unavailable) {
    Ring::fail_after(rings, reason);
}

/// Makes the calling worker's io_uring driver panic at its next turn, to test what a
/// driver panic turns into: the ring is poisoned and its operations fail with an error
/// naming the worker. Returns false, doing nothing, on a thread without a ring (the epoll
/// backend, which has no corio driver, or a thread that is not a uring worker).
pub fn panic_in_driver_once() -> bool {
    crate::driver::panic_in_driver_once()
}
