//! corio-compat: the public socket types of `corio::net`, with tokio's names, traits and
//! semantics, on either backend.
//!
//! Every type holds an `io::Source`: a non-blocking fd whose readiness comes from the
//! worker's io_uring (`POLL_ADD`) or from tokio's reactor, and each operation is one
//! non-blocking syscall once the socket is ready, written once for both backends and every
//! socket family (see `docs/ARCHITECTURE.md`).
#![deny(unsafe_code)]

mod copy;
mod io;
pub mod net;

pub use copy::{copy_file_to, copy_to_file};
