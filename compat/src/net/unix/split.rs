//! `UnixStream::split` and `into_split`, and tokio's names for the Unix halves; the halves
//! themselves are written once for TCP and Unix in `net/split.rs`.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use super::{SocketAddr, UnixStream};
use crate::io::Source;
use crate::net::split::{self, Owned, Read, Write};

/// The read half of a borrowed [`UnixStream`], from [`UnixStream::split`].
pub type ReadHalf<'a> = Read<&'a UnixStream>;

/// The write half of a borrowed [`UnixStream`], from [`UnixStream::split`].
pub type WriteHalf<'a> = Write<&'a UnixStream>;

/// The owned read half of a [`UnixStream`], from [`UnixStream::into_split`].
pub type OwnedReadHalf = Read<Arc<UnixStream>>;

/// The owned write half of a [`UnixStream`], from [`UnixStream::into_split`]. Dropping it
/// shuts down the write direction, unless `forget` was called.
pub type OwnedWriteHalf = Write<Owned<UnixStream>>;

/// The halves given to `reunite` came from different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

impl UnixStream {
    /// Splits the stream into a read half and a write half borrowing it.
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
impl split::Stream for UnixStream {
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
