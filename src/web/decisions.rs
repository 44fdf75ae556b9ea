//! Decisions: what waits for approval, the overrides in force, the approved ones waiting for their
//! start, and the history; with the forms to propose, approve, reject, withdraw and revert. The
//! same engine calls, scopes and environment binding as `/api/v1/decisions`.

use super::brief::{Flash, forget_flash, redirect_with, shown, take_flash, when};
use super::session::Viewer;
use super::{WebError, page};
use crate::auth::Scope;
use crate::decisions::{Action, DecisionError, Proposal};
use crate::domain::decision::DecisionStatus;
use crate::state::AppState;
use crate::store::{DecisionRecord, DecisionStoreError};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/decisions", get(show).post(propose))
        .route("/decisions/{id}/{action}", post(act))
}

/// At most this many ended decisions are listed.
const HISTORY: usize = 100;

/// The propose form, as posted and as shown (every field text, so a bad value comes back to the
/// form instead of failing the whole post).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ProposeForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub flag: String,
    #[serde(default)]
    pub env: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub variant: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub brief_id: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub expires_at: String,
}

/// A `datetime-local` value (`2026-11-25T10:30`, seconds optional), read as UTC; RFC 3339 too.
fn utc(field: &str, v: &str) -> Result<Option<DateTime<Utc>>, WebError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .map(|t| Some(t.and_utc()))
    .ok_or_else(|| WebError::BadRequest(format!("{field}: `{v}` is not a date and time (YYYY-MM-DDTHH:MM, UTC)")))
}

impl ProposeForm {
    fn brief(&self) -> Option<i64> {
        self.brief_id.trim().parse().ok()
    }

    fn proposal(&self) -> Result<Proposal, WebError> {
        let action = match self.action.trim() {
            "serve" => Action::Serve,
            "kill" => Action::Kill,
            "restore" => Action::Restore,
            other => {
                return Err(WebError::BadRequest(format!(
                    "action must be serve, kill or restore, not `{other}`"
                )));
            }
        };
        let brief_id = match self.brief_id.trim() {
            "" => None,
            b => Some(
                b.parse()
                    .map_err(|_| WebError::BadRequest(format!("brief_id `{b}` is not a number")))?,
            ),
        };
        Ok(Proposal {
            flag: self.flag.trim().to_owned(),
            env: self.env.trim().to_owned(),
            action,
            // Only serve names a variant: kill serves the off variant, restore the file default.
            variant: (action == Action::Serve)
                .then(|| self.variant.trim().to_owned())
                .filter(|v| !v.is_empty()),
            reason: self.reason.trim().to_owned(),
            brief_id,
            starts_at: utc("starts_at", &self.starts_at)?,
            expires_at: utc("expires_at", &self.expires_at)?,
        })
    }
}

/// Viewers act only in their own environment unless they are `admin` (as tokens do in the API).
fn same_env(viewer: &Viewer, env: &str) -> Result<(), WebError> {
    if in_env(viewer, env) {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "you are signed in for environment `{}` and cannot act on decisions in `{env}`",
            viewer.env
        )))
    }
}

fn in_env(viewer: &Viewer, env: &str) -> bool {
    viewer.can(Scope::Admin) || &*viewer.env == env
}

/// The engine's refusals as page errors, with the API's status codes.
fn decision_error(e: DecisionError) -> WebError {
    use crate::domain::decision::LifecycleError as L;
    use DecisionStoreError as S;
    match e {
        DecisionError::Store(S::NotFound(id)) => WebError::NotFound(format!("no decision {id}")),
        DecisionError::Store(S::Store(e)) => e.into(),
        DecisionError::Store(e @ S::Refused(L::OwnDecision)) => WebError::Forbidden(e.to_string()),
        DecisionError::Store(e @ S::Refused(L::NotAllowed { .. } | L::AlreadyVoted(_))) => {
            WebError::Conflict(e.to_string())
        }
        DecisionError::Flags(crate::flags::ServiceError::NotLoaded) => {
            WebError::Conflict("the flags are not loaded yet; try again in a moment".into())
        }
        DecisionError::Flags(e) => WebError::Conflict(e.to_string()),
        e => WebError::BadRequest(e.to_string()),
    }
}

