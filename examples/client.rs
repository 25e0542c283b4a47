//! An HTTP/1.1 client: `hyper::client::conn::http1` over `corio::net::TcpStream`, written as
//! for tokio. It sends a few GET requests over one keep-alive connection.
//!
//! Run:    cargo run --example hello_hyper &
//!         cargo run --example client [-- URL [COUNT]]
//!         URL defaults to http://127.0.0.1:3000/, COUNT (requests) to 1.
//! Expect: for each request, the status line and headers on stderr and the body on stdout,
//!         e.g. "HTTP/1.1 200 OK" and "Hello, World!". Exits non-zero if the server cannot
//!         be reached or answers with an error status.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::HOST;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use corio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[corio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url: Uri = args
        .next()
        .as_deref()
        .unwrap_or("http://127.0.0.1:3000/")
        .parse()?;
    let count: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    if url.scheme_str() != Some("http") {
        return Err("only http:// URLs are supported".into());
    }
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_u16().unwrap_or(80);
    let authority = url.authority().ok_or("the URL has no authority")?.clone();

    let stream = TcpStream::connect((host, port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task does the socket I/O; `sender` hands it requests.
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            eprintln!("connection failed: {err}");
        }
    });

    let mut stdout = tokio::io::stdout();
    for _ in 0..count {
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        let request = Request::get(path)
            .header(HOST, authority.as_str())
            .body(Empty::<Bytes>::new())?;
        // Waits until the connection can take a request (the previous response is done).
        sender.ready().await?;
        let mut response = sender.send_request(request).await?;
        eprintln!("{:?} {}", response.version(), response.status());
        for (name, value) in response.headers() {
            eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
        }
        // Stream the body to stdout frame by frame, as it arrives.
        while let Some(frame) = response.frame().await {
            if let Some(chunk) = frame?.data_ref() {
                stdout.write_all(chunk).await?;
            }
        }
        stdout.write_all(b"\n").await?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()).into());
        }
    }
    stdout.flush().await?;
    Ok(())
}
