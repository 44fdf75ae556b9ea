//! The sources page: every watched source's health by provider, the marks for URLs not yet
//! confirmed and pages that need JavaScript, and "Check now" (one poll, right away) for viewers
//! who may triage.

use super::session::{CsrfForm, Viewer};
use super::{WebError, page};
use crate::auth::Scope;
use crate::state::AppState;
use crate::watch::PollOutcome;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sources", get(sources))
        .route("/sources/{id}/check", post(check))
}

/// What the redirect after "Check now" carries: words from a fixed vocabulary only, so a crafted
/// link cannot put arbitrary text in the flash message.
#[derive(Deserialize, Default)]
struct Flash {
    checked: Option<String>,
    outcome: Option<String>,
    class: Option<String>,
}

fn flash_message(f: &Flash, known: &dyn Fn(&str) -> bool) -> Option<(String, bool)> {
    let id = f.checked.as_deref().filter(|id| known(id))?;
    let class = f
        .class
        .as_deref()
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or("error");
    let (text, ok) = match f.outcome.as_deref()? {
        "unchanged" => (format!("Checked {id}: unchanged since the last version."), true),
        "changed" => (
            format!("Checked {id}: it changed; the change is recorded and triaged."),
            true,
        ),
        "first" => (format!("Checked {id}: first version stored."), true),
        "flapped" => (
            format!("Checked {id}: it went back to an earlier version (not reported)."),
            true,
        ),
        "rules_upgraded" => (
            format!("Checked {id}: unchanged; re-read under the current rules."),
            true,
        ),
        "failed" => (format!("Checked {id}: the check failed ({class})."), false),
        _ => return None,
    };
    Some((text, ok))
}

async fn sources(State(st): State<AppState>, viewer: Viewer, Query(f): Query<Flash>) -> Result<Response, WebError> {
    let mut rows = crate::health::source_rows(&st.store, &st.sources, &st.scheduler).await?;
    rows.sort_by(|a, b| (&a.provider, &a.id).cmp(&(&b.provider, &b.id)));
    let mut groups: Vec<serde_json::Value> = Vec::new();
    for r in &rows {
        if groups.last().is_none_or(|g| g["provider"] != r.provider.as_str()) {
            groups.push(json!({"provider": r.provider, "sources": [], "failing": 0}));
        }
        let g = groups.last_mut().expect("just pushed");
        if matches!(r.health, "failing" | "broken") {
            g["failing"] = (g["failing"].as_u64().unwrap_or(0) + 1).into();
        }
        g["sources"].as_array_mut().expect("array").push(json!(r));
    }
    let flash = flash_message(&f, &|id| st.sources.iter().any(|s| s.id == id));
    page(
        &viewer,
        "sources.html",
        json!({
            "section": "sources",
            "groups": groups,
            "total": rows.len(),
            "enabled": rows.iter().filter(|r| r.enabled).count(),
            "can_check": viewer.can(Scope::BriefsWrite),
            "flash": flash.as_ref().map(|(t, _)| t),
            "flash_ok": flash.as_ref().is_some_and(|(_, ok)| *ok),
        }),
    )
}

async fn check(
    State(st): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_post(&headers, &f.csrf)?;
    if !viewer.can(Scope::BriefsWrite) {
        return Err(WebError::Forbidden(
            "checking a source needs the briefs:write scope".into(),
        ));
    }
    let Some(source) = st.sources.iter().find(|s| s.id == id) else {
        return Err(WebError::NotFound(format!("no source {id}")));
    };
    if !source.enabled {
        return Err(WebError::Conflict(format!("source {id} is disabled")));
    }
    let report = st
        .watcher
        .poll(source)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let (outcome, class) = match &report.outcome {
        PollOutcome::First { .. } => ("first", None),
        PollOutcome::Unchanged => ("unchanged", None),
        PollOutcome::Flapped { .. } => ("flapped", None),
        PollOutcome::Changed { .. } => ("changed", None),
        PollOutcome::RulesUpgraded { .. } => ("rules_upgraded", None),
        PollOutcome::Failed { class, .. } => ("failed", Some(class.as_str())),
    };
    tracing::info!(source = %id, by = %viewer.name, outcome, "check now from the sources page");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut to = format!("/sources?checked={}&outcome={outcome}", enc(&id));
    if let Some(c) = class {
        to.push_str(&format!("&class={}", enc(c)));
    }
    to.push_str(&format!("#s-{}", enc(&id)));
    Ok(Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flash_says_what_happened_and_only_for_known_sources() {
        let known = |id: &str| id == "acme-models";
        let f = |id: &str, outcome: &str, class: Option<&str>| Flash {
            checked: Some(id.into()),
            outcome: Some(outcome.into()),
            class: class.map(Into::into),
        };
        let (t, ok) = flash_message(&f("acme-models", "failed", Some("timeout")), &known).unwrap();
        assert!(t.contains("failed (timeout)") && !ok, "{t}");
        assert!(
            flash_message(&f("acme-models", "unchanged", None), &known)
                .unwrap()
                .0
                .contains("unchanged")
        );
        assert!(flash_message(&f("evil", "changed", None), &known).is_none());
        assert!(flash_message(&f("acme-models", "<script>", None), &known).is_none());
        let (t, _) = flash_message(&f("acme-models", "failed", Some("<b>")), &known).unwrap();
        assert!(t.contains("(error)"), "{t}");
    }
}
