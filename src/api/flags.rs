//! Flag definitions for people and tools: `GET /api/v1/flags[/{key}]`, and the effective flag set
//! in flagd's format (`GET /flagd/v1/flags.json`) so flagd and in-process flagd providers can sync
//! from signalbox.

use super::caller::{Caller, CallerError};
use super::{ApiError, AppState};
use crate::auth::Scope;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/flags", get(list))
        .route("/api/v1/flags/{key}", get(one))
        .route("/flagd/v1/flags.json", get(flagd_sync))
}

/// One flag with its definition and, per environment, what it serves without targeting.
/// A token sees its own environment only (overrides, approvers and which apps use a flag are
/// other environments' business); `admin` sees all.
async fn describe(st: &AppState, key: &str, caller: &Caller) -> Result<Value, ApiError> {
    let all = caller.scopes.allows(Scope::Admin);
    let published = st
        .flags
        .current()
        .ok_or_else(|| ApiError::Unavailable("flags are not loaded yet".into()))?;
    let def = published
        .set
        .flags
        .get(key)
        .ok_or_else(|| ApiError::NotFound(format!("no flag `{key}`")))?;
    let mut envs = Map::new();
    for env in st.flags.environments().iter().filter(|e| all || **e == *caller.env) {
        let ov = st.flags.override_of(env, key);
        let variant = ov
            .as_ref()
            .map(|o| o.variant.clone())
            .or_else(|| def.default_variant.clone());
        envs.insert(
            env.clone(),
            json!({
                "variant": variant,
                "source": if ov.is_some() { "override" } else { "file" },
                "override": ov.map(|o| json!({"variant": o.variant, "metadata": o.metadata})),
            }),
        );
    }
    let mut usage = st.store.usage(Some(key)).await?;
    usage.retain(|u| all || u.env == *caller.env);
    Ok(json!({
        "key": key,
        "state": def.state,
        "variants": def.variants,
        "defaultVariant": def.default_variant,
        "targeting": def.targeting,
        "metadata": def.metadata,
        "file": def.file,
        "revision": published.revision,
        "environments": envs,
        "usage": usage,
    }))
}

async fn list(State(st): State<AppState>, caller: Result<Caller, CallerError>) -> Result<Response, ApiError> {
    let caller = caller?.require(Scope::FlagsRead)?;
    let published = st
        .flags
        .current()
        .ok_or_else(|| ApiError::Unavailable("flags are not loaded yet".into()))?;
    let mut out = Vec::new();
    for key in published.set.flags.keys() {
        out.push(describe(&st, key, &caller).await?);
    }
    Ok(Json(json!({"revision": published.revision, "flags": out})).into_response())
}

async fn one(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller?.require(Scope::FlagsRead)?;
    Ok(Json(describe(&st, &key, &caller).await?).into_response())
}

/// The caller's environment's effective flags in flagd's format: an override becomes the default
/// variant with targeting removed, which is exactly what it means.
async fn flagd_sync(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller?.require(Scope::FlagsRead)?;
    let published = st
        .flags
        .current()
        .ok_or_else(|| ApiError::Unavailable("flags are not loaded yet".into()))?;
    let env = published
        .env(&caller.env)
        .ok_or_else(|| ApiError::Unavailable("unknown environment".into()))?;
    let etag = format!("\"{}\"", env.config_etag);
    let matches = super::none_match(&headers, &etag);
    if matches {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
        return Ok(r);
    }
    let mut flags = Map::new();
    for (key, def) in &published.set.flags {
        let mut f = json!({
            "state": def.state,
            "variants": def.variants,
            "metadata": def.metadata,
        });
        match st.flags.override_of(&caller.env, key) {
            Some(ov) => {
                f["defaultVariant"] = json!(ov.variant);
            }
            None => {
                f["defaultVariant"] = json!(def.default_variant);
                if let Some(t) = &def.targeting {
                    f["targeting"] = t.clone();
                }
            }
        }
        flags.insert(key.clone(), f);
    }
    let body = json!({
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "metadata": {"environment": caller.env.as_ref(), "revision": published.revision},
        "flags": flags,
    });
    let mut r = Json(body).into_response();
    r.headers_mut()
        .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    Ok(r)
}
