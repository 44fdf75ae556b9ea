//! Briefs over HTTP (read side): `GET /api/v1/briefs` with filters, `GET /api/v1/briefs/{id}`.
//! Triage actions (acknowledge, assign, dismiss, comment) come with the brief lifecycle.

use super::caller::{Caller, CallerError};
use super::{ApiError, AppState};
use crate::auth::Scope;
use crate::store::{BriefFilter, TransitionError};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/briefs", get(list))
        .route("/api/v1/briefs/{id}", get(one))
        .route("/api/v1/briefs/{id}/{action}", post(transition))
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
    v["events"] = json!(st.store.brief_events(id).await?);
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    reason: Option<String>,
}

/// `acknowledge`, `decide`, `dismiss` (with a reason) or `close`; the actor is the token's name.
async fn transition(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path((id, action)): Path<(i64, String)>,
    body: Option<Json<TransitionBody>>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller?.require(Scope::BriefsWrite)?;
    let to = match action.as_str() {
        "acknowledge" => "acknowledged",
        "decide" => "decided",
        "dismiss" => "dismissed",
        "close" => "closed",
        other => return Err(ApiError::NotFound(format!("no brief action `{other}`"))),
    };
    let reason = body.and_then(|Json(b)| b.reason);
    match st.store.transition_brief(id, to, &caller.name, reason.as_deref()).await {
        Ok(b) => Ok(Json(json!(b))),
        Err(TransitionError::NotFound(_)) => Err(ApiError::NotFound(format!("no brief {id}"))),
        Err(TransitionError::Store(e)) => Err(e.into()),
        Err(e @ TransitionError::ReasonRequired) => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}
