// The accept loop of tests/same_service.rs, `include!`d there twice: once into a module where
// `TcpListener` is `tokio::net::TcpListener`, once where it is `corio::net::TcpListener`.
// Everything else, imports included, is this one text. (`include!`d files take no `//!`.)

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::oneshot;

use crate::support::hello_service;

/// Serves the hello service on `listener`, a task per connection, until `stop` fires; then
/// stops accepting and waits for the connections to finish.
pub(crate) async fn serve(listener: TcpListener, stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted.expect("accept").0,
            _ = &mut stop => break,
        };
        let service = hello_service::service();
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("connection failed: {err}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
