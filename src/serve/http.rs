//! The HTTP endpoints (the only user of axum): `/healthz` says the process answers (liveness),
//! `/readyz` says it is ready for work (readiness).

use super::ServeState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

pub fn router(state: ServeState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

/// Serves the router on an already bound listener until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: ServeState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<ServeState>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
