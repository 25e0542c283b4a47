//! The reference servers `raw-uring` and `raw-epoll` (`corio-ab serve
//! --runtime raw-uring|raw-epoll`): the echo and hello services written
//! directly on the kernel's interfaces, without a runtime, hyper or tokio,
//! as a floor for what the runtimes' rows cost.
//!
//! Sharded like the corio row: one thread per worker, pinned to one of the
//! server's CPUs, each with its own `SO_REUSEPORT` listener on the port and
//! its own event loop ([`uring`] or [`epoll`]), keeping the connections it
//! accepts. Echo mode sends every byte back; HTTP (and idle) mode answers
//! each request with the hello service's exact bytes ([`http`]). There is no
//! file service. The unsafe code is the io_uring server's ([`uring`]: SQE
//! pushes, accepted fds; its provided buffers are corio's `ProvidedBufs`)
//! and the epoll syscalls' ([`epoll`]).

mod epoll;
mod http;
mod out_queue;
mod uring;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::mpsc;

use hyper::StatusCode;
use socket2::{Domain, Socket, Type};

use crate::affinity::{self, CpuList};
use crate::cli::Mode;
use http::{Framing, Responder, Unframed};

/// Which event loop serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// io_uring: multishot accept and receive, provided buffers.
    Uring,
    /// epoll, edge-triggered, nonblocking syscalls.
    Epoll,
}

/// Listen backlog of each thread's listener.
const BACKLOG: i32 = 1024;

/// Serves `mode` on `addr` with `workers` threads until a thread fails.
///
/// # Errors
/// Binding the port, a status the servers cannot send, or the first thread
/// that stops (io_uring unavailable, a fatal accept error, ...).
pub(crate) fn main(
    kind: Kind,
    addr: SocketAddr,
    mode: Mode,
    status: StatusCode,
    workers: usize,
) -> Result<(), String> {
    let protocol = Protocol::new(mode, status)?;
    let listeners = (0..workers.max(1))
        .map(|_| listen(addr))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("binding {addr}: {e}"))?;
    let cpus = CpuList::usable();
    let (done, stopped) = mpsc::channel();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (protocol, done) = (protocol.clone(), done.clone());
        let cpu = cpus.ids()[i % cpus.len()];
        std::thread::Builder::new()
            .name(format!("raw-{i}"))
            .spawn(move || {
                pin(cpu);
                let Err(e) = serve(kind, listener, protocol);
                let _ = done.send(e);
            })
            .map_err(|e| format!("starting a server thread: {e}"))?;
    }
    drop(done);
    Err(stopped
        .recv()
        .unwrap_or_else(|_| "every server thread ended".to_string()))
}

fn serve(kind: Kind, listener: Socket, protocol: Protocol) -> Result<Infallible, String> {
    match kind {
        Kind::Uring => uring::serve(listener, protocol),
        Kind::Epoll => epoll::serve(listener, protocol),
    }
}

/// A listener on `addr` that other threads may bind too (`SO_REUSEPORT`).
fn listen(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

/// Pins the calling thread to `cpu`, as corio pins its workers; a failure
/// leaves it on the process's CPUs.
fn pin(cpu: usize) {
    if let Ok(list) = cpu.to_string().parse::<CpuList>() {
        let _ = affinity::set_own_affinity(&list.mask());
    }
}

/// What the servers answer: an echo, or the hello service's response.
#[derive(Debug, Clone)]
pub(crate) struct Protocol {
    /// `None`: echo.
    http: Option<Responder>,
}

impl Protocol {
    fn new(mode: Mode, status: StatusCode) -> Result<Protocol, String> {
        let http = match mode {
            Mode::Echo => None,
            Mode::Http | Mode::Idle => Some(Responder::new(status)?),
        };
        Ok(Protocol { http })
    }

    /// Answers the next bytes `input` of a connection (whose framing state
    /// is `framing`), appending to `out`.
    ///
    /// # Errors
    /// The HTTP stream cannot be framed any more: close the connection.
    pub(crate) fn feed(
        &mut self,
        framing: &mut Framing,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Unframed> {
        match &mut self.http {
            None => {
                out.extend_from_slice(input);
                Ok(())
            }
            Some(responder) => framing.feed(input, out, responder),
        }
    }
}
