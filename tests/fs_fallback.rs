//! `corio::fs` where io_uring cannot serve a call: an opcode the kernel lacks (forced
//! missing here) falls back, per call, to the blocking pool on a uring worker; and a
//! `Runtime::block_on` guest thread (no ring) uses the blocking pool on both backends.
//! Both give the same results and errors as the ring.

#[path = "fs_support/mod.rs"]
mod fs_support;

use std::io;

use corio::fs::{self, File, OpenOptions};
use corio::Backend;
use fs_support::{pattern, TempDir};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Every file-system call the tests below make, with its checks.
async fn exercise(dir: &TempDir) {
    let path = dir.join("f");
    let data = pattern(40_000, 7);
    fs::write(&path, &data).await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), data);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await
        .unwrap();
    let (n, buf) = file.read_at(Vec::with_capacity(100), 39_950).await;
    assert_eq!(n.unwrap(), 50);
    assert_eq!(buf, data[39_950..]);
    let (r, _) = file.write_all_at(b"patch".to_vec(), 10).await;
    r.unwrap();
    file.set_len(20_000).await.unwrap();
    file.sync_all().await.unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 20_000);
    let mut file = file;
    file.seek(io::SeekFrom::End(-5)).await.unwrap();
    file.write_all(b"end").await.unwrap();
    file.flush().await.unwrap();
    file.seek(io::SeekFrom::Start(8)).await.unwrap();
    let mut seven = [0u8; 7];
    file.read_exact(&mut seven).await.unwrap();
    assert_eq!(&seven[2..], b"patch");
    drop(file);
    let err = File::create_new(&path).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let err = File::open(dir.join("missing")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = OpenOptions::new()
        .write(true)
        .open(dir.path())
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EISDIR));
    fs::create_dir_all(dir.join("a/b")).await.unwrap();
    fs::rename(&path, dir.join("a/b/g")).await.unwrap();
    fs::hard_link(dir.join("a/b/g"), dir.join("h"))
        .await
        .unwrap();
    fs::symlink("h", dir.join("s")).await.unwrap();
    assert!(fs::symlink_metadata(dir.join("s"))
        .await
        .unwrap()
        .is_symlink());
    assert_eq!(fs::metadata(dir.join("s")).await.unwrap().nlink(), 2);
    fs::remove_file(dir.join("s")).await.unwrap();
    fs::remove_file(dir.join("h")).await.unwrap();
    fs::remove_file(dir.join("a/b/g")).await.unwrap();
    fs::remove_dir(dir.join("a/b")).await.unwrap();
    let err = fs::remove_dir(dir.join("a/b")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[corio::test(backend = "both")]
async fn missing_opcodes_fall_back_to_the_blocking_pool() {
    for name in [
        "IORING_OP_OPENAT",
        "IORING_OP_STATX",
        "IORING_OP_FTRUNCATE",
        "IORING_OP_RENAMEAT",
        "IORING_OP_READ",
    ] {
        assert!(fs::__force_missing_opcode(name), "{name}");
    }
    assert!(
        !fs::__force_missing_opcode("IORING_OP_NOP"),
        "not an fs opcode"
    );
    let before = fs::__fallback_calls();
    let dir = TempDir::new("fallback");
    exercise(&dir).await;
    if corio::backend().kind == corio::BackendKind::Uring {
        // The writes, fsyncs, unlinks, mkdirs, links still went through the ring.
        assert!(
            fs::__fallback_calls() - before >= 10,
            "{}",
            fs::__fallback_calls() - before
        );
    }
}

fn on_guest_thread(backend: Backend) {
    let Some(rt) = corio::__private::test_runtime(backend, Some(1)) else {
        return;
    };
    let dir = TempDir::new("guest");
    rt.block_on(async {
        assert_eq!(
            corio::metrics::ring_ops_in_flight(),
            None,
            "a guest has no ring"
        );
        exercise(&dir).await;
        // A File opened on the guest moves to a worker, and back.
        let mut file = File::create(dir.join("moved")).await.unwrap();
        file.write_all(b"from the guest").await.unwrap();
        let file = corio::spawn(async move {
            let mut file = file;
            file.write_all(b", then a worker").await.unwrap();
            file.flush().await.unwrap();
            file
        })
        .await
        .unwrap();
        drop(file);
        let text = fs::read_to_string(dir.join("moved")).await.unwrap();
        assert_eq!(text, "from the guest, then a worker");
    });
}

#[test]
fn uring_fs_works_on_a_block_on_guest_thread() {
    on_guest_thread(Backend::Uring);
}

#[test]
fn epoll_fs_works_on_a_block_on_guest_thread() {
    on_guest_thread(Backend::Epoll);
}

#[test]
fn guest_file_reads_with_tokio_read_to_end() {
    let Some(rt) = corio::__private::test_runtime(Backend::Uring, Some(1)) else {
        return;
    };
    let dir = TempDir::new("guest-read");
    std::fs::write(dir.join("f"), pattern(70_000, 9)).unwrap();
    rt.block_on(async {
        let mut file = File::open(dir.join("f")).await.unwrap();
        let mut all = Vec::new();
        AsyncReadExt::read_to_end(&mut file, &mut all)
            .await
            .unwrap();
        assert_eq!(all, pattern(70_000, 9));
    });
}

/// A 1 MiB round trip through `copy_file_to` and `copy_to_file` over loopback TCP.
async fn copy_both_ways(dir: &TempDir) {
    let data = pattern(1 << 20, 8);
    let from = dir.join("from");
    std::fs::write(&from, &data).unwrap();
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(corio::net::TcpStream::connect(addr), listener.accept());
    let (mut client, server) = (client.unwrap(), accepted.unwrap().0);
    let source = File::open(&from).await.unwrap();
    let sent = corio::io::copy_file_to(&source, 0, 1 << 20, &client).await;
    assert_eq!(sent.unwrap(), 1 << 20);
    client.shutdown().await.unwrap();
    let to = File::create(dir.join("to")).await.unwrap();
    let got = corio::io::copy_to_file(&server, &to, 0, 2 << 20).await;
    assert_eq!(got.unwrap(), 1 << 20, "stops at EOF");
    drop(to);
    assert_eq!(std::fs::read(dir.join("to")).unwrap(), data);
}

#[corio::test(backend = "both")]
async fn without_splice_the_copies_take_the_syscall_path() {
    assert!(fs::__force_missing_opcode("IORING_OP_SPLICE"));
    copy_both_ways(&TempDir::new("nosplice")).await;
}

fn copies_on_guest_thread(backend: Backend) {
    let Some(rt) = corio::__private::test_runtime(backend, Some(1)) else {
        return;
    };
    let dir = TempDir::new("guest-copy");
    rt.block_on(copy_both_ways(&dir));
}

#[test]
fn uring_copies_work_on_a_block_on_guest_thread() {
    copies_on_guest_thread(Backend::Uring);
}

#[test]
fn epoll_copies_work_on_a_block_on_guest_thread() {
    copies_on_guest_thread(Backend::Epoll);
}
