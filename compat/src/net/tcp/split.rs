//! [`TcpStream::split`] and [`TcpStream::into_split`]: the two directions of a stream as
//! separate values, like tokio's `tcp::{ReadHalf, WriteHalf, OwnedReadHalf,
//! OwnedWriteHalf}`.
//!
//! On io_uring each half holds a clone of the socket and its direction's adapter state, so
//! the owned halves can be driven by different tasks, on different workers, with no lock
//! shared between them. On epoll they wrap tokio's halves. Dropping an [`OwnedWriteHalf`]
//! shuts down the write direction, as tokio does, after a send still in flight.
//!
//! Their I/O methods and traits are in `half.rs`.

use std::error::Error;
use std::fmt;

use super::stream::Inner;
use super::TcpStream;
use crate::adapter::{ReadPart, UringStream, WritePart};

impl TcpStream {
    /// Splits the stream into a read half and a write half borrowing it, to read and
    /// write concurrently in one task (e.g. with `tokio::join!`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        match &mut self.inner {
            Inner::Uring(stream) => (
                ReadHalf(ReadInner::Uring(&mut stream.read)),
                WriteHalf(WriteInner::Uring(&mut stream.write)),
            ),
            Inner::Epoll(stream) => {
                let (read, write) = stream.split();
                (
                    ReadHalf(ReadInner::Epoll(read)),
                    WriteHalf(WriteInner::Epoll(write)),
                )
            }
        }
    }

    /// Splits the stream into owned halves that can move to different tasks. Put them back
    /// together with [`OwnedReadHalf::reunite`].
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        match self.inner {
            Inner::Uring(stream) => {
                let (read, write) = stream.into_parts();
                (
                    OwnedReadHalf(OwnedReadInner::Uring(read)),
                    OwnedWriteHalf {
                        inner: OwnedWriteInner::Uring(write),
                    },
                )
            }
            Inner::Epoll(stream) => {
                let (read, write) = stream.into_split();
                (
                    OwnedReadHalf(OwnedReadInner::Epoll(read)),
                    OwnedWriteHalf {
                        inner: OwnedWriteInner::Epoll(write),
                    },
                )
            }
        }
    }
}

/// The read half of a borrowed [`TcpStream`], from [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(pub(super) ReadInner<'a>);

#[derive(Debug)]
pub(super) enum ReadInner<'a> {
    Uring(&'a mut ReadPart),
    Epoll(tokio::net::tcp::ReadHalf<'a>),
}

/// The write half of a borrowed [`TcpStream`], from [`TcpStream::split`]. Its
/// `shutdown` shuts down the write direction of the whole stream.
#[derive(Debug)]
pub struct WriteHalf<'a>(pub(super) WriteInner<'a>);

#[derive(Debug)]
pub(super) enum WriteInner<'a> {
    Uring(&'a mut WritePart),
    Epoll(tokio::net::tcp::WriteHalf<'a>),
}

/// The owned read half of a [`TcpStream`], from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf(pub(super) OwnedReadInner);

#[derive(Debug)]
pub(super) enum OwnedReadInner {
    Uring(ReadPart),
    Epoll(tokio::net::tcp::OwnedReadHalf),
}

/// The owned write half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// Dropping it shuts down the write direction (the peer reads EOF) once a send still in
/// flight has completed, like tokio's; [`forget`](OwnedWriteHalf::forget) avoids that.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    pub(super) inner: OwnedWriteInner,
}

#[derive(Debug)]
pub(super) enum OwnedWriteInner {
    Uring(WritePart),
    Epoll(tokio::net::tcp::OwnedWriteHalf),
    /// Taken apart by `reunite` or `forget`.
    Gone,
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl Error for ReuniteError {}

impl OwnedReadHalf {
    /// Puts the stream back together with its write half.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves when they come from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        let mut write = other;
        let parts = (
            self.0,
            std::mem::replace(&mut write.inner, OwnedWriteInner::Gone),
        );
        let (read, inner) = match parts {
            (OwnedReadInner::Uring(read), OwnedWriteInner::Uring(part)) => {
                match UringStream::reunite(read, part) {
                    Ok(stream) => return Ok(TcpStream::from_parts(stream)),
                    Err((read, part)) => {
                        (OwnedReadInner::Uring(read), OwnedWriteInner::Uring(part))
                    }
                }
            }
            (OwnedReadInner::Epoll(read), OwnedWriteInner::Epoll(half)) => match read.reunite(half)
            {
                Ok(stream) => return Ok(TcpStream::from_tokio(stream)),
                Err(tokio::net::tcp::ReuniteError(read, half)) => {
                    (OwnedReadInner::Epoll(read), OwnedWriteInner::Epoll(half))
                }
            },
            mismatched => mismatched,
        };
        write.inner = inner;
        Err(ReuniteError(OwnedReadHalf(read), write))
    }
}

impl OwnedWriteHalf {
    /// Drops the half without shutting down the write direction: the peer sees EOF only
    /// when the read half is dropped too.
    pub fn forget(mut self) {
        match std::mem::replace(&mut self.inner, OwnedWriteInner::Gone) {
            OwnedWriteInner::Epoll(half) => half.forget(),
            OwnedWriteInner::Uring(_) | OwnedWriteInner::Gone => {}
        }
    }

    /// Puts the stream back together with its read half; see [`OwnedReadHalf::reunite`].
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] with both halves when they come from different streams.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // tokio's own half shuts down in its Drop; `forget` and `reunite` leave `Gone`.
        if let OwnedWriteInner::Uring(part) = &mut self.inner {
            part.shutdown_when_sent();
        }
    }
}
