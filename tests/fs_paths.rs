//! The free functions of `corio::fs` on both backends: read/write/read_to_string round
//! trips (empty, small, multi-MiB, procfs), rename, directories, metadata and
//! symlink_metadata, hard and symbolic links, canonicalize, read_dir, and their errors.

#[path = "fs_support/mod.rs"]
mod fs_support;

use std::io;

use corio::fs;
use fs_support::{pattern, TempDir};

#[corio::test(backend = "both")]
async fn read_write_round_trips() {
    let dir = TempDir::new("rw");
    for (size, seed) in [
        (0usize, 1u8),
        (1, 2),
        (4096, 3),
        (16 * 1024, 4),
        (3 << 20, 5),
    ] {
        let path = dir.join(&format!("f{size}"));
        let data = pattern(size, seed);
        fs::write(&path, &data).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data, "size {size}");
        assert_eq!(fs::read(&path).await.unwrap(), data, "size {size}");
    }
    fs::write(dir.join("s"), "héllo").await.unwrap();
    assert_eq!(fs::read_to_string(dir.join("s")).await.unwrap(), "héllo");
    fs::write(dir.join("bad"), [0xff, 0xfe]).await.unwrap();
    let err = fs::read_to_string(dir.join("bad")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // write truncates.
    fs::write(dir.join("s"), "x").await.unwrap();
    assert_eq!(fs::read(dir.join("s")).await.unwrap(), b"x");
    let err = fs::read(dir.join("missing")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[corio::test(backend = "both")]
async fn read_handles_files_whose_size_says_zero() {
    // procfs reports size 0 and returns short reads before the end.
    let ours = fs::read("/proc/self/maps").await.unwrap();
    assert!(ours.len() > 100, "{}", ours.len());
    assert!(ours.ends_with(b"\n"));
    let status = fs::read_to_string("/proc/self/status").await.unwrap();
    assert!(status.contains("Name:"));
    let err = fs::read("/proc").await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
}

#[corio::test(backend = "both")]
async fn rename_remove_and_directories() {
    let dir = TempDir::new("dirs");
    let a = dir.join("a");
    fs::write(&a, b"A").await.unwrap();
    fs::rename(&a, dir.join("b")).await.unwrap();
    assert!(!a.exists());
    assert_eq!(fs::read(dir.join("b")).await.unwrap(), b"A");
    fs::remove_file(dir.join("b")).await.unwrap();
    let err = fs::remove_file(dir.join("b")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    let sub = dir.join("sub");
    fs::create_dir(&sub).await.unwrap();
    let err = fs::create_dir(&sub).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let err = fs::remove_file(&sub).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
    fs::write(sub.join("f"), b"").await.unwrap();
    let err = fs::remove_dir(&sub).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::DirectoryNotEmpty);
    fs::remove_file(sub.join("f")).await.unwrap();
    fs::remove_dir(&sub).await.unwrap();
    assert!(!sub.exists());

    let deep = dir.join("x/y/z");
    fs::create_dir_all(&deep).await.unwrap();
    fs::create_dir_all(&deep).await.unwrap();
    assert!(fs::metadata(&deep).await.unwrap().is_dir());
    fs::write(dir.join("file"), b"").await.unwrap();
    let err = fs::create_dir_all(dir.join("file/below"))
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
}

#[corio::test(backend = "both")]
async fn links_and_metadata() {
    let dir = TempDir::new("links");
    let target = dir.join("target");
    fs::write(&target, pattern(123, 6)).await.unwrap();
    fs::hard_link(&target, dir.join("hard")).await.unwrap();
    let err = fs::hard_link(&target, dir.join("hard")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    fs::symlink("target", dir.join("soft")).await.unwrap();

    let meta = fs::metadata(dir.join("hard")).await.unwrap();
    assert_eq!(meta.nlink(), 2);
    assert_eq!(meta.len(), 123);
    let via_link = fs::metadata(dir.join("soft")).await.unwrap();
    assert!(via_link.is_file());
    assert_eq!(via_link.ino(), meta.ino());
    let link = fs::symlink_metadata(dir.join("soft")).await.unwrap();
    assert!(link.is_symlink() && link.file_type().is_symlink() && !link.is_file());
    assert_eq!(link.len(), "target".len() as u64);
    assert!(fs::metadata(dir.path()).await.unwrap().is_dir());
    let err = fs::metadata(dir.join("none")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    let canonical = fs::canonicalize(dir.join("soft")).await.unwrap();
    assert_eq!(canonical, std::fs::canonicalize(&target).unwrap());
    assert_eq!(
        fs::read_link(dir.join("soft")).await.unwrap(),
        std::path::Path::new("target")
    );

    let mut names = Vec::new();
    let mut entries = fs::read_dir(dir.path()).await.unwrap();
    while let Some(entry) = entries.next_entry().await.unwrap() {
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    assert_eq!(names, ["hard", "soft", "target"]);

    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert!(fs::metadata(&fifo).await.unwrap().file_type().is_fifo());
    let null = fs::metadata("/dev/null").await.unwrap().file_type();
    assert!(null.is_char_device() && !null.is_block_device() && !null.is_socket());
}
