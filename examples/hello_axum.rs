//! An axum 0.8 app served by `axum::serve` on a corio listener. The router is plain axum;
//! corio's `axum` feature implements axum's `serve::Listener` for `corio::net::TcpListener`.
//!
//! Run:    cargo run --features axum --example hello_axum [-- ADDR]
//!         ADDR defaults to 127.0.0.1:3000; port 0 picks a free port.
//! Try:    curl http://127.0.0.1:3000/                   Hello, World!
//!         curl http://127.0.0.1:3000/users/7           {"id":7,"name":"user-7"}
//!         curl -d '{"name":"ada"}' -H 'content-type: application/json' \
//!              http://127.0.0.1:3000/users             201 Created, {"id":1,"name":"ada"}
//!         curl http://127.0.0.1:3000/users/x           400: the path parameter is no number
//! Expect: "listening on http://ADDR" on stdout. On ctrl-c or SIGTERM, `axum::serve`'s
//!         graceful shutdown stops accepting, finishes the requests in flight, and the
//!         program prints "shut down cleanly" and exits 0.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{signal, SignalKind};

use corio::net::TcpListener;

#[derive(Debug, Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, Deserialize)]
struct NewUser {
    name: String,
}

/// Hands out user ids. One per app, shared by all connections.
#[derive(Debug, Default)]
struct Ids(AtomicU64);

async fn root() -> &'static str {
    "Hello, World!"
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    let name = format!("user-{id}");
    Json(User { id, name })
}

async fn create_user(
    State(ids): State<Arc<Ids>>,
    Json(new): Json<NewUser>,
) -> (StatusCode, Json<User>) {
    let id = ids.0.fetch_add(1, Ordering::Relaxed) + 1;
    let user = User { id, name: new.name };
    (StatusCode::CREATED, Json(user))
}

/// The app: plain axum, nothing corio-specific. (`pub(crate)`: tests/axum_app.rs serves it.)
pub(crate) fn app() -> Router {
    Router::new()
        .route("/", get(root))
        .route("/users", post(create_user))
        .route("/users/{id}", get(user))
        .with_state(Arc::new(Ids::default()))
}

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app())
        .with_graceful_shutdown(shutdown)
        .await?;
    println!("shut down cleanly");
    Ok(())
}

/// Completes on the first SIGINT (ctrl-c) or SIGTERM; the handlers are installed at once.
fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
