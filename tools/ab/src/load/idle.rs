//! Idle mode's load generator: opens the connections (at most [`OPENING`] at
//! a time, so that the server's accept queue never overflows), sends one
//! request on each and reads its whole response (so that the server has set
//! up its per-connection state), reports [`LoadEvent::Holding`], then keeps
//! the good connections open and untouched until the parent writes
//! [`CLOSE`](crate::protocol::CLOSE) to stdin or closes it (at most
//! [`HOLD_MAX`]), closes them all and reports [`LoadEvent::Closed`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::conn::{self, MAX_BUF};
use super::proto::{ErrorKind, Proto, Reply, Step};
use super::shared::Shared;
use super::{emit, PROGRESS_EVERY};
use crate::protocol::{IdleReport, LoadEvent, LoadSpec, OPEN_SLACK};

/// Connections being opened at once.
const OPENING: usize = 128;
/// Longest time the connections are held if the parent never says close.
const HOLD_MAX: Duration = Duration::from_secs(60);

/// Opens, holds and closes the connections of `spec`, reporting on stdout.
pub(super) async fn run(spec: LoadSpec) -> Result<(), String> {
    let proto = Rc::new(Proto::new(&spec.proto, spec.addr));
    let shared = Shared::new(&spec, Instant::now())?;
    let (held, report) = open_all(&spec, &shared, proto).await?;
    emit(&LoadEvent::Holding(report))?;
    wait_for_close().await;
    drop(held);
    emit(&LoadEvent::Closed)
}

/// Connections opened so far: the good ones, and the errors by kind.
#[derive(Debug, Default)]
struct Tally {
    held: Vec<TcpStream>,
    errors: BTreeMap<String, u64>,
    error_total: u64,
}

impl Tally {
    fn error(&mut self, kind: ErrorKind, n: u64) {
        if n > 0 {
            *self.errors.entry(kind.to_string()).or_default() += n;
            self.error_total += n;
        }
    }

    /// Connections done with, good or not.
    fn done(&self) -> u64 {
        self.held.len() as u64 + self.error_total
    }
}

/// Opens `spec.connections` connections; keeps those whose reply `shared`
/// accepts.
async fn open_all(
    spec: &LoadSpec,
    shared: &Shared,
    proto: Rc<Proto>,
) -> Result<(Vec<TcpStream>, IdleReport), String> {
    let start = Instant::now();
    let timeout = Duration::from_secs_f64(spec.timeout_secs);
    let deadline = start + timeout + OPEN_SLACK;
    let total = u64::from(spec.connections);
    let (mut tally, mut set, mut started) = (Tally::default(), JoinSet::new(), 0);
    let mut next_progress = start + PROGRESS_EVERY;
    while tally.done() < total {
        while started < total && set.len() < OPENING {
            set.spawn_local(open_one(spec.addr, proto.clone(), timeout));
            started += 1;
        }
        let Ok(Some(joined)) = tokio::time::timeout_at(deadline, set.join_next()).await else {
            break;
        };
        match joined.map_err(|e| format!("a connection task failed: {e}"))? {
            Ok((stream, reply)) => match shared.check(reply) {
                Ok(()) => tally.held.push(stream),
                Err(kind) => tally.error(kind, 1),
            },
            Err(kind) => tally.error(kind, 1),
        }
        if Instant::now() >= next_progress {
            emit(&LoadEvent::Progress {
                measuring: false,
                responses: tally.held.len() as u64,
                errors: tally.error_total,
            })?;
            next_progress += PROGRESS_EVERY;
        }
    }
    // Out of time: those still opening (aborted with the set) and those never
    // started are lost.
    tally.error(ErrorKind::Timeout, total - tally.done());
    let report = IdleReport {
        held: tally.held.len() as u64,
        open_secs: start.elapsed().as_secs_f64(),
        errors: tally.errors,
        error_total: tally.error_total,
    };
    Ok((tally.held, report))
}

/// Connects, sends one request and reads its reply, each within `timeout`.
async fn open_one(
    addr: SocketAddr,
    proto: Rc<Proto>,
    timeout: Duration,
) -> Result<(TcpStream, Reply), ErrorKind> {
    let mut stream = conn::connect(addr, timeout)
        .await
        .map_err(|()| ErrorKind::Connect)?;
    let exchange = async {
        stream
            .write_all(proto.request())
            .await
            .map_err(|_| ErrorKind::Write)?;
        read_reply(&mut stream, &proto).await
    };
    let reply = tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(ErrorKind::Timeout))?;
    Ok((stream, reply))
}

/// Reads until one whole reply has arrived; one that announces the server
/// will close the connection cannot be held, so it is an error.
async fn read_reply(stream: &mut TcpStream, proto: &Proto) -> Result<Reply, ErrorKind> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        match proto.parse(&buf) {
            Step::Done {
                reply: Reply::Http(r),
                ..
            } if r.close => return Err(ErrorKind::Closed),
            Step::Done { reply, .. } => return Ok(reply),
            Step::Invalid(why) => return Err(ErrorKind::Malformed(why)),
            Step::Partial if buf.len() >= MAX_BUF => {
                return Err(ErrorKind::Malformed("reply over 16 MiB"))
            }
            Step::Partial => {}
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Err(ErrorKind::Closed),
            Ok(_) => {}
            Err(_) => return Err(ErrorKind::Read),
        }
    }
}

/// Waits until the parent writes a line to stdin or closes it, at most
/// [`HOLD_MAX`].
async fn wait_for_close() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    let _ = tokio::time::timeout(HOLD_MAX, rx).await;
}
