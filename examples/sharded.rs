//! The hello service, sharded: `#[corio::main(sharded)]` runs `main` once on every worker,
//! and each worker binds the same address with `SO_REUSEPORT`, so the kernel spreads new
//! connections over the workers' own listeners. Nothing is shared between workers.
//!
//! Run:    cargo run --example sharded [-- ADDR]
//!         ADDR defaults to 127.0.0.1:3000. Port 0 picks one free port, the same on every
//!         worker. CORIO_WORKERS=N sets the number of workers (default: one per CPU).
//! Try:    curl -i http://127.0.0.1:3000/    "Hello, World!"; `x-corio-worker` says who
//!         answered. Repeat it: new connections land on different workers.
//! Expect: one "worker N listening on http://ADDR" line per worker. On ctrl-c or SIGTERM
//!         every worker stops accepting and finishes its requests in flight; the program
//!         prints "worker N shut down cleanly" per worker and exits 0.

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
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response
        .headers_mut()
        .insert("x-corio-worker", corio::worker_id().into());
    Ok(response)
}

// `main` runs on every worker: each has its own listener, accept loop and connections.
#[corio::main(sharded)]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let worker = corio::worker_id();

    // Every worker installs its own handlers; one signal reaches them all.
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "worker {worker} listening on http://{}",
        listener.local_addr()?
    );

    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    eprintln!("worker {worker}: accept failed: {err}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
        let conn = graceful.watch(conn);
        // `tokio::spawn` keeps the connection on this worker: the point of sharding.
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("connection failed: {err}");
            }
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => println!("worker {worker} shut down cleanly"),
        () = tokio::time::sleep(GRACE) => eprintln!("worker {worker}: gave up after {GRACE:?}"),
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
