//! `SocketAddr`: the address of a Unix socket, as tokio's `net::unix::SocketAddr`.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The address of a Unix socket: a path, a Linux abstract name, or unnamed (a socket that
/// was never bound, e.g. the client side of a connection or one of a `pair`).
///
/// tokio's type wraps `std::os::unix::net::SocketAddr`, which cannot be built for an
/// unnamed address; this one holds the address itself, with the same accessors.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SocketAddr(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Unnamed,
    Pathname(PathBuf),
    Abstract(Vec<u8>),
}

impl SocketAddr {
    /// True when the address is unnamed.
    pub fn is_unnamed(&self) -> bool {
        matches!(self.0, Repr::Unnamed)
    }

    /// The path, when the address is a filesystem path.
    pub fn as_pathname(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Pathname(path) => Some(path),
            _ => None,
        }
    }

    /// The name, when the address is in Linux's abstract namespace (without the leading
    /// NUL byte).
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Abstract(name) => Some(name),
            _ => None,
        }
    }
}

impl From<&socket2::SockAddr> for SocketAddr {
    fn from(addr: &socket2::SockAddr) -> SocketAddr {
        if let Some(path) = addr.as_pathname() {
            SocketAddr(Repr::Pathname(path.to_path_buf()))
        } else if let Some(name) = addr.as_abstract_namespace() {
            SocketAddr(Repr::Abstract(name.to_vec()))
        } else {
            SocketAddr(Repr::Unnamed)
        }
    }
}

impl From<std::os::unix::net::SocketAddr> for SocketAddr {
    fn from(addr: std::os::unix::net::SocketAddr) -> SocketAddr {
        use std::os::linux::net::SocketAddrExt;
        if let Some(path) = addr.as_pathname() {
            SocketAddr(Repr::Pathname(path.to_path_buf()))
        } else if let Some(name) = addr.as_abstract_name() {
            SocketAddr(Repr::Abstract(name.to_vec()))
        } else {
            SocketAddr(Repr::Unnamed)
        }
    }
}

impl From<SocketAddr> for std::os::unix::net::SocketAddr {
    fn from(addr: SocketAddr) -> std::os::unix::net::SocketAddr {
        use std::os::linux::net::SocketAddrExt;
        let converted = match &addr.0 {
            Repr::Unnamed => std::os::unix::net::SocketAddr::from_pathname(""),
            Repr::Pathname(path) => std::os::unix::net::SocketAddr::from_pathname(path),
            Repr::Abstract(name) => std::os::unix::net::SocketAddr::from_abstract_name(name),
        };
        converted
            .unwrap_or_else(|err| unreachable!("a Unix address read from a socket converts: {err}"))
    }
}

impl SocketAddr {
    /// The address as socket2's, to bind or connect to.
    pub(crate) fn to_sock_addr(&self) -> std::io::Result<socket2::SockAddr> {
        match &self.0 {
            Repr::Unnamed => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an unnamed Unix address cannot be bound or connected to",
            )),
            Repr::Pathname(path) => socket2::SockAddr::unix(path),
            Repr::Abstract(name) => {
                let mut bytes = vec![0u8];
                bytes.extend_from_slice(name);
                socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes))
            }
        }
    }
}

impl fmt::Debug for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Unnamed => f.write_str("(unnamed)"),
            Repr::Pathname(path) => write!(f, "{path:?} (pathname)"),
            Repr::Abstract(name) => write!(f, "\"{}\" (abstract)", name.escape_ascii()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_every_kind_of_address() {
        let path = socket2::SockAddr::unix("/tmp/corio.sock").unwrap();
        let addr = SocketAddr::from(&path);
        assert_eq!(addr.as_pathname(), Some(Path::new("/tmp/corio.sock")));
        assert!(!addr.is_unnamed());
        let unnamed = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let addr = SocketAddr::from(unnamed.local_addr().unwrap());
        assert!(addr.is_unnamed());
        assert_eq!(format!("{addr:?}"), "(unnamed)");
    }
}
