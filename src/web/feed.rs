//! An Atom 1.0 feed of material briefs, newest 50, for feed readers and chat integrations:
//! `GET /feed.atom?provider=acme&severity=high` (at least that severity).

use super::session::{TrustedPeer, Viewer};
use crate::auth::Scope;
use crate::domain::brief::Severity;
use crate::report::escape_xml;
use crate::state::AppState;
use crate::store::{BriefFilter, BriefRecord};
use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route("/feed.atom", get(feed))
}

/// Entries in the feed.
pub const LIMIT: usize = 50;

#[derive(Deserialize, Default)]
struct FeedQuery {
    provider: Option<String>,
    severity: Option<String>,
    token: Option<String>,
}

/// One entry's data, as the feed writes it.
pub struct Entry<'a> {
    pub brief: &'a BriefRecord,
    pub body: &'a Value,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The feed document. `base` is the site's origin (`https://signalbox.example`), `self_href` the
/// feed's own URL without credentials.
pub fn atom(base: &str, self_href: &str, title: &str, entries: &[Entry<'_>], now: DateTime<Utc>) -> String {
    let updated = entries.iter().map(|e| e.brief.created_at).max().unwrap_or(now);
    let mut x =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    x.push_str("  <id>urn:signalbox:feed:briefs</id>\n");
    x.push_str(&format!("  <title>{}</title>\n", escape_xml(title)));
    x.push_str(&format!("  <updated>{}</updated>\n", rfc3339(updated)));
    x.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escape_xml(self_href)
    ));
    x.push_str(&format!(
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}/\"/>\n",
        escape_xml(base)
    ));
    x.push_str("  <author><name>signalbox</name></author>\n");
    x.push_str("  <generator>signalbox</generator>\n");
    for e in entries {
        let b = e.brief;
        let changed: Vec<&str> = e.body["what_changed"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let breaks: Vec<&str> = e.body["what_breaks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut summary = if changed.is_empty() {
            b.title.clone()
        } else {
            changed.join(" ")
        };
        if !breaks.is_empty() {
            summary.push_str(&format!(" Affects: {}.", breaks.join("; ")));
        }
        if let Some(a) = e.body["action"].as_str().filter(|a| !a.is_empty()) {
            summary.push_str(&format!(" Action: {a}"));
        }
        x.push_str("  <entry>\n");
        x.push_str(&format!("    <id>urn:signalbox:brief:{}</id>\n", b.id));
        x.push_str(&format!(
            "    <title>[{}] {}</title>\n",
            escape_xml(b.severity.as_str()),
            escape_xml(&b.title)
        ));
        x.push_str(&format!("    <updated>{}</updated>\n", rfc3339(b.created_at)));
        x.push_str(&format!("    <published>{}</published>\n", rfc3339(b.created_at)));
        x.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}/briefs/{}\"/>\n",
            escape_xml(base),
            b.id
        ));
        x.push_str(&format!(
            "    <category term=\"{}\" label=\"{}\"/>\n",
            escape_xml(b.category.as_deref().unwrap_or("other")),
            escape_xml(&b.provider)
        ));
        x.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            escape_xml(summary.trim())
        ));
        x.push_str("  </entry>\n");
    }
    x.push_str("</feed>\n");
    x
}

fn unauthorized(msg: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"signalbox\"")],
        axum::Json(serde_json::json!({"error": {"code": "unauthorized", "message": msg}})),
    )
        .into_response()
}

