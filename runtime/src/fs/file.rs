//! `File`: an open file whose positional calls are io_uring ops on the current worker's
//! ring (or blocking-pool syscalls elsewhere, see the module docs), plus tokio's stream
//! traits through [`Stream`](super::stream::Stream).

use std::fmt;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::opcode;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use super::stream::Stream;
use super::{asyncify, asyncify_buf, on_ring, Metadata, OpenOptions};
use crate::buf::{as_slice, BufResult, IoBuf, IoBufMut};
use crate::context;
use crate::fd::SharedFd;
use crate::op;
use crate::op::statx::Target;

/// An open file, with tokio::fs::File's API plus owned-buffer positional I/O.
///
/// Dropping it closes the fd (through the ring on a uring worker, without waiting). A
/// write made through `AsyncWrite` and not yet flushed still completes after the drop.
///
/// # Examples
///
/// ```no_run
/// # #[allow(dead_code)]
/// # async fn demo() -> std::io::Result<()> {
/// let file = corio_runtime::fs::File::open("data.bin").await?;
/// let (n, buf) = file.read_at(Vec::with_capacity(4096), 0).await;
/// println!("read {} bytes: {:?}", n?, &buf[..8.min(buf.len())]);
/// # Ok(()) }
/// ```
pub struct File {
    fd: Fd,
    /// Opened with `O_APPEND`: stream writes go to the end.
    append: bool,
    /// The `AsyncRead`/`AsyncWrite`/`AsyncSeek` state; locked by the `&self` calls that
    /// must wait for a stream write first (`sync_all`, `set_len`, ...).
    stream: tokio::sync::Mutex<Stream>,
}

/// The file's fd; closed through the ring when the file drops on a uring worker.
struct Fd(Option<SharedFd>);

impl Fd {
    fn get(&self) -> &SharedFd {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("File used after into_std"))
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        let Some(Ok(fd)) = self.0.take().map(SharedFd::try_unwrap) else {
            return; // an op in flight still holds it: it closes after the op's CQE
        };
        let ring = context::try_with_ring(|ring| ring.has_opcode(opcode::Close::CODE));
        if ring == Some(true) {
            op::close::close(fd);
        }
    }
}

impl File {
    pub(crate) fn from_fd(fd: OwnedFd, append: bool, pos: u64) -> File {
        File {
            fd: Fd(Some(SharedFd::new(fd))),
            append,
            stream: tokio::sync::Mutex::new(Stream::new(pos)),
        }
    }

    /// The fd, for the free functions.
    pub(crate) fn shared_fd(&self) -> &SharedFd {
        self.fd.get()
    }

