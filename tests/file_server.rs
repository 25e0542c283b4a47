//! The static file server of `examples/file_server` (its `service.rs`, compiled in here), on
//! both backends, each test on a fresh directory tree under the temp dir: a 100 MiB file
//! streamed intact in bounded chunks, HEAD, Range (206/416), conditional requests (304),
//! content types, the directory index and its escaping, every traversal attempt refused, and
//! 405 for other methods.

mod support;

#[path = "../examples/file_server/service.rs"]
mod service;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::header::{self, HeaderMap, HOST};
use hyper::{Method, Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use service::{FileService, CHUNK};
use support::hello_service::{empty, pattern, Body, Checksum};
use support::http::{connect_http1, fetch, within, Http1, Reply, STEP};

const LARGE: u64 = 100 << 20;
const SECRET: &str = "TOP SECRET, outside the served directory";

/// A directory tree under the temp dir, removed on drop: `root/` is served, `secret.txt`
/// next to it is not.
struct Tree {
    base: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!(
            "corio-file-server-{}-{name}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root/sub")).unwrap();
        std::fs::create_dir_all(base.join("root/site")).unwrap();
        let tree = Tree { base };
        tree.write("../secret.txt", SECRET.as_bytes());
        tree.write("hello.txt", b"Hello, files!");
        tree.write("sub/inner.txt", b"inner");
        tree.write("site/index.html", b"<h1>the site</h1>");
        tree.write("a<&>b.txt", b"escaped");
        tree.write("digits.bin", &small_pattern());
        let symlink = |target: &str, link: &str| {
            std::os::unix::fs::symlink(target, tree.root().join(link)).unwrap()
        };
        symlink("../secret.txt", "escape"); // a file outside
        symlink("..", "updir"); // a directory outside
        symlink("/etc/passwd", "passwd"); // an absolute target outside
        symlink("hello.txt", "inside"); // stays inside: allowed
        tree
    }

    fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    fn write(&self, path: &str, contents: &[u8]) {
        std::fs::write(self.root().join(path), contents).unwrap();
    }

    /// `len` pattern bytes (`i % 251`), written chunk by chunk.
    fn write_pattern(&self, path: &str, len: u64) {
        let mut file = std::fs::File::create(self.root().join(path)).unwrap();
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(CHUNK as u64);
            file.write_all(&pattern(offset, n as usize)).unwrap();
            offset += n;
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// The 1000 bytes of `digits.bin`.
fn small_pattern() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 251) as u8).collect()
}

/// `service::serve_with_shutdown` on a free port, with a client connection to it.
struct Server {
    client: Http1,
    addr: std::net::SocketAddr,
    service: Arc<FileService>,
    stop: oneshot::Sender<()>,
    done: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(tree: &Tree) -> Server {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = Arc::new(FileService::new(tree.root()).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(service::serve_with_shutdown(
            listener,
            service.clone(),
            stopped,
        ));
        let client = connect_http1(addr).await;
        Server {
            client,
            addr,
            service,
            stop,
            done,
        }
    }

    /// `method path` with `headers`, answered in full.
    async fn ask(&mut self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        within(
            STEP,
            path,
            fetch(&mut self.client, request(method, path, headers)),
        )
        .await
    }

    async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.ask(Method::GET, path, headers).await
    }

    async fn shutdown(self) {
        drop(self.client);
        let _ = self.stop.send(());
        within(STEP, "graceful shutdown", self.done)
            .await
            .unwrap()
            .unwrap();
    }
}

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(empty()).unwrap()
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    let value = headers
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"));
    value.to_str().unwrap()
}

