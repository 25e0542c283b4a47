//! Command line: the benchmark options, and the two hidden subcommands that
//! corio-ab re-executes itself with (`serve` for the bundled server, `load`
//! for the load generator child).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::affinity::CpuList;
use crate::variant::Variant;

/// `corio-ab`: runs a server once per backend under the same load and prints
/// one comparison table (and optionally a JSON file and an SVG chart).
#[derive(Debug, Parser)]
#[command(
    name = "corio-ab",
    version,
    about = "A/B benchmark of corio's io_uring and epoll backends against tokio",
    long_about = "A/B benchmark of corio's io_uring and epoll backends against tokio.\n\n\
        Without a server command, runs the bundled hyper hello service on corio (uring, epoll) and \
        on plain tokio (current_thread, multi_thread). With `-- CMD ARGS...`, runs your own server \
        binary once with CORIO_BACKEND=uring and once with CORIO_BACKEND=epoll; `{port}` in its \
        arguments is replaced by a free port.",
    after_help = "Examples:\n  \
        corio-ab --duration 5 --reps 3 --svg ab.svg\n  \
        corio-ab --rate 20000 --variants tokio-ct,tokio-mt\n  \
        corio-ab --mode echo --size 64\n  \
        corio-ab --mode idle -c 10000 --reps 3\n  \
        corio-ab --server file --url /file-64k --variants corio-uring,corio-epoll,tokio-ct\n  \
        corio-ab --url /hello -- ./target/release/my-server --port {port}",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    /// Internal subcommands (the server and load-generator children).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Options of the benchmark itself (used when no subcommand is given).
    #[command(flatten)]
    pub(crate) bench: BenchArgs,
}

/// Hidden subcommands: corio-ab runs itself as its children.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the bundled server (hyper hello or TCP echo) on one runtime.
    #[command(hide = true)]
    Serve(ServeArgs),
    /// Run the load generator described by a JSON spec; reports on stdout.
    #[command(hide = true)]
    Load(LoadArgs),
}

/// What is measured: HTTP/1.1 requests, raw TCP echo messages, or the
/// memory of idle keep-alive connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
    /// HTTP/1.1 keep-alive requests (the hello service).
    Http,
    /// Raw TCP echo of fixed-size messages.
    Echo,
    /// Memory per idle keep-alive connection: `--connections` opened, one
    /// request answered on each, held idle, then closed; the server's RSS and
    /// file descriptors are sampled before, while idle, and after the close.
    Idle,
}

impl Mode {
    /// `--connections` when not given: 10,000 for idle, else 100.
    pub(crate) fn default_connections(self) -> u32 {
        match self {
            Mode::Idle => 10_000,
            Mode::Http | Mode::Echo => 100,
        }
    }
}

/// The bundled HTTP service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Service {
    /// hyper "Hello, World!" (the `hello_hyper` example's service).
    Hello,
    /// A static file server: examples/file_server's service on corio,
    /// tower-http's `ServeDir` on tokio.
    File,
}

