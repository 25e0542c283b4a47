//! HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) on one port with hyper-util's
//! `server::conn::auto::Builder`, `TokioExecutor` and `TokioTimer`, running on corio.
//!
//! Run:    cargo run --example hello_auto [-- ADDR]
//!         ADDR defaults to 127.0.0.1:3000; port 0 picks a free port.
//! Try:    curl http://127.0.0.1:3000/                               HTTP/1.1
//!         curl --http2-prior-knowledge http://127.0.0.1:3000/       HTTP/2
//!         Both print "Hello, World! (HTTP/1.1)" or "(HTTP/2.0)": the version the server saw.
//! Expect: "listening on http://ADDR" on stdout. On ctrl-c or SIGTERM the server stops
//!         accepting, finishes the requests in flight (HTTP/2 connections get a GOAWAY),
//!         prints "shut down cleanly" and exits 0.
//!
//! `TokioExecutor` runs each HTTP/2 stream as a `tokio::spawn`ed task, which corio keeps on
//! the connection's worker; `TokioTimer` drives hyper's header-read and keep-alive timeouts
//! with `tokio::time`, which works unchanged on corio workers.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::signal::unix::{signal, SignalKind};

use corio::net::TcpListener;

/// How long in-flight requests get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello, World! ({:?})\n", req.version());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());

    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20));

    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // `into_owned` detaches the connection from `builder`, so it can move into a task.
        let conn = builder
            .serve_connection(TokioIo::new(stream), service_fn(hello))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("connection failed: {err}");
            }
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => println!("shut down cleanly"),
        () = tokio::time::sleep(GRACE) => eprintln!("gave up waiting for connections after {GRACE:?}"),
    }
    Ok(())
}

/// Completes on the first SIGINT (ctrl-c) or SIGTERM; the handlers are installed at once.
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
