//! The halves of a stream, written once for TCP and Unix and for borrowed and owned
//! halves: [`Read<P>`] and [`Write<P>`] hold the stream through `P`, a `&Stream` (from
//! `split`) or an `Arc` of it (from `into_split`, as tokio shares it). `tcp` and `unix`
//! name them with tokio's names: `tcp::ReadHalf<'a>` is `Read<&'a TcpStream>`,
//! `tcp::OwnedReadHalf` is `Read<Arc<TcpStream>>`, `tcp::OwnedWriteHalf` is
//! `Write<Owned<TcpStream>>`.
//!
//! Dropping an owned write half ([`Write<Owned<S>>`]) shuts down the write direction
//! (unless [`Write::forget`] was called), like tokio's; the peer sees every byte written,
//! then EOF.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

// Sealed: `Stream` is public only so it can bound the public halves; nothing outside this
// crate can name or implement it, so the crate-private `Source` it returns stays private.
#[allow(private_interfaces)]
mod sealed {
    /// A stream type that can be split: `TcpStream` or `UnixStream`.
    pub trait Stream: Sized {
        /// The family's address type.
        type Addr;
        /// The family's reunite error.
        type ReuniteError;
        /// The stream's I/O source.
        fn source(&self) -> &crate::io::Source;
        /// The local address.
        fn local(&self) -> std::io::Result<Self::Addr>;
        /// The peer's address.
        fn peer(&self) -> std::io::Result<Self::Addr>;
        /// The error for halves of different streams.
        fn reunite_error(
            read: super::Read<std::sync::Arc<Self>>,
            write: super::Write<super::Owned<Self>>,
        ) -> Self::ReuniteError;
    }
}

pub(crate) use sealed::Stream;

/// A read half: the stream's read direction, through `P` (`&S` or `Arc<S>`).
#[derive(Debug)]
pub struct Read<P> {
    stream: P,
}

/// A write half: the stream's write direction, through `P` (`&S` or [`Owned<S>`]).
#[derive(Debug)]
pub struct Write<P> {
    stream: P,
}

/// How an owned write half holds its stream: shared with the read half, and shutting down
/// the write direction when dropped, unless [`Write::forget`] was called.
#[derive(Debug)]
pub struct Owned<S: Stream> {
    stream: Arc<S>,
    shutdown_on_drop: bool,
}

impl<S: Stream> Deref for Owned<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.stream
    }
}

impl<S: Stream> Drop for Owned<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.source().shutdown(Shutdown::Write);
        }
    }
}

/// Splits a borrowed stream.
pub(crate) fn split<S: Stream>(stream: &mut S) -> (Read<&S>, Write<&S>) {
    let stream = &*stream;
    (Read { stream }, Write { stream })
}

/// Splits an owned stream.
pub(crate) fn into_split<S: Stream>(stream: S) -> (Read<Arc<S>>, Write<Owned<S>>) {
    let stream = Arc::new(stream);
    let write = Write {
        stream: Owned {
            stream: stream.clone(),
            shutdown_on_drop: true,
        },
    };
    (Read { stream }, write)
}

fn reunite<S: Stream>(
    read: Read<Arc<S>>,
    mut write: Write<Owned<S>>,
) -> Result<S, S::ReuniteError> {
    if !Arc::ptr_eq(&read.stream, &write.stream.stream) {
        return Err(S::reunite_error(read, write));
    }
    write.stream.shutdown_on_drop = false;
    drop(write);
    Ok(Arc::try_unwrap(read.stream)
        .unwrap_or_else(|_| unreachable!("both halves of one stream were given back")))
}

impl<P: Deref<Target: Stream>> Read<P> {
    fn source(&self) -> &crate::io::Source {
        self.stream.source()
    }

    /// Waits for any readiness in `interest` of the stream; may be spurious.
    ///
    /// # Errors
    ///
    /// As the stream's `ready`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.source().ready(interest).await
    }

    /// Waits until the stream may be readable.
    ///
    /// # Errors
    ///
    /// As the stream's `ready`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Reads what is available now: `WouldBlock` when nothing is.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as recv(2).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source().try_read(buf)
    }

    /// Like `try_read`, filling `bufs` in order.
    ///
    /// # Errors
    ///
    /// As `try_read`.
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.source().try_read_vectored(bufs)
    }

    /// Like `try_read`, into the spare capacity of `buf` (which advances).
    ///
    /// # Errors
    ///
    /// As `try_read`.
    pub fn try_read_buf<B: BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        self.source().try_read_buf(buf)
    }

    /// Receives bytes without consuming them; waits until there are some.
    ///
    /// # Errors
    ///
    /// As recv(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.source().peek(buf).await
    }

    /// Polls `peek` into `buf`.
    ///
    /// # Errors
    ///
    /// As recv(2).
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.source().poll_peek(cx, buf)
    }

    /// The stream's peer address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<<P::Target as Stream>::Addr> {
        self.stream.peer()
    }

    /// The stream's local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<<P::Target as Stream>::Addr> {
        self.stream.local()
    }
}

