//! Unix domain sockets: listener, stream (with its halves), datagram socket, unconnected
//! socket builder, address and peer credentials.

mod addr;
mod datagram;
mod listener;
mod socket;
mod split;
mod stream;
mod ucred;

pub use addr::SocketAddr;
pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use socket::UnixSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use stream::UnixStream;
pub use ucred::UCred;
