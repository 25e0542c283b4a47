//! The free functions of `corio::fs`, with tokio::fs's names and signatures: one io_uring
//! op each on a uring worker (a few for `read`, `write`, `create_dir_all`), the std
//! function on the blocking pool elsewhere.

use std::io;
use std::path::{Path, PathBuf};

use io_uring::opcode;

use super::file::{statx, write_all_at};
use super::{asyncify, cstr, on_ring, File, Metadata};
use crate::op;
use crate::op::statx::Target;

/// Reads the whole file at `path`.
///
/// # Errors
///
/// As open(2) and read(2).
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let mut file = File::open(path).await?;
    let mut contents = Vec::new();
    file.read_to_end(&mut contents).await?;
    Ok(contents)
}

/// Reads the whole file at `path` as UTF-8.
///
/// # Errors
///
/// As [`read`]; `InvalidData` when the contents are not UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read(path).await?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Writes `contents` as the whole file at `path`, creating or truncating it.
///
/// # Errors
///
/// As open(2) and write(2).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    let file = File::create(path).await?;
    if contents.is_empty() {
        return Ok(());
    }
    write_all_at(file.shared_fd(), contents, 0).await.0
}

/// Removes the file (not a directory) at `path`.
///
/// # Errors
///
/// As unlink(2), e.g. `NotFound`.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), false).await
}

/// Removes the empty directory at `path`.
///
/// # Errors
///
/// As rmdir(2), e.g. `DirectoryNotEmpty`.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), true).await
}

async fn unlink(path: &Path, dir: bool) -> io::Result<()> {
    if on_ring(opcode::UnlinkAt::CODE) {
        return op::unlinkat::unlinkat(cstr(path)?, dir)?.await;
    }
    let path = path.to_owned();
    if dir {
        asyncify(move || std::fs::remove_dir(path)).await
    } else {
        asyncify(move || std::fs::remove_file(path)).await
    }
}

/// Renames `from` to `to`, replacing `to` if it exists.
///
/// # Errors
///
/// As rename(2).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    if on_ring(opcode::RenameAt::CODE) {
        return op::renameat::renameat(cstr(from)?, cstr(to)?)?.await;
    }
    let (from, to) = (from.to_owned(), to.to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Creates the directory `path` (its parent must exist).
///
/// # Errors
///
/// As mkdir(2), e.g. `AlreadyExists`.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if on_ring(opcode::MkDirAt::CODE) {
        return op::mkdirat::mkdirat(cstr(path)?)?.await;
    }
    let path = path.to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and every missing parent, as `std::fs::create_dir_all`.
///
/// # Errors
///
/// As mkdir(2), except that an existing directory is fine.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    create_dir_all_inner(path.as_ref()).await
}

async fn create_dir_all_inner(path: &Path) -> io::Result<()> {
    if path == Path::new("") {
        return Ok(());
    }
    match create_dir(path).await {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(_) if is_dir(path).await => return Ok(()),
        Err(err) => return Err(err),
    }
    match path.parent() {
        Some(parent) => Box::pin(create_dir_all_inner(parent)).await?,
        None => return Err(io::Error::other("failed to create whole tree")),
    }
    match create_dir(path).await {
        Ok(()) => Ok(()),
        Err(_) if is_dir(path).await => Ok(()),
        Err(err) => Err(err),
    }
}

async fn is_dir(path: &Path) -> bool {
    metadata(path).await.is_ok_and(|m| m.is_dir())
}

/// The metadata of `path`, following symlinks (statx(2)).
///
/// # Errors
///
/// As statx(2), e.g. `NotFound`.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    statx(Target::Path(cstr(path.as_ref())?), true).await
}

/// The metadata of `path` itself, not following a final symlink.
///
/// # Errors
///
/// As statx(2) with `AT_SYMLINK_NOFOLLOW`.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    statx(Target::Path(cstr(path.as_ref())?), false).await
}

/// Creates `dst` as a hard link to `src`.
///
/// # Errors
///
/// As link(2), e.g. `AlreadyExists`.
pub async fn hard_link(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    if on_ring(opcode::LinkAt::CODE) {
        return op::linkat::linkat(cstr(src)?, cstr(dst)?)?.await;
    }
    let (src, dst) = (src.to_owned(), dst.to_owned());
    asyncify(move || std::fs::hard_link(src, dst)).await
}

/// Creates `dst` as a symbolic link whose target is `src`.
///
/// # Errors
///
/// As symlink(2), e.g. `AlreadyExists`.
pub async fn symlink(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    if on_ring(opcode::SymlinkAt::CODE) {
        return op::symlinkat::symlinkat(cstr(src)?, cstr(dst)?)?.await;
    }
    let (src, dst) = (src.to_owned(), dst.to_owned());
    asyncify(move || std::os::unix::fs::symlink(src, dst)).await
}

/// The absolute path of `path` with every symlink resolved, on the blocking pool
/// (io_uring has no opcode for it).
///
/// # Errors
///
/// As realpath(3).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}
