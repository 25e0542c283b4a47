//! "Hello, World!" over HTTP/1.1 with hyper 1.x: the program a tokio user writes, except for
//! `#[corio::main]` and the `corio::net::TcpListener` import.
//!
//! Run:    cargo run --example hello_hyper [-- ADDR] [--spread]
//!         ADDR defaults to 127.0.0.1:3000; port 0 picks a free port.
//! Try:    curl http://127.0.0.1:3000/           prints "Hello, World!"
//! Expect: "listening on http://ADDR" on stdout. On ctrl-c or SIGTERM the server stops
//!         accepting (new connections are refused), lets the requests in flight finish,
//!         prints "shut down cleanly" and exits 0.
//!
//! Scaling: `tokio::spawn` keeps each connection on the worker that accepted it, which here
//! is worker 0 only. With `--spread`, `corio::spawn` hands each connection to the next worker
//! instead, so all cores serve. `examples/sharded.rs` accepts on every worker instead.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::signal::unix::{signal, SignalKind};

use corio::net::TcpListener;

/// How long in-flight requests get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let spread = std::env::args().any(|arg| arg == "--spread");

    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);

    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Per-connection failures, or EMFILE (after which the listener backs off).
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
        let conn = graceful.watch(conn);
        let task = async move {
            if let Err(err) = conn.await {
                eprintln!("connection failed: {err}");
            }
        };
        if spread {
            corio::spawn(task);
        } else {
            tokio::spawn(task);
        }
    }

    // Stop accepting: from here on, connection attempts are refused.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => println!("shut down cleanly"),
        () = tokio::time::sleep(GRACE) => eprintln!("gave up waiting for connections after {GRACE:?}"),
    }
    Ok(())
}

/// Completes on the first SIGINT (ctrl-c) or SIGTERM. The handlers are installed before this
/// returns, so a signal that arrives while the server starts is not lost.
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
