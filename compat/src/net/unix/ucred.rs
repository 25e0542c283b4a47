//! `UCred`: the credentials of a Unix socket's peer, as tokio's `net::unix::UCred`.

/// The credentials of the process at the other end of a Unix stream, from
/// [`UnixStream::peer_cred`](super::UnixStream::peer_cred) (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UCred {
    pid: Option<libc::pid_t>,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

impl UCred {
    /// The peer's user id.
    pub fn uid(&self) -> libc::uid_t {
        self.uid
    }

    /// The peer's group id.
    pub fn gid(&self) -> libc::gid_t {
        self.gid
    }

    /// The peer's process id, when the kernel reports one.
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.pid
    }
}

impl From<libc::ucred> for UCred {
    fn from(cred: libc::ucred) -> UCred {
        UCred {
            pid: (cred.pid != 0).then_some(cred.pid),
            uid: cred.uid,
            gid: cred.gid,
        }
    }
}
