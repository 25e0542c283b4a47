//! The bundled static file servers of `--server file` (`corio-ab serve
//! --service file --root DIR`): tower-http's `ServeDir` on tokio
//! (current_thread or multi_thread), and on corio the service of
//! `examples/file_server`, compiled in from its source file and run sharded
//! like the hello service (every worker accepts on the port with
//! `SO_REUSEPORT`).

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower_http::services::ServeDir;

use crate::cli::{Scheduler, ServeRuntime};

/// Why the raw rows cannot serve files.
pub(crate) const NO_RAW_FILE_SERVICE: &str =
    "the raw servers (raw-uring, raw-epoll) have no file service; --server file runs \
     corio-uring, corio-epoll, tokio-ct and tokio-mt";

// The example's main.rs, its tests and corio-ab all compile this one file;
// corio-ab uses only `FileService` and `serve`, and the lints of the
// example's code are the example's business.
#[allow(dead_code, clippy::type_complexity)]
#[path = "../../../examples/file_server/service.rs"]
mod file_service;

/// Serves `root` on `addr` until the process is killed.
///
/// # Errors
/// Building the runtime, binding the port, or (corio) opening `root`.
pub(crate) fn main(
    runtime: ServeRuntime,
    addr: SocketAddr,
    root: PathBuf,
    workers: usize,
    scheduler: Scheduler,
) -> Result<(), String> {
    let rt = match runtime {
        ServeRuntime::Corio => return serve_corio(addr, root, workers, scheduler),
        ServeRuntime::RawUring | ServeRuntime::RawEpoll => return Err(NO_RAW_FILE_SERVICE.into()),
        ServeRuntime::TokioCt => scheduler.tokio(tokio::runtime::Builder::new_current_thread())?,
        ServeRuntime::TokioMt => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers);
            scheduler.tokio(builder)?
        }
    };
    rt.block_on(serve_tokio(addr, root))
}

/// tower-http's `ServeDir` behind hyper's HTTP/1.1 server, one task per
/// connection: what a tokio program serving static files would write.
async fn serve_tokio(addr: SocketAddr, root: PathBuf) -> Result<(), String> {
    let service = TowerToHyperService::new(ServeDir::new(root));
    crate::serve::tokio_accept(addr, |stream| {
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service.clone());
        tokio::spawn(async move {
            // A client going away mid-request is normal at the end of a run.
            let _ = conn.await;
        });
    })
    .await
}

/// corio, backend from `CORIO_BACKEND`: every worker builds the file service
/// and runs its accept loop on the shared port.
fn serve_corio(
    addr: SocketAddr,
    root: PathBuf,
    workers: usize,
    scheduler: Scheduler,
) -> Result<(), String> {
    let rt = (scheduler.corio(corio::Builder::new()))
        .workers(workers)
        .sharded(true)
        .build()
        .map_err(|e| format!("building the corio runtime: {e}"))?;
    eprintln!("corio backend: {}", rt.backend());
    if std::env::var_os(crate::ring::ENV).is_some() {
        crate::ring::answer_queries(rt.handle().clone());
    }
    rt.block_on_sharded(move || corio_worker(addr, root.clone()))
}

async fn corio_worker(addr: SocketAddr, root: PathBuf) -> Result<(), String> {
    let service = file_service::FileService::new(&root)
        .map_err(|e| format!("file service on {}: {e}", root.display()))?;
    let listener = corio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?;
    file_service::serve(listener, std::sync::Arc::new(service))
        .await
        .map_err(|e| format!("file server: {e}"))
}
