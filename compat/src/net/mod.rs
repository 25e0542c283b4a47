//! `corio::net`: tokio's socket types, backed by io_uring or by tokio itself.

mod addr;
pub mod tcp;

pub use tcp::{TcpListener, TcpStream};
