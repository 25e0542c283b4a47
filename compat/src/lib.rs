//! corio-compat: the public socket types of `corio::net`, with tokio's names and traits,
//! on either backend.
//!
//! Each type is an `enum Inner { Uring(..), Epoll(tokio type) }`: on the uring backend
//! reads and writes go through owned-buffer adapters over the worker's io_uring; on the
//! epoll backend the type delegates to tokio's own.
#![deny(unsafe_code)]

mod adapter;
pub mod net;
