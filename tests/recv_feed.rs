//! Stream reads through the read gate's feed (a receive into the ring's provided buffers)
//! keep tokio's read semantics: every byte once and in order, whoever reads and however
//! the reads are cut short; errors and end of stream where the kernel put them; bounded
//! buffering when nobody reads. Each test runs on io_uring in every `RecvMode` and on
//! epoll.

mod support;

use std::future::Future;
use std::time::Duration;

use corio::net::TcpStream;
use corio::{Backend, BackendKind, Builder, RecvMode};
use support::net::{checksum, pattern, tcp_pair};
use support::poll_once_and_drop;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

/// Runs `test` on a worker, on io_uring in each receive mode (multishot and one-shot
/// receives both with incrementally consumed and with whole provided buffers), then on
/// epoll; `buffers` are the receive buffers per ring (count, bytes), `None` the defaults.
fn each_mode<F, Fut>(buffers: Option<(u32, u32)>, test: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let modes = [
        (Backend::Uring, RecvMode::Multishot, true),
        (Backend::Uring, RecvMode::Multishot, false),
        (Backend::Uring, RecvMode::OneShot, true),
        (Backend::Uring, RecvMode::OneShot, false),
        (Backend::Uring, RecvMode::Readiness, true),
        (Backend::Epoll, RecvMode::Multishot, true),
    ];
    for (backend, mode, incremental) in modes {
        let mut builder = Builder::new()
            .workers(1)
            .recv_mode(mode)
            .recv_incremental(incremental);
        if let Some((count, size)) = buffers {
            builder = builder.recv_buffers(count, size);
        }
        let Some(rt) = corio::__private::test_runtime_with(backend, builder) else {
            continue;
        };
        let bufs = if incremental { "incremental" } else { "whole" };
        // On the worker, where reads can go through its ring.
        let run = rt
            .handle()
            .spawn(test(format!("{backend:?}/{bufs}/{mode:?}")));
        rt.block_on(run).unwrap();
    }
}

/// True on the uring backend with feeds on: the reads under test go through the ring.
fn fed(label: &str) -> bool {
    corio::backend().kind == BackendKind::Uring && !label.ends_with("Readiness")
}

/// Arms the stream's read (a read that gives up after a moment), so the bytes that
/// follow arrive while a feed is armed.
async fn arm(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await;
    assert!(read.is_err(), "nothing was sent yet");
}

#[test]
fn every_byte_arrives_once_in_order_through_small_reads() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        let data = pattern(3 << 20, 7);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(1000 + 777) {
                client.write_all(chunk).await.unwrap();
            }
            client.shutdown().await.unwrap();
            client
        });
        let before = corio::metrics::snapshot().total();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 333];
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let after = corio::metrics::snapshot().total();
        assert_eq!(got.len(), data.len(), "{label}");
        assert_eq!(checksum(&got), checksum(&data), "{label}: same bytes");
        assert_eq!(
            server.read(&mut buf).await.unwrap(),
            0,
            "{label}: EOF stays"
        );
        if fed(&label) && label.ends_with("Multishot") {
            assert!(
                after.multishot_arms > before.multishot_arms,
                "{label}: the reads armed a multishot receive"
            );
        }
        if fed(&label) {
            let incremental = label.contains("/incremental/") && kernel_consumes_incrementally();
            assert_eq!(
                after.recv_incremental,
                u64::from(incremental),
                "{label}: the kind of buffers registered"
            );
            let default = if incremental { 4 << 16 } else { 128 << 12 };
            assert_eq!(after.recv_buffer_bytes, default, "{label}: default buffers");
        } else {
            assert_eq!(
                after.recv_buffer_bytes, 0,
                "{label}: no buffers without feeds"
            );
        }
        drop(writer.await.unwrap());
    });
}

/// End of stream is ready at once, as with tokio (whose readiness keeps `READ_CLOSED`
/// after `EPOLLRDHUP`): once the peer's FIN has arrived, a read returns 0 at its first poll
/// (a one-shot receive learns of it only when a read asks, so there the first read may
/// wait), so does every later read, and `ready` reports the read side closed.
#[test]
fn end_of_stream_is_ready_at_once() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"last").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"last", "{label}");
        // The FIN arrives while nobody reads (an armed multishot feed takes it in).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut buf = [0u8; 8];
        let first = poll_once_and_drop(server.read(&mut buf));
        match first {
            None if label.ends_with("OneShot") => {
                assert_eq!(server.read(&mut buf).await.unwrap(), 0, "{label}");
            }
            first => assert!(
                matches!(first, Some(Ok(0))),
                "{label}: first read after the FIN: {first:?}"
            ),
        }
        let before = corio::metrics::snapshot().total();
        for _ in 0..3 {
            let n = poll_once_and_drop(server.read(&mut buf));
            assert!(matches!(n, Some(Ok(0))), "{label}: read after EOF: {n:?}");
        }
        let ready = poll_once_and_drop(server.ready(Interest::READABLE));
        assert!(
            matches!(&ready, Some(Ok(r)) if r.is_read_closed()),
            "{label}: readiness after EOF: {ready:?}"
        );
        let after = corio::metrics::snapshot().total();
        assert_eq!(
            after.sqes_submitted, before.sqes_submitted,
            "{label}: reads after EOF wait for nothing"
        );
        drop(client);
    });
}

