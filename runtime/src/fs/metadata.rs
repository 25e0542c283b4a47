//! `Metadata` and `FileType`: what statx(2) says about a file, with std::fs::Metadata's
//! method names. Both backends fill them from the same statx call.

use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// Metadata of a file, from statx(2); std::fs::Metadata's method names.
#[derive(Clone)]
pub struct Metadata {
    stx: libc::statx,
}

/// The type of a file, from its mode bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    mode: u32,
}

impl Metadata {
    pub(crate) fn from_statx(stx: libc::statx) -> Metadata {
        Metadata { stx }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        FileType { mode: self.mode() }
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// True for a symbolic link (only from [`symlink_metadata`](super::symlink_metadata)).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// The size in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.stx.stx_size
    }

    /// The permission bits.
    pub fn permissions(&self) -> std::fs::Permissions {
        std::fs::Permissions::from_mode(self.mode())
    }

    /// The last modification time.
    ///
    /// # Errors
    ///
    /// `Unsupported` when the file system does not record it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stx.stx_mtime, "modification")
    }

    /// The last access time.
    ///
    /// # Errors
    ///
    /// `Unsupported` when the file system does not record it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stx.stx_atime, "access")
    }

    /// The creation (birth) time.
    ///
    /// # Errors
    ///
    /// `Unsupported` when the file system does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stx.stx_btime, "creation")
    }

    /// The full `st_mode`: type and permission bits.
    pub fn mode(&self) -> u32 {
        u32::from(self.stx.stx_mode)
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.stx.stx_ino
    }

    /// The device the file lives on.
    pub fn dev(&self) -> u64 {
        libc::makedev(self.stx.stx_dev_major, self.stx.stx_dev_minor)
    }

    /// The device a special file stands for.
    pub fn rdev(&self) -> u64 {
        libc::makedev(self.stx.stx_rdev_major, self.stx.stx_rdev_minor)
    }

    /// The number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stx.stx_nlink)
    }

    /// The owner's user id.
    pub fn uid(&self) -> u32 {
        self.stx.stx_uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u32 {
        self.stx.stx_gid
    }

    /// The size in bytes (as [`len`](Self::len)).
    pub fn size(&self) -> u64 {
        self.stx.stx_size
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.stx.stx_blksize)
    }

    /// The number of 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.stx.stx_blocks
    }

    fn time(&self, bit: u32, ts: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stx.stx_mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{what} time is not available for the filesystem"),
            ));
        }
        let nanos = Duration::from_nanos(u64::from(ts.tv_nsec));
        let time = match u64::try_from(ts.tv_sec) {
            Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + nanos,
            Err(_) => {
                SystemTime::UNIX_EPOCH - Duration::from_secs(ts.tv_sec.unsigned_abs()) + nanos
            }
        };
        Ok(time)
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("permissions", &self.permissions())
            .field("len", &self.len())
            .field("modified", &self.modified())
            .finish_non_exhaustive()
    }
}

impl FileType {
    fn is(&self, kind: u32) -> bool {
        self.mode & libc::S_IFMT == kind
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.is(libc::S_IFDIR)
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.is(libc::S_IFREG)
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.is(libc::S_IFLNK)
    }

    /// True for a block device.
    pub fn is_block_device(&self) -> bool {
        self.is(libc::S_IFBLK)
    }

    /// True for a character device.
    pub fn is_char_device(&self) -> bool {
        self.is(libc::S_IFCHR)
    }

    /// True for a FIFO (named pipe).
    pub fn is_fifo(&self) -> bool {
        self.is(libc::S_IFIFO)
    }

    /// True for a Unix socket.
    pub fn is_socket(&self) -> bool {
        self.is(libc::S_IFSOCK)
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileType")
            .field("is_file", &self.is_file())
            .field("is_dir", &self.is_dir())
            .field("is_symlink", &self.is_symlink())
            .finish_non_exhaustive()
    }
}
