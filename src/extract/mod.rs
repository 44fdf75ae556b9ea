//! Extractors: one pure function per source kind, from fetched bytes to a normalized document.
//!
//! The normalized document is what gets compared between versions, so everything here aims at
//! stability: the same meaning must always produce the same text. Noise that changes without the
//! meaning changing (tracking parameters, zero-width characters, whitespace runs, feed build dates,
//! status-page `updated_at` stamps, ordering) is removed here, and the source's `ignore` regexes are
//! applied last.
//!
//! Text kinds (`html`, `markdown`, `text`) normalize to plain text. Structured kinds (`feed`,
//! `statuspage`, `json`, and the other status platforms in `status/`) normalize to canonical pretty
//! JSON (sorted keys), which the diff stage parses back to compare items, components and incidents
//! by identity.

pub mod error_page;
mod feed;
mod html;
mod json;
mod status;
mod statuspage;
mod text;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub use error_page::error_page;
pub use feed::{FeedDoc, FeedEntry};
pub use status::{Platform, StatusOptions, yield_dropped};
pub use statuspage::{Component, ComponentStatus, Incident, IncidentUpdate, Maintenance, StatusDoc};

/// Bumped when an extractor's output changes for the same input, so that stored snapshots are
/// re-derived (a "rules upgrade") instead of every source reporting a change.
pub const EXTRACTOR_VERSION: u32 = 3;

/// Source kinds, as written in `sources/*.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Html,
    Markdown,
    Text,
    Feed,
    Statuspage,
    Json,
    /// Google Cloud's `incidents.json`, filtered by product.
    GcpStatus,
    /// An RSS or Atom status feed (AWS, Azure, Better Stack, xAI or any other).
    StatusFeed,
    /// A FlashDuty status page's widget `summary.json`.
    Flashduty,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Html,
        Kind::Markdown,
        Kind::Text,
        Kind::Feed,
        Kind::Statuspage,
        Kind::Json,
        Kind::GcpStatus,
        Kind::StatusFeed,
        Kind::Flashduty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Html => "html",
            Kind::Markdown => "markdown",
            Kind::Text => "text",
            Kind::Feed => "feed",
            Kind::Statuspage => "statuspage",
            Kind::Json => "json",
            Kind::GcpStatus => "gcp_status",
            Kind::StatusFeed => "status_feed",
            Kind::Flashduty => "flashduty",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Status sources are state machines: "back to all operational" equals an older version but is
    /// exactly the news people wait for, so the flapping rule must not apply to them.
    /// Every status kind normalizes to the same `StatusDoc`.
    pub fn is_state(self) -> bool {
        matches!(
            self,
            Kind::Statuspage | Kind::GcpStatus | Kind::StatusFeed | Kind::Flashduty
        )
    }

    /// Documents (pages, files, feeds): versions, where a return to an older one is a flip.
    pub fn is_document(self) -> bool {
        !self.is_state()
    }

    /// Documents read as text, where an error page can stand in for the content.
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Html | Kind::Markdown | Kind::Text)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The extraction rules of one source: everything that decides how bytes become a document.
/// Its hash is stored with every snapshot; a different hash means "rules upgrade".
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rules {
    /// CSS selectors whose matches make up the document (html). Empty: the whole `<body>`.
    pub select: Vec<String>,
    /// CSS selectors removed from the selection (html).
    pub remove: Vec<String>,
    /// JSONPath selecting the part of a JSON document to watch (json).
    pub json_path: Option<String>,
    /// Regexes whose matches are removed from the text before comparing.
    pub ignore: Vec<String>,
    /// Options of the status platforms (gcp_status, status_feed, flashduty). Flattened and left out
    /// when unset, so that the rules hash of every other source stays what it was.
    #[serde(flatten)]
    pub status: StatusOptions,
}

/// Why bytes could not become a document. Every variant means "no snapshot": an empty or
/// unreadable document must never be stored as if the provider had published nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("document structure changed: selector `{0}` matched nothing")]
    EmptySelection(String),
    #[error("document structure changed: {0}")]
    Structure(String),
    #[error("unparseable {kind} document: {reason}")]
    Unparseable { kind: Kind, reason: String },
    #[error("document is empty after extraction")]
    Empty,
    #[error("invalid extraction rule: {0}")]
    BadRule(String),
}

/// A normalized document.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    Text(String),
    Feed(FeedDoc),
    Status(StatusDoc),
    Json(serde_json::Value),
}

impl Normalized {
    /// The canonical text stored in a snapshot and hashed for comparison.
    pub fn to_text(&self) -> String {
        match self {
            Normalized::Text(t) => t.clone(),
            Normalized::Feed(d) => json::canonical_pretty(&to_value(d)),
            Normalized::Status(d) => json::canonical_pretty(&to_value(d)),
            Normalized::Json(v) => json::canonical_pretty(v),
        }
    }

