//! `OpenOptions`: tokio::fs's (and std's) builder, turned into `open(2)` flags exactly as
//! std does, so both backends open with the same flags and fail the same way.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use io_uring::opcode;

use super::{asyncify, cstr, on_ring, File};
use crate::op;

/// Options and flags for opening a [`File`], with tokio::fs::OpenOptions's names.
///
/// # Examples
///
/// ```no_run
/// # #[allow(dead_code)]
/// # async fn demo() -> std::io::Result<()> {
/// let file = corio_runtime::fs::OpenOptions::new()
///     .append(true)
///     .create(true)
///     .open("log.txt")
///     .await?;
/// # drop(file); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Options with everything off (and mode `0o666`).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Open for appending (`O_APPEND`): every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Truncate an existing file to 0 bytes (`O_TRUNC`); needs `write`.
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (`O_CREAT`); needs `write` or `append`.
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (`O_CREAT | O_EXCL`).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a created file (before the umask); `0o666` by default.
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (e.g. `libc::O_DIRECT`); the access mode bits are ignored.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// As open(2): `NotFound`, `AlreadyExists` (`create_new`), `PermissionDenied`,
    /// `EISDIR` for a directory opened for writing, ...; `InvalidInput` (`EINVAL`) for an
    /// invalid combination of options, as std reports it.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let flags = self.flags()?;
        let append = flags & libc::O_APPEND != 0;
        let path = path.as_ref();
        let fd = if on_ring(opcode::OpenAt::CODE) {
            op::openat::openat(cstr(path)?, flags, self.mode)?.await?
        } else {
            let (path, std) = (path.to_owned(), self.to_std());
            asyncify(move || std.open(path)).await?.into()
        };
        Ok(File::from_fd(fd, append, 0))
    }

    /// The open(2) flags, computed as std computes them.
    fn flags(&self) -> io::Result<i32> {
        let einval = || Err(io::Error::from_raw_os_error(libc::EINVAL));
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return einval(),
        };
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) if self.truncate || self.create || self.create_new => return einval(),
            (_, true) if self.truncate && !self.create_new => return einval(),
            _ => {}
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        };
        Ok(libc::O_CLOEXEC | access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }

    fn to_std(&self) -> std::fs::OpenOptions {
        let mut std = std::fs::OpenOptions::new();
        std.read(self.read)
            .write(self.write)
            .append(self.append)
            .truncate(self.truncate)
            .create(self.create)
            .create_new(self.create_new)
            .mode(self.mode)
            .custom_flags(self.custom_flags);
        std
    }
}
