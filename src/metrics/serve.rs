//! `GET /metrics` over HTTP: the route (also mounted on the control socket) and the TCP
//! server of `corral controller --metrics-addr`.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::prometheus::{encode, Format};
use super::snapshot::Published;

/// Why `--metrics-addr` cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on --metrics-addr {addr}: {source}; pick a free port, or an address of this host")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The `/metrics` route, reading what `published` holds (never the controller loop).
pub fn router(published: Published) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(published)
}

/// Binds `addr` for [`run`]; fails early (before the controller starts) on a port in use.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    // Close-on-exec, like every socket Rust opens: no instance inherits it.
    TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

/// Serves `/metrics` on `listener` until `shutdown` fires.
pub async fn run(listener: TcpListener, published: Published, shutdown: CancellationToken) {
    let app = router(published).fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            "corral serves only /metrics on this port\n",
        )
    });
    let graceful =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    // A scraper that never finishes its request must not hold the controller's exit hostage.
    let cut_off = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = graceful => if let Err(error) = served {
            tracing::error!(%error, "the --metrics-addr server stopped");
        },
        () = cut_off => {}
    }
}

/// How long scrapes in flight may finish after shutdown is asked.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Encodes the exposition off the runtime threads (1 000 instances make a large page).
async fn metrics(State(published): State<Published>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let format = Format::from_accept(accept.as_deref());
    match tokio::task::spawn_blocking(move || encode(&published, format)).await {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {error}\n"),
        )
            .into_response(),
    }
}