    /// Opens `path` read-only.
    ///
    /// # Errors
    ///
    /// As open(2), e.g. `NotFound`.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` write-only, creating it or truncating it.
    ///
    /// # Errors
    ///
    /// As open(2).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        options.open(path).await
    }

    /// Creates `path` read-write, failing if it exists.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` when `path` exists; otherwise as open(2).
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        options.open(path).await
    }

    /// A new [`OpenOptions`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Reads at `pos` into `buf`, from its start up to `bytes_total()`; 0 means end of
    /// file. Does not move the stream position.
    ///
    /// # Buffer ownership
    ///
    /// `buf` comes back in the result, even on error; if the future is dropped, the op is
    /// cancelled and `buf` is freed only after the kernel lets go of it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses nothing: the read is positional.
    ///
    /// # Errors
    ///
    /// As pread(2).
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        read_at(self.fd.get(), buf, pos).await
    }

    /// Writes `buf`'s initialized bytes at `pos`; may write fewer. Does not move the
    /// stream position (on an `O_APPEND` file the kernel appends, whatever `pos`).
    ///
    /// # Buffer ownership
    ///
    /// As for [`read_at`](Self::read_at).
    ///
    /// # Cancel safety
    ///
    /// A dropped write may or may not have happened.
    ///
    /// # Errors
    ///
    /// As pwrite(2).
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        write_at(self.fd.get(), buf, 0, pos).await
    }

    /// Writes all of `buf`'s initialized bytes at `pos`, with as many writes as it takes.
    ///
    /// # Buffer ownership
    ///
    /// As for [`read_at`](Self::read_at).
    ///
    /// # Cancel safety
    ///
    /// A dropped call may have written part of the bytes.
    ///
    /// # Errors
    ///
    /// As pwrite(2); `WriteZero` when the kernel accepts no more bytes.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        write_all_at(self.fd.get(), buf, pos).await
    }

    /// Reads from the stream position to the end of the file, appending to `buf`; returns
    /// the number of bytes read and moves the position past them. tokio's
    /// `AsyncReadExt::read_to_end`, done natively: the kernel reads into `buf`'s spare
    /// capacity, sized from statx.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped while a read is in flight, `buf` is left
    /// empty (its allocation is with the op and freed after the kernel lets go).
    ///
    /// # Errors
    ///
    /// As pread(2), or a pending stream write's error; the bytes read before an error
    /// stay in `buf`.
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let stream = self.stream.get_mut();
        let pos = stream.settle(self.fd.get()).await?;
        let start = buf.len();
        stream.take_buffered(buf);
        let at = pos + (buf.len() - start) as u64;
        let result = super::read_to_end::read_to_end_at(self.fd.get(), at, buf).await;
        stream.set_position(pos + (buf.len() - start) as u64);
        result.map(|_| buf.len() - start)
    }

    /// Flushes data and metadata to the device (fsync(2)), after any stream write.
    ///
    /// # Errors
    ///
    /// As fsync(2).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.stream.lock().await.wait_writes(self.fd.get()).await;
        fsync(self.fd.get(), false).await
    }

    /// Flushes data (and the metadata needed to read it) to the device (fdatasync(2)),
    /// after any stream write.
    ///
    /// # Errors
    ///
    /// As fdatasync(2).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.stream.lock().await.wait_writes(self.fd.get()).await;
        fsync(self.fd.get(), true).await
    }

    /// Truncates or extends the file to `size` bytes (ftruncate(2)), after any stream
    /// write. The stream position does not move.
    ///
    /// # Errors
    ///
    /// As ftruncate(2), e.g. `InvalidInput` for a file not open for writing.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let mut stream = self.stream.lock().await;
        stream.wait_writes(self.fd.get()).await;
        stream.discard_buffered();
        if on_ring(opcode::Ftruncate::CODE) {
            op::ftruncate::ftruncate(self.fd.get(), size)?.await
        } else {
            let fd = self.fd.get().clone();
            asyncify(move || op::ftruncate::blocking(&fd, size)).await
        }
    }

    /// The file's metadata (statx(2) of the fd).
    ///
    /// # Errors
    ///
    /// As statx(2).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        statx(Target::Fd(self.fd.get().clone()), true).await
    }

    /// Takes over a std file; the stream position starts at its position.
    pub fn from_std(file: std::fs::File) -> File {
        let mut file = file;
        let pos = file.stream_position().unwrap_or(0);
        let fd = OwnedFd::from(file);
        let shared = SharedFd::new(fd);
        let append = op::write::is_append(&shared);
        File {
            fd: Fd(Some(shared)),
            append,
            stream: tokio::sync::Mutex::new(Stream::new(pos)),
        }
    }

    /// Waits for any stream operation in flight, then gives back a std file positioned
    /// at this file's stream position. If a dropped positional op still holds the fd,
    /// the std file holds a duplicate of it (same open file description).
    pub async fn into_std(mut self) -> std::fs::File {
        let stream = self.stream.get_mut();
        let pos = stream.settle(self.fd.get()).await.unwrap_or(0);
        let fd = self
            .fd
            .0
            .take()
            .unwrap_or_else(|| unreachable!("File taken"));
        let owned = match fd.try_unwrap() {
            Ok(owned) => owned,
            Err(fd) => fd.as_fd().try_clone_to_owned().unwrap_or_else(|err| {
                panic!("corio::fs::File::into_std: cannot duplicate the fd: {err}")
            }),
        };
        positioned(owned, pos)
    }

    /// Gives back a std file at once, or the file itself while an operation is in flight
    /// (a stream op, or a dropped positional op whose CQE has not arrived).
    ///
    /// # Errors
    ///
    /// The file itself, when an operation is in flight.
    #[allow(clippy::result_large_err)] // tokio::fs::File::try_into_std's signature
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        let Some(pos) = self.stream.get_mut().idle_position() else {
            return Err(self);
        };
        let fd = self
            .fd
            .0
            .take()
            .unwrap_or_else(|| unreachable!("File taken"));
        match fd.try_unwrap() {
            Ok(owned) => Ok(positioned(owned, pos)),
            Err(fd) => {
                self.fd.0 = Some(fd);
                Err(self)
            }
        }
    }
}

