//! Decisions over HTTP: propose, approve, reject, withdraw, revert, list, show; and the playbooks
//! in force. Scopes: `decisions:propose` to propose and withdraw, `decisions:approve` to approve,
//! reject and revert. A token acts only in its own environment unless it is `admin`.

use super::caller::{Caller, CallerError};
use super::error::json_body;
use super::{ApiError, AppState};
use crate::auth::Scope;
use crate::decisions::Proposal;
use crate::store::DecisionFilter;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/decisions", get(list).post(propose))
        .route("/api/v1/decisions/{id}", get(one))
        .route("/api/v1/decisions/{id}/{action}", post(act))
        .route("/api/v1/playbooks", get(playbooks))
}

/// Any decisions scope (or admin) may read decisions.
fn reader(caller: Caller) -> Result<Caller, CallerError> {
    let s = caller.scopes;
    if s.allows(Scope::DecisionsPropose) || s.allows(Scope::DecisionsApprove) || s.allows(Scope::BriefsWrite) {
        Ok(caller)
    } else {
        Err(CallerError::Forbidden(
            "decisions:propose, decisions:approve or briefs:write",
        ))
    }
}

/// Tokens are bound to an environment: only `admin` acts across environments.
fn same_env(caller: &Caller, env: &str) -> Result<(), ApiError> {
    if caller.scopes.allows(Scope::Admin) || &*caller.env == env {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "this token is bound to environment `{}` and cannot act on decisions in `{env}`",
            caller.env
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Filters {
    status: Option<crate::domain::decision::DecisionStatus>,
    flag: Option<String>,
    env: Option<String>,
    brief_id: Option<i64>,
}

async fn list(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    q: Result<Query<Filters>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    reader(caller?)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let f = DecisionFilter {
        status: q.status,
        flag: q.flag,
        env: q.env,
        brief_id: q.brief_id,
    };
    Ok(Json(json!(st.decisions.list(&f).await?)))
}

async fn one(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    reader(caller?)?;
    let d = st
        .store
        .decision(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no decision {id}")))?;
    let mut v = json!(d);
    v["audit"] = json!(
        st.store
            .audit_events(&crate::store::AuditFilter {
                object_type: Some("decision".into()),
                object_id: Some(id.to_string()),
                ..Default::default()
            })
            .await?
    );
    Ok(Json(v))
}

async fn propose(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    body: Result<Json<Proposal>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller?.require(Scope::DecisionsPropose)?;
    let p = json_body(body)?;
    same_env(&caller, &p.env)?;
    let d = st.decisions.propose(&caller.name, &p, "manual").await?;
    Ok((StatusCode::CREATED, Json(json!(d))))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActBody {
    reason: Option<String>,
}

/// `approve`, `reject` (with a reason), `withdraw`, `revert`.
async fn act(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = caller?;
    let needed = match action.as_str() {
        "approve" | "reject" | "revert" => Scope::DecisionsApprove,
        "withdraw" => Scope::DecisionsPropose,
        other => return Err(ApiError::NotFound(format!("no decision action `{other}`"))),
    };
    let caller = caller.require(needed)?;
    let reason = super::error::optional_json::<ActBody>(&body)?.reason;
    let d = st
        .store
        .decision(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no decision {id}")))?;
    same_env(&caller, &d.env)?;
    let (name, reason) = (&caller.name, reason.as_deref());
    let d = match action.as_str() {
        "approve" => st.decisions.vote(id, name, true, reason).await?,
        "reject" => st.decisions.vote(id, name, false, reason).await?,
        "withdraw" => {
            // Only whoever proposed it (or an admin) takes a proposal back.
            if d.proposed_by.as_str() != &**name && !caller.scopes.allows(Scope::Admin) {
                return Err(ApiError::Forbidden(format!(
                    "only {} (who proposed it) or an admin can withdraw decision {id}",
                    d.proposed_by
                )));
            }
            st.decisions.withdraw(id, name, reason).await?
        }
        _ => st.decisions.revert(id, name, reason).await?,
    };
    Ok(Json(json!(d)))
}

async fn playbooks(State(st): State<AppState>, caller: Result<Caller, CallerError>) -> Result<Json<Value>, ApiError> {
    reader(caller?)?;
    let list: Vec<Value> = st
        .playbooks
        .list
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "description": p.description,
                "when": {"provider": p.provider, "source": p.source, "category": p.category,
                         "component": p.component.as_ref().map(|r| r.as_str()), "statuses": p.statuses,
                         "min_severity": p.min_severity},
                "then": {"flag": p.flag, "env": p.env, "action": p.action.as_str(), "variant": p.variant,
                         "revert_after_secs": p.revert_after.map(|d| d.as_secs()),
                         "expires_after_secs": p.expires_after.map(|d| d.as_secs())},
            })
        })
        .collect();
    Ok(Json(json!(list)))
}
