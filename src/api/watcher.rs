//! Read-only views of the watcher: sources and their health, snapshots, changes.

use super::{ApiError, AppState};
use crate::health::{SourceRow, source_rows};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/sources", get(list_sources))
        .route("/api/v1/sources/{id}", get(get_source))
        .route("/api/v1/sources/{id}/snapshots", get(source_snapshots))
        .route("/api/v1/sources/{id}/changes", get(source_changes))
        .route("/api/v1/snapshots/{id}", get(get_snapshot))
        .route("/api/v1/snapshots/{id}/raw", get(get_snapshot_raw))
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/changes/{id}", get(get_change))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when flags are loaded (sources were validated before start): that is what apps need, and
/// evaluation never touches the database, so an unreachable database does not take every replica
/// out of the load balancer; it is reported (`"database": "unreachable"`) for monitoring, and
/// writes answer 503 meanwhile. Says which backend and whether this replica leads (runs the
/// scheduler) or follows.
async fn readyz(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let published = st
        .flags
        .current()
        .ok_or_else(|| ApiError::Unavailable("flags are not loaded yet".into()))?;
    let database = match tokio::time::timeout(std::time::Duration::from_secs(2), st.store.ping()).await {
        Ok(Ok(())) => "ok",
        _ => "unreachable",
    };
    Ok(Json(json!({
        "status": "ready",
        "sources": st.sources.len(),
        "flag_revision": published.revision,
        "role": st.role.borrow().as_str(),
        "backend": st.store.backend().as_str(),
        "database": database,
    })))
}

async fn list_sources(State(st): State<AppState>) -> Result<Json<Vec<SourceRow>>, ApiError> {
    Ok(Json(source_rows(&st.store, &st.sources, &st.scheduler).await?))
}

fn known_source(st: &AppState, id: &str) -> Result<(), ApiError> {
    if st.sources.iter().any(|s| s.id == id) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no source `{id}`")))
    }
}

async fn get_source(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    known_source(&st, &id)?;
    let rows = source_rows(&st.store, &st.sources, &st.scheduler).await?;
    let row = rows.into_iter().find(|r| r.id == id).expect("known source has a row");
    let attempts = st.store.attempts(&id, 20).await?;
    let mut v = serde_json::to_value(row).expect("row serializes");
    v["recent_attempts"] = serde_json::to_value(attempts).expect("attempts serialize");
    Ok(Json(v))
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<i64>,
    after: Option<i64>,
    source: Option<String>,
}

fn limit(p: &Paging) -> Result<i64, ApiError> {
    match p.limit {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and 1000, got {n}"
        ))),
    }
}

async fn source_snapshots(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    known_source(&st, &id)?;
    let snaps = st.store.snapshots(&id, limit(&p)?).await?;
    Ok(Json(json!(snaps)))
}

async fn source_changes(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    known_source(&st, &id)?;
    Ok(Json(json!(
        st.store.changes(Some(&id), p.after.unwrap_or(0), limit(&p)?).await?
    )))
}

async fn list_changes(State(st): State<AppState>, Query(p): Query<Paging>) -> Result<Json<Value>, ApiError> {
    let changes = st
        .store
        .changes(p.source.as_deref(), p.after.unwrap_or(0), limit(&p)?)
        .await?;
    Ok(Json(json!(changes)))
}

async fn get_change(State(st): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let c = st
        .store
        .change(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no change {id}")))?;
    let mut v = json!(c);
    v["links"] = json!({
        "before": format!("/api/v1/snapshots/{}", c.before),
        "after": format!("/api/v1/snapshots/{}", c.after),
    });
    Ok(Json(v))
}

async fn get_snapshot(State(st): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let s = st
        .store
        .snapshot(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no snapshot {id}")))?;
    let text = st.store.blob_text(&s.text_sha256).await?;
    let mut v = json!(s);
    v["text"] = json!(text);
    v["links"] = json!({ "raw": format!("/api/v1/snapshots/{id}/raw") });
    Ok(Json(v))
}

/// The raw body as fetched, with the content type it was served with.
async fn get_snapshot_raw(State(st): State<AppState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let s = st
        .store
        .snapshot(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no snapshot {id}")))?;
    let raw = st.store.blob(&s.raw_sha256).await?;
    let ct = s
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "application/octet-stream".into());
    // Served as an attachment: a stored page must never run as our origin in a browser.
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, ct),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"snapshot-{id}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        ],
        raw,
    )
        .into_response())
}