/// Whether the kernel can consume provided buffers incrementally (Linux 6.12).
fn kernel_consumes_incrementally() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(['.', '-'])
        .map(|n| n.trim().parse().unwrap_or(0));
    let version: (u32, u32) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    version >= (6, 12)
}

#[test]
fn a_dropped_read_loses_nothing_and_try_read_sees_what_arrived() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        arm(&mut server).await;
        client.write_all(b"hello world").await.unwrap();
        // tokio's readiness loop: wait until readable, then try_read until WouldBlock.
        let mut got = Vec::new();
        let mut buf = [0u8; 4];
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while got.len() < 11 {
                server.readable().await.unwrap();
                match server.try_read(&mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(err) => panic!("{label}: {err}"),
                }
            }
        })
        .await;
        assert!(drained.is_ok(), "{label}: readable() saw the fed bytes");
        assert_eq!(got, b"hello world", "{label}");
        client.write_all(b"!").await.unwrap();
        let mut peeked = [0u8; 8];
        assert_eq!(server.peek(&mut peeked).await.unwrap(), 1, "{label}");
        assert_eq!(&peeked[..1], b"!", "{label}: peek sees the next byte");
        assert_eq!(server.read(&mut peeked).await.unwrap(), 1, "{label}");
        assert_eq!(&peeked[..1], b"!", "{label}: and leaves it for the read");
    });
}

#[test]
fn data_then_reset_reports_the_data_then_the_error() {
    each_mode(None, |label| async move {
        let (client, mut server) = tcp_pair().await;
        arm(&mut server).await;
        client.set_zero_linger().unwrap();
        let client = client.into_std().unwrap();
        std::io::Write::write_all(&mut &client, b"last words").unwrap();
        drop(client);
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let err = loop {
            match server.read(&mut buf).await {
                Ok(0) => panic!("{label}: EOF instead of the reset"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(err) => break err,
            }
        };
        assert_eq!(got, b"last words", "{label}: bytes before the error");
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset,
            "{label}: {err}"
        );
        assert_eq!(server.read(&mut buf).await.unwrap(), 0, "{label}: then EOF");
    });
}

#[test]
fn a_reader_that_stops_reading_holds_back_the_peer() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        arm(&mut server).await;
        // The server reads nothing more: the writer must stall, as against tokio, after
        // the kernel's buffers and at most the feed's limit (64 KiB) plus one burst.
        let mut written = 0usize;
        let chunk = pattern(64 << 10, 3);
        // Each write continues the repeated pattern where the last (maybe short) one ended.
        while let Ok(Ok(n)) = tokio::time::timeout(
            Duration::from_millis(100),
            client.write(&chunk[written % chunk.len()..]),
        )
        .await
        {
            written += n;
            assert!(written < 64 << 20, "{label}: the writer never stalled");
        }
        let mut got = vec![0u8; written];
        server.read_exact(&mut got).await.unwrap();
        let expected: Vec<u8> = chunk.iter().copied().cycle().take(written).collect();
        assert!(got == expected, "{label}: every byte written, in order");
    });
}

#[test]
fn reads_on_another_thread_take_what_the_feed_received() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        arm(&mut server).await;
        client.write_all(b"first").await.unwrap();
        let handle = tokio::runtime::Handle::current();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 5];
            handle.block_on(server.read_exact(&mut buf)).unwrap();
            assert_eq!(&buf, b"first");
            // Bytes sent while this thread waits arrive here too.
            let mut more = [0u8; 6];
            handle.block_on(server.read_exact(&mut more)).unwrap();
            more
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(b"second").await.unwrap();
        let more = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        assert_eq!(&more, b"second", "{label}");
    });
}

#[test]
fn owned_reads_and_into_std_continue_where_the_feed_stopped() {
    each_mode(None, |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"abc").await.unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).await.unwrap();
        arm(&mut server).await;
        client.write_all(b"owned").await.unwrap();
        let (n, owned) = server.read_owned(vec![0u8; 16]).await;
        let n = n.unwrap();
        assert_eq!(&owned[..n], b"owned", "{label}: an owned read after a feed");
        arm(&mut server).await;
        let std = server.into_std().unwrap();
        std.set_nonblocking(false).unwrap();
        client.write_all(b"std").await.unwrap();
        let mut got = [0u8; 3];
        std::io::Read::read_exact(&mut &std, &mut got).unwrap();
        assert_eq!(
            &got, b"std",
            "{label}: into_std reads the socket's next bytes"
        );
    });
}

#[test]
fn exhausted_buffers_end_the_receive_and_it_rearms() {
    each_mode(Some((1, 512)), |label| async move {
        let (mut client, mut server) = tcp_pair().await;
        let data = pattern(256 << 10, 11);
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client
        });
        let before = corio::metrics::snapshot().total();
        let mut got = vec![0u8; data.len()];
        server.read_exact(&mut got).await.unwrap();
        let after = corio::metrics::snapshot().total();
        assert!(got == data, "{label}: intact through one 512-byte buffer");
        if fed(&label) && label.ends_with("Multishot") {
            assert!(
                after.recv_enobufs > before.recv_enobufs,
                "{label}: one buffer runs out under a 256 KiB burst"
            );
        }
        drop(writer.await.unwrap());
    });
}
