//! The inbox: open material briefs, most severe and longest waiting first, with filters and counts.

use super::session::Viewer;
use super::{WebError, page};
use crate::domain::brief::{BriefStatus, Severity};
use crate::state::AppState;
use crate::store::BriefFilter;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(inbox))
}

#[derive(Deserialize, Default)]
struct Filters {
    provider: Option<String>,
    category: Option<String>,
    /// `open` (new or acknowledged, the default), one status, or `all`.
    status: Option<String>,
    severity: Option<String>,
    owner: Option<String>,
    env: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// "retirement acme-large-2407 2026-12-16 · price acme-l output 8 → 10".
pub fn facts_in_short(body: &Value) -> String {
    body["facts"]
        .as_array()
        .into_iter()
        .flatten()
        .take(2)
        .map(|f| {
            let get = |k: &str| f[k].as_str().unwrap_or("");
            let change = match (f["old"].as_str(), f["new"].as_str()) {
                (Some(o), Some(n)) => format!("{o} → {n}"),
                (None, Some(n)) => n.to_owned(),
                _ => String::new(),
            };
            [
                get("kind").replace('_', " "),
                get("subject").to_owned(),
                get("field").to_owned(),
                change,
            ]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

async fn inbox(State(st): State<AppState>, viewer: Viewer, Query(q): Query<Filters>) -> Result<Response, WebError> {
    let status = nonempty(q.status).unwrap_or_else(|| "open".into());
    // `open`, `all` or one status, and one severity: a word that names none matches nothing.
    let wanted = match status.as_str() {
        "open" | "all" => Ok(None),
        s => s.parse::<BriefStatus>().map(Some),
    };
    let severity = nonempty(q.severity.clone()).map(|s| s.parse::<Severity>()).transpose();
    let matches_nothing = wanted.is_err() || severity.is_err();
    let (wanted, severity) = (wanted.unwrap_or(None), severity.unwrap_or(None));
    let all = st
        .store
        .briefs_with_bodies(&BriefFilter {
            provider: nonempty(q.provider.clone()),
            status: wanted,
            material: Some(true),
            category: nonempty(q.category.clone()),
            owner: nonempty(q.owner.clone()),
            ..Default::default()
        })
        .await?;
    let open = |s: BriefStatus| s.awaiting_triage();
    let mut rows = Vec::new();
    for b in all
        .iter()
        .filter(|_| !matches_nothing)
        .filter(|b| status != "open" || open(b.status))
    {
        let body = b.brief.as_ref().unwrap_or(&Value::Null);
        let affects: Vec<&str> = body["what_breaks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // Flags are served in every environment: a brief that affects a flag affects them all.
        if nonempty(q.env.clone()).is_some() && affects.is_empty() {
            continue;
        }
        if severity.is_some_and(|s| s != b.severity) {
            continue;
        }
        rows.push((
            b,
            affects.iter().take(2).copied().collect::<Vec<_>>().join("; "),
            facts_in_short(body),
        ));
    }
    // Most severe first; among equals, whoever has waited longest.
    rows.sort_by(|a, b| {
        b.0.severity
            .cmp(&a.0.severity)
            .then(a.0.created_at.cmp(&b.0.created_at))
    });
    let mut counts: Vec<Value> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| json!({"severity": sev, "count": all.iter().filter(|b| open(b.status) && b.severity == *sev).count()}))
        .collect();
    counts.retain(|c| c["count"] != 0);
    let states = st.store.states().await?;
    let last_change = states.iter().filter_map(|s| s.last_change).max();
    let mut providers: Vec<&str> = st.sources.iter().map(|s| s.provider.as_str()).collect();
    providers.sort();
    providers.dedup();
    let filtered = [&q.provider, &q.category, &q.severity, &q.owner, &q.env]
        .iter()
        .any(|f| f.as_deref().is_some_and(|v| !v.is_empty()))
        || status != "open";
    page(
        &viewer,
        "inbox.html",
        json!({
            "section": "inbox",
            "briefs": rows.iter().map(|(b, affects, facts)| json!({
                "id": b.id, "title": b.title, "severity": b.severity, "provider": b.provider, "category": b.category,
                "status": b.status, "assignee": b.assignee, "created_at": b.created_at, "affects": affects, "facts": facts,
            })).collect::<Vec<_>>(),
            "counts": counts,
            "providers": providers,
            "categories": crate::triage::classify::CATEGORIES,
            "statuses": ["open", "new", "acknowledged", "decided", "dismissed", "closed", "all"],
            "environments": st.serving.environments,
            "filters": {"provider": q.provider, "category": q.category, "status": status, "owner": q.owner, "env": q.env},
            "filtered": filtered,
            "watching": st.sources.iter().filter(|s| s.enabled).count(),
            "last_change": last_change,
        }),
    )
}
