//! The parts of tokio's socket API that several socket types share word for word, written
//! once: each macro expands to methods (or trait impls) that delegate to the type's `io`
//! field, a [`Source`](crate::io::Source), where the behaviour itself lives. The types
//! invoke them inside their own `impl` blocks, so every method stays an inherent method
//! with tokio's name and signature.

/// `ready`, `readable`, `writable`, the two `poll_*_ready` methods (named per type, as
/// tokio names them) and `try_io`/`async_io`.
macro_rules! readiness_api {
    (read_ready: $read_ready:ident, write_ready: $write_ready:ident) => {
        /// Waits for any of the readiness in `interest`; may be spurious.
        ///
        /// # Errors
        ///
        /// `Unsupported` on io_uring for an interest with neither readable nor writable.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: a dropped future loses no readiness.
        pub async fn ready(
            &self,
            interest: tokio::io::Interest,
        ) -> std::io::Result<tokio::io::Ready> {
            self.io.ready(interest).await
        }

        /// Waits until the socket may be readable; then use the `try_*` reads.
        ///
        /// # Errors
        ///
        /// As [`Self::ready`].
        ///
        /// # Cancel safety
        ///
        /// Cancel safe.
        pub async fn readable(&self) -> std::io::Result<()> {
            self.ready(tokio::io::Interest::READABLE).await.map(drop)
        }

        /// Polls for read readiness; only the last task to call it is woken.
        ///
        /// # Errors
        ///
        /// As [`Self::ready`].
        pub fn $read_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io
                .poll_ready(cx, tokio::io::Interest::READABLE)
                .map_ok(drop)
        }

        /// Waits until the socket may be writable; then use the `try_*` writes.
        ///
        /// # Errors
        ///
        /// As [`Self::ready`].
        ///
        /// # Cancel safety
        ///
        /// Cancel safe.
        pub async fn writable(&self) -> std::io::Result<()> {
            self.ready(tokio::io::Interest::WRITABLE).await.map(drop)
        }

        /// Polls for write readiness; only the last task to call it is woken.
        ///
        /// # Errors
        ///
        /// As [`Self::ready`].
        pub fn $write_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io
                .poll_ready(cx, tokio::io::Interest::WRITABLE)
                .map_ok(drop)
        }

        /// Runs `f`, a non-blocking I/O call of the caller's on this socket, once; a
        /// `WouldBlock` from it clears the readiness of `interest`.
        ///
        /// # Errors
        ///
        /// `f`'s error.
        pub fn try_io<R>(
            &self,
            interest: tokio::io::Interest,
            f: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.io.try_io(interest, |_| f())
        }

        /// Waits for `interest` and runs `f` until it returns something other than
        /// `WouldBlock`.
        ///
        /// # Errors
        ///
        /// `f`'s error.
        ///
        /// # Cancel safety
        ///
        /// As cancel safe as `f`: the future is dropped only between calls of `f`.
        pub async fn async_io<R>(
            &self,
            interest: tokio::io::Interest,
            mut f: impl FnMut() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.io.async_io(interest, |_| f()).await
        }
    };
}

