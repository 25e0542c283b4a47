//! `corio::fs::File` through tokio's `AsyncReadExt`/`AsyncWriteExt`/`AsyncSeekExt` on
//! both backends: writes, flush, seeks from every origin, read_to_end, read-ahead kept
//! across small reads, O_APPEND streams, errors surfacing on the next call, and a file
//! moved to another worker between operations and with a read dropped in flight.

#[path = "fs_support/mod.rs"]
mod fs_support;

use std::io::{self, SeekFrom};
use std::time::Duration;

use corio::fs::{File, OpenOptions};
use fs_support::{pattern, TempDir};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

async fn rw(path: &std::path::Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
        .unwrap()
}

#[corio::test(backend = "both")]
async fn write_flush_seek_read() {
    let dir = TempDir::new("stream");
    let path = dir.join("f");
    let mut file = rw(&path).await;
    let data = pattern(5 << 20, 1);
    file.write_all(&data).await.unwrap();
    file.write_all(b"tail").await.unwrap();
    file.flush().await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), (5 << 20) + 4);
    assert_eq!(file.stream_position().await.unwrap(), (5 << 20) + 4);

    assert_eq!(file.seek(SeekFrom::Start(10)).await.unwrap(), 10);
    let mut small = [0u8; 7];
    file.read_exact(&mut small).await.unwrap();
    assert_eq!(small, data[10..17]);
    assert_eq!(file.seek(SeekFrom::Current(-2)).await.unwrap(), 15);
    file.read_exact(&mut small).await.unwrap();
    assert_eq!(small, data[15..22]);
    assert_eq!(file.seek(SeekFrom::End(-4)).await.unwrap(), 5 << 20);
    let mut tail = String::new();
    file.read_to_string(&mut tail).await.unwrap();
    assert_eq!(tail, "tail");
    let err = file.seek(SeekFrom::Current(-(1 << 40))).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));

    file.seek(SeekFrom::Start(0)).await.unwrap();
    let mut all = Vec::new();
    assert_eq!(file.read_to_end(&mut all).await.unwrap(), (5 << 20) + 4);
    assert_eq!(&all[..5 << 20], &data[..]);
    // Overwrite in the middle, read around it.
    file.seek(SeekFrom::Start(100)).await.unwrap();
    file.write_all(b"XYZ").await.unwrap();
    file.seek(SeekFrom::Start(99)).await.unwrap();
    let mut five = [0u8; 5];
    file.read_exact(&mut five).await.unwrap();
    assert_eq!(&five, &[data[99], b'X', b'Y', b'Z', data[103]]);
    file.shutdown().await.unwrap();
}

#[corio::test(backend = "both")]
async fn small_reads_use_the_read_ahead_and_the_position_stays_exact() {
    let dir = TempDir::new("small");
    let path = dir.join("f");
    let data = pattern(100_000, 2);
    std::fs::write(&path, &data).unwrap();
    let mut file = File::open(&path).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 333];
    loop {
        let n = file.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
        if got.len() == 50_001 - 50_001 % 333 {
            // A positional call in between does not move the stream.
            let (r, _) = file.read_at(Vec::with_capacity(10), 0).await;
            r.unwrap();
        }
    }
    assert_eq!(got, data);
    assert_eq!(file.stream_position().await.unwrap(), 100_000);
}

#[corio::test(backend = "both")]
async fn append_streams_write_at_the_end_once() {
    let dir = TempDir::new("append-stream");
    let path = dir.join("log");
    std::fs::write(&path, b"0123").unwrap();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(&path)
        .await
        .unwrap();
    for line in ["a\n", "bb\n", "ccc\n"] {
        file.write_all(line.as_bytes()).await.unwrap();
    }
    file.flush().await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"0123a\nbb\nccc\n");
    assert_eq!(
        file.stream_position().await.unwrap(),
        13,
        "the end, after the writes"
    );
    // Someone else appends; our next write still lands at the end.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"other\n"))
        .unwrap();
    file.write_all(b"last\n").await.unwrap();
    file.seek(SeekFrom::Start(0)).await.unwrap();
    let mut all = String::new();
    file.read_to_string(&mut all).await.unwrap();
    assert_eq!(all, "0123a\nbb\nccc\nother\nlast\n");
}

#[corio::test(backend = "both")]
async fn write_errors_surface_on_the_next_call() {
    let dir = TempDir::new("werr");
    let path = dir.join("ro");
    std::fs::write(&path, b"data").unwrap();
    let mut file = File::open(&path).await.unwrap(); // read-only
                                                     // poll_write copies and returns at once; the EBADF comes with the flush.
    assert_eq!(file.write(b"nope").await.unwrap(), 4);
    let err = file.flush().await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    file.flush().await.unwrap();
    assert_eq!(file.write(b"again").await.unwrap(), 5);
    let mut buf = Vec::new();
    let err = file.read_to_end(&mut buf).await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[corio::test(backend = "both", workers = 2)]
async fn a_file_moves_to_another_worker_between_operations() {
    let dir = TempDir::new("moved");
    let path = dir.join("f");
    let mut file = rw(&path).await;
    let first = pattern(3 << 20, 3);
    // The write is still in flight on this worker's ring when the file moves.
    file.write_all(&first).await.unwrap();
    let path2 = path.clone();
    let mut file = corio::spawn_on(1, async move {
        file.write_all(b"second").await.unwrap();
        file.flush().await.unwrap();
        assert_eq!(std::fs::metadata(&path2).unwrap().len(), (3 << 20) + 6);
        file.seek(SeekFrom::Start(0)).await.unwrap();
        let mut head = vec![0u8; 1000];
        file.read_exact(&mut head).await.unwrap();
        file
    })
    .await
    .unwrap();
    let mut rest = Vec::new();
    file.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest.len(), (3 << 20) + 6 - 1000);
    assert_eq!(&rest[..(3 << 20) - 1000], &first[1000..]);
    assert!(rest.ends_with(b"second"));
}

#[corio::test(backend = "both", workers = 2)]
async fn a_read_dropped_in_flight_is_reissued_where_the_file_moved() {
    let dir = TempDir::new("fifo-move");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // O_RDWR: the open does not wait for a writer, and reads wait for data.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let timed_out = tokio::time::timeout(Duration::from_millis(30), file.read(&mut buf)).await;
    assert!(timed_out.is_err(), "nothing written yet");
    let reader = corio::spawn_on(1, async move {
        let mut buf = [0u8; 16];
        let n = file.read(&mut buf).await.unwrap();
        buf[..n].to_vec()
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut writer, b"hello").unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), reader).await;
    let got = got.expect("the moved read completes").unwrap();
    assert_eq!(got, b"hello");
    let _ = io::Error::other("");
}
