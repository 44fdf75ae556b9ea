//! Status platforms beyond Statuspage: Google Cloud's `incidents.json`, RSS/Atom status feeds (AWS,
//! Azure, Better Stack, xAI, any other) and FlashDuty. Each adapter reads its platform's document into
//! the same `StatusDoc` as `statuspage`, so that diffs, triage and playbooks treat them alike.
//!
//! The rules every adapter shares, applied here by [`assemble`]:
//! - a component's status is the worst status of its open incidents, `operational` when none is
//!   open: a history of resolved incidents never makes a component look degraded;
//! - open incidents are always listed, resolved ones while they are in the platform's window, and
//!   such documents are marked `windowed`: the diff stage then never reads an incident leaving the
//!   window as resolved (only the platform saying "resolved" resolves it);
//! - a body that is not the platform's document is an error, never an empty page; a document of the
//!   right shape that names nothing at all gives an empty `StatusDoc`, which the watcher refuses
//!   when the previous version named something ([`yield_dropped`]): that is what a provider moving
//!   to another status platform looks like from here.

mod aws;
mod azure;
mod betterstack;
mod feed;
mod flashduty;
mod gcp;
mod generic;
mod xai;

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::Serialize;

use super::statuspage::{Component, ComponentStatus, Incident, StatusDoc};
use super::{ExtractError, Normalized};

pub(super) use feed::extract as extract_feed;
pub(super) use flashduty::extract as extract_flashduty;
pub(super) use gcp::extract as extract_gcp;