async fn feed(State(st): State<AppState>, Query(q): Query<FeedQuery>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    // A feed reader cannot sign in, so the feed also takes `?token=`. The trade-off: a token in a
    // URL can end up in proxy logs, browser history and the reader's sync service. We accept only
    // tokens with briefs:write (which can read every brief anyway), never echo the token in the
    // feed's own links, and the token can be revoked on its own; a dedicated read-only feed token
    // is the better long-term answer. A signed-in browser session works too.
    let allowed = match q.token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => match st.tokens.authenticate(t.trim()) {
            // An admin token in a URL would put every power in proxy logs and reader services.
            Some(p) if p.scopes.allows(Scope::Admin) => {
                return unauthorized(
                    "an admin token cannot be used in a feed URL; make a briefs:write token for the feed",
                );
            }
            Some(p) if p.scopes.allows(Scope::BriefsWrite) => true,
            Some(_) => return unauthorized("the feed needs a token with the briefs:write scope"),
            None => return unauthorized("unknown or revoked token"),
        },
        None => Viewer::from_request_parts(&mut parts, &st).await.is_ok(),
    };
    if !allowed {
        return unauthorized("sign in, or add ?token= with a briefs:write token");
    }
    let min = match q.severity.as_deref().filter(|s| !s.is_empty()) {
        Some(s) if s.parse::<Severity>().is_ok() => s.parse::<Severity>().ok(),
        Some(s) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"error": {"code": "bad_request",
                    "message": format!("unknown severity `{s}` (info, low, medium, high or critical)")}})),
            )
                .into_response();
        }
        None => None,
    };
    let provider = q.provider.clone().filter(|p| !p.is_empty());
    let briefs = match st
        .store
        .briefs_with_bodies(&BriefFilter {
            provider: provider.clone(),
            material: Some(true),
            ..Default::default()
        })
        .await
    {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "feed failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut picked = Vec::new();
    for b in briefs
        .into_iter()
        .filter(|b| min.is_none_or(|m| b.severity >= m))
        .take(LIMIT)
    {
        let body = b.brief.clone().unwrap_or(Value::Null);
        picked.push((b, body));
    }
    let TrustedPeer(trusted) = TrustedPeer::from_request_parts(&mut parts, &st)
        .await
        .unwrap_or(TrustedPeer(false));
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let https = trusted
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let base = format!("{}://{host}", if https { "https" } else { "http" });
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    if let Some(p) = &provider {
        params.append_pair("provider", p);
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !s.is_empty()) {
        params.append_pair("severity", s);
    }
    let params = params.finish();
    let self_href = if params.is_empty() {
        format!("{base}/feed.atom")
    } else {
        format!("{base}/feed.atom?{params}")
    };
    let mut title = String::from("signalbox: material changes");
    if let Some(p) = &provider {
        title.push_str(&format!(" from {p}"));
    }
    if let Some(s) = q.severity.as_deref().filter(|s| !s.is_empty()) {
        title.push_str(&format!(", {s} and above"));
    }
    let entries: Vec<Entry<'_>> = picked.iter().map(|(brief, body)| Entry { brief, body }).collect();
    let xml = atom(&base, &self_href, &title, &entries, Utc::now());
    (
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        xml,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn brief(id: i64, severity: &str, title: &str) -> BriefRecord {
        BriefRecord {
            id,
            change: id,
            source: "acme-models".into(),
            provider: "acme & co".into(),
            owner: None,
            material: true,
            category: Some("pricing".into()),
            severity: severity.parse().unwrap(),
            title: title.into(),
            status: crate::domain::brief::BriefStatus::New,
            assignee: None,
            created_at: DateTime::from_timestamp(1_767_225_600 + id * 3600, 0).unwrap(),
            brief: None,
        }
    }

    #[test]
    fn the_feed_is_valid_atom_with_escaped_text() {
        let (a, b) = (
            brief(7, "high", "acme-l <output> price 8 → 10 & more"),
            brief(8, "critical", "acme-large retires \"soon\""),
        );
        let body_a = json!({"what_changed": ["Output price rose from $8 to $10 <per 1M>."],
            "what_breaks": ["flag route.chat uses acme/acme-l in variant primary"], "action": "Review costs & budget."});
        let body_b = json!({"action": "Move off it.\u{1}"});
        let entries = [
            Entry {
                brief: &b,
                body: &body_b,
            },
            Entry {
                brief: &a,
                body: &body_a,
            },
        ];
        let xml = atom(
            "https://sb.example",
            "https://sb.example/feed.atom?provider=acme&severity=high",
            "signalbox: material changes",
            &entries,
            Utc::now(),
        );
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(feed.title.unwrap().content, "signalbox: material changes");
        assert_eq!(feed.entries.len(), 2);
        let e = &feed.entries[1];
        assert_eq!(e.id, "urn:signalbox:brief:7");
        assert_eq!(
            e.title.as_ref().unwrap().content,
            "[high] acme-l <output> price 8 → 10 & more"
        );
        assert_eq!(e.links[0].href, "https://sb.example/briefs/7");
        let summary = &e.summary.as_ref().unwrap().content;
        assert!(
            summary.contains("<per 1M>") && summary.contains("Action: Review costs & budget."),
            "{summary}"
        );
        assert!(summary.contains("Affects: flag route.chat"), "{summary}");
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "[critical] acme-large retires \"soon\""
        );
        assert!(feed.links.iter().any(|l| l.rel.as_deref() == Some("self")), "{xml}");
        assert_eq!(feed.updated.unwrap(), a.created_at.max(b.created_at));
        // No control character survives (XML 1.0 forbids them).
        assert!(!xml.contains('\u{1}'));
    }

    #[test]
    fn an_empty_feed_is_still_valid() {
        let xml = atom("http://localhost", "http://localhost/feed.atom", "t", &[], Utc::now());
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert!(feed.entries.is_empty());
        assert!(feed.updated.is_some());
    }
}