async fn show(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap) -> Result<Response, WebError> {
    let flash = take_flash(&headers);
    let had = flash.is_some();
    let mut r = render(&st, &viewer, flash).await?;
    if had {
        forget_flash(&mut r);
    }
    Ok(r)
}

/// `POST /decisions`: a proposal from the brief page's form.
async fn propose(
    State(st): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<ProposeForm>,
) -> Result<Response, WebError> {
    viewer.check_post(&headers, &f.csrf)?;
    if !viewer.can(Scope::DecisionsPropose) {
        return Err(WebError::Forbidden(
            "proposing a decision needs the decisions:propose scope".into(),
        ));
    }
    let outcome = async {
        let p = f.proposal()?;
        same_env(&viewer, &p.env)?;
        st.decisions
            .propose(&viewer.name, &p, "manual")
            .await
            .map_err(decision_error)
    }
    .await;
    let error = match outcome {
        Ok(d) => {
            return Ok(redirect_with(
                &format!("/decisions#d{}", d.id),
                &format!("proposed-{}", d.id),
            ));
        }
        Err(e) => e,
    };
    let (status, message) = shown(error)?;
    tracing::info!(viewer = %viewer.name, error = %message, "web proposal refused");
    // Back to the form it came from, with what was typed.
    let brief = match f.brief() {
        Some(b) => st.store.brief(b).await?.map(|_| b),
        None => None,
    };
    let mut r = match brief {
        Some(b) => super::brief::render(&st, &viewer, b, Some(Flash::error(message)), Some(f)).await?,
        None => render(&st, &viewer, Some(Flash::error(message))).await?,
    };
    *r.status_mut() = status;
    Ok(r)
}

#[derive(Deserialize, Default)]
struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `approve`, `reject` (with a reason), `revert` (`decisions:approve`); `withdraw`
/// (`decisions:propose`, by whoever proposed it or an admin).
async fn act(
    State(st): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(f): Form<ActForm>,
) -> Result<Response, WebError> {
    let id: i64 = id
        .parse()
        .map_err(|_| WebError::NotFound(format!("no decision {id}")))?;
    viewer.check_post(&headers, &f.csrf)?;
    let needed = match action.as_str() {
        "approve" | "reject" | "revert" => Scope::DecisionsApprove,
        "withdraw" => Scope::DecisionsPropose,
        other => return Err(WebError::NotFound(format!("no decision action `{other}`"))),
    };
    if !viewer.can(needed) {
        return Err(WebError::Forbidden(format!(
            "to {action} a decision you need the {} scope",
            needed.as_str()
        )));
    }
    let reason = f.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let outcome = async {
        let d = st
            .store
            .decision(id)
            .await?
            .ok_or_else(|| WebError::NotFound(format!("no decision {id}")))?;
        same_env(&viewer, &d.env)?;
        let name = &*viewer.name;
        let r = match action.as_str() {
            "approve" => st.decisions.vote(id, name, true, reason).await,
            "reject" => st.decisions.vote(id, name, false, reason).await,
            "withdraw" => {
                if d.proposed_by != name && !viewer.can(Scope::Admin) {
                    return Err(WebError::Forbidden(format!(
                        "only {} (who proposed it) or an admin can withdraw decision {id}",
                        d.proposed_by
                    )));
                }
                st.decisions.withdraw(id, name, reason).await
            }
            _ => st.decisions.revert(id, name, reason).await,
        };
        r.map_err(decision_error)
    }
    .await;
    let done = match action.as_str() {
        "approve" => "approved",
        "reject" => "rejected",
        "withdraw" => "withdrawn",
        _ => "reverted",
    };
    let error = match outcome {
        Ok(_) => return Ok(redirect_with("/decisions", &format!("{done}-{id}"))),
        Err(e) => e,
    };
    let (status, message) = shown(error)?;
    let mut r = render(&st, &viewer, Some(Flash::error(message))).await?;
    *r.status_mut() = status;
    Ok(r)
}

