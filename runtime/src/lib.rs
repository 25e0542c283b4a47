//! corio-runtime: the workers, the per-worker io_uring driver (`Ring`), ops and owned
//! buffers of corio.
//!
//! Each worker is a thread pinned to a CPU that hosts a tokio current_thread runtime and a
//! `LocalSet`; on the uring backend it also owns a `Ring` through which sockets and files
//! do their I/O. Most users reach this crate through the `corio` facade.
#![cfg(target_os = "linux")]
#![doc(test(attr(deny(warnings))))]

mod backend;
pub mod buf;
mod builder;
mod context;
mod driver;
mod error;
mod fd;
pub mod fs;
mod gate;
pub mod metrics;
mod op;
mod runtime;
mod socket;
mod spawn;
mod splice;
mod trace;
mod trim;
mod worker;

pub use backend::{
    backend, current_backend, home_handle, probe, recv_mode, release_cancelled, ring_ops_in_flight,
    uring_active, Backend, BackendInfo, BackendKind, BACKEND_ENV,
};
pub use builder::{Builder, WORKERS_ENV};
pub use driver::{RecvMode, RECV_ENV};
pub use error::Unavailable;
pub use gate::{Gate, Stashed, Ticket};
pub use runtime::{EnterGuard, Handle, Runtime};
/// Non-blocking socket calls (`MSG_DONTWAIT`) made beside the ring, for readiness-based I/O.
pub mod sys {
    pub use crate::fd::register;
    pub use crate::op::dontwait::{
        accept, peer_cred, recv, recv_buf, recv_buf_mut, recv_from, recv_from_buf,
        recv_from_buf_mut, recv_vectored, send, send_to, sendfile,
    };
}
pub use socket::{
    nop, Accept, AcceptMulti, Connect, PollEvents, PollEventsMulti, Readv, Recv, RecvMsg, SendMsg,
    SendOp, Shutdown, Socket, Writev,
};
pub use spawn::{
    bind_sharded, is_sharded, spawn, spawn_blocking, spawn_local, spawn_on, worker_id, workers,
};
pub use splice::{Splice, SplicePipe};

#[doc(hidden)]
pub mod __private;
