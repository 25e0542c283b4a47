//! Socket tricks the std and corio APIs do not offer, done with libc: resetting a
//! connection (`SO_LINGER` 0), non-blocking connects that do not wait for the handshake,
//! and finding which of this process's fds are server-side sockets of a given port.
//!
//! Used by the fault tests through `#[path = "support/raw.rs"] mod raw;`, so that
//! `support/mod.rs` stays as it is.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io;
use std::mem::size_of;
use std::net::SocketAddrV4;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// Sets `SO_LINGER` to on with a zero timeout: closing the socket then sends a RST
/// instead of a FIN.
pub(crate) fn set_zero_linger(socket: &impl AsFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `socket` is an open fd for the duration of the call, and `linger` is a valid
    // `struct linger` whose size is passed alongside it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Resets the connection: `SO_LINGER` 0, then close.
pub(crate) fn reset(stream: std::net::TcpStream) {
    set_zero_linger(&stream).expect("SO_LINGER 0");
    drop(stream);
}

/// A non-blocking TCP socket whose connect to `addr` has been started (`EINPROGRESS`) but
/// not waited for: the handshake goes on in the kernel, however long the listener makes it.
pub(crate) fn connect_nonblocking(addr: SocketAddrV4) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `fd` is an open socket and `sin` a valid `sockaddr_in` of the size passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw const sin).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok(fd);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINPROGRESS) => Ok(fd),
        _ => Err(err),
    }
}

/// Inodes of the IPv4 TCP sockets (any state but LISTEN) whose local port is `port`, from
/// `/proc/net/tcp`: for a listener's port, the connections it has (or had) accepted, or
/// holds in its accept queue (those have inode 0: no fd yet).
pub(crate) fn server_side_inodes(port: u16) -> HashSet<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    let mut inodes = HashSet::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9))
        else {
            continue;
        };
        let local_port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        // 0A is TCP_LISTEN.
        if local_port == Some(port) && *state != "0A" {
            if let Ok(inode) = inode.parse::<u64>() {
                if inode != 0 {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

/// The socket inodes this process's fds refer to, one entry per fd.
pub(crate) fn fd_socket_inodes() -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let target = std::fs::read_link(entry.ok()?.path()).ok()?;
        let target = target.to_str()?;
        target
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
    .collect()
}

/// How many of this process's fds are server-side connections of the listener on `port`:
/// connections accepted by the process (by the program or by the runtime on its own).
pub(crate) fn accepted_fds(port: u16) -> usize {
    let server_side = server_side_inodes(port);
    fd_socket_inodes()
        .iter()
        .filter(|inode| server_side.contains(inode))
        .count()
}

/// How many of this process's fds are TCP sockets. Unlike the count of all fds (or of all
/// sockets), this does not move when the runtime of a test running in parallel starts or
/// stops: rings, eventfds, epoll fds, and the dup of tokio's signal socket each worker
/// holds.
pub(crate) fn tcp_fds() -> usize {
    let mut tcp = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            if let Some(Ok(inode)) = line.split_whitespace().nth(9).map(str::parse::<u64>) {
                if inode != 0 {
                    tcp.insert(inode);
                }
            }
        }
    }
    fd_socket_inodes()
        .iter()
        .filter(|inode| tcp.contains(inode))
        .count()
}

/// How many of this process's fds refer to the socket with inode `inode`.
pub(crate) fn fds_of_socket(inode: u64) -> usize {
    fd_socket_inodes()
        .iter()
        .filter(|&&fd_inode| fd_inode == inode)
        .count()
}

/// The inode of the socket behind `socket`.
pub(crate) fn socket_inode(socket: &impl AsFd) -> u64 {
    let target = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_fd().as_raw_fd()))
        .expect("readlink /proc/self/fd/N");
    let target = target.to_string_lossy();
    target
        .strip_prefix("socket:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inode| inode.parse().ok())
        .unwrap_or_else(|| panic!("not a socket: {target}"))
}

/// Where the socket with inode `inode` is listed (`tcp 0100007F:1F90 -> ... st 01`, `unix
/// ...`), for failure messages.
pub(crate) fn describe_socket(inode: u64) -> String {
    let wanted = inode.to_string();
    for table in ["tcp", "tcp6", "udp", "udp6", "unix"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let column = if table == "unix" { 6 } else { 9 };
            if fields.get(column) == Some(&wanted.as_str()) {
                return if table == "unix" {
                    format!("unix {}", fields[7..].join(" "))
                } else {
                    format!("{table} {} -> {} st {}", fields[1], fields[2], fields[3])
                };
            }
        }
    }
    format!("socket {inode} (not in /proc/net)")
}
