//! The reference servers without a runtime (`serve --runtime raw-uring`,
//! `raw-epoll`): echo of split and large payloads on several connections;
//! in HTTP mode the bytes of tokio-ct's hyper server (date aside) for
//! pipelined, byte-by-byte and body-carrying requests; a peer that resets,
//! or sends what cannot be framed, costs only its own connection, and every
//! connection's fd is closed afterwards. Then a short benchmark of both rows.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RAW: [&str; 2] = ["raw-uring", "raw-epoll"];
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";
const HELLO: &[u8] = b"Hello, World!";
const TIMEOUT: Duration = Duration::from_secs(5);

/// A `corio-ab serve` child, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `serve --runtime RUNTIME --mode MODE`; `None` when io_uring is
    /// unavailable here (the uring row skips, unless CORIO_REQUIRE_URING=1).
    fn start(runtime: &str, mode: &str) -> Option<Server> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(support::BIN)
            .args([
                "serve",
                "--runtime",
                runtime,
                "--mode",
                mode,
                "--workers",
                "1",
            ])
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn corio-ab serve");
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                let mut stderr = String::new();
                let _ = server
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr);
                let required = std::env::var("CORIO_REQUIRE_URING").is_ok_and(|v| v == "1");
                if runtime == "raw-uring" && stderr.contains("io_uring") && !required {
                    eprintln!("skipping raw-uring: {}", stderr.trim());
                    return None;
                }
                panic!("{runtime} exited ({status}): {stderr}");
            }
            assert!(Instant::now() < deadline, "{runtime} did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// The server's open fds with no connection open: the fewest seen over
    /// 200 ms after a round trip (which proves its event loop runs).
    fn baseline_fds(&self, mode: &str) -> usize {
        let mut stream = self.connect();
        match mode {
            "echo" => {
                stream.write_all(b"x").unwrap();
                stream.read_exact(&mut [0u8; 1]).unwrap();
            }
            _ => {
                stream.write_all(GET).unwrap();
                read_responses(&mut stream, 1);
            }
        }
        drop(stream);
        (0..20)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                self.fds()
            })
            .min()
            .unwrap()
    }

    /// Open fds of the server process.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("server fds")
            .count()
    }

    /// Waits until the server has at most `baseline` fds open.
    fn assert_fds_back(&self, baseline: usize, what: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while self.fds() > baseline {
            if Instant::now() > deadline {
                let dir = format!("/proc/{}/fd", self.child.id());
                let fds: Vec<String> = std::fs::read_dir(&dir)
                    .expect("server fds")
                    .flatten()
                    .map(|e| format!("{:?}", std::fs::read_link(e.path())))
                    .collect();
                panic!("{what}: {baseline} fds open before the connections, now {fds:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads until `buf` holds `n` hello responses (or the peer closes).
fn read_responses(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while count(&buf, HELLO) < n {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "reading responses: {e} after {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    buf
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `bytes` with every `date:` value replaced by `<date>`.
fn without_dates(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .map(|line| match line.starts_with("date: ") {
            true => "date: <date>",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Sends `chunks` one write each (with a pause between them so that they
/// arrive as separate reads), then reads `n` responses.
fn exchange(server: &Server, chunks: &[&[u8]], n: usize) -> String {
    let mut stream = server.connect();
    for chunk in chunks {
        stream.write_all(chunk).unwrap();
        if chunks.len() > 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let bytes = read_responses(&mut stream, n);
    assert_eq!(
        count(&bytes, HELLO),
        n,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    without_dates(&bytes)
}

/// Echoes on one connection: a message in two writes, then 1 MiB written
/// by another thread while this one reads it back.
fn echo_client(server: &Server, id: u8) {
    let mut stream = server.connect();
    stream.write_all(b"hel").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    stream.write_all(b"lo").unwrap();
    let mut five = [0u8; 5];
    stream.read_exact(&mut five).unwrap();
    assert_eq!(&five, b"hello");
    let payload: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8 ^ id).collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = payload.clone();
    let write = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut back = vec![0u8; payload.len()];
    stream.read_exact(&mut back).unwrap();
    write.join().unwrap();
    assert!(back == payload, "connection {id}: the echo differs");
}

#[test]
fn echo_of_split_and_large_payloads_on_several_connections() {
    for runtime in RAW {
        let Some(server) = Server::start(runtime, "echo") else {
            continue;
        };
        let baseline = server.baseline_fds("echo");
        std::thread::scope(|s| {
            for id in 0..4 {
                let server = &server;
                s.spawn(move || echo_client(server, id));
            }
        });
        server.assert_fds_back(baseline, &format!("{runtime} echo"));
    }
}

#[test]
fn http_responses_are_hypers_bytes() {
    let hyper = Server::start("tokio-ct", "http").expect("tokio-ct starts");
    let pipelined = GET.repeat(3);
    let bytewise: Vec<&[u8]> = GET.chunks(1).collect();
    let post = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 6\r\n\r\n\r\n\r\nab".to_vec();
    let (head, body) = post.split_at(post.len() - 4);
    let cases: [(&str, Vec<&[u8]>, usize); 4] = [
        ("pipelined", vec![&pipelined], 3),
        ("byte by byte", bytewise, 1),
        ("body then a request", vec![&post, GET], 2),
        ("body split", vec![head, body, GET], 2),
    ];
    for runtime in RAW {
        let Some(raw) = Server::start(runtime, "http") else {
            continue;
        };
        for (name, chunks, n) in &cases {
            let want = exchange(&hyper, chunks, *n);
            assert_eq!(exchange(&raw, chunks, *n), want, "{runtime}: {name}");
        }
    }
}

#[test]
fn a_peer_that_resets_or_cannot_be_framed_costs_only_its_connection() {
    for (runtime, mode) in RAW.iter().flat_map(|r| [(*r, "http"), (*r, "echo")]) {
        let Some(server) = Server::start(runtime, mode) else {
            continue;
        };
        let baseline = server.baseline_fds(mode);
        for _ in 0..3 {
            // Output queued and a send likely in flight when the RST arrives.
            let mut stream = server.connect();
            let load = match mode {
                "http" => GET.repeat(2000),
                _ => vec![7u8; 4 << 20],
            };
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            let _ = stream.write_all(&load);
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            let _ = stream.read(&mut [0u8; 64]);
        }
        if mode == "http" {
            let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
            let mut stream = server.connect();
            stream
                .write_all(&[GET, chunked.as_slice()].concat())
                .unwrap();
            let bytes = read_responses(&mut stream, 2);
            assert_eq!(count(&bytes, HELLO), 1, "{runtime}: the GET is answered");
            match stream.read(&mut [0u8; 64]) {
                Ok(0) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                other => panic!("{runtime}: connection not closed: {other:?}"),
            }
            assert!(exchange(&server, &[GET], 1).contains("Hello, World!"));
        } else {
            echo_client(&server, 9);
        }
        server.assert_fds_back(baseline, &format!("{runtime} {mode}"));
    }
}

/// Runs the benchmark on both raw rows; the JSON report and the table.
fn bench(name: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["--variants", "raw-uring,raw-epoll", "--duration", "1"];
    args.extend(support::SHORT);
    args.extend(extra);
    support::run_report(name, &args)
}

#[test]
fn benchmark_rows_have_figures() {
    let (report, stdout) = bench("raw-echo.json", &["--mode", "echo"]);
    check_rows(&report, &stdout, "echo");
    let (report, stdout) = bench("raw-http.json", &["--pipeline", "4", "--body", "100"]);
    check_rows(&report, &stdout, "http");
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["figures"]["load"]["body_len"], 13, "{run}");
    }
}

fn check_rows(report: &serde_json::Value, stdout: &str, mode: &str) {
    for row in RAW {
        let run = support::runs_of(report, row)[0];
        if run["figures"].is_null() && run["error"].as_str().unwrap_or("").contains("io_uring") {
            eprintln!("skipping {row} ({mode}): {}", run["error"]);
            continue;
        }
        let load = &run["figures"]["load"];
        assert!(
            load["responses"].as_u64().unwrap() > 100,
            "{row} {mode}: {run}"
        );
        assert_eq!(load["error_total"], 0, "{row} {mode}: {load}");
        let line = stdout.lines().find(|l| l.starts_with(row)).expect("row");
        assert!(!line.contains("FAILED"), "{line}");
        assert!(
            line.split_whitespace()
                .nth(1)
                .is_some_and(|rps| rps.contains(|c: char| c.is_ascii_digit())),
            "{line}"
        );
    }
}
