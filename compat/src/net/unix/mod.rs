//! Unix domain sockets: listener, stream (with its halves), datagram socket and address.

mod addr;
mod datagram;
mod listener;
mod split;
mod stream;

pub use addr::SocketAddr;
pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::UnixStream;
