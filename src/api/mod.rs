//! The HTTP API: health and readiness, OFREP flag evaluation, flag definitions, metrics, and
//! read-only JSON views of sources, snapshots and changes.
//!
//! Each area owns a router over the shared `AppState`; `router` puts them together.

pub mod audit;
mod briefs;
mod caller;
mod decisions;
mod error;
mod flags;
mod metrics;
mod ofrep;
mod openapi;
mod watcher;

use axum::Router;
use axum::response::IntoResponse;

pub use crate::state::{AppState, Shared, channel, limit};

pub use caller::{Caller, CallerError};
pub use error::ApiError;

/// The API's routes added to `pages` (the web pages' routes), with the fallbacks and layers
/// every answer goes through (JSON errors, metrics). `http::router` puts the two faces together,
/// so that neither imports the other.
pub fn mount(pages: Router<AppState>, state: AppState) -> Router {
    metrics::handle();
    pages
        .merge(watcher::router())
        .merge(ofrep::router())
        .merge(flags::router())
        .merge(briefs::router())
        .merge(decisions::router())
        .merge(audit::router())
        .merge(openapi::router())
        .route("/metrics", axum::routing::get(metrics::render))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", uri.path()))
}

async fn no_method(method: axum::http::Method, uri: axum::http::Uri) -> axum::response::Response {
    let mut r = ApiError::BadRequest(format!("{} does not answer {method}", uri.path())).into_response();
    *r.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Every client error carries a JSON body, including the plain-text ones axum's extractors
/// write for a malformed path or query (`/api/v1/briefs/abc`): management routes get
/// `{"error": {"code", "message"}}`, OFREP routes `{"errorCode", "errorDetails"}`.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::header::CONTENT_TYPE;
    let ofrep = req.uri().path().starts_with("/ofrep/");
    let resp = next.run(req).await;
    let status = resp.status();
    // Only bare or plain-text bodies (axum's own rejections) are rewritten: JSON answers and the
    // web pages' HTML error pages are already what their readers expect.
    let plain = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    let body = if ofrep {
        serde_json::json!({"errorCode": "GENERAL", "errorDetails": message})
    } else {
        let code = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "too_large",
            415 | 422 | 400 => "bad_request",
            _ => "client_error",
        };
        serde_json::json!({"error": {"code": code, "message": message}})
    };
    let mut out = (status, axum::Json(body)).into_response();
    for (k, v) in parts
        .headers
        .iter()
        .filter(|(k, _)| *k != CONTENT_TYPE && *k != axum::http::header::CONTENT_LENGTH)
    {
        out.headers_mut().append(k.clone(), v.clone());
    }
    out
}

/// `If-None-Match` matches `etag` (weak comparison, lists and `*` included): the one rule for
/// every endpoint that answers 304.
pub(crate) fn none_match(headers: &axum::http::HeaderMap, etag: &str) -> bool {
    headers
        .get_all(axum::http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
        })
}
