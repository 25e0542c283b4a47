//! The soak server (`examples/soak/server.rs`) when the process runs out of fds, and under a
//! flood of connections reset as soon as they are made, on both backends. tokio documents
//! that `accept` errors such as `EMFILE` are the caller's to handle; the soak server backs
//! off on them. So out of fds it must wait rather than spin on a listener that stays
//! readable, keep answering the connections it has, and accept again once fds are free.
//! (`tests/net_accept_faults.rs` covers resets against a bare accept loop and a flood
//! beyond the backlog; here the resets come from another thread, against hyper, thousands
//! of times, and every fd must come back.)

#[path = "../examples/soak/server.rs"]
mod server;
#[path = "support/soak.rs"]
mod soak;
mod support;

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use corio::net::{TcpSocket, TcpStream};
use tokio::io::AsyncWriteExt;

use server::ServerConfig;
use soak::{bounded, until, Soak};
use support::child;
use support::http::{connect_http1, fetch, get, Http1};
use support::proc::{nofile_limit, set_nofile_limit, tcp_fds, CpuClock};
use support::wire::{self, read_response};

/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(60);
/// How long the fds stay exhausted while CPU time is measured.
const WINDOW: Duration = Duration::from_secs(2);

/// One `GET /` on a keep-alive client.
async fn hello(sender: &mut Http1) {
    let reply = fetch(sender, get("/")).await;
    assert_eq!(reply.text(), "Hello, World!");
}

/// In a child whose `RLIMIT_NOFILE` is lowered to 16 above the fds it has: four keep-alive
/// clients are served, every fd left is taken with `/dev/null`, one is given back, and one
/// more client connects with it. The server cannot accept that client (`EMFILE`) and, over
/// 2 s of exhaustion, uses less than a quarter of a CPU (a loop retrying at once would use
/// all of one) while still answering the clients it has. Once the fds are freed, the
/// waiting client and a new one are answered.
#[corio::test(backend = "both")]
async fn accept_backs_off_under_emfile() {
    if !child::is_child() {
        let test = child::backend_test("accept_backs_off_under_emfile");
        child::run(&test, &[], LIMIT + Duration::from_secs(10));
        return;
    }
    bounded(LIMIT, async {
        // hyper's header timeout also closes idle keep-alive connections: keep them open.
        let config = ServerConfig {
            header_read_timeout: LIMIT,
            ..ServerConfig::default()
        };
        let soak = Soak::start(config).await;
        let mut clients = Vec::new();
        for _ in 0..4 {
            let mut client = connect_http1(soak.addr).await;
            hello(&mut client).await;
            clients.push(client);
        }
        let clock = CpuClock::open();
        let (soft, hard) = nofile_limit();
        set_nofile_limit(support::open_fds() as u64 + 16, hard);
        let mut reserve = take_every_fd();
        reserve.pop();
        let mut waiting = TcpStream::connect(soak.addr)
            .await
            .expect("connect with the last fd");
        let request = wire::get("/", false);
        waiting.write_all(request.as_bytes()).await.unwrap();
        soak.until("an accept failed with EMFILE", |s| {
            s.accept_errors_emfile > 0
        })
        .await;

        let (before, cpu_before, started) = (soak.stats(), clock.used(), Instant::now());
        tokio::time::sleep(WINDOW).await;
        let (after, cpu, wall) = (soak.stats(), clock.used() - cpu_before, started.elapsed());
        let share = cpu.as_secs_f64() / wall.as_secs_f64();
        eprintln!(
            "[{}] out of fds for {wall:.2?}: {} more failed accepts, CPU {cpu:?} = {:.1}% \
             of the window",
            corio::backend().kind,
            after.accept_errors_emfile - before.accept_errors_emfile,
            share * 100.0
        );
        assert!(share < 0.25, "the server spun: {:.1}% CPU", share * 100.0);
        assert_eq!(
            after.accepted, before.accepted,
            "nothing accepted without fds"
        );
        hello(&mut clients[0]).await;

        drop(reserve);
        let response = read_response(&mut waiting)
            .await
            .expect("the waiting client");
        assert_eq!(response.body, b"Hello, World!");
        let mut fresh = connect_http1(soak.addr).await;
        hello(&mut fresh).await;
        set_nofile_limit(soft, hard);
        drop((clients, fresh, waiting));
        let stats = soak.stop().await;
        eprintln!("[{}] after recovery: {stats:?}", corio::backend().kind);
        assert!(stats.accept_errors_emfile > 0);
        assert_eq!(stats.closed, stats.accepted);
    })
    .await;
}

/// Opens `/dev/null` until the process is out of fds; returns the files.
fn take_every_fd() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(err) => panic!("open /dev/null: {err}"),
        }
    }
}

/// 2000 clients connect from another thread and reset at once (`SO_LINGER` 0), every other
/// one after sending part of a request, while a keep-alive client is answered every 20 ms.
/// After the flood a new client is answered and every server-side fd has been closed.
#[corio::test(backend = "both")]
async fn reset_flood_does_not_stall_accepting() {
    bounded(LIMIT, async {
        const FLOOD: usize = 2000;
        let soak = Soak::start(ServerConfig::default()).await;
        let mut other = connect_http1(soak.addr).await;
        hello(&mut other).await;
        let baseline = tcp_fds();

        let (done, mut flooded) = tokio::sync::oneshot::channel();
        let addr = soak.addr;
        std::thread::spawn(move || {
            for i in 0..FLOOD {
                reset_client(addr, if i % 2 == 0 { b"" } else { b"GET /str" });
            }
            let _ = done.send(());
        });
        let mut answered_during = 0;
        loop {
            tokio::select! {
                _ = &mut flooded => break,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            hello(&mut other).await;
            answered_during += 1;
        }
        let mut fresh = connect_http1(soak.addr).await;
        hello(&mut fresh).await;
        drop(fresh);
        soak.until("every flood connection closed", |s| {
            s.closed + 1 == s.accepted
        })
        .await;
        until("the process's TCP fds are back to the baseline", || {
            tcp_fds() == baseline
        })
        .await;
        let stats = soak.stats();
        eprintln!(
            "[{}] {FLOOD} resets: {answered_during} requests answered meanwhile; {stats:?}",
            corio::backend().kind
        );
        assert!(stats.accepted as usize <= FLOOD + 2);
        drop(other);
        soak.stop().await;
    })
    .await;
}

/// A blocking client that connects to `addr`, sends `first` and resets the connection.
fn reset_client(addr: SocketAddr, first: &[u8]) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    if !first.is_empty() {
        stream.write_all(first).expect("write");
    }
    let socket = TcpSocket::from_std_stream(stream);
    socket.set_zero_linger().expect("SO_LINGER 0");
}
