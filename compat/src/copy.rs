//! `copy_file_to` and `copy_to_file`: a file's bytes to a stream socket, and a stream's
//! bytes into a file, without copying them through user memory.
//!
//! On io_uring (on a thread that owns a ring whose kernel has `IORING_OP_SPLICE`) each
//! chunk is two splices through a pipe kept per worker: file → pipe at the offset, then
//! pipe → socket. Where the file system refuses to splice (`EINVAL`), the rest goes by
//! `read_at` into a buffer and an owned send. Elsewhere (the epoll backend, a thread
//! without a ring) it is sendfile(2) inside the socket's readiness loop.
//!
//! Either way the bytes are in the socket's send buffer when the call returns (tokio's
//! write contract), and a write of the stream's own that follows goes after them.
//!
//! `copy_to_file` is the reverse: on io_uring socket → pipe → file at an offset (bytes a
//! dropped `read_owned` left for the next read go first); elsewhere, or where splicing is
//! refused, `read_owned` into a buffer and `write_all_at`.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;

use corio_runtime::buf::BufResult;
use corio_runtime::fs::File;
use corio_runtime::{sys, SplicePipe};
use tokio::io::Interest;

use crate::io::{Gates, Source};
use crate::net::split::Stream;

/// Sends `len` bytes of `file` from `offset` to `stream` (a `TcpStream` or a `UnixStream`)
/// without copying them through user memory (see the module docs for how, per backend); returns how many were sent,
/// fewer than `len` only when the file ends first.
///
/// # Errors
///
/// As splice(2)/sendfile(2) and send(2): `BrokenPipe` or `ConnectionReset` when the peer
/// went away; errors reading the file.
///
/// # Cancel safety
///
/// Not cancel safe: a dropped future may have sent part of the range.
// `Stream` is sealed: it only says "a corio stream socket"; see `net::split`.
#[allow(private_bounds)]
pub async fn copy_file_to<S: Stream>(
    file: &File,
    offset: u64,
    len: u64,
    stream: &S,
) -> io::Result<u64> {
    let source = stream.source();
    match source.ring() {
        Some(_) if SplicePipe::available() => splice(file, offset, len, source).await,
        _ => sendfile(file, offset, len, source).await,
    }
}

/// sendfile(2) in the socket's readiness loop.
async fn sendfile(file: &File, offset: u64, len: u64, source: &Source) -> io::Result<u64> {
    let mut sent = 0;
    while sent < len {
        let mut at = offset + sent;
        let chunk = usize::try_from(len - sent)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        let n = source
            .async_io(Interest::WRITABLE, |io| {
                sys::sendfile(io.fd(), file.as_fd(), &mut at, chunk)
            })
            .await?;
        if n == 0 {
            break;
        }
        sent += n as u64;
    }
    Ok(sent)
}

/// Splices through this worker's pipe; falls back to read + send where splicing the file
/// is refused.
async fn splice(file: &File, offset: u64, len: u64, source: &Source) -> io::Result<u64> {
    let Some((socket, gates)) = source.ring() else {
        unreachable!("checked by the caller");
    };
    let pipe = SplicePipe::take()?;
    let mut sent = 0;
    while sent < len {
        let chunk = usize::try_from(len - sent).unwrap_or(usize::MAX);
        let filled = match pipe.fill_from(file, offset + sent, chunk)?.await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) && sent == 0 => {
                return read_and_send(file, offset, len, source).await;
            }
            Err(err) => return Err(err),
        };
        let mut in_pipe = filled;
        while in_pipe > 0 {
            let ticket = poll_fn(|cx| gates.write().poll_acquire(cx)).await;
            let mut op = pipe.drain_to(socket, in_pipe)?;
            op.hold(ticket);
            match op.await {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => in_pipe -= n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    source.wait_after_would_block(Interest::WRITABLE).await?;
                }
                Err(err) => return Err(err),
            }
        }
        sent += filled as u64;
    }
    pipe.recycle();
    Ok(sent)
}

