//! What the parent and the load-generator child say to each other: the spec
//! passed as `load --spec JSON`, and the JSON lines the child prints on
//! stdout (progress, window markers, the final report; in idle mode the
//! connections held, then closed). In idle mode the parent also writes one
//! line, [`CLOSE`], to the child's stdin.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::ExpectLen;

/// Idle mode: the line the parent writes to the load child's stdin when the
/// connections are to be closed.
pub(crate) const CLOSE: &str = "close";

/// Idle mode: opening every connection takes the load child at most
/// `--timeout` plus this long; what is not answered by then is a timeout.
pub(crate) const OPEN_SLACK: Duration = Duration::from_secs(30);

/// Everything the load generator needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadSpec {
    /// Server address (loopback only).
    pub(crate) addr: SocketAddr,
    /// Concurrent connections.
    pub(crate) connections: u32,
    /// Warm-up before the measured window, seconds.
    pub(crate) warmup_secs: f64,
    /// Measured window, seconds (a cap when `requests` is set).
    pub(crate) duration_secs: f64,
    /// End the window after this many good responses.
    pub(crate) requests: Option<u64>,
    /// Requests in flight per connection.
    pub(crate) pipeline: u32,
    /// Open loop: total requests per second; `None` is closed loop.
    pub(crate) rate: Option<f64>,
    /// A request unanswered this long is a timeout error, seconds.
    pub(crate) timeout_secs: f64,
    /// The protocol and how responses are validated.
    pub(crate) proto: ProtoSpec,
    /// Idle mode: open `connections`, one request each, hold them until the
    /// parent writes [`CLOSE`], then close them (no warm-up, no window).
    #[serde(default)]
    pub(crate) idle: bool,
}

/// Protocol spoken on each connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub(crate) enum ProtoSpec {
    /// HTTP/1.1 keep-alive.
    Http {
        /// Request target, e.g. `/`.
        path: String,
        /// Request body bytes (0: GET without body, else POST).
        body: usize,
        /// Status every response must have.
        expect_status: u16,
        /// Body length every response must have.
        expect_len: ExpectLen,
        /// Every response must carry `Content-Length` (not chunked).
        #[serde(default)]
        require_content_length: bool,
    },
    /// Fixed-size messages echoed back byte for byte.
    Echo {
        /// Message size in bytes.
        size: usize,
    },
}

/// One line of the load child's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub(crate) enum LoadEvent {
    /// Periodic counters since the start (warm-up included).
    Progress {
        /// Whether the measured window has begun.
        measuring: bool,
        /// Good responses so far.
        responses: u64,
        /// Errors so far.
        errors: u64,
    },
    /// The measured window begins now (the parent snapshots server counters).
    MeasureStart,
    /// The measured window ended now.
    MeasureEnd,
    /// The final figures of the measured window.
    Report(LoadReport),
    /// Idle mode: every connection was tried; the good ones are held idle.
    Holding(IdleReport),
    /// Idle mode: every held connection is closed now.
    Closed,
}

/// Idle mode: what opening the connections gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IdleReport {
    /// Connections open whose one request was answered as expected.
    pub(crate) held: u64,
    /// Time to open them all and get the answers, seconds.
    pub(crate) open_secs: f64,
    /// Connections lost by kind (`connect`, `timeout`, `status 500`, ...).
    pub(crate) errors: BTreeMap<String, u64>,
    /// Sum of `errors`.
    pub(crate) error_total: u64,
}

/// Figures of one measured window, as seen by the load generator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadReport {
    /// Good responses (expected status and length) completed in the window.
    pub(crate) responses: u64,
    /// Length of the window, seconds.
    pub(crate) window_secs: f64,
    /// `responses / window_secs`.
    pub(crate) requests_per_sec: f64,
    /// Latency of the good responses.
    pub(crate) latency: LatencySummary,
    /// Errors in the window by kind (`status 500`, `timeout`, ...); connect
    /// errors are counted from the start.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Sum of `errors`.
    pub(crate) error_total: u64,
    /// Response body length that was required (learned with `auto`).
    pub(crate) body_len: Option<usize>,
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct LatencySummary {
    /// Median.
    pub(crate) p50_us: f64,
    /// 90th percentile.
    pub(crate) p90_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// 99.9th percentile.
    pub(crate) p999_us: f64,
    /// Largest value recorded.
    pub(crate) max_us: f64,
    /// Mean.
    pub(crate) mean_us: f64,
}