/// Whose conventions a `status_feed` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// One item per incident, its latest state in its text (Statuspage, incident.io, Instatus...).
    #[default]
    Generic,
    /// AWS Health Dashboard per-service, per-region RSS: one item per update.
    Aws,
    /// Azure's all-services RSS: current events only, filtered by keyword.
    Azure,
    /// Better Stack `/feed`: "X went down" / "X recovered" items.
    Betterstack,
    /// xAI's RSS: one item per incident and component, severity and state as categories.
    Xai,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Generic,
        Platform::Aws,
        Platform::Azure,
        Platform::Betterstack,
        Platform::Xai,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Generic => "generic",
            Platform::Aws => "aws",
            Platform::Azure => "azure",
            Platform::Betterstack => "betterstack",
            Platform::Xai => "xai",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The options of the status kinds, as declared in a source file. Part of the extraction rules (a
/// new keyword re-reads the stored body as a rules upgrade); unset options are left out of the
/// rules hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusOptions {
    /// `status_feed`: the platform whose conventions the feed follows (default generic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// `gcp_status`: the product to keep, by id or title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `status_feed`: keep only the items whose title or text contains it (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// The component reported when the platform names none (default: the feed's title, or the
    /// product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

/// The watcher's guard against a provider silently moving to another status platform: `Some(why)`
/// when the last good version of a status source named something (components, incidents or
/// maintenances) and the new body names nothing, or is not the platform's document at all. An empty
/// but valid document (no incident for the product, no matching item) still names its component,
/// so it is not a drop.
pub fn yield_dropped(before: &Normalized, after: &Result<Normalized, ExtractError>) -> Option<String> {
    let Normalized::Status(old) = before else {
        return None;
    };
    let had = yield_of(old);
    if had == 0 {
        return None;
    }
    let what = match after {
        Ok(Normalized::Status(new)) if yield_of(new) == 0 => {
            "the new document names no component and no incident".to_owned()
        }
        Err(e @ (ExtractError::Unparseable { .. } | ExtractError::Structure(_))) => e.to_string(),
        _ => return None,
    };
    Some(format!(
        "parse yield dropped to zero: {what}, where the previous version named {had} components and \
         incidents; the provider may have moved to another status platform"
    ))
}

fn yield_of(doc: &StatusDoc) -> usize {
    doc.components.len() + doc.incidents.len() + doc.maintenances.len()
}

/// An incident as an adapter read it, with what it does to each component it names while open.
struct Read {
    /// `impact` may be left empty: it is then derived from the worst effect.
    incident: Incident,
    effects: Vec<Effect>,
}

struct Effect {
    /// The component's name, as in `Incident::components`.
    component: String,
    status: ComponentStatus,
    /// The platform's own word for it, kept as the component's `raw_status`.
    raw: String,
}

impl Read {
    /// A feed item that is a whole incident on one component: its state is `status`, its
    /// severity is read from its prose, its one update is the item itself.
    fn one_item(id: String, name: String, status: &str, item: feed::Item, component: &str) -> Read {
        let (severity, raw) = severity_in(&format!("{}\n{}", item.title, item.text));
        let at = item.published.map(utc);
        let incident = Incident {
            id,
            name,
            status: status.to_owned(),
            impact: String::new(),
            created_at: at.clone(),
            components: vec![component.to_owned()],
            latest_update: Some(crate::extract::IncidentUpdate {
                status: status.to_owned(),
                body: item.text,
                at,
            }),
        };
        Read::uniform(incident, severity, &raw)
    }

    /// The same effect on every component the incident names.
    fn uniform(incident: Incident, status: ComponentStatus, raw: &str) -> Read {
        let effects = incident
            .components
            .iter()
            .map(|c| Effect {
                component: c.clone(),
                status,
                raw: raw.to_owned(),
            })
            .collect();
        Read { incident, effects }
    }
}

/// A status page as an adapter read it.
struct Page {
    /// The page's own title, kept as the document's description.
    title: String,
    /// Components the document or the source declares, as (id, name). Components that only
    /// incidents name are added with their name as id.
    components: Vec<(String, String)>,
    reads: Vec<Read>,
    windowed: bool,
    /// How many resolved incidents to keep (the most recent), for documents that carry years of
    /// history; open incidents are always kept.
    keep_resolved: Option<usize>,
}

/// Applies the shared rules (see the module documentation) and sorts everything by identity, so
/// that the same meaning always gives the same text.
fn assemble(page: Page) -> StatusDoc {
    let mut reads = page.reads;
    if let Some(keep) = page.keep_resolved {
        let (mut closed, open): (Vec<Read>, Vec<Read>) = reads.into_iter().partition(|r| is_closed(&r.incident.status));
        closed.sort_by(|a, b| {
            last_activity(&b.incident)
                .cmp(&last_activity(&a.incident))
                .then_with(|| a.incident.id.cmp(&b.incident.id))
        });
        closed.truncate(keep);
        reads = open.into_iter().chain(closed).collect();
    }

    let mut names: BTreeMap<String, String> = BTreeMap::new(); // name -> id
    for (id, name) in page.components {
        names.entry(name).or_insert(id);
    }
    // The worst effect of an incident in effect, per component name; ties go to the smaller raw
    // word so the pick does not depend on the order of the document.
    let mut worst: HashMap<&str, (ComponentStatus, &str)> = HashMap::new();
    for r in &reads {
        for e in &r.effects {
            names.entry(e.component.clone()).or_insert_with(|| e.component.clone());
            if !in_effect(&r.incident.status) {
                continue;
            }
            let slot = worst.entry(&e.component).or_insert((e.status, &e.raw));
            if (e.status.rank(), std::cmp::Reverse(e.raw.as_str())) > (slot.0.rank(), std::cmp::Reverse(slot.1)) {
                *slot = (e.status, &e.raw);
            }
        }
    }
    let mut components: Vec<Component> = names
        .iter()
        .map(|(name, id)| {
            let (status, raw) = worst
                .get(name.as_str())
                .copied()
                .unwrap_or((ComponentStatus::Operational, ""));
            Component {
                id: id.clone(),
                name: name.clone(),
                group: None,
                status,
                raw_status: raw.to_owned(),
            }
        })
        .collect();
    components.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));

    let mut incidents: Vec<Incident> = reads
        .into_iter()
        .map(|r| {
            let mut i = r.incident;
            if i.impact.is_empty() {
                let status = r.effects.iter().map(|e| e.status).max_by_key(|s| s.rank());
                i.impact = impact_of(status.unwrap_or(ComponentStatus::Unknown)).to_owned();
            }
            i.components.sort();
            i.components.dedup();
            i
        })
        .collect();
    incidents.sort_by(|a, b| a.id.cmp(&b.id));

    let indicator = match components.iter().map(|c| c.status).max_by_key(|s| s.rank()) {
        None => "unknown",
        Some(ComponentStatus::Operational) => "none",
        Some(ComponentStatus::Maintenance) => "maintenance",
        Some(ComponentStatus::Degraded | ComponentStatus::Unknown) => "minor",
        Some(ComponentStatus::PartialOutage) => "major",
        Some(ComponentStatus::MajorOutage) => "critical",
    };
    StatusDoc {
        indicator: indicator.to_owned(),
        description: page.title,
        components,
        incidents,
        maintenances: Vec::new(),
        windowed: page.windowed,
    }
}