/// A std file at `pos` (the fd's position is moved there).
fn positioned(fd: OwnedFd, pos: u64) -> std::fs::File {
    let mut file = std::fs::File::from(fd);
    if let Err(err) = file.seek(SeekFrom::Start(pos)) {
        tracing::debug!(error = %err, "into_std: could not restore the position");
    }
    file
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.0.as_ref().map(SharedFd::raw))
            .field("append", &self.append)
            .finish_non_exhaustive()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get().as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.get().raw()
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.stream.get_mut().poll_read(cx, this.fd.get(), dst)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.stream
            .get_mut()
            .poll_write(cx, this.fd.get(), this.append, src)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.stream.get_mut().poll_flush(cx, this.fd.get())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.stream.get_mut().start_seek(this.fd.get(), position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        this.stream.get_mut().poll_complete(cx, this.fd.get())
    }
}

/// A read at `pos` into the start of `buf`, on the ring or the blocking pool.
pub(super) async fn read_at<B: IoBufMut>(fd: &SharedFd, buf: B, pos: u64) -> BufResult<usize, B> {
    if on_ring(opcode::Read::CODE) {
        match op::read::read_at(fd, buf, pos) {
            Ok(read) => read.await,
            Err((err, buf)) => (Err(err), buf),
        }
    } else {
        let fd = fd.clone();
        asyncify_buf(move || {
            let mut buf = buf;
            (op::read::pread(&fd, &mut buf, pos), buf)
        })
        .await
    }
}

/// A write of `buf`'s initialized bytes from index `from` on, at `pos` (or at the file
/// position for [`op::write::CURRENT`]), on the ring or the blocking pool.
pub(super) async fn write_at<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    from: usize,
    pos: u64,
) -> BufResult<usize, B> {
    if on_ring(opcode::Write::CODE) {
        match op::write::write_at(fd, buf, from, pos) {
            Ok(write) => write.await,
            Err((err, buf)) => (Err(err), buf),
        }
    } else {
        let fd = fd.clone();
        asyncify_buf(move || (op::write::pwrite(&fd, &as_slice(&buf)[from..], pos), buf)).await
    }
}

/// Writes all of `buf`'s initialized bytes at `pos` (each write at the file position for
/// [`op::write::CURRENT`]).
pub(super) async fn write_all_at<B: IoBuf>(fd: &SharedFd, buf: B, pos: u64) -> BufResult<(), B> {
    let (total, mut buf, mut done) = (buf.bytes_init(), buf, 0);
    while done < total {
        let at = if pos == op::write::CURRENT {
            pos
        } else {
            pos + done as u64
        };
        let (result, back) = write_at(fd, buf, done, at).await;
        buf = back;
        match result {
            Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
            Ok(n) => done += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return (Err(err), buf),
        }
    }
    (Ok(()), buf)
}

/// fsync(2) or fdatasync(2), on the ring or the blocking pool.
async fn fsync(fd: &SharedFd, datasync: bool) -> io::Result<()> {
    if on_ring(opcode::Fsync::CODE) {
        op::fsync::fsync(fd, datasync)?.await
    } else {
        let fd = fd.clone();
        asyncify(move || op::fsync::blocking(&fd, datasync)).await
    }
}

/// statx(2) of `target`, on the ring or the blocking pool.
pub(super) async fn statx(target: Target, follow: bool) -> io::Result<Metadata> {
    let stx = if on_ring(opcode::Statx::CODE) {
        op::statx::statx(target, follow)?.await?
    } else {
        asyncify(move || op::statx::blocking(&target, follow)).await?
    };
    Ok(Metadata::from_statx(stx))
}
