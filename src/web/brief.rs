//! One brief: what changed and what it breaks, the facts, a readable diff of the two versions, its
//! lifecycle, the decisions answering it, and the triage forms (acknowledge, assign, dismiss,
//! comment, close) and "propose a decision", each shown only to viewers whose scopes allow it and
//! checked again on every POST, as the JSON API does.

use super::decisions::ProposeForm;
use super::session::Viewer;
use super::{WebError, diff_view, page};
use crate::auth::Scope;
use crate::flags::FlagSet;
use crate::state::AppState;
use crate::store::{BriefRecord, DecisionFilter, TransitionError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/briefs/{id}", get(show))
        .route("/briefs/{id}/{action}", post(act))
}

/// A message shown once at the top of a page (`data-test="flash"`).
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl Flash {
    pub fn error(text: impl Into<String>) -> Flash {
        Flash {
            ok: false,
            text: text.into(),
        }
    }
    fn context(&self) -> Value {
        json!({"kind": if self.ok { "ok" } else { "error" }, "text": self.text})
    }
}

const FLASH_COOKIE: &str = "sbx_flash";

/// A redirect after a successful form post, carrying a short note of what happened (a code, never
/// free text: the page maps it to its message) to show once on the next page.
pub fn redirect_with(to: &str, code: &str) -> Response {
    let cookie = format!("{FLASH_COOKIE}={code}; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The note left by [`redirect_with`], as a message.
pub fn take_flash(headers: &HeaderMap) -> Option<Flash> {
    let code = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == FLASH_COOKIE)
        .map(|(_, v)| v.to_owned())?;
    let (what, id) = code.split_once('-').unwrap_or((code.as_str(), ""));
    let id: Option<i64> = id.parse().ok();
    let text = match (what, id) {
        ("acknowledged", _) => "Brief acknowledged.".to_owned(),
        ("assigned", _) => "Assignment saved.".to_owned(),
        ("dismissed", _) => "Brief dismissed.".to_owned(),
        ("decided", _) => "Brief marked decided.".to_owned(),
        ("closed", _) => "Brief closed.".to_owned(),
        ("commented", _) => "Comment added.".to_owned(),
        ("proposed", Some(id)) => format!("Decision #{id} proposed."),
        ("approved", Some(id)) => format!("Your approval of decision #{id} is recorded."),
        ("rejected", Some(id)) => format!("Decision #{id} rejected."),
        ("reverted", Some(id)) => format!("Decision #{id} reverted: the flag serves its file default again."),
        ("withdrawn", Some(id)) => format!("Decision #{id} withdrawn."),
        _ => return None,
    };
    Some(Flash { ok: true, text })
}

/// Adds the header that forgets the shown note.
pub fn forget_flash(r: &mut Response) {
    let gone = format!("{FLASH_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// An error worth showing on the page it came from (its status and message); anything else ends
/// the request with the error page.
pub fn shown(e: WebError) -> Result<(StatusCode, String), WebError> {
    let status = match &e {
        WebError::Forbidden(_) => StatusCode::FORBIDDEN,
        WebError::NotFound(_) => StatusCode::NOT_FOUND,
        WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
        WebError::Conflict(_) => StatusCode::CONFLICT,
        _ => return Err(e),
    };
    Ok((status, e.to_string()))
}

/// "2026-11-25 09:30 UTC".
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn parse_id(s: &str) -> Result<i64, WebError> {
    s.parse().map_err(|_| WebError::NotFound(format!("no brief {s}")))
}

async fn show(
    State(st): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let id = parse_id(&id)?;
    let flash = take_flash(&headers);
    let had = flash.is_some();
    let mut r = render(&st, &viewer, id, flash, None).await?;
    if had {
        forget_flash(&mut r);
    }
    Ok(r)
}

#[derive(Deserialize, Default)]
struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// `acknowledge`, `assign`, `dismiss` (with a reason), `comment`, `decide`, `close`: the same store
/// calls as `POST /api/v1/briefs/{id}/{action}`, with `briefs:write`.
async fn act(
    State(st): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(f): Form<ActForm>,
) -> Result<Response, WebError> {
    let id = parse_id(&id)?;
    viewer.check_post(&headers, &f.csrf)?;
    if !viewer.can(Scope::BriefsWrite) {
        return Err(WebError::Forbidden(
            "triaging briefs needs the briefs:write scope".into(),
        ));
    }
    let name = &*viewer.name;
    let (result, done) = match action.as_str() {
        "assign" => {
            let who = f.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
            (
                st.store.assign_brief(id, who, name, chrono::Utc::now()).await,
                "assigned",
            )
        }
        "comment" => (
            st.store
                .comment_brief(id, f.text.as_deref().unwrap_or_default(), name, chrono::Utc::now())
                .await,
            "commented",
        ),
        other => {
            let to = match other {
                "acknowledge" => crate::domain::brief::BriefStatus::Acknowledged,
                "decide" => crate::domain::brief::BriefStatus::Decided,
                "dismiss" => crate::domain::brief::BriefStatus::Dismissed,
                "close" => crate::domain::brief::BriefStatus::Closed,
                other => return Err(WebError::NotFound(format!("no brief action `{other}`"))),
            };
            let reason = f.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            (
                st.store
                    .transition_brief(id, to, name, reason, chrono::Utc::now())
                    .await,
                to.as_str(),
            )
        }
    };
    let error = match result {
        Ok(_) => return Ok(redirect_with(&format!("/briefs/{id}"), done)),
        Err(TransitionError::NotFound(_)) => return Err(WebError::NotFound(format!("no brief {id}"))),
        Err(TransitionError::Store(e)) => return Err(e.into()),
        Err(
            e @ (TransitionError::Refused(crate::domain::brief::BriefLifecycleError::ReasonRequired)
            | TransitionError::EmptyComment),
        ) => WebError::BadRequest(e.to_string()),
        Err(e) => WebError::Conflict(e.to_string()),
    };
    let (status, message) = shown(error)?;
    let mut r = render(&st, &viewer, id, Some(Flash::error(message)), None).await?;
    *r.status_mut() = status;
    Ok(r)
}

/// The flag a brief most likely calls for: the first one it reaches (`affects`), else the first
/// whose `metadata.providers` names its provider.
fn affected_flag(set: &FlagSet, provider: &str, body: &Value) -> Option<String> {
    let affected = crate::triage::affected_flags(body);
    let named: Vec<&str> = affected
        .iter()
        .map(String::as_str)
        .filter(|k| set.flags.contains_key(*k))
        .collect();
    // A flag that can fail over is what a decision usually moves; else the first one affected.
    let with_failover = named
        .iter()
        .find(|k| set.flags.get(**k).is_some_and(|f| f.variants.contains_key("failover")));
    if let Some(k) = with_failover.or(named.first()) {
        return Some((*k).to_owned());
    }
    set.flags
        .values()
        .find(|f| f.providers().any(|p| p.split('/').next() == Some(provider)))
        .map(|f| f.key.clone())
}

/// The propose form as the brief suggests it.
fn suggested(st: &AppState, viewer: &Viewer, b: &BriefRecord, body: &Value) -> ProposeForm {
    let current = st.flags.current();
    let set = current.as_ref().map(|c| &*c.set);
    let flag = set
        .and_then(|set| affected_flag(set, &b.provider, body))
        .unwrap_or_default();
    let failover = set
        .and_then(|set| set.flags.get(&flag))
        .is_some_and(|f| f.variants.contains_key("failover"));
    ProposeForm {
        flag,
        env: viewer.env.to_string(),
        action: if failover { "serve" } else { "kill" }.into(),
        variant: if failover { "failover".into() } else { String::new() },
        reason: format!("Brief #{}: {}", b.id, b.title),
        brief_id: b.id.to_string(),
        ..Default::default()
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// The brief page, with an optional message and (after a failed proposal) the form as sent.
pub async fn render(
    st: &AppState,
    viewer: &Viewer,
    id: i64,
    flash: Option<Flash>,
    proposal: Option<ProposeForm>,
) -> Result<Response, WebError> {
    let b = st
        .store
        .brief(id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("no brief {id}")))?;
    let body = b.brief.clone().unwrap_or(Value::Null);
    let facts: Vec<Value> = body["facts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            json!({"kind": f["kind"].as_str().unwrap_or("").replace('_', " "), "subject": f["subject"],
                   "field": f["field"], "old": f["old"], "new": f["new"], "unit": f["unit"], "date": f["date"]})
        })
        .collect();

    // The readable diff of the two normalized versions, and where to read them whole.
    let change = st.store.change(b.change).await?;
    let mut diff = Value::Null;
    let mut diff_note = None;
    let mut links = json!({ "history": format!("/api/v1/sources/{}/changes", b.source) });
    if let Some(c) = &change {
        links["before"] = json!(format!("/api/v1/snapshots/{}", c.before));
        links["before_raw"] = json!(format!("/api/v1/snapshots/{}/raw", c.before));
        links["after"] = json!(format!("/api/v1/snapshots/{}", c.after));
        links["after_raw"] = json!(format!("/api/v1/snapshots/{}/raw", c.after));
        links["change"] = json!(format!("/api/v1/changes/{}", c.id));
        let (before, after) = (st.store.snapshot(c.before).await?, st.store.snapshot(c.after).await?);
        match (before, after) {
            (Some(before), Some(after)) => {
                // The diff computed when the change was detected, for text documents; feeds and
                // status pages are stored as items and transitions, which the page shows as the
                // line diff of their texts.
                let stored = c
                    .diff
                    .clone()
                    .and_then(|d| serde_json::from_value::<crate::diff::Diff>(d).ok())
                    .and_then(|d| match d {
                        crate::diff::Diff::Text(t) => Some(t),
                        _ => None,
                    });
                let view = match stored {
                    Some(t) => diff_view::view(&t),
                    None => {
                        let old = st.store.blob_text(&before.text_sha256).await?;
                        let new = st.store.blob_text(&after.text_sha256).await?;
                        tokio::task::spawn_blocking(move || diff_view::view(&crate::diff::text_diff(&old, &new)))
                            .await
                            .map_err(|e| WebError::Internal(e.to_string()))?
                    }
                };
                if view.hunks.is_empty() {
                    diff_note = Some("The two versions' texts are identical (only the raw page changed).");
                }
                links["before_at"] = json!(when(before.fetched_at));
                links["after_at"] = json!(when(after.fetched_at));
                diff = json!(view);
            }
            _ => diff_note = Some("A snapshot of this change is no longer stored."),
        }
    } else {
        diff_note = Some("The change behind this brief is no longer stored.");
    }

    let events: Vec<Value> = st
        .store
        .brief_events(id)
        .await?
        .into_iter()
        .map(|e| {
            json!({"at": when(e.at), "at_rfc": e.at.to_rfc3339(), "actor": e.actor, "action": e.action,
                   "from": e.from_status, "to": e.to_status, "detail": e.detail})
        })
        .collect();
    let decisions: Vec<Value> = st
        .store
        .decisions(&DecisionFilter {
            brief_id: Some(id),
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|d| {
            json!({"id": d.id, "flag": d.flag, "env": d.env, "action": d.action, "variant": d.variant,
                   "status": d.status, "proposed_by": d.proposed_by, "proposed_at": when(d.proposed_at)})
        })
        .collect();

    let triage = viewer.can(Scope::BriefsWrite);
    let propose = viewer.can(Scope::DecisionsPropose);
    let form = if propose {
        let current = st.flags.current();
        let form = proposal.unwrap_or_else(|| suggested(st, viewer, &b, &body));
        let flags: Vec<&String> = current.iter().flat_map(|c| c.set.flags.keys()).collect();
        let variants: Vec<String> = current
            .as_ref()
            .and_then(|c| c.set.flags.get(&form.flag))
            .map(|f| f.variants.keys().cloned().collect())
            .unwrap_or_default();
        let envs: Vec<String> = if viewer.can(Scope::Admin) {
            st.serving.environments.clone()
        } else {
            vec![viewer.env.to_string()]
        };
        json!({"values": form, "flags": flags, "variants": variants, "environments": envs,
               "actions": ["serve", "kill", "restore"]})
    } else {
        Value::Null
    };
    let status = b.status.as_str();
    page(
        viewer,
        "brief.html",
        json!({
            "section": "inbox",
            "flash": flash.map(|f| f.context()),
            "brief": {
                "id": b.id, "title": b.title, "severity": b.severity, "provider": b.provider,
                "category": b.category, "status": b.status, "owner": b.owner, "assignee": b.assignee,
                "source": b.source, "material": b.material, "created_at": when(b.created_at),
                "created_rfc": b.created_at.to_rfc3339(),
            },
            "facts": facts,
            "what_changed": strings(&body["what_changed"]),
            "what_breaks": strings(&body["what_breaks"]),
            "action": body["action"].as_str(),
            "diff": diff,
            "diff_note": diff_note,
            "links": links,
            "events": events,
            "decisions": decisions,
            "can": {
                "triage": triage,
                "acknowledge": triage && status == "new",
                "dismiss": triage && matches!(status, "new" | "acknowledged"),
                "close": triage && matches!(status, "decided" | "dismissed"),
                "propose": propose,
            },
            "propose": form,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        let yaml = "flags:\n  cap.images:\n    state: ENABLED\n    variants: { \"on\": true, \"off\": false }\n    defaultVariant: \"on\"\n    metadata: { providers: [acme/acme-image-2] }\n  route.chat:\n    state: ENABLED\n    variants: { primary: 1, failover: 2 }\n    defaultVariant: primary\n    metadata: { providers: [other/other-1] }\n";
        let (flags, problems) = crate::flags::parse_file(std::path::Path::new("f.yaml"), yaml);
        assert!(problems.is_empty(), "{problems:?}");
        FlagSet {
            flags: flags.into_iter().map(|f| (f.key.clone(), f)).collect(),
        }
    }

    #[test]
    fn the_suggested_flag_is_the_first_named_in_what_breaks_else_one_using_the_provider() {
        let set = set();
        let body =
            json!({"what_breaks": ["flag nope uses x", "flag route.chat uses acme/acme-large in variant primary"]});
        assert_eq!(affected_flag(&set, "acme", &body).as_deref(), Some("route.chat"));
        let body = json!({"what_breaks": []});
        assert_eq!(affected_flag(&set, "acme", &body).as_deref(), Some("cap.images"));
        assert_eq!(affected_flag(&set, "other", &body).as_deref(), Some("route.chat"));
        assert_eq!(affected_flag(&set, "nobody", &Value::Null), None);
    }
}