/// Statuses after which an incident no longer affects its components; the diff stage reads the
/// same words as "resolved".
fn is_closed(status: &str) -> bool {
    matches!(status, "resolved" | "postmortem" | "completed")
}

/// Open and in effect: a maintenance that is only scheduled does not touch its components yet.
fn in_effect(status: &str) -> bool {
    !is_closed(status) && status != "scheduled"
}

/// An incident's impact in Statuspage's words (what triage reads), from the status it gives.
fn impact_of(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "none",
        ComponentStatus::Degraded => "minor",
        ComponentStatus::PartialOutage => "major",
        ComponentStatus::MajorOutage => "critical",
        ComponentStatus::Maintenance => "maintenance",
        ComponentStatus::Unknown => "unknown",
    }
}

/// The latest moment an incident records (timestamps are fixed-width UTC, so string order is time
/// order).
fn last_activity(i: &Incident) -> Option<&str> {
    let update = i.latest_update.as_ref().and_then(|u| u.at.as_deref());
    i.created_at.as_deref().max(update)
}

/// The lifecycle word a text states first. Status pages list their newest update first, so the
/// first word is the current state.
fn lifecycle_in(text: &str) -> Option<&'static str> {
    static WORDS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(resolved|recovered|mitigated|operating normally|completed|postmortem|monitoring|identified|investigating|in progress|scheduled)\b",
        )
        .expect("static regex compiles")
    });
    let word = WORDS.find(text)?.as_str().to_lowercase();
    Some(match word.as_str() {
        "resolved" | "recovered" | "mitigated" | "operating normally" => "resolved",
        "completed" => "completed",
        "postmortem" => "postmortem",
        "monitoring" => "monitoring",
        "identified" => "identified",
        "in progress" => "in_progress",
        "scheduled" => "scheduled",
        _ => "investigating",
    })
}

/// How bad a text says things are, for platforms that only speak in prose, with the words that
/// decided it. An open incident is at least a degradation.
fn severity_in(text: &str) -> (ComponentStatus, String) {
    static LEVELS: LazyLock<[(ComponentStatus, Regex); 3]> = LazyLock::new(|| {
        let re = |s: &str| Regex::new(s).expect("static regex compiles");
        [
            (ComponentStatus::Maintenance, re(r"(?i)\bmaintenance\b")),
            (
                ComponentStatus::PartialOutage,
                re(r"(?i)\b(partial(ly)? outage|partially unavailable|disruption)\b"),
            ),
            (
                ComponentStatus::MajorOutage,
                re(r"(?i)\b(outage|unavailable|went down|is down|are down|not available|inaccessible|offline)\b"),
            ),
        ]
    });
    for (status, re) in LEVELS.iter() {
        if let Some(m) = re.find(text) {
            return (*status, m.as_str().to_lowercase());
        }
    }
    (ComponentStatus::Degraded, String::new())
}

fn utc(t: DateTime<Utc>) -> String {
    super::feed::utc_timestamp(t)
}