/// The stream reads and writes without an address: the `try_*` family and the owned-buffer
/// `read_owned`/`write_all_owned`.
macro_rules! stream_api {
    () => {
        /// Reads what is available now, without waiting: `WouldBlock` when nothing is.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as recv(2).
        pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io.try_read(buf)
        }

        /// Like [`Self::try_read`], filling `bufs` in order.
        ///
        /// # Errors
        ///
        /// As [`Self::try_read`].
        pub fn try_read_vectored(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            self.io.try_read_vectored(bufs)
        }

        /// Like [`Self::try_read`], into the spare capacity of `buf` (which advances).
        ///
        /// # Errors
        ///
        /// As [`Self::try_read`].
        pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
            self.io.try_read_buf(buf)
        }

        /// Writes what fits now, without waiting: `WouldBlock` when nothing does.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as send(2) (e.g. `BrokenPipe`).
        pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io.try_write(buf)
        }

        /// Like [`Self::try_write`], from `bufs` in order.
        ///
        /// # Errors
        ///
        /// As [`Self::try_write`].
        pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            self.io.try_write_vectored(bufs)
        }

        /// Reads into an owned buffer, from its start up to `buf.bytes_total()` bytes; 0 means
        /// EOF (or a buffer without capacity). On io_uring this is one `IORING_OP_RECV`
        /// straight into `buf`; on epoll, readiness and one recv(2) into `buf`.
        ///
        /// # Buffer ownership
        ///
        /// `buf` always comes back, with the bytes read marked initialized, even on error.
        /// If the future is dropped while the kernel holds `buf`, it is freed only after the
        /// kernel lets go (see [`corio_runtime::buf`]).
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: bytes the kernel received for a dropped future are kept for the
        /// next read of any kind (`read_owned`, `AsyncRead`, `try_read`), in order.
        ///
        /// # Errors
        ///
        /// As recv(2), e.g. `ConnectionReset`.
        pub async fn read_owned<B: corio_runtime::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> corio_runtime::buf::BufResult<usize, B> {
            self.io.read_owned(buf).await
        }

        /// Reads into several owned buffers in order, each from its start up to its
        /// capacity; returns the total (0 at EOF). One `IORING_OP_READV` on io_uring.
        ///
        /// # Buffer ownership
        ///
        /// As [`Self::read_owned`]: the buffers always come back.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe, as [`Self::read_owned`].
        ///
        /// # Errors
        ///
        /// As readv(2).
        pub async fn readv_owned<B: corio_runtime::buf::IoBufMut>(
            &self,
            bufs: Vec<B>,
        ) -> corio_runtime::buf::BufResult<usize, Vec<B>> {
            self.io.readv_owned(bufs).await
        }

        /// Writes what the socket takes of an owned buffer's initialized bytes (at least
        /// one, as `AsyncWriteExt::write`); the bytes are with the kernel when it returns.
        /// One `IORING_OP_SEND` from `buf` on io_uring.
        ///
        /// # Buffer ownership
        ///
        /// `buf` always comes back, even on error.
        ///
        /// # Cancel safety
        ///
        /// Not cancel safe: a future dropped while the kernel waits for room may have sent
        /// part of `buf`.
        ///
        /// # Errors
        ///
        /// As send(2), e.g. `BrokenPipe` or `ConnectionReset`.
        pub async fn write_owned<B: corio_runtime::buf::IoBuf>(
            &self,
            buf: B,
        ) -> corio_runtime::buf::BufResult<usize, B> {
            self.io.write_owned(buf).await
        }

        /// Writes all initialized bytes of an owned buffer; the kernel sends straight from
        /// it (one `IORING_OP_SEND` with `MSG_WAITALL` on io_uring).
        ///
        /// # Buffer ownership
        ///
        /// `buf` always comes back, even on error.
        ///
        /// # Cancel safety
        ///
        /// Not cancel safe: a dropped future may have sent a prefix of `buf`.
        ///
        /// # Errors
        ///
        /// As send(2), e.g. `BrokenPipe` or `ConnectionReset`.
        pub async fn write_all_owned<B: corio_runtime::buf::IoBuf>(
            &self,
            buf: B,
        ) -> corio_runtime::buf::BufResult<(), B> {
            self.io.write_all_owned(buf).await
        }

        /// Writes the initialized bytes of several owned buffers in order; may write fewer
        /// (at least one byte). One `IORING_OP_WRITEV` on io_uring.
        ///
        /// # Buffer ownership
        ///
        /// The buffers always come back, even on error.
        ///
        /// # Cancel safety
        ///
        /// Not cancel safe, as [`Self::write_owned`].
        ///
        /// # Errors
        ///
        /// As writev(2).
        pub async fn writev_owned<B: corio_runtime::buf::IoBuf>(
            &self,
            bufs: Vec<B>,
        ) -> corio_runtime::buf::BufResult<usize, Vec<B>> {
            self.io.writev_owned(bufs).await
        }
    };
}

