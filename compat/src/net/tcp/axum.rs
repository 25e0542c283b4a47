//! axum's `serve::Listener` for [`TcpListener`] (feature `axum`), so that
//! `axum::serve(corio_listener, app)` works exactly as it does with tokio's listener.
//!
//! axum's own impl for `tokio::net::TcpListener` retries after per-connection errors and
//! sleeps one second after any other error. This one does the same, except after
//! `EMFILE`/`ENFILE`: there [`TcpListener`] already backs off before its next accept, so
//! sleeping here too would only double the pause.
//!
//! The `ConnectInfo<SocketAddr>` extractor cannot be served from here: axum implements its
//! `Connected` trait for tokio's listener only, and the orphan rule keeps corio from adding
//! the same impl for its own. An application that needs the peer address defines its own
//! connect-info type and implements `Connected<IncomingStream<'_, corio::net::TcpListener>>`
//! for it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::Listener;

use super::{TcpListener, TcpStream};

/// How long to wait after an accept error that is neither per-connection nor fd exhaustion.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

impl Listener for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match TcpListener::accept(self).await {
                Ok(accepted) => return accepted,
                Err(err) => on_accept_error(err).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// Logs `err` and pauses when retrying at once would spin.
async fn on_accept_error(err: io::Error) {
    if is_connection_error(&err) {
        return;
    }
    tracing::error!(error = %err, "accept failed");
    if !is_fd_exhaustion(&err) {
        tokio::time::sleep(ERROR_PAUSE).await;
    }
}

/// Errors that concern one connection only (the peer went away before it was taken).
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// `EMFILE`/`ENFILE`, after which [`TcpListener::accept`] backs off by itself.
fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_accept_errors() {
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert!(is_connection_error(&reset));
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(!is_connection_error(&emfile));
        assert!(is_fd_exhaustion(&emfile));
        let enomem = io::Error::from_raw_os_error(libc::ENOMEM);
        assert!(!is_connection_error(&enomem) && !is_fd_exhaustion(&enomem));
    }
}
