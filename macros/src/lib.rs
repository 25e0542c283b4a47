//! `#[corio::main]` and `#[corio::test]`: the entry-point attributes of corio.
//!
//! Use them through the facade crate, as `#[corio::main]` and `#[corio::test]`; the generated
//! code names the runtime only by absolute paths (`::corio::...`), so this crate is of no use
//! on its own. Each attribute turns an `async fn` into a plain fn that starts a corio
//! runtime (one worker thread per usable CPU unless told otherwise) and runs the body on it,
//! the way `#[tokio::main]` and `#[tokio::test]` do for tokio.
//!
//! `config` parses the arguments (errors point at the offending token; the function is still
//! emitted so IDEs keep working) and `expand` generates the code.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod config;
mod expand;

use proc_macro::TokenStream;

/// Runs `async fn main` on a corio runtime.
///
/// The body runs once, on worker 0, like `#[tokio::main]`. `main` may return `()` or any
/// [`Termination`](std::process::Termination) type such as `Result<(), Box<dyn Error>>`;
/// an error is printed as `Error: {err:?}` and the process exits with a failure code, as
/// for a plain `fn main`.
///
/// # Arguments
///
/// All optional, comma separated:
/// - `workers = N`: number of worker threads (default: one per usable CPU).
/// - `backend = "auto" | "uring" | "epoll"`: I/O backend (`"auto"`: io_uring when the
///   kernel allows it, epoll otherwise). A backend named here is used whatever
///   `CORIO_BACKEND` says; without this argument the `CORIO_BACKEND` environment variable
///   picks it (`auto` when unset).
/// - `sharded`: run the body once on every worker (bind listeners with `SO_REUSEPORT`);
///   `main` returns the first error. A sharded `main` returns `()` or `Result<(), E>` with
///   `E: Send`, e.g. `Box<dyn Error + Send + Sync>`.
///
/// # Panics
///
/// The generated `main` panics if the runtime cannot start, e.g. `backend = "uring"` on a
/// kernel without io_uring; the message carries the I/O error.
///
/// # Examples
///
/// ```no_run
/// #[corio::main(workers = 2, backend = "epoll")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     println!("hello from worker 0");
///     Ok(())
/// }
/// ```
///
/// A sharded server runs its accept loop on every worker:
///
/// ```no_run
/// #[corio::main(sharded)]
/// async fn main() -> std::io::Result<()> {
///     // bind a listener with SO_REUSEPORT and serve connections here
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::main(args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh corio runtime.
///
/// The test body runs on worker 0 of a runtime built for this test alone. It may return
/// `()` or `Result<(), E>`. Other attributes on the function (`#[ignore]`, `#[should_panic]`,
/// docs) are kept.
///
/// # Arguments
///
/// All optional, comma separated:
/// - `backend = "auto" | "uring" | "epoll" | "both"`. `"both"` generates two tests,
///   `uring_<name>` and `epoll_<name>`, so the name of a failing test says which backend
///   failed. A backend named here is used whatever `CORIO_BACKEND` says; without this
///   argument the `CORIO_BACKEND` environment variable picks it (`auto` when unset), so
///   one test binary can be run once per backend. When io_uring is asked for and
///   unavailable, the test prints why and passes (skips), unless `CORIO_REQUIRE_URING=1`
///   is set, which turns the skip into a failure.
/// - `workers = N`: number of worker threads (default 1).
///
/// # Examples
///
/// ```no_run
/// #[corio::test(backend = "both")]
/// async fn sleeps() {
///     corio::time::sleep(std::time::Duration::from_millis(1)).await;
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::test(args.into(), item.into()).into()
}