    /// Reads back a stored normalized text of a source of `kind`.
    pub fn from_text(kind: Kind, text: &str) -> Result<Normalized, ExtractError> {
        let bad = |e: serde_json::Error| ExtractError::Unparseable {
            kind,
            reason: format!("stored normalized text: {e}"),
        };
        Ok(match kind {
            Kind::Html | Kind::Markdown | Kind::Text => Normalized::Text(text.to_owned()),
            Kind::Feed => Normalized::Feed(serde_json::from_str(text).map_err(bad)?),
            Kind::Statuspage | Kind::GcpStatus | Kind::StatusFeed | Kind::Flashduty => {
                Normalized::Status(serde_json::from_str(text).map_err(bad)?)
            }
            Kind::Json => Normalized::Json(serde_json::from_str(text).map_err(bad)?),
        })
    }
}

fn to_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("document types serialize to JSON")
}

/// Compiled extraction rules, built once per source (selectors and regexes are checked when the
/// source files are validated, so compiling here only fails for rules that skipped validation).
#[derive(Debug, Clone)]
pub struct Extractor {
    kind: Kind,
    rules: Rules,
    ignore: Vec<Regex>,
    base_url: Option<url::Url>,
}

impl Extractor {
    pub fn new(kind: Kind, rules: Rules, base_url: Option<url::Url>) -> Result<Self, ExtractError> {
        let ignore = rules
            .ignore
            .iter()
            .map(|r| Regex::new(r).map_err(|e| ExtractError::BadRule(format!("ignore `{r}`: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Extractor {
            kind,
            rules,
            ignore,
            base_url,
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Bytes in, normalized document out. Pure: no I/O, no clock.
    pub fn extract(&self, body: &[u8]) -> Result<Normalized, ExtractError> {
        let doc = match self.kind {
            Kind::Html => Normalized::Text(html::extract(body, &self.rules, self.base_url.as_ref())?),
            Kind::Markdown | Kind::Text => Normalized::Text(text::extract(body)?),
            Kind::Feed => Normalized::Feed(feed::extract(body)?),
            Kind::Statuspage => Normalized::Status(statuspage::extract(body)?),
            Kind::Json => Normalized::Json(json::extract(body, self.rules.json_path.as_deref())?),
            Kind::GcpStatus => Normalized::Status(status::extract_gcp(body, &self.rules.status)?),
            Kind::StatusFeed => Normalized::Status(status::extract_feed(body, &self.rules.status)?),
            Kind::Flashduty => Normalized::Status(status::extract_flashduty(body)?),
        };
        let doc = self.apply_ignore(doc)?;
        if doc.to_text().trim().is_empty() {
            return Err(ExtractError::Empty);
        }
        Ok(doc)
    }

    /// Removes the `ignore` regexes' matches. Text documents are edited as a whole; structured
    /// documents string by string, so that removing noise can never break their JSON. Fields that
    /// hold identities or enumerated states (ids, statuses) are left alone: an ignore rule is for
    /// noise in prose, and a state must not be edited into something else.
    fn apply_ignore(&self, doc: Normalized) -> Result<Normalized, ExtractError> {
        if self.ignore.is_empty() {
            return Ok(doc);
        }
        let strip = |s: &str| -> String {
            let mut out = s.to_owned();
            for re in &self.ignore {
                out = re.replace_all(&out, "").into_owned();
            }
            out
        };
        let f = |s: &str| strip(s).trim().to_owned();
        // A JSON source is the user's own structure: every string is fair game there.
        let strip_fields = |v: &mut serde_json::Value| map_strings(v, None, PROTECTED_KEYS, &f);
        let broken =
            |e: serde_json::Error| ExtractError::BadRule(format!("an ignore rule breaks the document structure: {e}"));
        Ok(match doc {
            Normalized::Text(t) => Normalized::Text(text::normalize_text(&strip(&t))),
            Normalized::Json(mut v) => {
                map_strings(&mut v, None, &[], &f);
                Normalized::Json(v)
            }
            Normalized::Feed(d) => {
                let mut v = to_value(&d);
                strip_fields(&mut v);
                Normalized::Feed(serde_json::from_value(v).map_err(broken)?)
            }
            Normalized::Status(d) => {
                let mut v = to_value(&d);
                strip_fields(&mut v);
                Normalized::Status(serde_json::from_value(v).map_err(broken)?)
            }
        })
    }
}

/// Keys whose values are identities or enumerated states, never prose.
const PROTECTED_KEYS: &[&str] = &["id", "status", "raw_status", "indicator", "impact", "published", "at"];

fn map_strings(v: &mut serde_json::Value, key: Option<&str>, protected: &[&str], f: &dyn Fn(&str) -> String) {
    match v {
        serde_json::Value::String(s) if !key.is_some_and(|k| protected.contains(&k)) => *s = f(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| map_strings(x, key, protected, f)),
        serde_json::Value::Object(o) => o.iter_mut().for_each(|(k, x)| map_strings(x, Some(k), protected, f)),
        _ => {}
    }
}

/// Text-level noise shared by every extractor: zero-width characters, non-breaking spaces, runs of
/// spaces inside a line, trailing spaces and runs of blank lines.
pub use text::normalize_text;

/// Removes tracking query parameters (utm_*, gclid, fbclid, ...) from a URL string; other URLs and
/// unparseable strings are returned unchanged.
pub use html::strip_tracking;
