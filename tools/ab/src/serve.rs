//! The bundled servers that `corio-ab serve` runs: the hyper "Hello, World!"
//! service (the `hello_hyper` example's service) or a TCP echo server, on one
//! function per runtime (the file servers are in [`crate::serve_file`], the
//! reference servers without a runtime in [`crate::raw`]). The connection
//! handlers are generic over the stream so that the corio variant reuses
//! them with `corio::net::TcpStream`.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cli::{Mode, Scheduler, ServeArgs, ServeRuntime, Service};
use crate::raw;

/// The hello service's response body.
pub(crate) const HELLO: &[u8] = b"Hello, World!";

/// Runs the server described by `args` until the process is killed.
///
/// # Errors
/// Binding the port or building the runtime.
pub(crate) fn main(args: &ServeArgs) -> Result<(), String> {
    let status = StatusCode::from_u16(args.status).map_err(|e| format!("--status: {e}"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if args.service == Service::File {
        let root = args.root.clone().ok_or("--service file needs --root")?;
        return crate::serve_file::main(args.runtime, addr, root, workers, args.scheduler);
    }
    let server = Server {
        addr,
        mode: args.mode,
        status,
    };
    let scheduler = args.scheduler;
    match args.runtime {
        ServeRuntime::TokioCt => serve_tokio_ct(server, scheduler),
        ServeRuntime::TokioMt => serve_tokio_mt(server, workers, scheduler),
        ServeRuntime::Corio => serve_corio(server, workers, scheduler),
        ServeRuntime::RawUring => raw::main(raw::Kind::Uring, addr, args.mode, status, workers),
        ServeRuntime::RawEpoll => raw::main(raw::Kind::Epoll, addr, args.mode, status, workers),
    }
}

/// What to serve, and where.
#[derive(Debug, Clone, Copy)]
struct Server {
    addr: SocketAddr,
    mode: Mode,
    status: StatusCode,
}

impl Scheduler {
    /// The `serve` arguments that pass these knobs on.
    pub(crate) fn serve_args(&self) -> Vec<String> {
        let knobs = [
            ("--event-interval", self.event_interval),
            ("--global-queue-interval", self.global_queue_interval),
        ];
        let buffers = self.recv_buffers.map(|(n, size)| format!("{n}x{size}"));
        let knobs = knobs.map(|(flag, ticks)| (flag, ticks.map(|t| t.to_string())));
        let mut args: Vec<String> = (knobs.into_iter())
            .chain([("--recv-buffers", buffers)])
            .filter_map(|(flag, value)| Some([flag.to_string(), value?]))
            .flatten()
            .collect();
        if self.recv_whole_buffers {
            args.push("--recv-whole-buffers".into());
        }
        args
    }

    /// Builds a tokio runtime from `builder` (I/O and time enabled) with these knobs.
    pub(crate) fn tokio(
        &self,
        mut builder: tokio::runtime::Builder,
    ) -> Result<tokio::runtime::Runtime, String> {
        builder.enable_all();
        if let Some(ticks) = self.event_interval {
            builder.event_interval(ticks);
        }
        if let Some(ticks) = self.global_queue_interval {
            builder.global_queue_interval(ticks);
        }
        builder
            .build()
            .map_err(|e| format!("building the tokio runtime: {e}"))
    }

    /// `builder` with these knobs for every worker's tokio runtime.
    pub(crate) fn corio(&self, mut builder: corio::Builder) -> corio::Builder {
        if let Some(ticks) = self.event_interval {
            builder = builder.event_interval(ticks);
        }
        if let Some(ticks) = self.global_queue_interval {
            builder = builder.global_queue_interval(ticks);
        }
        if let Some((count, size)) = self.recv_buffers {
            builder = builder.recv_buffers(count, size);
        }
        builder.recv_incremental(!self.recv_whole_buffers)
    }
}

/// tokio current_thread: one thread runs the accept loop and every connection.
fn serve_tokio_ct(server: Server, scheduler: Scheduler) -> Result<(), String> {
    let rt = scheduler.tokio(tokio::runtime::Builder::new_current_thread())?;
    rt.block_on(tokio_accept_loop(server))
}

/// tokio multi_thread with `workers` worker threads (work stealing).
fn serve_tokio_mt(server: Server, workers: usize, scheduler: Scheduler) -> Result<(), String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(workers);
    let rt = scheduler.tokio(builder)?;
    rt.block_on(tokio_accept_loop(server))
}

/// corio, with the backend chosen by `CORIO_BACKEND` (set by the parent) and
/// `workers` workers (the parent also sets `CORIO_WORKERS`). Sharded: every
/// worker runs its own accept loop on the same port (`SO_REUSEPORT`) and keeps
/// its connections, so the server uses all its CPUs as tokio-mt does.
fn serve_corio(server: Server, workers: usize, scheduler: Scheduler) -> Result<(), String> {
    let rt = (scheduler.corio(corio::Builder::new()))
        .workers(workers)
        .sharded(true)
        .build()
        .map_err(|e| format!("building the corio runtime: {e}"))?;
    eprintln!("corio backend: {}", rt.backend());
    if std::env::var_os(crate::ring::ENV).is_some() {
        crate::ring::answer_queries(rt.handle().clone());
    }
    rt.block_on_sharded(move || corio_accept_loop(server))
}

/// Accepts on a corio listener and spawns one task per connection (on this worker).
async fn corio_accept_loop(server: Server) -> Result<(), String> {
    let listener = corio::net::TcpListener::bind(server.addr)
        .await
        .map_err(|e| format!("binding {}: {e}", server.addr))?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // The listener backs off after EMFILE itself; report and go on.
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match server.mode {
            Mode::Http | Mode::Idle => tokio::spawn(serve_http(stream, server.status)),
            Mode::Echo => tokio::spawn(serve_echo(stream)),
        };
    }
}

/// Accepts on a tokio listener and spawns one task per connection.
async fn tokio_accept_loop(server: Server) -> Result<(), String> {
    tokio_accept(server.addr, |stream| {
        match server.mode {
            Mode::Http | Mode::Idle => tokio::spawn(serve_http(stream, server.status)),
            Mode::Echo => tokio::spawn(serve_echo(stream)),
        };
    })
    .await
}

/// Accepts on a tokio listener bound to `addr` and hands every connection
/// (with `TCP_NODELAY` set) to `serve`.
pub(crate) async fn tokio_accept(
    addr: SocketAddr,
    mut serve: impl FnMut(tokio::net::TcpStream),
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        serve(stream);
    }
}

/// Serves HTTP/1.1 keep-alive requests on one connection with hyper.
pub(crate) async fn serve_http<S>(stream: S, status: StatusCode)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| hello(req, status));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // A client going away mid-request is normal at the end of a run.
    let _ = conn.await;
}

/// The hello service: answers every request with "Hello, World!".
async fn hello(
    req: Request<Incoming>,
    status: StatusCode,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !req.body().is_end_stream() {
        // Read a request body (--body) so that the connection stays reusable.
        let _ = req.into_body().collect().await;
    }
    let mut resp = Response::new(Full::new(Bytes::from_static(HELLO)));
    *resp.status_mut() = status;
    Ok(resp)
}

/// Echoes every byte back until the peer closes.
pub(crate) async fn serve_echo<S>(mut stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