/// 100 MiB over TCP, checksummed; and straight from the service, in frames of at most one
/// chunk, one `read_at` each: the file is never held in memory.
#[corio::test(backend = "both")]
async fn large_file_streams_intact() {
    let tree = Tree::new("large");
    tree.write_pattern("big.bin", LARGE);
    let mut server = Server::start(&tree).await;
    server.client.ready().await.unwrap();
    let response = server
        .client
        .send_request(request(Method::GET, "/big.bin", &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), header::CONTENT_LENGTH),
        LARGE.to_string()
    );
    let mut body = response.into_body();
    let (received, frames) = within(Duration::from_secs(120), "the download", async {
        let (mut received, mut frames) = (Checksum::default(), 0);
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.unwrap().data_ref() {
                received.update(data);
                frames += 1;
            }
        }
        (received, frames)
    })
    .await;
    assert_eq!(received, Checksum::of_pattern(LARGE));
    assert!(frames > 100, "100 MiB arrived in only {frames} frames");

    let response = server
        .service
        .handle(request(Method::GET, "/big.bin", &[]))
        .await
        .unwrap();
    let mut body = response.into_body();
    assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(LARGE));
    let (mut total, mut frames) = (0, 0);
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        assert!(data.len() <= CHUNK, "a frame of {} bytes", data.len());
        total += data.len() as u64;
        frames += 1;
    }
    assert_eq!((total, frames), (LARGE, LARGE / CHUNK as u64));
    server.shutdown().await;
}

