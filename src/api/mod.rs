//! The HTTP API: health and readiness, and read-only JSON views of sources, snapshots and changes.

mod error;
mod watcher;

use crate::config::Source;
use crate::config::settings::SchedulerSettings;
use crate::store::Store;
use axum::Router;
use std::sync::Arc;

pub use error::ApiError;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub sources: Arc<Vec<Source>>,
    pub scheduler: SchedulerSettings,
}

pub fn router(state: AppState) -> Router {
    watcher::router().with_state(state)
}
