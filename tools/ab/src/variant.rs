//! The rows of the comparison: which runtime (and corio backend) serves.

use std::fmt;

use clap::ValueEnum;

use crate::cli::Service;

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
}

impl Variant {
    /// Rows run when no `--variants` is given.
    pub(crate) fn defaults(user_server: bool, service: Service) -> Vec<Variant> {
        match (user_server, service) {
            (true, _) => vec![Variant::CorioUring, Variant::CorioEpoll],
            (false, Service::File) => {
                vec![Variant::CorioUring, Variant::CorioEpoll, Variant::TokioCt]
            }
            (false, Service::Hello) => vec![
                Variant::CorioUring,
                Variant::CorioEpoll,
                Variant::TokioCt,
                Variant::TokioMt,
            ],
        }
    }

    /// The row label, e.g. `corio-uring`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::CorioUring => "corio-uring",
            Variant::CorioEpoll => "corio-epoll",
            Variant::TokioCt => "tokio-ct",
            Variant::TokioMt => "tokio-mt",
        }
    }

    /// The `CORIO_BACKEND` value this row sets, if it is a corio row.
    pub(crate) fn corio_backend(self) -> Option<&'static str> {
        match self {
            Variant::CorioUring => Some("uring"),
            Variant::CorioEpoll => Some("epoll"),
            Variant::TokioCt | Variant::TokioMt => None,
        }
    }

    /// Whether this row runs plain tokio (a reference for the corio rows).
    pub(crate) fn is_tokio(self) -> bool {
        self.corio_backend().is_none()
    }

    /// The bundled server's `--runtime` value for this row.
    pub(crate) fn serve_runtime(self) -> &'static str {
        match self {
            Variant::CorioUring | Variant::CorioEpoll => "corio",
            Variant::TokioCt => "tokio-ct",
            Variant::TokioMt => "tokio-mt",
        }
    }

    /// A stable colour for charts.
    pub(crate) fn color(self) -> &'static str {
        match self {
            Variant::CorioUring => "#1f6fb4",
            Variant::CorioEpoll => "#e8740c",
            Variant::TokioCt => "#2b9a3a",
            Variant::TokioMt => "#8a4fbf",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
