//! `corio::net`: tokio's socket types, over io_uring or tokio's reactor.

#[macro_use]
mod api;

mod addr;
#[macro_use]
pub mod split;
pub mod tcp;
mod udp;
pub mod unix;

pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixSocket, UnixStream};
