//! Briefs over HTTP: `GET /api/v1/briefs` with filters, `GET /api/v1/briefs/{id}` (with its
//! lifecycle events and the decisions that answer it), and the triage actions
//! `POST /api/v1/briefs/{id}/acknowledge|decide|dismiss|close|assign|comment` (`briefs:write`).

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
    status: Option<crate::domain::brief::BriefStatus>,
    severity: Option<crate::domain::brief::Severity>,
    material: Option<bool>,
    category: Option<String>,
    assignee: Option<String>,
    owner: Option<String>,
    since: Option<chrono::DateTime<chrono::Utc>>,
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
        category: q.category,
        assignee: q.assignee,
        owner: q.owner,
        since: q.since,
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
    v["decisions"] = json!(
        st.store
            .decisions(&crate::store::DecisionFilter {
                brief_id: Some(id),
                ..Default::default()
            })
            .await?
    );
    Ok(Json(v))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    /// Why (a dismissal needs one).
    reason: Option<String>,
    /// `assign`: who (null or absent unassigns).
    assignee: Option<String>,
    /// `comment`: the text.
    text: Option<String>,
}

/// `acknowledge`, `decide`, `dismiss` (with a reason), `close`, `assign` or `comment`; the actor is
/// the token's name.
async fn transition(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = caller?.require(Scope::BriefsWrite)?;
    let body: TransitionBody = super::error::optional_json(&body)?;
    let result = match action.as_str() {
        "assign" => {
            st.store
                .assign_brief(
                    id,
                    body.assignee.as_deref().filter(|a| !a.trim().is_empty()),
                    &caller.name,
                    chrono::Utc::now(),
                )
                .await
        }
        "comment" => {
            st.store
                .comment_brief(
                    id,
                    body.text.as_deref().unwrap_or_default(),
                    &caller.name,
                    chrono::Utc::now(),
                )
                .await
        }
        other => {
            let to = match other {
                "acknowledge" => crate::domain::brief::BriefStatus::Acknowledged,
                "decide" => crate::domain::brief::BriefStatus::Decided,
                "dismiss" => crate::domain::brief::BriefStatus::Dismissed,
                "close" => crate::domain::brief::BriefStatus::Closed,
                other => return Err(ApiError::NotFound(format!("no brief action `{other}`"))),
            };
            st.store
                .transition_brief(id, to, &caller.name, body.reason.as_deref(), chrono::Utc::now())
                .await
        }
    };
    match result {
        Ok(b) => Ok(Json(json!(b))),
        Err(TransitionError::NotFound(_)) => Err(ApiError::NotFound(format!("no brief {id}"))),
        Err(TransitionError::Store(e)) => Err(e.into()),
        Err(
            e @ (TransitionError::Refused(crate::domain::brief::BriefLifecycleError::ReasonRequired)
            | TransitionError::EmptyComment),
        ) => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}
