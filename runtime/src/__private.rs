//! Support for the code `corio-macros` generates and for corio's own tests. Not a
//! public API.

use crate::{Backend, Builder, Runtime};

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
    match builder.backend(backend).ignore_env().build() {
        Ok(rt) => Some(rt),
        Err(err) if backend == Backend::Uring && !uring_required() => {
            eprintln!("skipping the io_uring half of this test: {err}");
            None
        }
        Err(err) => panic!("corio: cannot start the {backend:?} test runtime: {err}"),
    }
}

/// True when `CORIO_REQUIRE_URING=1`: a test that would skip its uring half must fail.
pub fn uring_required() -> bool {
    std::env::var(REQUIRE_URING_ENV).is_ok_and(|v| v == "1")
}
