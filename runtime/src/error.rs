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
    /// filter, EPERM: a seccomp filter, ENOMEM: memlock limit). EPERM with
    /// `kernel.io_uring_disabled` set is [`Unavailable::Disabled`] instead.
    Setup {
        /// The errno returned by `io_uring_setup`.
        errno: i32,
    },
    /// The kernel lacks an opcode that corio needs.
    MissingOpcode {
        /// The opcode's name, as in the io_uring man pages.
        name: &'static str,
    },
    /// `io_uring_setup` failed with EPERM while `kernel.io_uring_disabled` restricts
    /// io_uring.
    Disabled {
        /// The value of `kernel.io_uring_disabled`: 1 or 2.
        level: u8,
    },
    /// `io_uring_enter` failed on a fresh ring (submitting and waiting for one NOP), e.g.
    /// because a seccomp filter blocks it while allowing `io_uring_setup`.
    Enter {
        /// The errno returned by `io_uring_enter`.
        errno: i32,
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
            Unavailable::Disabled { level } => write!(
                f,
                "io_uring_setup failed with EPERM: kernel.io_uring_disabled={level}: {}",
                disabled_hint(level)
            ),
            Unavailable::MissingOpcode { name } => {
                write!(f, "the kernel does not support io_uring opcode {name}")
            }
            Unavailable::Enter { errno } => write!(
                f,
                "io_uring_enter failed with {} ({}): {}",
                errno_name(errno),
                io::Error::from_raw_os_error(errno),
                blocked_hint(errno, "io_uring_enter")
            ),
            Unavailable::Register { what, errno } => write!(
                f,
                "io_uring_register({what}) failed with {} ({}): {}",
                errno_name(errno),
                io::Error::from_raw_os_error(errno),
                blocked_hint(errno, "io_uring_register")
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

/// Why a call on a ring that `io_uring_setup` gave can fail with `errno`.
fn blocked_hint(errno: i32, call: &str) -> String {
    match errno {
        libc::ENOSYS | libc::EPERM | libc::EACCES => {
            format!("a seccomp filter or security policy blocks {call}")
        }
        _ => "unexpected error".to_owned(),
    }
}

fn disabled_hint(level: u8) -> &'static str {
    if level == 1 {
        "only processes in kernel.io_uring_group or with CAP_SYS_ADMIN may create rings"
    } else {
        "io_uring is disabled for every process"
    }
}

/// The restricting value of `kernel.io_uring_disabled` (1 or 2) in `contents`, the text
/// of `/proc/sys/kernel/io_uring_disabled`; `None` when io_uring is enabled (0) or the
/// text is not a known value.
pub(crate) fn io_uring_disabled(contents: &str) -> Option<u8> {
    match contents.trim() {
        "1" => Some(1),
        "2" => Some(2),
        _ => None,
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

    #[test]
    fn a_memlock_failure_names_the_limit() {
        let text = Unavailable::Setup {
            errno: libc::ENOMEM,
        }
        .to_string();
        assert!(
            text.contains("ENOMEM") && text.contains("RLIMIT_MEMLOCK"),
            "{text}"
        );
    }

    #[test]
    fn an_enter_failure_names_the_call_and_seccomp() {
        for (errno, name) in [(libc::EPERM, "EPERM"), (libc::ENOSYS, "ENOSYS")] {
            let text = Unavailable::Enter { errno }.to_string();
            assert!(text.starts_with("io_uring_enter failed with"), "{text}");
            assert!(text.contains(name) && text.contains("seccomp"), "{text}");
        }
        let text = Unavailable::Enter { errno: libc::EIO }.to_string();
        assert!(text.ends_with("unexpected error"), "{text}");
    }

    #[test]
    fn a_register_failure_names_the_call() {
        let text = Unavailable::Register {
            what: "probe",
            errno: libc::EPERM,
        }
        .to_string();
        assert!(
            text.starts_with("io_uring_register(probe) failed"),
            "{text}"
        );
        assert!(text.contains("EPERM") && text.contains("seccomp"), "{text}");
    }

    #[test]
    fn disabled_names_the_sysctl_and_what_it_allows() {
        let text = Unavailable::Disabled { level: 2 }.to_string();
        assert!(text.contains("EPERM"), "{text}");
        assert!(
            text.contains("kernel.io_uring_disabled=2: io_uring is disabled for every process"),
            "{text}"
        );
        let text = Unavailable::Disabled { level: 1 }.to_string();
        assert!(
            text.contains(
                "kernel.io_uring_disabled=1: only processes in kernel.io_uring_group \
                 or with CAP_SYS_ADMIN may create rings"
            ),
            "{text}"
        );
    }

    #[test]
    fn parses_io_uring_disabled() {
        assert_eq!(io_uring_disabled("2\n"), Some(2));
        assert_eq!(io_uring_disabled("1"), Some(1));
        assert_eq!(io_uring_disabled("0\n"), None);
        assert_eq!(io_uring_disabled(""), None);
        assert_eq!(io_uring_disabled("3\n"), None);
        assert_eq!(io_uring_disabled("garbage"), None);
    }
}