/// `AsRef<Self>`, `AsFd`, `AsRawFd`, `AsyncRead` and `AsyncWrite` for a stream type.
macro_rules! stream_traits {
    ($ty:ident) => {
        impl AsRef<$ty> for $ty {
            fn as_ref(&self) -> &$ty {
                self
            }
        }

        fd_traits!($ty);

        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_read(cx, buf)
            }
        }

        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, &[std::io::IoSlice::new(buf)])
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_shutdown()
            }
        }
    };
}

/// The datagram sends and receives without an address (on a connected socket).
macro_rules! datagram_api {
    () => {
        /// Receives one datagram from the connected peer into an owned buffer, from its
        /// start up to its capacity (a longer datagram is truncated, as by recv(2); a buffer
        /// without capacity returns 0 at once). On io_uring this is one `IORING_OP_RECV`
        /// straight into `buf`; on epoll, readiness and one recv(2) into `buf`.
        ///
        /// # Buffer ownership
        ///
        /// `buf` always comes back, even on error; a dropped future's buffer is freed only
        /// after the kernel lets go.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: a datagram the kernel received for a dropped future is kept for
        /// the next receive of any kind.
        ///
        /// # Errors
        ///
        /// As recv(2), e.g. `ConnectionRefused` after an ICMP error.
        pub async fn recv_owned<B: corio_runtime::buf::IoBufMut>(
            &self,
            buf: B,
        ) -> corio_runtime::buf::BufResult<usize, B> {
            self.io.read_owned(buf).await
        }

        /// Sends an owned buffer's initialized bytes as one datagram to the connected peer;
        /// one `IORING_OP_SEND` from `buf` on io_uring.
        ///
        /// # Buffer ownership
        ///
        /// `buf` always comes back, even on error.
        ///
        /// # Cancel safety
        ///
        /// A future dropped while the kernel holds the datagram may still send it.
        ///
        /// # Errors
        ///
        /// As send(2), e.g. `EMSGSIZE`.
        pub async fn send_owned<B: corio_runtime::buf::IoBuf>(
            &self,
            buf: B,
        ) -> corio_runtime::buf::BufResult<usize, B> {
            self.io.write_owned(buf).await
        }

        /// Sends `buf` as one datagram to the connected peer.
        ///
        /// # Errors
        ///
        /// As send(2), e.g. `ConnectionRefused` after an ICMP error.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: a dropped future sent nothing.
        pub async fn send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io.send(buf).await
        }

        /// Polls [`Self::send`].
        ///
        /// # Errors
        ///
        /// As [`Self::send`].
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_send(cx, buf)
        }

        /// Sends now if the socket is ready: `WouldBlock` otherwise.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as [`Self::send`].
        pub fn try_send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io.try_send(buf)
        }

        /// Receives one datagram from the connected peer.
        ///
        /// # Errors
        ///
        /// As recv(2).
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: a dropped future received nothing.
        pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io.recv_flags(buf, 0).await
        }

        /// Polls [`Self::recv`] into `buf`.
        ///
        /// # Errors
        ///
        /// As [`Self::recv`].
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_recv_flags(cx, buf, 0)
        }

        /// Receives now if a datagram waits: `WouldBlock` otherwise.
        ///
        /// # Errors
        ///
        /// `WouldBlock`, or as recv(2).
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io.try_recv_flags(buf, 0)
        }

        /// Like [`Self::try_recv`], into the spare capacity of `buf` (which advances).
        ///
        /// # Errors
        ///
        /// As [`Self::try_recv`].
        pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
            self.io.try_recv_buf(buf)
        }

        /// Like [`Self::recv`], into the spare capacity of `buf` (which advances).
        ///
        /// # Errors
        ///
        /// As [`Self::recv`].
        ///
        /// # Cancel safety
        ///
        /// Cancel safe.
        pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> std::io::Result<usize> {
            self.io.recv_buf(buf).await
        }
    };
}

/// `AsFd` and `AsRawFd` for a socket type with an `io` field.
macro_rules! fd_traits {
    ($ty:ident) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.io)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(self))
            }
        }
    };
}