/// Titles are one line: a title wrapped in the source is still the same title.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::IncidentUpdate;

    fn incident(id: &str, status: &str, components: &[&str], at: &str) -> Incident {
        Incident {
            id: id.into(),
            name: format!("incident {id}"),
            status: status.into(),
            impact: String::new(),
            created_at: Some(at.into()),
            components: components.iter().map(|c| c.to_string()).collect(),
            latest_update: Some(IncidentUpdate {
                status: status.into(),
                body: String::new(),
                at: Some(at.into()),
            }),
        }
    }

    #[test]
    fn components_take_the_worst_open_incident_and_history_does_not_count() {
        let doc = assemble(Page {
            title: "Acme".into(),
            components: vec![("api".into(), "API".into()), ("web".into(), "Web".into())],
            reads: vec![
                Read::uniform(
                    incident("1", "investigating", &["API"], "2026-01-02T00:00:00Z"),
                    ComponentStatus::Degraded,
                    "slow",
                ),
                Read::uniform(
                    incident("2", "identified", &["API"], "2026-01-02T00:00:00Z"),
                    ComponentStatus::MajorOutage,
                    "down",
                ),
                Read::uniform(
                    incident("3", "resolved", &["Web", "Batch"], "2026-01-01T00:00:00Z"),
                    ComponentStatus::MajorOutage,
                    "down",
                ),
            ],
            windowed: true,
            keep_resolved: None,
        });
        let states: Vec<(&str, &str, ComponentStatus, &str)> = doc
            .components
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.status, c.raw_status.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("api", "API", ComponentStatus::MajorOutage, "down"),
                ("Batch", "Batch", ComponentStatus::Operational, ""),
                ("web", "Web", ComponentStatus::Operational, ""),
            ]
        );
        assert_eq!(doc.indicator, "critical");
        assert_eq!(doc.incidents[1].impact, "critical");
        assert_eq!(doc.incidents[2].components, ["Batch", "Web"]);
        assert!(doc.windowed);
    }

    #[test]
    fn only_the_most_recent_resolved_incidents_are_kept() {
        let reads = ["2026-01-01", "2026-01-03", "2026-01-02"]
            .iter()
            .enumerate()
            .map(|(n, d)| {
                Read::uniform(
                    incident(&format!("r{n}"), "resolved", &["API"], &format!("{d}T00:00:00Z")),
                    ComponentStatus::Degraded,
                    "",
                )
            })
            .chain([Read::uniform(
                incident("open", "investigating", &["API"], "2025-01-01T00:00:00Z"),
                ComponentStatus::Degraded,
                "",
            )])
            .collect();
        let doc = assemble(Page {
            title: String::new(),
            components: Vec::new(),
            reads,
            windowed: true,
            keep_resolved: Some(2),
        });
        let ids: Vec<&str> = doc.incidents.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["open", "r1", "r2"]);
    }

    #[test]
    fn a_page_that_names_nothing_is_empty() {
        let doc = assemble(Page {
            title: "Acme".into(),
            components: Vec::new(),
            reads: Vec::new(),
            windowed: true,
            keep_resolved: None,
        });
        assert_eq!(yield_of(&doc), 0);
        assert_eq!(doc.indicator, "unknown");
    }

    #[test]
    fn words_in_prose() {
        assert_eq!(
            lifecycle_in("Resolved - fixed. Investigating - we are looking"),
            Some("resolved")
        );
        assert_eq!(
            lifecycle_in("Still unresolved, we are investigating"),
            Some("investigating")
        );
        assert_eq!(lifecycle_in("Service recovered"), Some("resolved"));
        assert_eq!(lifecycle_in("Elevated errors"), None);
        assert_eq!(
            severity_in("Partial outage of the API").0,
            ComponentStatus::PartialOutage
        );
        assert_eq!(severity_in("Whisper went down").0, ComponentStatus::MajorOutage);
        assert_eq!(severity_in("Scheduled maintenance").0, ComponentStatus::Maintenance);
        assert_eq!(
            severity_in("Increased error rates"),
            (ComponentStatus::Degraded, String::new())
        );
    }

    fn doc(components: usize, incidents: usize) -> Normalized {
        let mut d = assemble(Page {
            title: String::new(),
            components: (0..components).map(|n| (n.to_string(), n.to_string())).collect(),
            reads: Vec::new(),
            windowed: true,
            keep_resolved: None,
        });
        d.incidents = (0..incidents)
            .map(|n| incident(&n.to_string(), "resolved", &[], "2026-01-01T00:00:00Z"))
            .collect();
        Normalized::Status(d)
    }

    #[test]
    fn yield_drops_only_from_something_to_nothing() {
        let structure = || Err(ExtractError::Structure("not a feed".into()));
        assert!(yield_dropped(&doc(1, 0), &Ok(doc(0, 0))).is_some());
        assert!(yield_dropped(&doc(0, 2), &structure()).is_some());
        let unparseable = Err(ExtractError::Unparseable {
            kind: crate::extract::Kind::StatusFeed,
            reason: "not XML".into(),
        });
        let why = yield_dropped(&doc(1, 1), &unparseable).unwrap();
        assert!(
            why.starts_with("parse yield dropped to zero: unparseable status_feed document"),
            "{why}"
        );
        // Still naming its component (all operational) is not a drop, nor is a first version that
        // named nothing, nor a rule of ours that fails.
        assert!(yield_dropped(&doc(1, 3), &Ok(doc(1, 0))).is_none());
        assert!(yield_dropped(&doc(0, 0), &structure()).is_none());
        assert!(yield_dropped(&doc(1, 0), &Err(ExtractError::BadRule("x".into()))).is_none());
        assert!(yield_dropped(&Normalized::Text("a".into()), &structure()).is_none());
    }
}
