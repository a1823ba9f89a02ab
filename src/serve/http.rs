//! The HTTP endpoints (the only user of axum): `/healthz` (the process answers: liveness),
//! `/readyz` (config and profile loaded, the repository reachable at the last check: readiness),
//! `/status` (JSON: last run, next run, last drill, last change report) and `/metrics`
//! (Prometheus). Nothing here ever holds a secret: the state only keeps redacted lines.

use super::metrics::CONTENT_TYPE;
use super::ServeState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// All endpoints; with `metrics_path`, the metrics also answer there (gickup's `endpoint`).
pub fn router(state: ServeState, metrics_path: Option<&str>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics));
    if let Some(path) = metrics_path.filter(|p| *p != "/metrics") {
        router = router.route(path, get(metrics));
    }
    router.with_state(state)
}

/// Only the metrics, at `path` (gickup's own `metrics.prometheus` listener).
pub fn metrics_only(state: ServeState, path: &str) -> Router {
    Router::new().route(path, get(metrics)).with_state(state)
}

/// Serves `router` on an already bound listener until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<ServeState>) -> (StatusCode, String) {
    if state.is_ready() {
        (StatusCode::OK, "ready".into())
    } else {
        let reason = state
            .status()
            .readiness
            .reason
            .unwrap_or_else(|| "starting".into());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}"),
        )
    }
}

async fn status(State(state): State<ServeState>) -> Json<super::state::Status> {
    Json(state.status())
}

async fn metrics(State(state): State<ServeState>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics().encode(),
    )
        .into_response()
}