impl<S: Stream> Read<Arc<S>> {
    /// Puts the stream back together with its write half.
    ///
    /// # Errors
    ///
    /// The family's `ReuniteError`, with both halves, when they come from different streams.
    pub fn reunite(self, other: Write<Owned<S>>) -> Result<S, S::ReuniteError> {
        reunite(self, other)
    }
}

impl<P: Deref<Target: Stream>> Write<P> {
    fn source(&self) -> &crate::io::Source {
        self.stream.source()
    }

    /// Waits for any readiness in `interest` of the stream; may be spurious.
    ///
    /// # Errors
    ///
    /// As the stream's `ready`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.source().ready(interest).await
    }

    /// Waits until the stream may be writable.
    ///
    /// # Errors
    ///
    /// As the stream's `ready`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Writes what fits now: `WouldBlock` when nothing does.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as send(2).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.source().try_write(buf)
    }

    /// Like `try_write`, from `bufs` in order.
    ///
    /// # Errors
    ///
    /// As `try_write`.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.source().try_write_vectored(bufs)
    }

    /// The stream's peer address.
    ///
    /// # Errors
    ///
    /// As `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<<P::Target as Stream>::Addr> {
        self.stream.peer()
    }

    /// The stream's local address.
    ///
    /// # Errors
    ///
    /// As `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<<P::Target as Stream>::Addr> {
        self.stream.local()
    }
}

impl<S: Stream> Write<Owned<S>> {
    /// Puts the stream back together with its read half.
    ///
    /// # Errors
    ///
    /// As [`Read::reunite`].
    pub fn reunite(self, other: Read<Arc<S>>) -> Result<S, S::ReuniteError> {
        reunite(other, self)
    }

    /// Drops the half without shutting down the write direction.
    pub fn forget(mut self) {
        self.stream.shutdown_on_drop = false;
    }
}

impl<P: Deref<Target: Stream> + Unpin> AsyncRead for Read<P> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.source().poll_read(cx, buf)
    }
}

impl<P: Deref<Target: Stream> + Unpin> AsyncWrite for Write<P> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.source().poll_write(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.source().poll_write(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source().poll_shutdown()
    }
}

impl<P: Deref<Target: Stream>> AsRef<P::Target> for Read<P> {
    fn as_ref(&self) -> &P::Target {
        &self.stream
    }
}

impl<P: Deref<Target: Stream>> AsRef<P::Target> for Write<P> {
    fn as_ref(&self) -> &P::Target {
        &self.stream
    }
}

/// A family's side of splitting, written once: tokio's names for the halves (type aliases
/// of [`Read`] and [`Write`]), its `ReuniteError`, `split`/`into_split` on the stream, and
/// the stream's [`Stream`] impl. Invoked by `tcp/split.rs` and `unix/split.rs`.
macro_rules! family_split {
    ($stream:ident, $addr:ident) => {
        #[doc = concat!("The read half of a borrowed [`", stringify!($stream), "`], from `split`.")]
        pub type ReadHalf<'a> = $crate::net::split::Read<&'a $stream>;

        #[doc = concat!("The write half of a borrowed [`", stringify!($stream), "`], from `split`.")]
        pub type WriteHalf<'a> = $crate::net::split::Write<&'a $stream>;

        #[doc = concat!("The owned read half of a [`", stringify!($stream), "`], from `into_split`.")]
        pub type OwnedReadHalf = $crate::net::split::Read<std::sync::Arc<$stream>>;

        #[doc = concat!(
            "The owned write half of a [`",
            stringify!($stream),
            "`], from `into_split`. Dropping it shuts down the write direction, unless \
             `forget` was called."
        )]
        pub type OwnedWriteHalf = $crate::net::split::Write<$crate::net::split::Owned<$stream>>;

        /// The halves given to `reunite` came from different streams.
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl $stream {
            /// Splits the stream into a read half and a write half borrowing it. Both halves work
            /// at the same time, from one task (e.g. `tokio::io::copy` in each direction).
            pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                $crate::net::split::split(self)
            }

            /// Splits the stream into owned halves that can move to different tasks or workers.
            /// Dropping the write half shuts down the write direction.
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                $crate::net::split::into_split(self)
            }
        }

        // The sealed trait's `source` returns the crate-private `Source` (see above).
        #[allow(private_interfaces)]
        impl $crate::net::split::Stream for $stream {
            type Addr = $addr;
            type ReuniteError = ReuniteError;

            fn source(&self) -> &$crate::io::Source {
                &self.io
            }

            fn local(&self) -> std::io::Result<$addr> {
                self.local_addr()
            }

            fn peer(&self) -> std::io::Result<$addr> {
                self.peer_addr()
            }

            fn reunite_error(read: OwnedReadHalf, write: OwnedWriteHalf) -> ReuniteError {
                ReuniteError(read, write)
            }
        }
    };
}
