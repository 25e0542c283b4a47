//! `corio::net`: tokio's socket types, backed by io_uring or by tokio itself.

mod addr;
mod backed;
pub mod tcp;
mod udp;
pub mod unix;

pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
