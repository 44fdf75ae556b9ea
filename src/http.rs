//! The HTTP server's router: the API and the web pages on one shared state.

use crate::state::AppState;
use axum::Router;

pub fn router(state: AppState) -> Router {
    crate::api::mount(crate::web::router(), state)
}
