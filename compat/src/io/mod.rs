//! The I/O layer under every `corio::net` type, written once for both backends and every
//! socket family: a [`Source`] (a non-blocking fd and its readiness, from io_uring or from
//! tokio's reactor) and the syscalls tokio's API makes on it. The public types in
//! `crate::net` are thin: they hold a `Source` and convert addresses.

mod call;
mod connect;
mod datagram;
mod listen;
mod owned;
mod source;
mod stream;
mod uring;

pub(crate) use connect::connect;
pub(crate) use listen::Acceptor;
pub(crate) use source::{Gates, Source};
