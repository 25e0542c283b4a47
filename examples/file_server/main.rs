//! A static file server: hyper on corio, files read with `corio::fs` (io_uring reads on the
//! uring backend), streamed in 64 KiB chunks so memory stays bounded however large the file.
//!
//! Run:    cargo run --release --example file_server -- DIR [ADDR]
//!         ADDR defaults to 127.0.0.1:8080; port 0 picks a free port.
//! Try:    curl http://127.0.0.1:8080/                  the HTML index of DIR
//!         curl -I http://127.0.0.1:8080/some/file      its Content-Length, ETag, Last-Modified
//!         curl -r 0-99 http://127.0.0.1:8080/some/file   its first 100 bytes (206)
//! Expect: "listening on http://ADDR, serving DIR" on stdout. GET and HEAD; `Range`,
//!         `If-None-Match` and `If-Modified-Since` answered with 206/416/304; paths that leave
//!         DIR (`..`, encoded tricks, symlinks pointing out) refused with 403. On ctrl-c or
//!         SIGTERM it stops accepting, lets the requests in flight finish, prints "shut down
//!         cleanly" and exits 0. `service.rs` says exactly what is answered how.

mod service;

use std::future::Future;
use std::io;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use corio::net::TcpListener;
use service::{serve_with_shutdown, FileService};

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: file_server DIR [ADDR]   (ADDR defaults to 127.0.0.1:8080)");
        std::process::exit(2);
    };
    let addr = match args.next() {
        Some(addr) => addr.into_string().map_err(|_| "ADDR is not UTF-8")?,
        None => "127.0.0.1:8080".to_owned(),
    };
    let service = Arc::new(FileService::new(&dir)?);

    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&addr).await?;
    let root = service.root().display().to_string();
    println!(
        "listening on http://{}, serving {root}",
        listener.local_addr()?
    );

    serve_with_shutdown(listener, service, shutdown).await?;
    println!("shut down cleanly");
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