/// HEAD: the headers GET would send, no body; for files and for the index page.
#[corio::test(backend = "both")]
async fn head_has_headers_and_no_body() {
    let tree = Tree::new("head");
    let mut server = Server::start(&tree).await;
    let get = server.get("/hello.txt", &[]).await;
    let head = server.ask(Method::HEAD, "/hello.txt", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(header(&head.headers, header::CONTENT_LENGTH), "13");
    assert_eq!(
        header(&head.headers, header::CONTENT_TYPE),
        "text/plain; charset=utf-8"
    );
    assert_eq!(header(&head.headers, header::ACCEPT_RANGES), "bytes");
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_TYPE,
        header::ETAG,
        header::LAST_MODIFIED,
    ] {
        assert_eq!(
            header(&head.headers, name.clone()),
            header(&get.headers, name)
        );
    }
    assert_eq!(get.text(), "Hello, files!");

    let index = server.ask(Method::HEAD, "/", &[]).await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.body.is_empty());
    assert_eq!(
        header(&index.headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let length = server.get("/", &[]).await.body.len();
    assert_eq!(
        header(&index.headers, header::CONTENT_LENGTH),
        length.to_string()
    );
    server.shutdown().await;
}

/// One range of each form → 206 with exactly those bytes; unsatisfiable → 416; several
/// ranges or a stale `If-Range` → the whole file.
#[corio::test(backend = "both")]
async fn ranges() {
    let tree = Tree::new("ranges");
    let mut server = Server::start(&tree).await;
    let file = small_pattern();
    let cases = [
        ("bytes=0-9", 0, 10),
        ("bytes=-5", 995, 1000),
        ("bytes=990-", 990, 1000),
    ];
    let cases = cases
        .into_iter()
        .chain([("bytes=999-999", 999, 1000), ("bytes=500-5000", 500, 1000)]);
    for (range, start, end) in cases {
        let reply = server.get("/digits.bin", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(reply.body, file[start..end], "{range}");
        let content_range = format!("bytes {start}-{}/1000", end - 1);
        assert_eq!(header(&reply.headers, header::CONTENT_RANGE), content_range);
        assert_eq!(
            header(&reply.headers, header::CONTENT_LENGTH),
            (end - start).to_string()
        );
    }
    for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let reply = server.get("/digits.bin", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            header(&reply.headers, header::CONTENT_RANGE),
            "bytes */1000"
        );
        assert!(reply.body.is_empty());
    }
    let first = server.get("/digits.bin", &[]).await;
    let etag = header(&first.headers, header::ETAG).to_owned();
    let modified = header(&first.headers, header::LAST_MODIFIED).to_owned();
    for if_range in [&etag, &modified] {
        let headers = [("range", "bytes=0-1"), ("if-range", if_range.as_str())];
        let fresh = server.get("/digits.bin", &headers).await;
        assert_eq!(fresh.status, StatusCode::PARTIAL_CONTENT, "{if_range}");
        assert_eq!(fresh.body, file[..2], "{if_range}");
    }
    let stale = format!("\"stale{}", &etag[1..]);
    let whole: [&[(&str, &str)]; 4] = [
        &[("range", "bytes=0-1,5-6")],
        &[("range", "bytes=0-1"), ("if-range", &stale)],
        &[
            ("range", "bytes=0-1"),
            ("if-range", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ],
        &[("range", "lines=1-2")],
    ];
    for headers in whole {
        let reply = server.get("/digits.bin", headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}");
        assert_eq!(reply.body, file, "{headers:?}");
    }
    server.shutdown().await;
}

/// `If-None-Match` with the ETag (strong, weak, in a list, `*`) and `If-Modified-Since` at or
/// after `Last-Modified` → 304 without a body; `If-None-Match` wins over `If-Modified-Since`.
#[corio::test(backend = "both")]
async fn conditional_requests() {
    let tree = Tree::new("conditional");
    let mut server = Server::start(&tree).await;
    let first = server.get("/hello.txt", &[]).await;
    let etag = header(&first.headers, header::ETAG).to_owned();
    let modified = header(&first.headers, header::LAST_MODIFIED).to_owned();
    assert!(modified.ends_with(" GMT"), "{modified}");
    let (weak, listed) = (format!("W/{etag}"), format!("\"other\", {etag}"));
    let later = "Fri, 01 Jan 2100 00:00:00 GMT";
    let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
    let not_modified: [&[(&str, &str)]; 6] = [
        &[("if-none-match", &etag)],
        &[("if-none-match", &weak)],
        &[("if-none-match", &listed)],
        &[("if-none-match", "*")],
        &[("if-modified-since", &modified)],
        &[("if-modified-since", later)],
    ];
    for headers in not_modified {
        let reply = server.get("/hello.txt", headers).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{headers:?}");
        assert!(reply.body.is_empty());
        assert_eq!(header(&reply.headers, header::ETAG), etag);
    }
    let modified_since: [&[(&str, &str)]; 4] = [
        &[("if-none-match", "\"other\"")],
        &[("if-modified-since", epoch)],
        &[("if-modified-since", "yesterday")],
        &[
            ("if-none-match", "\"other\""),
            ("if-modified-since", &modified),
        ],
    ];
    for headers in modified_since {
        let reply = server.get("/hello.txt", headers).await;
        assert_eq!(
            (reply.status, reply.text()),
            (StatusCode::OK, "Hello, files!"),
            "{headers:?}"
        );
    }
    server.shutdown().await;
}

/// `Content-Type` from the extension, case-insensitively; unknown → octet-stream.
#[corio::test(backend = "both")]
async fn content_types() {
    let tree = Tree::new("types");
    let types = [
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.JPG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.svg", "image/svg+xml"),
        ("a.wasm", "application/wasm"),
        ("a.pdf", "application/pdf"),
        ("a.tar.gz", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
    ];
    for (name, _) in types {
        tree.write(name, name.as_bytes());
    }
    let mut server = Server::start(&tree).await;
    for (name, content_type) in types {
        let reply = server.get(&format!("/{name}"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(
            header(&reply.headers, header::CONTENT_TYPE),
            content_type,
            "{name}"
        );
        assert_eq!(reply.text(), name);
    }
    server.shutdown().await;
}

/// A directory: 301 to add the slash; then `index.html` if present, else an index whose
/// names are escaped and whose links are percent-encoded (and work).
#[corio::test(backend = "both")]
async fn directory_index() {
    let tree = Tree::new("index");
    let mut server = Server::start(&tree).await;
    let index = server.get("/", &[]).await;
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(
        header(&index.headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let html = index.text();
    assert!(
        html.contains(r#"<a href="a%3C%26%3Eb.txt">a&lt;&amp;&gt;b.txt</a>"#),
        "{html}"
    );
    assert!(!html.contains("<&>"), "{html}");
    for entry in [
        r#"href="sub/">sub/<"#,
        r#"href="site/">site/<"#,
        r#"href="hello.txt">"#,
    ] {
        assert!(html.contains(entry), "{entry} in {html}");
    }
    assert!(!html.contains("../"), "the root has no parent link: {html}");
    assert_eq!(server.get("/a%3C%26%3Eb.txt", &[]).await.text(), "escaped");

    for (path, location) in [
        ("/sub", "/sub/"),
        ("/sub?x=1", "/sub/?x=1"),
        ("/site", "/site/"),
    ] {
        let reply = server.get(path, &[]).await;
        assert_eq!(reply.status, StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(header(&reply.headers, header::LOCATION), location);
    }
    let sub = server.get("/sub/", &[]).await;
    assert!(
        sub.text().contains(r#"<a href="inner.txt">inner.txt</a>"#),
        "{}",
        sub.text()
    );
    assert!(
        sub.text().contains(r#"<a href="../">../</a>"#),
        "{}",
        sub.text()
    );
    let site = server.get("/site/", &[]).await;
    assert_eq!(
        (site.status, site.text()),
        (StatusCode::OK, "<h1>the site</h1>")
    );
    assert_eq!(
        header(&site.headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    server.shutdown().await;
}

/// Sends `target` as written, byte for byte, on a fresh connection (no client normalizes
/// it) and returns the status code and the whole response.
async fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut stream = corio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within(STEP, target, stream.read_to_end(&mut response))
        .await
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Every way out of the root is refused (403, 404, or hyper's own 400 for a target that is
/// not a valid URI), and nothing outside is ever sent; a symlink that stays inside works.
#[corio::test(backend = "both")]
async fn traversal_refused() {
    let tree = Tree::new("traversal");
    let server = Server::start(&tree).await;
    let attempts = [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/%00",
        "/hello.txt%00.html",
        "/./hello.txt",
        "/escape",
        "/updir/secret.txt",
        "/updir/",
        "/passwd",
        "http://localhost/../secret.txt",
        "/%zz",
    ];
    for target in attempts {
        let (status, response) = raw_get(server.addr, target).await;
        assert!([400, 403, 404].contains(&status), "{target}: {response}");
        assert!(
            !response.contains("SECRET") && !response.contains("root:"),
            "{target}: {response}"
        );
    }
    let (status, response) = raw_get(server.addr, "/inside").await;
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("Hello, files!"), "{response}");
    server.shutdown().await;
}

/// Methods other than GET and HEAD: 405 with `Allow`; missing files: 404. Served by
/// `service::serve`, the accept loop without a shutdown signal.
#[corio::test(backend = "both")]
async fn other_methods_and_missing_files() {
    let tree = Tree::new("methods");
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = Arc::new(FileService::new(tree.root()).unwrap());
    let serving = tokio::spawn(service::serve(listener, service));
    let mut client = connect_http1(addr).await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let reply = fetch(&mut client, request(method.clone(), "/hello.txt", &[])).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(header(&reply.headers, header::ALLOW), "GET, HEAD");
    }
    for path in [
        "/missing.txt",
        "/sub/missing/",
        "/hello.txt/",
        "/hello.txt/x",
    ] {
        let reply = fetch(&mut client, request(Method::GET, path, &[])).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(FileService::new(tree.root().join("hello.txt")).is_err());
    assert!(FileService::new(tree.root().join("missing")).is_err());
    drop(client);
    serving.abort();
    let _ = serving.await;
}

/// The served root is canonical, so a root given through a symlink works too.
#[corio::test(backend = "both")]
async fn root_through_symlink() {
    let tree = Tree::new("linked-root");
    let link = tree.base.join("link");
    std::os::unix::fs::symlink(tree.root(), &link).unwrap();
    let service = FileService::new(&link).unwrap();
    assert_eq!(service.root(), std::fs::canonicalize(tree.root()).unwrap());
    let response = service
        .handle(request(Method::GET, "/hello.txt", &[]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"Hello, files!");
    let escape = service
        .handle(request(Method::GET, "/escape", &[]))
        .await
        .unwrap();
    assert_eq!(escape.status(), StatusCode::FORBIDDEN);
}
