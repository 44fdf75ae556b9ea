//! Briefs over HTTP (read side): `GET /api/v1/briefs` with filters, `GET /api/v1/briefs/{id}`.
//! Triage actions (acknowledge, assign, dismiss, comment) come with the brief lifecycle.

use super::caller::{Caller, CallerError};
use super::{ApiError, AppState};
use crate::auth::Scope;
use crate::store::BriefFilter;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/briefs", get(list))
        .route("/api/v1/briefs/{id}", get(one))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Filters {
    source: Option<String>,
    provider: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    material: Option<bool>,
}

async fn list(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    q: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller?.require(Scope::BriefsWrite)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let f = BriefFilter {
        source: q.source,
        provider: q.provider,
        status: q.status,
        severity: q.severity,
        material: q.material,
    };
    Ok(Json(json!(st.store.briefs(&f).await?)))
}

async fn one(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    caller?.require(Scope::BriefsWrite)?;
    let b = st
        .store
        .brief(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no brief {id}")))?;
    let mut v = json!(b);
    v["links"] = json!({ "change": format!("/api/v1/changes/{}", b.change) });
    Ok(Json(v))
}
