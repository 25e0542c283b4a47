//! `corio::fs::File` positional I/O and metadata on both backends: owned round trips with
//! `Vec<u8>` and `Box<[u8]>`, a 1 GiB sparse offset, short reads at EOF, `O_APPEND`,
//! `create_new` on an existing file, a missing file, a directory opened for writing,
//! metadata, `set_len`, sync, std conversions.

#[path = "fs_support/mod.rs"]
mod fs_support;

use std::io;

use corio::fs::{File, OpenOptions};
use fs_support::{pattern, TempDir};

#[corio::test(backend = "both")]
async fn owned_round_trips_with_vec_and_boxed_slice() {
    let dir = TempDir::new("owned");
    let path = dir.join("f");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .await
        .unwrap();
    let data = pattern(10_000, 1);
    let (n, back) = file.write_at(data.clone(), 0).await;
    assert_eq!(n.unwrap(), data.len());
    assert_eq!(back, data, "the buffer comes back");
    let boxed: Box<[u8]> = pattern(3000, 2).into_boxed_slice();
    let (r, boxed) = file.write_all_at(boxed, 10_000).await;
    r.unwrap();

    let (n, buf) = file.read_at(Vec::with_capacity(10_000), 0).await;
    assert_eq!(n.unwrap(), 10_000);
    assert_eq!(buf, data);
    let (n, got) = file
        .read_at(vec![0u8; 3000].into_boxed_slice(), 10_000)
        .await;
    assert_eq!(n.unwrap(), 3000);
    assert_eq!(got, boxed);
    // A Vec with bytes already in it is filled from its start.
    let (n, buf) = file.read_at(vec![9u8; 4], 2).await;
    assert_eq!(n.unwrap(), 4);
    assert_eq!(buf, data[2..6]);
    assert_eq!(std::fs::read(&path).unwrap().len(), 13_000);
}

#[corio::test(backend = "both")]
async fn a_1_gib_sparse_offset_reads_back() {
    let dir = TempDir::new("sparse");
    let file = File::create_new(dir.join("sparse")).await.unwrap();
    let at = 1u64 << 30;
    let (r, _) = file.write_all_at(b"far away".to_vec(), at).await;
    r.unwrap();
    let meta = file.metadata().await.unwrap();
    assert_eq!(meta.len(), at + 8);
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "sparse: {} blocks",
        meta.blocks()
    );
    let (n, buf) = file.read_at(Vec::with_capacity(8), at).await;
    assert_eq!(n.unwrap(), 8);
    assert_eq!(buf, b"far away");
    let (n, hole) = file.read_at(Vec::with_capacity(16), at - 16).await;
    assert_eq!(n.unwrap(), 16);
    assert_eq!(hole, [0; 16]);
}

#[corio::test(backend = "both")]
async fn reads_at_and_past_the_end_are_short() {
    let dir = TempDir::new("eof");
    let path = dir.join("f");
    std::fs::write(&path, pattern(100, 3)).unwrap();
    let file = File::open(&path).await.unwrap();
    let (n, buf) = file.read_at(Vec::with_capacity(64), 80).await;
    assert_eq!(n.unwrap(), 20, "straddling the end");
    assert_eq!(buf, pattern(100, 3)[80..]);
    let (n, buf) = file.read_at(Vec::with_capacity(64), 100).await;
    assert_eq!(n.unwrap(), 0, "at the end");
    assert!(buf.is_empty());
    let (n, _) = file.read_at(Vec::with_capacity(64), 1 << 40).await;
    assert_eq!(n.unwrap(), 0, "far past the end");
}

#[corio::test(backend = "both")]
async fn append_writes_go_to_the_end() {
    let dir = TempDir::new("append");
    let path = dir.join("log");
    std::fs::write(&path, b"one\n").unwrap();
    let file = OpenOptions::new().append(true).open(&path).await.unwrap();
    // O_APPEND: the kernel appends whatever offset is given, as pwrite(2) does on Linux.
    let (r, _) = file.write_all_at(b"two\n".to_vec(), 0).await;
    r.unwrap();
    let (r, _) = file.write_all_at(b"three\n".to_vec(), 1).await;
    r.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\nthree\n");
}

