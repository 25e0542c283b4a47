//! `TcpStream::split` and `into_split`, and tokio's names for the TCP halves; the halves
//! themselves are written once for TCP and Unix in `net/split.rs`.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use super::TcpStream;
use crate::io::Source;
use crate::net::split::{self, Owned, Read, Write};

/// The read half of a borrowed [`TcpStream`], from [`TcpStream::split`].
pub type ReadHalf<'a> = Read<&'a TcpStream>;

/// The write half of a borrowed [`TcpStream`], from [`TcpStream::split`].
pub type WriteHalf<'a> = Write<&'a TcpStream>;

/// The owned read half of a [`TcpStream`], from [`TcpStream::into_split`].
pub type OwnedReadHalf = Read<Arc<TcpStream>>;

/// The owned write half of a [`TcpStream`], from [`TcpStream::into_split`]. Dropping it
/// shuts down the write direction, unless `forget` was called.
pub type OwnedWriteHalf = Write<Owned<TcpStream>>;

/// The halves given to `reunite` came from different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

impl TcpStream {
    /// Splits the stream into a read half and a write half borrowing it. Both halves work
    /// at the same time, from one task (e.g. `tokio::io::copy` in each direction).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Splits the stream into owned halves that can move to different tasks or workers.
    /// Dropping the write half shuts down the write direction.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

// The sealed trait's `source` returns the crate-private `Source` (see `net/split.rs`).
#[allow(private_interfaces)]
impl split::Stream for TcpStream {
    type Addr = SocketAddr;
    type ReuniteError = ReuniteError;

    fn source(&self) -> &Source {
        &self.io
    }

    fn local(&self) -> io::Result<SocketAddr> {
        self.local_addr()
    }

    fn peer(&self) -> io::Result<SocketAddr> {
        self.peer_addr()
    }

    fn reunite_error(read: OwnedReadHalf, write: OwnedWriteHalf) -> ReuniteError {
        ReuniteError(read, write)
    }
}
