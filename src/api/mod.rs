//! The HTTP API: health and readiness, OFREP flag evaluation, flag definitions, metrics, and
//! read-only JSON views of sources, snapshots and changes.
//!
//! Each area owns a router over the shared `AppState`; `router` puts them together.

pub mod audit;
mod briefs;
mod caller;
pub mod channel;
mod decisions;
mod error;
mod flags;
pub mod limit;
mod metrics;
mod ofrep;
mod openapi;
mod watcher;

use crate::auth::{Principal, TokenCache};
use crate::config::Source;
use crate::config::settings::{SchedulerSettings, ServingSettings};
use crate::flags::{FlagService, Telemetry};
use crate::store::Store;
use axum::Router;
use std::sync::Arc;

pub use caller::{Caller, CallerError};
pub use error::ApiError;

/// What the handlers share. axum clones the state for every request, so it is one `Arc`: a
/// single reference count instead of one per field on the hot path.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub sources: Arc<Vec<Source>>,
    pub scheduler: SchedulerSettings,
    pub serving: Arc<ServingSettings>,
    pub flags: Arc<FlagService>,
    pub tokens: Arc<TokenCache>,
    pub telemetry: Arc<Telemetry>,
    /// Set when anonymous evaluation is allowed (development only).
    pub anonymous: Option<Arc<Principal>>,
    /// Turns true when the server shuts down (ends the long-lived SSE streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Per-token evaluation limits (429).
    pub limiter: Arc<limit::RateLimiter>,
    /// Issues and checks the signed SSE channel tokens.
    pub channels: Arc<channel::Channels>,
    /// Proposals, approvals and the overrides they become.
    pub decisions: Arc<crate::decisions::Decisions>,
    pub playbooks: Arc<crate::decisions::Playbooks>,
}

pub fn router(state: AppState) -> Router {
    metrics::handle();
    Router::new()
        .merge(watcher::router())
        .merge(ofrep::router())
        .merge(flags::router())
        .merge(briefs::router())
        .merge(decisions::router())
        .merge(audit::router())
        .merge(openapi::router())
        .route("/metrics", axum::routing::get(metrics::render))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
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
