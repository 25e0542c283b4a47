//! The static file service of `examples/file_server`, on `corio::fs`. The example's `main.rs`,
//! `tests/file_server.rs` and corio-ab all compile this one file (with `#[path]`), so it names
//! only corio, tokio, hyper, hyper-util, http-body-util and bytes.
//!
//! What it answers:
//! - `GET` and `HEAD`; any other method gets `405` with `Allow: GET, HEAD`.
//! - A file: `200` with `Content-Length`, `Content-Type` (from the extension), `Last-Modified`,
//!   a strong `ETag` (mtime and size) and `Accept-Ranges: bytes`. `If-None-Match` (which, when
//!   present, overrides `If-Modified-Since`) and `If-Modified-Since` answer `304`.
//! - `Range` (on `GET`): one range, `bytes=a-b`, `a-` or `-n`, answers `206` with
//!   `Content-Range`; an unsatisfiable one `416` with `Content-Range: bytes */LEN`. Several
//!   ranges, a malformed header, or a stale `If-Range` get the whole file (`200`), as
//!   RFC 9110 allows: this server never sends `multipart/byteranges`.
//! - A directory: `301` to the same path with a trailing `/`; with it, its `index.html` if
//!   there is one, else an HTML index with every name escaped.
//! - Refused with `403`: `..`, `.` and empty segments (`//etc/passwd`), percent-encoded `/`,
//!   `\` or NUL in a segment (`%2e%2e` decodes to `..` and is refused as such), and any path
//!   whose canonical form (symlinks resolved) leaves the root. Missing files get `404`.
//!
//! Bodies stream: a file is read in [`CHUNK`]-sized `read_at`s, each into a fresh buffer that
//! becomes one body frame, and the next read starts only when hyper asks for the next frame.
//! [`serve`] sets hyper's buffer limit to one chunk, so hyper asks only while less than a
//! chunk waits to be written: a connection holds about two chunks of a file at any time.
//!
//! The symlink check resolves the path, then opens the resolved path: a symlink swapped in
//! between the two by someone who can write inside the root is not caught.
#![allow(unreachable_pub)] // `pub` for the crates that include this file; unreachable in some.

// Each part in its own file next to this one. `#[path]` keeps them found there however this
// file is included: as `mod service;` from main.rs, or by `#[path]` from tests and corio-ab.
#[path = "body.rs"]
mod body;
#[path = "http_date.rs"]
mod http_date;
#[path = "index.rs"]
mod index;
#[path = "range.rs"]
mod range;
#[path = "target.rs"]
mod target;
#[path = "validator.rs"]
mod validator;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corio::fs::{self, File, Metadata};
use corio::net::TcpListener;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

use body::FileBody;
use http_date::http_date;
use index::index_page;
use range::Range;
use target::Target;
use validator::{if_range_holds, Version};

/// The body of every response: a file streamed in chunks, an index page, or nothing.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Size of one `read_at`, and so the largest body frame.
pub const CHUNK: usize = 64 * 1024;

/// How long in-flight requests get to finish after the shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

/// Serves the files under one directory. Cheap to share: put it in an `Arc`.
#[derive(Debug)]
pub struct FileService {
    /// Canonical: no symlinks, no `..`; every path served starts with it.
    root: PathBuf,
}

impl FileService {
    /// A service for the files under `root`.
    ///
    /// # Errors
    ///
    /// If `root` does not exist, cannot be resolved, or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<FileService> {
        let root = std::fs::canonicalize(root)?;
        if !std::fs::metadata(&root)?.is_dir() {
            let message = format!("{} is not a directory", root.display());
            return Err(io::Error::new(io::ErrorKind::NotADirectory, message));
        }
        Ok(FileService { root })
    }

    /// The directory served, canonicalized.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers one request; its body is ignored. Failures are answers (`4xx`, `5xx`).
    pub async fn handle<B>(&self, req: Request<B>) -> Result<Response<Body>, Infallible> {
        let (req, _) = req.into_parts();
        Ok(self.respond(&req).await.unwrap_or_else(status))
    }

    async fn respond(&self, req: &Parts) -> Result<Response<Body>, StatusCode> {
        if req.method != Method::GET && req.method != Method::HEAD {
            let response = Response::builder().header(header::ALLOW, "GET, HEAD");
            return finish(response.status(StatusCode::METHOD_NOT_ALLOWED), empty());
        }
        let target = Target::parse(req.uri.path()).ok_or(StatusCode::FORBIDDEN)?;
        let (path, meta) = self.resolve(&target.under(&self.root)).await?;
        if meta.is_dir() {
            self.directory(req, &target, &path).await
        } else if target.slash {
            Err(StatusCode::NOT_FOUND)
        } else {
            send_file(req, &path).await
        }
    }

    /// `path` with every symlink resolved, and what it names; `403` if that leaves the root.
    ///
    /// Usually no component below the root is a symlink, and then `path` is already
    /// canonical: one `symlink_metadata` per component (each an io_uring statx) says so,
    /// with no trip to the blocking pool. A symlink on the way sends it through
    /// `canonicalize` and the prefix check.
    async fn resolve(&self, path: &Path) -> Result<(PathBuf, Metadata), StatusCode> {
        let below = path
            .strip_prefix(&self.root)
            .map_err(|_| StatusCode::FORBIDDEN)?;
        let mut at = self.root.clone();
        let mut meta = None;
        for part in below.components() {
            if !matches!(part, Component::Normal(_)) {
                return Err(StatusCode::FORBIDDEN);
            }
            at.push(part);
            let here = fs::symlink_metadata(&at).await.map_err(error_status)?;
            if here.is_symlink() {
                return self.resolve_links(path).await;
            }
            meta = Some(here);
        }
        match meta {
            Some(meta) => Ok((at, meta)),
            None => self.resolve_links(path).await,
        }
    }

    /// [`FileService::resolve`] through `canonicalize`, for a path with a symlink in it.
    async fn resolve_links(&self, path: &Path) -> Result<(PathBuf, Metadata), StatusCode> {
        let real = fs::canonicalize(path).await.map_err(error_status)?;
        if !real.starts_with(&self.root) {
            return Err(StatusCode::FORBIDDEN);
        }
        let meta = fs::metadata(&real).await.map_err(error_status)?;
        Ok((real, meta))
    }

    async fn directory(
        &self,
        req: &Parts,
        target: &Target,
        dir: &Path,
    ) -> Result<Response<Body>, StatusCode> {
        if !target.slash {
            let query = req.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let location = format!("{}/{query}", req.uri.path());
            let response = Response::builder().header(header::LOCATION, location);
            return finish(response.status(StatusCode::MOVED_PERMANENTLY), empty());
        }
        if let Ok((index, meta)) = self.resolve(&dir.join("index.html")).await {
            if meta.is_file() {
                return send_file(req, &index).await;
            }
        }
        let html = index_page(dir, &target.shown())
            .await
            .map_err(error_status)?;
        let response = Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CONTENT_LENGTH, html.len());
        let body = if req.method == Method::HEAD {
            empty()
        } else {
            full(html)
        };
        finish(response, body)
    }
}