/// Options of a benchmark run.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// What to measure: the server under HTTP or echo load, or its memory
    /// per idle connection.
    #[arg(long, value_enum, default_value_t = Mode::Http)]
    pub(crate) mode: Mode,
    /// Bundled service: `hello`, or `file` (static files: the corio rows run
    /// examples/file_server's service, the tokio rows tower-http's ServeDir).
    #[arg(id = "service", long = "server", value_name = "SERVICE", value_enum, default_value_t = Service::Hello)]
    pub(crate) service: Service,
    /// `--server file`: directory to serve; default: a temporary directory of
    /// generated files (file-1k, file-4k, file-64k, file-1m), removed at the end.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Measured time per run, in seconds.
    #[arg(value_name = "SECS", long, short = 'd', default_value_t = 5.0, value_parser = positive_secs)]
    pub(crate) duration: f64,
    /// Warm-up before each measured window, in seconds (not recorded).
    #[arg(value_name = "SECS", long, default_value_t = 1.0, value_parser = non_negative_secs)]
    pub(crate) warmup: f64,
    /// Rounds over all rows (runs are interleaved: A B C A B C ...).
    #[arg(value_name = "N", long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) reps: u32,
    /// Concurrent keep-alive connections [default: 100; 10000 with --mode idle].
    #[arg(value_name = "N", long, short = 'c', value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub(crate) connections: Option<u32>,
    /// End each measured window after this many responses instead of after
    /// --duration (which then only caps the window).
    #[arg(value_name = "N", long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) requests: Option<u64>,
    /// Requests in flight per connection (HTTP pipelining / echo messages).
    #[arg(value_name = "DEPTH", long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) pipeline: u32,
    /// Open loop: send this many requests per second in total, spread over
    /// the connections; latency counts from the intended send time.
    #[arg(value_name = "REQ_PER_SEC", long, value_parser = positive_rate)]
    pub(crate) rate: Option<f64>,
    /// Request body size in bytes (HTTP mode: sends POST with a body).
    #[arg(value_name = "BYTES", long)]
    pub(crate) body: Option<usize>,
    /// Echo message size in bytes (echo mode).
    #[arg(value_name = "BYTES", long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=(1 << 24)))]
    pub(crate) size: u32,
    /// Path to request (HTTP mode), e.g. `/` or `/api/hello?x=1`; default:
    /// `/`, or `/file-64k` with `--server file`.
    #[arg(value_name = "PATH", long, value_parser = parse_url_path)]
    pub(crate) url: Option<String>,
    /// Status code every response must have (others count as errors).
    #[arg(value_name = "CODE", long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(100..=599))]
    pub(crate) expect_status: u16,
    /// Body length every response must have: a number, `auto` (the length
    /// of the first good response; with `--server file`, the size of the
    /// file `--url` names) or `any`.
    #[arg(value_name = "BYTES|auto|any", long, default_value = "auto", value_parser = parse_expect_len)]
    pub(crate) expect_len: ExpectLen,
    /// A request unanswered for this many seconds counts as a timeout error.
    #[arg(value_name = "SECS", long, default_value_t = 5.0, value_parser = positive_secs)]
    pub(crate) timeout: f64,
    /// Server worker threads (CORIO_WORKERS, and tokio-mt's worker count);
    /// default: the number of server CPUs.
    #[arg(value_name = "N", long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) workers: Option<u32>,
    /// CPUs the server is pinned to, e.g. `0` or `0-3,6`; default: the first
    /// half of the usable CPUs.
    #[arg(value_name = "LIST", long, value_parser = parse_cpu_list)]
    pub(crate) server_cpus: Option<CpuList>,
    /// CPUs the load generator is pinned to; default: the second half.
    #[arg(value_name = "LIST", long, value_parser = parse_cpu_list)]
    pub(crate) load_cpus: Option<CpuList>,
    /// Comma-separated rows to run; default: corio-uring,corio-epoll,tokio-ct,tokio-mt
    /// (and raw-uring,raw-epoll with --mode echo; corio-uring,corio-epoll for a server
    /// command).
    #[arg(value_name = "LIST", long, value_delimiter = ',', value_enum)]
    pub(crate) variants: Vec<Variant>,
    /// Give up on a server that does not accept connections within this many seconds.
    #[arg(value_name = "SECS", long, default_value_t = 10.0, value_parser = positive_secs)]
    pub(crate) ready_timeout: f64,
    /// Write every run's raw figures to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Draw a chart (throughput, CPU per request, latency percentiles) to this SVG file.
    #[arg(long, value_name = "FILE")]
    pub(crate) svg: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) scheduler: Scheduler,
    /// Your server command, after `--`; `{port}` is replaced by a free port
    /// (also exported as PORT).
    #[arg(last = true, value_name = "SERVER_CMD")]
    pub(crate) server: Vec<String>,
}

/// Runtime knobs of the bundled servers: tokio's scheduler knobs for every runtime
/// (tokio's and each corio worker's), and corio's receive buffers; the defaults when not
/// given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub(crate) struct Scheduler {
    /// tokio's `event_interval`: scheduler ticks between two looks at the reactor and
    /// timers while tasks keep running (tokio's default: 61).
    #[arg(value_name = "TICKS", long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) event_interval: Option<u32>,
    /// tokio's `global_queue_interval`: scheduler ticks between two looks at the queue
    /// other threads spawn into (tokio's default: 31 on current_thread).
    #[arg(value_name = "TICKS", long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) global_queue_interval: Option<u32>,
    /// corio rows: provided receive buffers per worker, `COUNTxBYTES` (corio's
    /// `Builder::recv_buffers`; default 4x65536 consumed incrementally, else 128x4096).
    #[arg(value_name = "COUNTxBYTES", long, value_parser = parse_buffers)]
    pub(crate) recv_buffers: Option<(u32, u32)>,
    /// corio rows: every receive takes a whole provided buffer, no incremental
    /// consumption (`Builder::recv_incremental(false)`).
    #[arg(long)]
    pub(crate) recv_whole_buffers: bool,
}

/// Parses `COUNTxBYTES`.
fn parse_buffers(text: &str) -> Result<(u32, u32), String> {
    let (count, size) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?}: expected COUNTxBYTES, e.g. 128x4096"))?;
    let number = |n: &str| {
        n.parse::<u32>()
            .map_err(|e| format!("{n:?} in {text:?}: {e}"))
    };
    Ok((number(count)?, number(size)?))
}