/// One decision for the page, with what this viewer may do to it (and why not).
fn row(viewer: &Viewer, d: &DecisionRecord) -> Value {
    let approver = viewer.can(Scope::DecisionsApprove);
    let here = in_env(viewer, &d.env);
    let own = d.proposed_by == *viewer.name;
    let voted = d.votes.iter().any(|v| v.voter == *viewer.name);
    let approvals = d.approvers().len() as i64;
    let pending = d.status == DecisionStatus::Proposed;
    let elsewhere = format!("You are signed in for {}; this decision is in {}.", viewer.env, d.env);
    let why_not = if !pending || !approver {
        None
    } else if !here {
        Some(elsewhere.clone())
    } else if own {
        Some("You proposed this, so someone else must approve or reject it.".to_owned())
    } else if voted {
        Some(format!(
            "You have voted on this; it needs {} more approval{}.",
            (d.approvals_required - approvals).max(0),
            if d.approvals_required - approvals == 1 { "" } else { "s" }
        ))
    } else {
        None
    };
    let can_vote = pending && approver && here && !own && !voted;
    let can_withdraw = matches!(d.status, DecisionStatus::Proposed | DecisionStatus::Approved)
        && viewer.can(Scope::DecisionsPropose)
        && here
        && (own || viewer.can(Scope::Admin));
    let can_revert = d.status == DecisionStatus::Active && approver && here;
    let revert_why_not = (d.status == DecisionStatus::Active && approver && !here).then_some(elsewhere);
    let t = |t: Option<DateTime<Utc>>| t.map(when);
    json!({
        "id": d.id, "flag": d.flag, "env": d.env, "action": d.action, "variant": d.variant,
        "reason": d.reason, "brief_id": d.brief_id, "origin": d.origin, "proposed_by": d.proposed_by,
        "proposed_at": when(d.proposed_at), "starts_at": t(d.starts_at), "expires_at": t(d.expires_at),
        "applied_at": t(d.applied_at), "ended_at": t(d.ended_at), "ended_by": d.ended_by,
        "end_reason": d.end_reason, "revert_at": t(d.revert_at), "status": d.status,
        "approvals": approvals, "approvals_required": d.approvals_required,
        "votes": d.votes.iter().map(|v| json!({"voter": v.voter, "verdict": v.verdict, "reason": v.reason, "at": when(v.at)})).collect::<Vec<_>>(),
        "can": {"approve": can_vote, "reject": can_vote, "withdraw": can_withdraw, "revert": can_revert},
        "why_not": why_not.or(revert_why_not),
    })
}

/// The decisions page, with an optional message.
pub async fn render(st: &AppState, viewer: &Viewer, flash: Option<Flash>) -> Result<Response, WebError> {
    let all = st.store.decisions(&Default::default()).await?;
    let of = |status: DecisionStatus| -> Vec<Value> {
        all.iter()
            .filter(|d| d.status == status)
            .map(|d| row(viewer, d))
            .collect()
    };
    let ended: Vec<&DecisionRecord> = all.iter().filter(|d| !d.status.is_live()).collect();
    let history: Vec<Value> = ended.iter().take(HISTORY).map(|d| row(viewer, d)).collect();
    let flash = flash.map(|f| json!({"kind": if f.ok { "ok" } else { "error" }, "text": f.text}));
    page(
        viewer,
        "decisions.html",
        json!({
            "section": "decisions",
            "flash": flash,
            "pending": of(DecisionStatus::Proposed),
            "active": of(DecisionStatus::Active),
            "scheduled": of(DecisionStatus::Approved),
            "history": history,
            "history_more": ended.len().saturating_sub(HISTORY),
            "approver": viewer.can(Scope::DecisionsApprove),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        let t = utc("starts_at", "2026-11-25T10:30").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T10:30:00+00:00");
        let t = utc("starts_at", "2026-11-25T10:30:15").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T10:30:15+00:00");
        assert_eq!(utc("starts_at", " ").unwrap(), None);
        assert!(matches!(utc("expires_at", "tomorrow"), Err(WebError::BadRequest(_))));
    }

    #[test]
    fn kill_and_restore_drop_the_variant_and_serve_keeps_it() {
        let mut f = ProposeForm {
            flag: "route.chat".into(),
            env: "production".into(),
            action: "kill".into(),
            variant: "failover".into(),
            reason: "r".into(),
            brief_id: "7".into(),
            ..Default::default()
        };
        let p = f.proposal().unwrap();
        assert_eq!((p.variant, p.brief_id), (None, Some(7)));
        f.action = "serve".into();
        assert_eq!(f.proposal().unwrap().variant.as_deref(), Some("failover"));
        f.action = "explode".into();
        assert!(f.proposal().is_err());
    }
}