#[corio::test(backend = "both")]
async fn open_errors_are_the_syscalls() {
    let dir = TempDir::new("errors");
    let path = dir.join("exists");
    std::fs::write(&path, b"x").unwrap();
    let err = File::create_new(&path).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));

    let err = File::open(dir.join("missing")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    let err = OpenOptions::new()
        .write(true)
        .open(dir.path())
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{err}");
    assert_eq!(err.kind(), io::ErrorKind::IsADirectory);

    let err = OpenOptions::new()
        .create(true)
        .open(dir.join("n"))
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EINVAL),
        "create without write"
    );
    let err = File::open("bad\0name").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    // A read-only file refuses writes with EBADF, on both paths.
    let file = File::open(&path).await.unwrap();
    let (r, _) = file.write_at(b"y".to_vec(), 0).await;
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
}

#[corio::test(backend = "both")]
async fn metadata_set_len_and_sync() {
    let dir = TempDir::new("meta");
    let path = dir.join("f");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o640)
        .open(&path)
        .await
        .unwrap();
    let (r, _) = file.write_all_at(pattern(5000, 4), 0).await;
    r.unwrap();
    file.sync_all().await.unwrap();
    file.sync_data().await.unwrap();
    let meta = file.metadata().await.unwrap();
    let std_meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(meta.is_file() && !meta.is_dir() && !meta.is_symlink());
    assert!(meta.file_type().is_file());
    assert_eq!(meta.len(), 5000);
    assert_eq!(meta.size(), 5000);
    assert_eq!(meta.mode() & 0o777, 0o640 & !umask());
    assert_eq!(meta.permissions(), std_meta.permissions());
    assert_eq!(meta.ino(), std_meta.ino());
    assert_eq!(meta.dev(), std_meta.dev());
    assert_eq!(meta.nlink(), std_meta.nlink());
    assert_eq!(meta.uid(), std_meta.uid());
    assert_eq!(meta.gid(), std_meta.gid());
    assert_eq!(meta.blksize(), std_meta.blksize());
    assert_eq!(meta.blocks(), std_meta.blocks());
    assert_eq!(meta.modified().unwrap(), std_meta.modified().unwrap());
    assert_eq!(meta.accessed().unwrap(), std_meta.accessed().unwrap());
    assert_eq!(meta.created().ok(), std_meta.created().ok());

    file.set_len(100).await.unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 100);
    file.set_len(1 << 20).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);

    let read_only = File::open(&path).await.unwrap();
    let err = read_only.set_len(0).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
}

fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|m| u32::from_str_radix(m.trim(), 8).unwrap())
        .unwrap_or(0o022)
}

#[corio::test(backend = "both")]
async fn std_conversions_keep_the_position() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let dir = TempDir::new("std");
    let path = dir.join("f");
    let mut std_file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std_file.write_all(b"hello world").unwrap();
    std_file.seek(SeekFrom::Start(6)).unwrap();
    let mut file = File::from_std(std_file);
    let mut rest = Vec::new();
    assert_eq!(file.read_to_end(&mut rest).await.unwrap(), 5);
    assert_eq!(rest, b"world");
    let mut std_file = file.into_std().await;
    assert_eq!(std_file.stream_position().unwrap(), 11);
    std_file.seek(SeekFrom::Start(0)).unwrap();
    let file = File::from_std(std_file);
    let mut std_file = file.try_into_std().expect("nothing in flight");
    let mut all = String::new();
    std_file.read_to_string(&mut all).unwrap();
    assert_eq!(all, "hello world");
    let _: &dyn std::os::fd::AsFd = &File::open(&path).await.unwrap();
}

#[test]
fn file_is_send_and_sync() {
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    check::<File>();
    check::<OpenOptions>();
    check::<corio::fs::Metadata>();
}
