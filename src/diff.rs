//! Diffs between two normalized versions of a source.
//!
//! Text documents get a line diff with word-level detail inside changed lines. Feeds are compared
//! item by item (by id), status pages state by state (component transitions, incidents opened,
//! updated and resolved, maintenances), because a line diff of their JSON would say "something
//! moved" where people need "Chat API went from operational to major_outage".

use crate::extract::{Component, FeedEntry, Incident, Maintenance, Normalized, StatusDoc};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, DiffOp, TextDiff as Similar};
use std::collections::BTreeMap;

/// Lines of unchanged context around each hunk.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Diff {
    Text(TextDiff),
    Feed(FeedDiff),
    Status(StatusDiff),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDiff {
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hunk {
    /// `@@ -old_start,old_len +new_start,new_len @@`, 1-based as in unified diffs.
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOp {
    Equal,
    Delete,
    Insert,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub op: LineOp,
    pub text: String,
    /// For a changed line paired with its counterpart: the line cut into spans, `changed` marking
    /// the words that differ. Empty when the whole line is new or gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<WordSpan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordSpan {
    pub changed: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDiff {
    pub added: Vec<FeedEntry>,
    pub removed: Vec<FeedEntry>,
    pub changed: Vec<EntryChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryChange {
    pub id: String,
    /// Names of the fields that differ (`title`, `published`, `link`, `summary`).
    pub fields: Vec<String>,
    pub before: FeedEntry,
    pub after: FeedEntry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDiff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<Transition>,
    pub components: Vec<ComponentTransition>,
    pub components_added: Vec<Component>,
    pub components_removed: Vec<Component>,
    pub incidents_opened: Vec<Incident>,
    pub incidents_updated: Vec<IncidentChange>,
    pub incidents_resolved: Vec<Incident>,
    pub maintenances_added: Vec<Maintenance>,
    pub maintenances_updated: Vec<MaintenanceChange>,
    pub maintenances_ended: Vec<Maintenance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentTransition {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentChange {
    pub before: Incident,
    pub after: Incident,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceChange {
    pub before: Maintenance,
    pub after: Maintenance,
}

impl Diff {
    /// Lines (or items) added and removed, for summaries.
    pub fn counts(&self) -> (usize, usize) {
        match self {
            Diff::Text(t) => (t.added, t.removed),
            Diff::Feed(f) => (f.added.len() + f.changed.len(), f.removed.len() + f.changed.len()),
            Diff::Status(s) => (
                s.components.len()
                    + s.components_added.len()
                    + s.incidents_opened.len()
                    + s.incidents_updated.len()
                    + s.maintenances_added.len()
                    + s.maintenances_updated.len(),
                s.components_removed.len() + s.incidents_resolved.len() + s.maintenances_ended.len(),
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Diff::Status(s) => s.indicator.is_none() && self.counts() == (0, 0),
            _ => self.counts() == (0, 0),
        }
    }
}

/// Compares two versions of one source. Documents of different shapes (which only happens when a
/// source changes kind) are compared as text.
///
/// The structured diffs look at what people act on (items, component states, incidents). When a
/// document changed in a way they do not model (a component renamed, a page description edited),
/// the text diff of the canonical documents is returned instead, so a change never comes with an
/// empty diff.
pub fn diff(before: &Normalized, after: &Normalized) -> Diff {
    let structured = match (before, after) {
        (Normalized::Feed(a), Normalized::Feed(b)) => Some(Diff::Feed(feed_diff(&a.entries, &b.entries))),
        (Normalized::Status(a), Normalized::Status(b)) => Some(Diff::Status(status_diff(a, b))),
        _ => None,
    };
    match structured {
        Some(d) if !d.is_empty() => d,
        _ => Diff::Text(text_diff(&before.to_text(), &after.to_text())),
    }
}

/// `text` with its last line ended by a newline. Normalized documents have no final newline,
/// so without this a line appended at the end would make the old last line look changed.
pub fn terminated(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_empty() || text.ends_with('\n') {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{text}\n"))
    }
}

pub fn text_diff(old: &str, new: &str) -> TextDiff {
    let (old, new) = (terminated(old), terminated(new));
    let d = Similar::from_lines(old.as_ref(), new.as_ref());
    let mut added = 0;
    let mut removed = 0;
    let mut hunks = Vec::new();
    for group in d.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let header = format!(
            "@@ -{},{} +{},{} @@",
            old_range.start + 1,
            old_range.len(),
            new_range.start + 1,
            new_range.len()
        );
        let mut lines = Vec::new();
        for op in &group {
            let paired = matches!(op, DiffOp::Replace { .. });
            for change in d.iter_inline_changes(op) {
                let op = match change.tag() {
                    ChangeTag::Equal => LineOp::Equal,
                    ChangeTag::Delete => {
                        removed += 1;
                        LineOp::Delete
                    }
                    ChangeTag::Insert => {
                        added += 1;
                        LineOp::Insert
                    }
                };
                let spans: Vec<WordSpan> = change
                    .iter_strings_lossy()
                    .map(|(changed, s)| WordSpan {
                        changed,
                        text: s.trim_end_matches('\n').to_owned(),
                    })
                    .filter(|w| !w.text.is_empty())
                    .collect();
                let text: String = spans.iter().map(|s| s.text.as_str()).collect();
                // Word detail only helps when part of the line survived.
                let words = if paired && op != LineOp::Equal && spans.iter().any(|s| !s.changed) {
                    spans
                } else {
                    Vec::new()
                };
                lines.push(DiffLine { op, text, words });
            }
        }
        hunks.push(Hunk { header, lines });
    }
    TextDiff { added, removed, hunks }
}

fn feed_diff(before: &[FeedEntry], after: &[FeedEntry]) -> FeedDiff {
    let old: BTreeMap<&str, &FeedEntry> = before.iter().map(|e| (e.id.as_str(), e)).collect();
    let new: BTreeMap<&str, &FeedEntry> = after.iter().map(|e| (e.id.as_str(), e)).collect();
    let added = after
        .iter()
        .filter(|e| !old.contains_key(e.id.as_str()))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|e| !new.contains_key(e.id.as_str()))
        .cloned()
        .collect();
    let changed = after
        .iter()
        .filter_map(|b| {
            let a = old.get(b.id.as_str())?;
            let mut fields = Vec::new();
            if a.title != b.title {
                fields.push("title".to_owned());
            }
            if a.published != b.published {
                fields.push("published".to_owned());
            }
            if a.link != b.link {
                fields.push("link".to_owned());
            }
            if a.summary != b.summary {
                fields.push("summary".to_owned());
            }
            (!fields.is_empty()).then(|| EntryChange {
                id: b.id.clone(),
                fields,
                before: (*a).clone(),
                after: b.clone(),
            })
        })
        .collect();
    FeedDiff {
        added,
        removed,
        changed,
    }
}

fn is_resolved(status: &str) -> bool {
    matches!(status, "resolved" | "postmortem" | "completed")
}

/// The latest moment an incident records (timestamps are fixed-width UTC: string order is time order).
fn last_activity(i: &Incident) -> Option<&str> {
    let update = i.latest_update.as_ref().and_then(|u| u.at.as_deref());
    i.created_at.as_deref().max(update)
}

fn status_diff(a: &StatusDoc, b: &StatusDoc) -> StatusDiff {
    let indicator = (a.indicator != b.indicator).then(|| Transition {
        from: a.indicator.clone(),
        to: b.indicator.clone(),
    });

    let old_c: BTreeMap<&str, &Component> = a.components.iter().map(|c| (c.id.as_str(), c)).collect();
    let new_c: BTreeMap<&str, &Component> = b.components.iter().map(|c| (c.id.as_str(), c)).collect();
    let components = b
        .components
        .iter()
        .filter_map(|c| {
            let prev = old_c.get(c.id.as_str())?;
            (prev.status != c.status || prev.raw_status != c.raw_status).then(|| ComponentTransition {
                id: c.id.clone(),
                name: c.name.clone(),
                group: c.group.clone(),
                from: prev.status.as_str().to_owned(),
                to: c.status.as_str().to_owned(),
            })
        })
        .collect();
    let components_added = b
        .components
        .iter()
        .filter(|c| !old_c.contains_key(c.id.as_str()))
        .cloned()
        .collect();
    let components_removed = a
        .components
        .iter()
        .filter(|c| !new_c.contains_key(c.id.as_str()))
        .cloned()
        .collect();

    // summary.json lists unresolved incidents only: one that disappears was resolved. A windowed
    // document (a status feed, Google Cloud's history) lists resolved incidents too and forgets old
    // ones, so there an incident leaving the window says nothing, and only what happened after the
    // newest moment the old version knew is news: an incident re-read from a shortened window (an
    // id derived from its first update, an update that aged out) brings nothing new.
    let windowed = b.windowed;
    let seen_until = a.incidents.iter().filter_map(last_activity).max();
    let is_news = |i: &Incident| {
        // Without times to compare, it cannot be told from history: reported.
        !windowed || seen_until.is_none() || last_activity(i).is_none_or(|t| Some(t) > seen_until)
    };
    let old_i: BTreeMap<&str, &Incident> = a.incidents.iter().map(|i| (i.id.as_str(), i)).collect();
    let new_i: BTreeMap<&str, &Incident> = b.incidents.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut incidents_opened = Vec::new();
    let mut incidents_updated = Vec::new();
    let mut incidents_resolved: Vec<Incident> = a
        .incidents
        .iter()
        .filter(|i| !windowed && !new_i.contains_key(i.id.as_str()) && !is_resolved(&i.status))
        .cloned()
        .collect();
    for i in &b.incidents {
        match old_i.get(i.id.as_str()) {
            None if !is_news(i) => {}
            None if is_resolved(&i.status) => incidents_resolved.push(i.clone()),
            None => incidents_opened.push(i.clone()),
            Some(prev) if *prev != i => {
                if is_resolved(&i.status) && !is_resolved(&prev.status) {
                    incidents_resolved.push(i.clone());
                } else if windowed && i.status == prev.status && last_activity(i) <= last_activity(prev) {
                    // The same state, nothing newer: the window lost some of its past.
                } else {
                    incidents_updated.push(IncidentChange {
                        before: (*prev).clone(),
                        after: i.clone(),
                    });
                }
            }
            Some(_) => {}
        }
    }

    let old_m: BTreeMap<&str, &Maintenance> = a.maintenances.iter().map(|m| (m.id.as_str(), m)).collect();
    let new_m: BTreeMap<&str, &Maintenance> = b.maintenances.iter().map(|m| (m.id.as_str(), m)).collect();
    let maintenances_added = b
        .maintenances
        .iter()
        .filter(|m| !old_m.contains_key(m.id.as_str()))
        .cloned()
        .collect();
    let maintenances_ended = a
        .maintenances
        .iter()
        .filter(|m| !new_m.contains_key(m.id.as_str()))
        .cloned()
        .collect();
    let maintenances_updated = b
        .maintenances
        .iter()
        .filter_map(|m| {
            let prev = old_m.get(m.id.as_str())?;
            (*prev != m).then(|| MaintenanceChange {
                before: (*prev).clone(),
                after: m.clone(),
            })
        })
        .collect();

    StatusDiff {
        indicator,
        components,
        components_added,
        components_removed,
        incidents_opened,
        incidents_updated,
        incidents_resolved,
        maintenances_added,
        maintenances_updated,
        maintenances_ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_has_word_detail() {
        let old = "# Pricing\n| gpt-x | $2.00 | $8.00 |\nfooter\n";
        let new = "# Pricing\n| gpt-x | $2.00 | $10.00 |\nfooter\nnew line\n";
        let d = text_diff(old, new);
        assert_eq!((d.added, d.removed), (2, 1));
        assert_eq!(d.hunks.len(), 1);
        let del = d.hunks[0].lines.iter().find(|l| l.op == LineOp::Delete).unwrap();
        assert_eq!(del.text, "| gpt-x | $2.00 | $8.00 |");
        let changed: Vec<&str> = del
            .words
            .iter()
            .filter(|w| w.changed)
            .map(|w| w.text.as_str())
            .collect();
        assert!(changed.iter().any(|w| w.contains('8')), "{changed:?}");
        assert!(!changed.iter().any(|w| w.contains("gpt-x")), "{changed:?}");
        let ins: Vec<&DiffLine> = d.hunks[0].lines.iter().filter(|l| l.op == LineOp::Insert).collect();
        assert_eq!(ins[1].text, "new line");
        assert!(ins[1].words.is_empty());
        assert_eq!(d.hunks[0].header, "@@ -1,3 +1,4 @@");
    }

    #[test]
    fn identical_texts_have_an_empty_diff() {
        let d = Diff::Text(text_diff("a\nb", "a\nb"));
        assert!(d.is_empty());
    }

    fn entry(id: &str, title: &str) -> FeedEntry {
        FeedEntry {
            id: id.into(),
            title: title.into(),
            published: None,
            link: None,
            summary: String::new(),
        }
    }

    fn incident(id: &str, status: &str, at: &str) -> Incident {
        Incident {
            id: id.into(),
            name: format!("incident {id}"),
            status: status.into(),
            impact: "minor".into(),
            created_at: Some("2026-01-01T00:00:00Z".into()),
            components: vec!["API".into()],
            latest_update: Some(crate::extract::IncidentUpdate {
                status: status.into(),
                body: String::new(),
                at: Some(at.into()),
            }),
        }
    }

    fn status(windowed: bool, incidents: Vec<Incident>) -> StatusDoc {
        StatusDoc {
            indicator: "none".into(),
            description: String::new(),
            components: Vec::new(),
            incidents,
            maintenances: Vec::new(),
            windowed,
        }
    }

    fn ids(list: &[Incident]) -> Vec<&str> {
        list.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn a_summary_resolves_the_incidents_it_no_longer_lists() {
        let a = status(false, vec![incident("1", "investigating", "2026-01-02T00:00:00Z")]);
        let d = status_diff(&a, &status(false, Vec::new()));
        assert_eq!(ids(&d.incidents_resolved), ["1"]);
    }

    #[test]
    fn leaving_a_window_resolves_nothing() {
        let a = status(
            true,
            vec![
                incident("open", "investigating", "2026-01-05T00:00:00Z"),
                incident("old", "resolved", "2026-01-02T00:00:00Z"),
            ],
        );
        let d = status_diff(
            &a,
            &status(true, vec![incident("new", "investigating", "2026-01-06T00:00:00Z")]),
        );
        assert!(d.incidents_resolved.is_empty(), "{d:?}");
        assert_eq!(ids(&d.incidents_opened), ["new"]);
    }

    #[test]
    fn in_a_window_only_what_is_newer_than_the_old_version_is_news() {
        let a = status(
            true,
            vec![
                incident("1", "investigating", "2026-01-05T00:00:00Z"),
                incident("2", "resolved", "2026-01-03T00:00:00Z"),
            ],
        );
        let b = status(
            true,
            vec![
                // Resolved since: news.
                incident("1", "resolved", "2026-01-06T00:00:00Z"),
                // Its first update aged out, so it was re-read under another id: not news.
                incident("2-again", "resolved", "2026-01-03T00:00:00Z"),
                // Opened and resolved between two polls: news.
                incident("3", "resolved", "2026-01-07T00:00:00Z"),
            ],
        );
        let d = status_diff(&a, &b);
        assert_eq!(ids(&d.incidents_resolved), ["1", "3"]);
        assert!(d.incidents_opened.is_empty() && d.incidents_updated.is_empty(), "{d:?}");

        // The same incident with fewer updates left in the window: not an update.
        let mut shorter = incident("1", "investigating", "2026-01-04T00:00:00Z");
        shorter.name = "renamed by an older update".into();
        let d = status_diff(
            &a,
            &status(true, vec![shorter, incident("2", "resolved", "2026-01-03T00:00:00Z")]),
        );
        assert!(d.incidents_updated.is_empty(), "{d:?}");
        let d = status_diff(
            &a,
            &status(true, vec![incident("1", "identified", "2026-01-06T00:00:00Z")]),
        );
        assert_eq!(d.incidents_updated.len(), 1);
    }

    #[test]
    fn feeds_are_compared_by_item_id() {
        let a = vec![entry("1", "one"), entry("2", "two")];
        let b = vec![entry("3", "three"), entry("2", "two (edited)")];
        let d = feed_diff(&a, &b);
        assert_eq!(d.added.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["3"]);
        assert_eq!(d.removed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["1"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields, ["title"]);
    }
}
