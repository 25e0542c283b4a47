//! One hyper HTTP/1.1 request-response round trip on a keep-alive connection (client and
//! server on the same worker), on corio-uring, corio-epoll and plain tokio
//! current_thread. Ids are `<backend>/hello`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corio::{Backend, Builder};
use criterion::Criterion;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// Serves one connection and times `iters` requests over it.
macro_rules! round_trips {
    ($listener:ty, $stream:ty, $iters:expr) => {
        async move {
            let listener = <$listener>::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let (stream, _) = listener.accept().await.expect("accept");
                let conn =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
                let _ = conn.await;
            });
            let stream = <$stream>::connect(addr).await.expect("connect");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let start = Instant::now();
            for _ in 0..$iters {
                let req = Request::get("/")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let res = sender.send_request(req).await.expect("response");
                let body = res.into_body().collect().await.expect("body").to_bytes();
                assert_eq!(&body[..], b"Hello, World!");
            }
            start.elapsed()
        }
    };
}

fn hyper_hello(c: &mut Criterion) {
    let mut group = c.benchmark_group("hyper");
    group.measurement_time(Duration::from_secs(5));
    for (name, backend) in [("uring", Backend::Uring), ("epoll", Backend::Epoll)] {
        let Ok(rt) = Builder::new().workers(1).backend(backend).build() else {
            eprintln!("hyper: skipping {name}: backend unavailable");
            continue;
        };
        println!("backend {}", rt.backend());
        group.bench_function(format!("corio-{name}/hello"), |b| {
            b.iter_custom(|iters| {
                rt.block_on_local(move || {
                    round_trips!(corio::net::TcpListener, corio::net::TcpStream, iters)
                })
            })
        });
    }
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    group.bench_function("tokio-ct/hello", |b| {
        b.iter_custom(|iters| {
            tokio_rt.block_on(round_trips!(
                tokio::net::TcpListener,
                tokio::net::TcpStream,
                iters
            ))
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    hyper_hello(&mut criterion);
    criterion.final_summary();
}
