//! Connecting a stream socket (TCP or Unix): a non-blocking connect(2), then readiness for
//! writing, then `SO_ERROR`, as tokio does. Works on any thread of the runtime; dropping
//! the future closes the socket, which abandons the attempt.

use std::future::poll_fn;
use std::io;
use std::os::fd::OwnedFd;

use socket2::{SockAddr, SockRef};
use tokio::io::Interest;

use super::Source;

/// Connects `socket` to `addr` and registers it with the current backend.
///
/// # Errors
///
/// As connect(2) (e.g. `ConnectionRefused`), or the socket's error once it is writable.
pub(crate) async fn connect(socket: socket2::Socket, addr: &SockAddr) -> io::Result<Source> {
    socket.set_nonblocking(true)?;
    match socket.connect(addr) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(err) => return Err(err),
    }
    let source = Source::new(OwnedFd::from(socket))?;
    poll_fn(|cx| source.poll_ready(cx, Interest::WRITABLE)).await?;
    if let Some(err) = SockRef::from(&source).take_error()? {
        return Err(err);
    }
    Ok(source)
}
