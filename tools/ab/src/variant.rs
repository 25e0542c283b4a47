//! The rows of the comparison: which runtime (and corio backend) serves, or
//! which reference server without a runtime (`raw-*`, see [`crate::raw`]).

use std::fmt;

use clap::ValueEnum;

use crate::cli::{Mode, Service};

/// One row of the table: a runtime, and for corio the backend it is forced to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Variant {
    /// corio with `CORIO_BACKEND=uring`.
    CorioUring,
    /// corio with `CORIO_BACKEND=epoll`.
    CorioEpoll,
    /// The bundled service on tokio's current_thread runtime (`--server
    /// file`: tower-http's ServeDir).
    TokioCt,
    /// The bundled service on tokio's multi_thread runtime (`--server
    /// file`: tower-http's ServeDir).
    TokioMt,
    /// The reference server on io_uring alone, no runtime (a floor for the
    /// uring rows; no file service). Default in echo mode.
    RawUring,
    /// The reference server on edge-triggered epoll alone, no runtime (a
    /// floor for the epoll rows; no file service). Default in echo mode.
    RawEpoll,
}

impl Variant {
    /// Rows run when no `--variants` is given.
    pub(crate) fn defaults(user_server: bool, service: Service, mode: Mode) -> Vec<Variant> {
        let mut rows = match (user_server, service) {
            (true, _) => return vec![Variant::CorioUring, Variant::CorioEpoll],
            (false, Service::File) => {
                return vec![Variant::CorioUring, Variant::CorioEpoll, Variant::TokioCt]
            }
            (false, Service::Hello) => vec![
                Variant::CorioUring,
                Variant::CorioEpoll,
                Variant::TokioCt,
                Variant::TokioMt,
            ],
        };
        if mode == Mode::Echo {
            rows.extend([Variant::RawUring, Variant::RawEpoll]);
        }
        rows
    }

    /// The row label, e.g. `corio-uring`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::CorioUring => "corio-uring",
            Variant::CorioEpoll => "corio-epoll",
            Variant::TokioCt => "tokio-ct",
            Variant::TokioMt => "tokio-mt",
            Variant::RawUring => "raw-uring",
            Variant::RawEpoll => "raw-epoll",
        }
    }

    /// The `CORIO_BACKEND` value this row sets, if it is a corio row.
    pub(crate) fn corio_backend(self) -> Option<&'static str> {
        match self {
            Variant::CorioUring => Some("uring"),
            Variant::CorioEpoll => Some("epoll"),
            Variant::TokioCt | Variant::TokioMt | Variant::RawUring | Variant::RawEpoll => None,
        }
    }

    /// Whether this row runs plain tokio (a reference for the corio rows).
    pub(crate) fn is_tokio(self) -> bool {
        matches!(self, Variant::TokioCt | Variant::TokioMt)
    }

    /// Whether this row runs a reference server without a runtime.
    pub(crate) fn is_raw(self) -> bool {
        matches!(self, Variant::RawUring | Variant::RawEpoll)
    }

    /// The bundled server's `--runtime` value for this row.
    pub(crate) fn serve_runtime(self) -> &'static str {
        match self {
            Variant::CorioUring | Variant::CorioEpoll => "corio",
            Variant::TokioCt => "tokio-ct",
            Variant::TokioMt => "tokio-mt",
            Variant::RawUring => "raw-uring",
            Variant::RawEpoll => "raw-epoll",
        }
    }

    /// A stable colour for charts.
    pub(crate) fn color(self) -> &'static str {
        match self {
            Variant::CorioUring => "#1f6fb4",
            Variant::CorioEpoll => "#e8740c",
            Variant::TokioCt => "#2b9a3a",
            Variant::TokioMt => "#8a4fbf",
            Variant::RawUring => "#6b7d8c",
            Variant::RawEpoll => "#b08a3e",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rows_are_default_in_echo_mode_only() {
        let echo = Variant::defaults(false, Service::Hello, Mode::Echo);
        assert!(echo.contains(&Variant::RawUring) && echo.contains(&Variant::RawEpoll));
        for mode in [Mode::Http, Mode::Idle] {
            assert!(!Variant::defaults(false, Service::Hello, mode)
                .iter()
                .any(|v| v.is_raw()));
        }
        assert!(!Variant::defaults(true, Service::Hello, Mode::Echo)
            .iter()
            .any(|v| v.is_raw()));
        assert!(!Variant::RawUring.is_tokio() && Variant::RawUring.corio_backend().is_none());
    }
}
