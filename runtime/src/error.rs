//! Error conversions shared by the driver and the ops: a CQE result becomes an
//! `io::Result` in exactly one place, and the reasons io_uring can be unavailable are a
//! typed value rather than a log line.

use std::fmt;
use std::io;

/// Turns a CQE `res` field into an `io::Result`: negative values are `-errno`.
pub(crate) fn cqe_result(res: i32) -> io::Result<u32> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as u32)
    }
}

/// Why the io_uring backend cannot run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// `io_uring_setup` failed; `errno` says why (ENOSYS: no kernel support or a seccomp
    /// filter, EPERM: `kernel.io_uring_disabled` or seccomp, ENOMEM: memlock limit).
    Setup {
        /// The errno returned by `io_uring_setup`.
        errno: i32,
    },
    /// The kernel lacks an opcode that corio needs.
    MissingOpcode {
        /// The opcode's name, as in the io_uring man pages.
        name: &'static str,
    },
    /// Registering the wake-up eventfd or probing the ring failed.
    Register {
        /// What was being registered.
        what: &'static str,
        /// The errno of the failed call.
        errno: i32,
    },
}

impl Unavailable {
    /// Converts the reason into the `io::Error` returned when `uring` was requested
    /// explicitly.
    pub fn into_io_error(self) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, self.to_string())
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unavailable::Setup { errno } => write!(
                f,
                "io_uring_setup failed with {} ({}): {}",
                errno_name(errno),
                io::Error::from_raw_os_error(errno),
                setup_hint(errno)
            ),
            Unavailable::MissingOpcode { name } => {
                write!(f, "the kernel does not support io_uring opcode {name}")
            }
            Unavailable::Register { what, errno } => write!(
                f,
                "io_uring register {what} failed with {} ({})",
                errno_name(errno),
                io::Error::from_raw_os_error(errno)
            ),
        }
    }
}

impl std::error::Error for Unavailable {}

fn setup_hint(errno: i32) -> &'static str {
    match errno {
        libc::ENOSYS => "the kernel has no io_uring or a seccomp filter blocks it",
        libc::EPERM => "blocked by kernel.io_uring_disabled or a seccomp filter",
        libc::ENOMEM => "locked-memory limit too low (RLIMIT_MEMLOCK)",
        libc::EINVAL => "the kernel rejected the ring parameters",
        _ => "unexpected error",
    }
}

/// The symbolic name of the errnos that matter for backend selection.
pub(crate) fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOSYS => "ENOSYS",
        libc::EPERM => "EPERM",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        _ => "errno",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_result_is_errno() {
        let err = cqe_result(-libc::ECONNRESET).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(cqe_result(7).unwrap(), 7);
    }

    #[test]
    fn reasons_name_the_errno() {
        let text = Unavailable::Setup { errno: libc::EPERM }.to_string();
        assert!(text.contains("EPERM"), "{text}");
        let err = Unavailable::Setup {
            errno: libc::ENOSYS,
        }
        .into_io_error();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("ENOSYS"));
    }
}
