//! The audit log over HTTP (`audit:read` or `admin`): query by time, actor, object and action,
//! and verify the chain; and the notification delivery log that the audit log feeds.

use super::caller::{Caller, CallerError};
use super::{ApiError, AppState};
use crate::audit::Verifier;
use crate::auth::Scope;
use crate::store::AuditFilter;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(query))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/notifications", get(deliveries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Q {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    actor: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    action: Option<String>,
    after_id: Option<i64>,
    limit: Option<i64>,
}

async fn query(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    q: Result<Query<Q>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller?.require(Scope::AuditRead)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be between 1 and 5000".into()));
    }
    let events = st
        .store
        .audit_events(&AuditFilter {
            since: q.since,
            until: q.until,
            actor: q.actor,
            object_type: q.object_type,
            object_id: q.object_id,
            action: q.action,
            after_id: q.after_id,
            limit,
        })
        .await?;
    // The next page starts after the last event returned.
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({"events": events, "next_after_id": next})))
}

async fn verify(State(st): State<AppState>, caller: Result<Caller, CallerError>) -> Result<Json<Value>, ApiError> {
    caller?.require(Scope::AuditRead)?;
    let report = verify_chain(&st.store).await?;
    Ok(Json(json!({
        "ok": report.broken.is_none(), "checked": report.checked, "head": report.head(), "broken": report.broken,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryQ {
    sink: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
}

async fn deliveries(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    q: Result<Query<DeliveryQ>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller?.require(Scope::AuditRead)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let list = st
        .store
        .deliveries(
            q.sink.as_deref(),
            q.status.as_deref(),
            q.limit.unwrap_or(200).clamp(1, 5000),
        )
        .await?;
    Ok(Json(json!(list)))
}

/// Walks the whole chain a page at a time.
pub async fn verify_chain(store: &crate::store::Store) -> Result<Verifier, crate::store::StoreError> {
    let mut v = Verifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 1000).await?;
        let Some(last) = page.last() else { return Ok(v) };
        after = last.id;
        for e in &page {
            if !v.feed(e) {
                return Ok(v);
            }
        }
    }
}
