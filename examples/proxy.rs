//! A small reverse proxy: a hyper server that forwards every request to one upstream with a
//! hyper client, both on corio; request and response bodies stream through.
//!
//! Run:    cargo run --example hello_hyper &        (the upstream, on 127.0.0.1:3000)
//!         cargo run --example proxy [-- LISTEN [UPSTREAM_IP:PORT]]    (default 127.0.0.1:3001)
//! Try:    curl http://127.0.0.1:3001/        prints the upstream's "Hello, World!"
//! Expect: "listening on http://LISTEN, forwarding to http://UPSTREAM"; 502 Bad Gateway when the
//!         upstream fails. Ctrl-c or SIGTERM: stop accepting, finish in-flight requests, exit 0.
//!
//! Each downstream connection has its own upstream connection, (re)opened on demand: HTTP/1.1
//! carries one request at a time, so no request waits for another connection's, no pool is shared.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{handshake, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::{service::service_fn, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Mutex;

use corio::net::{TcpListener, TcpStream};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Link = Arc<Mutex<Option<SendRequest<Incoming>>>>; // a downstream's upstream connection
const HOP_BY_HOP: &str = "connection keep-alive proxy-connection te trailer transfer-encoding";

/// Forwards connections from `listener` to `upstream` until `shutdown` completes, then stops
/// accepting and waits for the requests in flight.
pub(crate) async fn serve(listener: TcpListener, upstream: SocketAddr, shutdown: impl Future) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => { eprintln!("accept failed: {err}"); continue; }
            },
            _ = &mut shutdown => break,
        };
        let link = Link::default();
        let service = service_fn(move |req| forward(link.clone(), upstream, peer, req));
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                eprintln!("downstream connection failed: {err}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn forward(
    link: Link,
    upstream: SocketAddr,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Either<Incoming, Full<Bytes>>>, Infallible> {
    strip_hop_by_hop(req.headers_mut());
    let ip = HeaderValue::try_from(peer.ip().to_string()).expect("an IP address is a valid value");
    req.headers_mut().append("x-forwarded-for", ip);
    let mut link = link.lock().await;
    let sent: Result<Response<Incoming>, Error> = async {
        if link.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(upstream).await?;
            let (sender, conn) = handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn); // Its errors fail the request in flight, which answers 502.
            *link = Some(sender);
        }
        let sender = link.as_mut().expect("connected above");
        sender.ready().await?;
        Ok(sender.send_request(req).await?)
    }
    .await;
    let mut res = sent.map(|res| res.map(Either::Left)).unwrap_or_else(|err| {
        eprintln!("upstream {upstream} failed: {err}");
        let mut res = Response::new(Either::Right(Full::from("bad gateway\n")));
        *res.status_mut() = StatusCode::BAD_GATEWAY;
        res
    });
    strip_hop_by_hop(res.headers_mut());
    Ok(res)
}

/// Drops the headers of one hop (RFC 9110, 7.6.1): hyper frames the body anew on the next.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = (headers.get_all(CONNECTION).iter())
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .filter_map(|name| name.trim().parse().ok())
        .collect();
    let fixed = HOP_BY_HOP.split(' ');
    for name in named.iter().map(HeaderName::as_str).chain(fixed) {
        headers.remove(name);
    }
}

#[corio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3001".to_owned());
    let upstream: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:3000").parse()?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let shutdown = async move {
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
    };
    let listener = TcpListener::bind(&listen).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}, forwarding to http://{upstream}");
    serve(listener, upstream, shutdown).await;
    println!("shut down cleanly");
    Ok(())
}
