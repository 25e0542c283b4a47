//! `corio::fs`: files and paths with tokio::fs's names, on each worker's io_uring.
//!
//! On the uring backend, on a worker thread, every call below is one io_uring op (or a
//! few) submitted to the worker's ring — no thread-pool hop. Everywhere else — the epoll
//! backend, a [`Runtime::block_on`](crate::Runtime::block_on) guest thread, a
//! `spawn_blocking` thread — the same call runs the equivalent syscall on the blocking
//! pool (`spawn_blocking`), as tokio::fs does. Results and errors are the same on both
//! paths: the same flags reach the same syscalls, so the same `errno` comes back
//! (`NotFound`, `AlreadyExists` for [`File::create_new`], `EISDIR` for a directory
//! opened for writing, ...).
//!
//! | call | uring worker | elsewhere |
//! |------|--------------|-----------|
//! | [`File::open`], [`OpenOptions::open`], [`File::create`] | `IORING_OP_OPENAT` | open(2) on the pool |
//! | [`File::read_at`], `AsyncRead` | `IORING_OP_READ` | pread(2) on the pool |
//! | [`File::write_at`], [`File::write_all_at`], `AsyncWrite` | `IORING_OP_WRITE` | pwrite(2) on the pool |
//! | [`File::sync_all`] / [`File::sync_data`] | `IORING_OP_FSYNC` (`DATASYNC`) | fsync(2) / fdatasync(2) |
//! | [`File::set_len`] | `IORING_OP_FTRUNCATE` (kernel 6.9) | ftruncate(2) |
//! | [`File::metadata`], [`metadata`], [`symlink_metadata`], `SeekFrom::End` | `IORING_OP_STATX` | statx(2) |
//! | [`read`], [`read_to_string`], [`File::read_to_end`] | `STATX` + `READ`s | statx + preads, one pool hop |
//! | [`write`] | `OPENAT` + `WRITE`s | one pool hop per syscall |
//! | [`remove_file`] / [`remove_dir`] | `IORING_OP_UNLINKAT` (`AT_REMOVEDIR`) | unlink(2) / rmdir(2) |
//! | [`rename`], [`create_dir`], [`create_dir_all`], [`hard_link`], [`symlink`] | `RENAMEAT`, `MKDIRAT`, `LINKAT`, `SYMLINKAT` | the syscall on the pool |
//! | dropping a [`File`] | `IORING_OP_CLOSE`, not waited for | close(2) in `Drop` |
//! | [`canonicalize`], [`read_dir`], [`copy`], [`read_link`], ... | the blocking pool (io_uring has no opcode) | the blocking pool |
//!
//! The file-system opcodes are *optional* in the backend probe: a kernel that lacks one
//! (say `IORING_OP_FTRUNCATE` before 6.9) makes that call take the blocking path, per
//! call, with one `warn` log naming the opcode — never an error.
//!
//! # Buffer ownership
//!
//! [`File::read_at`], [`File::write_at`] and [`File::write_all_at`] take their buffer by
//! value ([`IoBuf`]/[`IoBufMut`]) and give it back in the [`BufResult`], even on error. A
//! read fills the buffer from its start, up to `bytes_total()`, and the kernel writes only
//! there; a write sends the initialized bytes. If the future is dropped while the op is in
//! flight, the op is cancelled and the buffer is freed only after the kernel's final
//! completion (it stays in the ring's op slab until then; on the blocking path the
//! blocking call owns it until it returns). No memory the caller got back is ever written
//! by the kernel afterwards.
//!
//! # Files moving between threads
//!
//! A [`File`] is `Send + Sync` and usable from any thread. The positional calls submit to
//! the ring of the thread that polls them. The `AsyncRead`/`AsyncWrite` adapter keeps at
//! most one op in flight: a read is positional, so if the file moved to another thread
//! while a read was in flight, that read is cancelled on its ring and reissued at the same
//! offset where the file is now; a write runs as a task on the worker that started it (its
//! bytes were reported written, so it must not be cancelled), and whoever polls the file
//! next waits for that task. Writes through `AsyncWrite` to a file opened with `O_APPEND`
//! are not positional: they go to the file position (offset -1, which the kernel moves to
//! the end), one at a time, and the file's position is read back (`lseek`) when each
//! completes — never reissued, so nothing is appended twice. [`File::write_at`] on an
//! `O_APPEND` file appends whatever `pos` says, as pwrite(2) does on Linux.
//!
//! [`IoBuf`]: crate::buf::IoBuf
//! [`IoBufMut`]: crate::buf::IoBufMut
//! [`BufResult`]: crate::buf::BufResult

mod file;
mod free;
mod metadata;
mod open_options;
mod read_to_end;
mod stream;

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use file::File;
pub use free::{
    canonicalize, create_dir, create_dir_all, hard_link, metadata, read, read_to_string,
    remove_dir, remove_file, rename, symlink, symlink_metadata, write,
};
pub use metadata::{FileType, Metadata};
pub use open_options::OpenOptions;
pub use tokio::fs::{
    copy, read_dir, read_link, remove_dir_all, set_permissions, try_exists, DirEntry, ReadDir,
};

use crate::context;
use crate::driver::Ring;

/// Calls that wanted the ring but took the blocking path because the kernel lacks (or a
/// test forced missing) their opcode.
static FALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// True when this call should be an io_uring op: the thread has a ring whose kernel has
/// the opcode `code`.
fn on_ring(code: u8) -> bool {
    match context::try_with_ring(|ring| ring.has_opcode(code)) {
        Some(true) => true,
        Some(false) => {
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
            false
        }
        None => false,
    }
}

/// Runs `f` on the blocking pool, as tokio::fs does.
async fn asyncify<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::other("background task failed")),
    }
}

/// Runs `f`, which owns a buffer, on the blocking pool and returns what it returns.
///
/// # Panics
///
/// When the runtime shuts down before the blocking call started (the buffer is gone
/// with it), or with the blocking call's own panic.
async fn asyncify_buf<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => panic!("corio::fs: the runtime shut down during a blocking file call"),
    }
}

/// `path` as the NUL-terminated string the kernel reads.
fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    })
}

/// Test support: makes every ring treat the optional opcode `name` (e.g.
/// `"IORING_OP_STATX"`) as missing, process-wide, so its calls take the blocking path.
/// False when `name` is not one of the file-system opcodes.
#[doc(hidden)]
pub fn __force_missing_opcode(name: &str) -> bool {
    Ring::force_missing(name)
}

/// Test support: how many calls took the blocking path on a ring thread because their
/// opcode was missing.
#[doc(hidden)]
pub fn __fallback_calls() -> usize {
    FALLBACKS.load(Ordering::Relaxed)
}