/// Accepts connections on `listener` and serves each with `service` (HTTP/1.1 keep-alive, a
/// `tokio::spawn`ed task per connection), forever.
///
/// # Errors
///
/// None so far: failed accepts and connections are logged to stderr and skipped.
#[allow(dead_code)] // The example binary stops on a signal, with `serve_with_shutdown`.
pub async fn serve(listener: TcpListener, service: Arc<FileService>) -> io::Result<()> {
    serve_with_shutdown(listener, service, std::future::pending::<()>()).await
}

/// [`serve`] until `shutdown` completes; then it stops accepting (the listener is closed) and
/// lets the requests in flight finish, for at most 10 seconds.
///
/// # Errors
///
/// None so far: failed accepts and connections are logged to stderr and skipped.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    service: Arc<FileService>,
    shutdown: impl Future,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Per-connection failures, or EMFILE (after which the listener backs off).
                Err(err) => { eprintln!("accept failed: {err}"); continue; }
            },
            _ = &mut shutdown => break,
        };
        let service = service.clone();
        let handler = service_fn(move |req| {
            let service = service.clone();
            async move { service.handle(req).await }
        });
        let conn = http1::Builder::new()
            .keep_alive(true)
            // hyper polls the body for another frame while less than this is queued to write.
            .max_buf_size(CHUNK)
            .serve_connection(TokioIo::new(stream), handler);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("connection failed: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("gave up waiting for connections after {GRACE:?}");
    }
    Ok(())
}

async fn send_file(req: &Parts, path: &Path) -> Result<Response<Body>, StatusCode> {
    let file = File::open(path).await.map_err(error_status)?;
    let meta = file.metadata().await.map_err(error_status)?;
    if !meta.is_file() {
        return Err(StatusCode::NOT_FOUND); // A FIFO or device: never read those.
    }
    let len = meta.len();
    let version = Version::of(&meta);
    let mut response = Response::builder();
    if let Some(version) = &version {
        response = response
            .header(header::ETAG, &version.etag)
            .header(header::LAST_MODIFIED, http_date(version.modified));
        if version.not_modified(&req.headers) {
            return finish(response.status(StatusCode::NOT_MODIFIED), empty());
        }
    }
    response = response.header(header::ACCEPT_RANGES, "bytes");
    let (start, end) = match requested_range(req, len, version.as_ref()) {
        Range::Full => (0, len),
        Range::Part(start, end) => {
            let content_range = format!("bytes {start}-{}/{len}", end - 1);
            response = response
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, content_range);
            (start, end)
        }
        Range::Unsatisfiable => {
            let response =
                Response::builder().header(header::CONTENT_RANGE, format!("bytes */{len}"));
            return finish(response.status(StatusCode::RANGE_NOT_SATISFIABLE), empty());
        }
    };
    response = response
        .header(header::CONTENT_TYPE, content_type(path))
        .header(header::CONTENT_LENGTH, end - start);
    let body = if req.method == Method::HEAD {
        empty()
    } else {
        FileBody::new(file, start, end).boxed_unsync()
    };
    finish(response, body)
}

/// The range to send: asked for, on `GET` (RFC 9110, 14.2), with `If-Range` absent or holding.
fn requested_range(req: &Parts, len: u64, version: Option<&Version>) -> Range {
    let if_range = req.headers.get(header::IF_RANGE);
    match req.headers.get(header::RANGE).map(|range| range.to_str()) {
        Some(Ok(range)) if req.method == Method::GET && if_range_holds(if_range, version) => {
            Range::parse(range, len)
        }
        _ => Range::Full,
    }
}

fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn error_status(err: io::Error) -> StatusCode {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = code;
    response
}

/// The built response, or `500` if a header value was invalid.
fn finish(
    response: hyper::http::response::Builder,
    body: Body,
) -> Result<Response<Body>, StatusCode> {
    response
        .body(body)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed_unsync()
}