/// `copy_to_file` by `read_owned` into one buffer and `write_all_at`, from `done` bytes
/// already copied on.
async fn read_and_write(
    source: &Source,
    file: &File,
    offset: u64,
    len: u64,
    mut done: u64,
) -> io::Result<u64> {
    const CHUNK: usize = 256 << 10;
    let mut buf = Vec::with_capacity(CHUNK);
    while done < len {
        buf.clear();
        let want = usize::try_from(len - done).unwrap_or(usize::MAX).min(CHUNK);
        let (n, back) = source
            .read_owned(corio_runtime::buf::IoBuf::slice(buf, ..want))
            .await;
        buf = back.into_inner();
        let n = n?;
        if n == 0 {
            break;
        }
        let (written, back) = file.write_all_at(buf, offset + done).await;
        buf = back;
        written?;
        done += n as u64;
    }
    Ok(done)
}

/// The fallback where a file cannot be spliced: `read_at` into one buffer, then an owned
/// send of it, chunk by chunk.
async fn read_and_send(file: &File, offset: u64, len: u64, source: &Source) -> io::Result<u64> {
    const CHUNK: usize = 256 << 10;
    let mut buf = Vec::with_capacity(CHUNK);
    let mut sent = 0;
    while sent < len {
        buf.clear();
        let want = usize::try_from(len - sent).unwrap_or(usize::MAX).min(CHUNK);
        let (n, back): BufResult<usize, _> = file
            .read_at(corio_runtime::buf::IoBuf::slice(buf, ..want), offset + sent)
            .await;
        buf = back.into_inner();
        match n? {
            0 => break,
            n => {
                buf.truncate(n);
                let (result, back) = source.write_all_owned(buf).await;
                buf = back;
                result?;
                sent += n as u64;
            }
        }
    }
    Ok(sent)
}

/// Receives up to `len` bytes from `stream` (a `TcpStream` or a `UnixStream`) and writes
/// them into `file` from `offset`, without copying them through user memory on io_uring
/// (see the module docs); returns how many, fewer than `len` only when the stream reached
/// EOF first.
///
/// # Errors
///
/// As splice(2) or recv(2) and pwrite(2).
///
/// # Cancel safety
///
/// Not cancel safe: a dropped future may have taken bytes from the stream that it did not
/// write to the file yet.
#[allow(private_bounds)]
pub async fn copy_to_file<S: Stream>(
    stream: &S,
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    let source = stream.source();
    match source.ring() {
        Some((_, gates)) if SplicePipe::available() => {
            splice_in(source, gates, file, offset, len).await
        }
        _ => read_and_write(source, file, offset, len, 0).await,
    }
}

/// Splices socket → this worker's pipe → file; falls back to read + write where the file
/// refuses the splice.
async fn splice_in(
    source: &Source,
    gates: &Gates,
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    let Some((socket, _)) = source.ring() else {
        unreachable!("checked by the caller");
    };
    let pipe = SplicePipe::take()?;
    let mut done = 0;
    while done < len {
        let want = usize::try_from(len - done).unwrap_or(usize::MAX);
        let ticket = poll_fn(|cx| gates.read.poll_acquire(cx)).await;
        if let Some(bytes) = gates.read.take(false, |s| {
            let n = s.data.len().min(want);
            (n, s.data[..n].to_vec())
        }) {
            drop(ticket);
            let n = bytes.len() as u64;
            file.write_all_at(bytes, offset + done).await.0?;
            done += n;
            continue;
        }
        let mut op = pipe.fill_from_socket(socket, want)?;
        op.hold(ticket);
        let filled = match op.await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                source.wait_after_would_block(Interest::READABLE).await?;
                continue;
            }
            Err(err) => return Err(err),
        };
        let mut in_pipe = filled;
        while in_pipe > 0 {
            let at = offset + done + (filled - in_pipe) as u64;
            match pipe.drain_to_file(file, at, in_pipe)?.await {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => in_pipe -= n,
                Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                    // The file cannot take a splice: take what the pipe holds out by
                    // read(2), write it, and go on by read + write.
                    let bytes = pipe.read_out(in_pipe)?;
                    let n = bytes.len() as u64;
                    file.write_all_at(bytes, at).await.0?;
                    let copied = at + n - offset;
                    return read_and_write(source, file, offset, len, copied).await;
                }
                Err(err) => return Err(err),
            }
        }
        done += filled as u64;
    }
    pipe.recycle();
    Ok(done)
}