/// Options of the hidden `serve` subcommand.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Runtime hosting the server.
    #[arg(long, value_enum)]
    pub(crate) runtime: ServeRuntime,
    /// TCP port to listen on (127.0.0.1).
    #[arg(long)]
    pub(crate) port: u16,
    /// Worker threads (tokio-mt, corio); default: the usable CPUs.
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// Protocol: HTTP (also for idle) or TCP echo.
    #[arg(long, value_enum, default_value_t = Mode::Http)]
    pub(crate) mode: Mode,
    /// HTTP service: hello, or static files from `--root`.
    #[arg(long, value_enum, default_value_t = Service::Hello)]
    pub(crate) service: Service,
    /// Directory the file service serves.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Status code of every HTTP response (tests use 500).
    #[arg(long, default_value_t = 200)]
    pub(crate) status: u16,
    #[command(flatten)]
    pub(crate) scheduler: Scheduler,
}

/// Runtime of the bundled server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ServeRuntime {
    /// tokio current_thread.
    TokioCt,
    /// tokio multi_thread with `--workers` workers.
    TokioMt,
    /// corio, backend chosen by CORIO_BACKEND.
    Corio,
    /// The reference server on io_uring alone (no runtime; see `raw`).
    RawUring,
    /// The reference server on epoll alone (no runtime; see `raw`).
    RawEpoll,
}

/// Options of the hidden `load` subcommand.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The load spec, as JSON (see `protocol::LoadSpec`).
    #[arg(long)]
    pub(crate) spec: String,
}

/// Expected response body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ExpectLen {
    /// The length of the first response with the expected status.
    Auto,
    /// Any length is accepted.
    Any,
    /// Exactly this many bytes.
    Exact(usize),
}

fn parse_expect_len(s: &str) -> Result<ExpectLen, String> {
    match s {
        "auto" => Ok(ExpectLen::Auto),
        "any" => Ok(ExpectLen::Any),
        n => n
            .parse()
            .map(ExpectLen::Exact)
            .map_err(|_| format!("expected a byte count, `auto` or `any`, got `{n}`")),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected a number of seconds, got `{s}`"))?;
    if !v.is_finite() || v > 3600.0 {
        return Err(format!("{s} is not a number of seconds between 0 and 3600"));
    }
    Ok(v)
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match parse_secs(s)? {
        v if v > 0.0 => Ok(v),
        _ => Err("must be greater than 0".to_string()),
    }
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    match parse_secs(s)? {
        v if v >= 0.0 => Ok(v),
        _ => Err("must not be negative".to_string()),
    }
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e8 => Ok(v),
        _ => Err(format!(
            "expected requests per second (0 < R <= 1e8), got `{s}`"
        )),
    }
}

fn parse_cpu_list(s: &str) -> Result<CpuList, String> {
    s.parse()
}

/// Accepts `/path` or `http://host[:port]/path` and keeps the path.
fn parse_url_path(s: &str) -> Result<String, String> {
    let path = match s.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => s,
    };
    if !path.starts_with('/') {
        return Err(format!("expected a path starting with `/`, got `{s}`"));
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err("the path must not contain spaces or control characters".to_string());
    }
    Ok(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_buffers_parse_as_count_x_bytes() {
        assert_eq!(parse_buffers("4x65536").unwrap(), (4, 65536));
        assert!(parse_buffers("4").unwrap_err().contains("COUNTxBYTES"));
        assert!(parse_buffers("fourx1").is_err());
        assert!(parse_buffers("4x").is_err());
    }

    #[test]
    fn url_keeps_the_path() {
        assert_eq!(parse_url_path("/a?b=1").unwrap(), "/a?b=1");
        assert_eq!(parse_url_path("http://127.0.0.1:8080/x").unwrap(), "/x");
        assert_eq!(parse_url_path("http://localhost").unwrap(), "/");
        assert!(parse_url_path("x").is_err());
        assert!(parse_url_path("/a b").is_err());
    }

    #[test]
    fn expect_len_forms() {
        assert_eq!(parse_expect_len("auto").unwrap(), ExpectLen::Auto);
        assert_eq!(parse_expect_len("13").unwrap(), ExpectLen::Exact(13));
        assert!(parse_expect_len("-1").is_err());
    }

    #[test]
    fn seconds_are_bounded() {
        assert!(positive_secs("0").is_err());
        assert!(positive_secs("0.5").is_ok());
        assert!(non_negative_secs("0").is_ok());
        assert!(positive_secs("nan").is_err());
        assert!(positive_secs("1e9").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
