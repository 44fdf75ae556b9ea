//! The impact summary page: what changed at the vendors over a period and what we did about it,
//! printable on one or two pages. The same template renders `signalbox report --format html`.

use super::session::Viewer;
use super::{WebError, page, templates};
use crate::report::{self, Report};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/summary", get(summary))
}

#[derive(Deserialize, Default)]
struct Period {
    since: Option<String>,
}

/// The periods offered on the page.
const PERIODS: [&str; 3] = ["7d", "30d", "90d"];

async fn summary(State(st): State<AppState>, viewer: Viewer, Query(q): Query<Period>) -> Result<Response, WebError> {
    let since_text = q.since.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "7d".into());
    let since = report::parse_since(since_text.trim(), chrono::Utc::now()).map_err(WebError::BadRequest)?;
    let flags = st.flags.current();
    let r = report::gather(&st.store, &st.sources, flags.as_ref().map(|p| &*p.set), since).await?;
    let mut ctx = report::context(&r);
    ctx["section"] = "summary".into();
    ctx["since_text"] = since_text.into();
    ctx["periods"] = serde_json::json!(PERIODS);
    page(&viewer, "summary.html", ctx)
}

/// The summary as a standalone HTML document (no navigation, no forms): `report --format html`.
pub fn standalone_html(r: &Report) -> Result<String, minijinja::Error> {
    let mut ctx = report::context(r);
    ctx["standalone"] = true.into();
    templates().get_template("summary.html")?.render(&ctx)
}
