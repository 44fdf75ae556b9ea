//! `flashduty`: a FlashDuty status page's widget summary (DeepSeek's
//! `https://status.deepseek.com/api/widget/v1/summary.json`): the page's components under
//! `active.page.components`, the changes in progress under `active.active_changes`, and the recent
//! changes (incidents and maintenances) under `changeList.items`, each with `updates` whose
//! `component_changes` set the affected components' statuses (`operational`, `degraded`,
//! `partial_outage`, `full_outage`...).
//!
//! A component's status while a change is open is the status its latest `component_changes` entry
//! gave it; `changeList` is a window over the page's history, so the document is `windowed`.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

use super::super::text::normalize_text;
use super::{Effect, Page, Read, assemble, impact_of, one_line, utc};
use crate::extract::{ComponentStatus, ExtractError, Incident, IncidentUpdate, Kind, StatusDoc};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Summary {
    active: Option<Active>,
    #[serde(rename = "changeList")]
    change_list: Option<ChangeList>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Active {
    page: Option<RawPage>,
    active_changes: Option<Vec<Change>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPage {
    name: Option<String>,
    components: Option<Vec<RawComponent>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawComponent {
    component_id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangeList {
    items: Option<Vec<Change>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Change {
    change_id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    title: Option<String>,
    status: Option<String>,
    affected_components: Option<Vec<RawComponent>>,
    start_at_seconds: Option<i64>,
    updates: Option<Vec<Update>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Update {
    at_seconds: Option<i64>,
    status: Option<String>,
    description: Option<String>,
    component_changes: Option<Vec<ComponentChange>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ComponentChange {
    component_id: Option<String>,
    component_name: Option<String>,
    status: Option<String>,
}

pub(in crate::extract) fn extract(body: &[u8]) -> Result<StatusDoc, ExtractError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::Flashduty,
        reason: e.to_string(),
    })?;
    let not_summary = |why: &str| ExtractError::Structure(format!("not a FlashDuty summary.json: {why}"));
    if !value.get("active").is_some_and(Value::is_object) && !value.get("changeList").is_some_and(Value::is_object) {
        return Err(not_summary("no `active` and no `changeList` object"));
    }
    let summary: Summary = serde_json::from_value(value).map_err(|e| not_summary(&e.to_string()))?;
    let active = summary.active.unwrap_or_default();
    let page = active.page.unwrap_or_default();

    let mut names: BTreeMap<String, String> = BTreeMap::new(); // id -> name
    for c in page.components.unwrap_or_default() {
        if let (Some(id), Some(name)) = (c.component_id, c.name) {
            names.insert(id, name);
        }
    }
    // The same change can be both in progress and in the list: the copy with the latest update wins.
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    let listed = summary.change_list.and_then(|l| l.items).unwrap_or_default();
    for change in active.active_changes.unwrap_or_default().into_iter().chain(listed) {
        let Some(id) = change.change_id.as_ref().map(id_text) else {
            continue;
        };
        match changes.get(&id) {
            Some(seen) if last_update_at(seen) >= last_update_at(&change) => {}
            _ => {
                changes.insert(id, change);
            }
        }
    }
    let reads = changes.into_iter().map(|(id, c)| read(id, c, &mut names)).collect();
    Ok(assemble(Page {
        title: page.name.unwrap_or_default(),
        components: names.into_iter().collect(),
        reads,
        windowed: true,
        keep_resolved: None,
    }))
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn last_update_at(c: &Change) -> Option<i64> {
    c.updates
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|u| u.at_seconds)
        .max()
}

fn component_status(word: &str) -> ComponentStatus {
    match word {
        "operational" => ComponentStatus::Operational,
        "degraded" | "degraded_performance" => ComponentStatus::Degraded,
        "partial_outage" => ComponentStatus::PartialOutage,
        "full_outage" | "major_outage" => ComponentStatus::MajorOutage,
        "maintenance" | "under_maintenance" => ComponentStatus::Maintenance,
        _ => ComponentStatus::Unknown,
    }
}

fn lifecycle(word: &str, maintenance: bool) -> String {
    match word {
        "ongoing" | "in_progress" if maintenance => "in_progress".to_owned(),
        "ongoing" => "investigating".to_owned(),
        other => other.to_owned(),
    }
}

/// One change; components it names that the page does not list are added to `names`.
fn read(id: String, change: Change, names: &mut BTreeMap<String, String>) -> Read {
    let maintenance = change.kind.as_deref() == Some("maintenance");
    let mut updates = change.updates.unwrap_or_default();
    updates.sort_by_key(|u| u.at_seconds);
    let mut name_of = |id: Option<String>, name: Option<String>| -> Option<String> {
        let name = match (&id, name) {
            (Some(id), _) if names.contains_key(id) => names[id].clone(),
            (_, Some(name)) => name,
            (None, None) | (Some(_), None) => return None,
        };
        names
            .entry(id.unwrap_or_else(|| name.clone()))
            .or_insert_with(|| name.clone());
        Some(name)
    };

    // The latest status each component was given, and the worst it was ever given.
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    let mut worst = ComponentStatus::Operational;
    for change in updates.iter().flat_map(|u| u.component_changes.iter().flatten()) {
        let Some(name) = name_of(change.component_id.clone(), change.component_name.clone()) else {
            continue;
        };
        let word = change.status.clone().unwrap_or_default();
        worst = std::cmp::max_by_key(worst, component_status(&word), |s| s.rank());
        latest.insert(name, word);
    }
    // Affected components that no update graded are at least degraded while the change is open.
    for c in change.affected_components.unwrap_or_default() {
        if let Some(name) = name_of(c.component_id, c.name) {
            latest.entry(name).or_default();
        }
    }
    let effects: Vec<Effect> = latest
        .iter()
        .map(|(name, word)| Effect {
            component: name.clone(),
            status: if word.is_empty() {
                ComponentStatus::Degraded
            } else {
                component_status(word)
            },
            raw: word.clone(),
        })
        .collect();
    let status = lifecycle(&change.status.unwrap_or_default().to_lowercase(), maintenance);
    let at = |s: Option<i64>| s.and_then(|s| DateTime::from_timestamp(s, 0)).map(utc);
    let latest_update = updates.last().map(|u| IncidentUpdate {
        status: u.status.clone().unwrap_or_default(),
        body: normalize_text(u.description.as_deref().unwrap_or_default()),
        at: at(u.at_seconds),
    });
    let impact = if maintenance {
        "maintenance"
    } else if worst == ComponentStatus::Operational {
        // No update graded a component: the change's existence is the impact.
        impact_of(ComponentStatus::Degraded)
    } else {
        impact_of(worst)
    };
    Read {
        incident: Incident {
            id,
            name: one_line(change.title.as_deref().unwrap_or_default()),
            status,
            impact: impact.to_owned(),
            created_at: at(change.start_at_seconds),
            components: latest.into_keys().collect(),
            latest_update,
        },
        effects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "01KR3NC9ETZYF436Z8YT1HM047";
    const WEB: &str = "01KR3NC9ETESRRQ4GABE0TGW53";

    fn summary(active_changes: &str, items: &str) -> Vec<u8> {
        format!(
            r#"{{
 "active": {{
  "page": {{
   "page_id": 6410630422455, "name": "DeepSeek", "url_name": "deepseek", "type": "public",
   "custom_domain": "status.deepseek.com",
   "components": [
    {{"component_id": "{API}", "name": "API 服务 (API Service)", "order_id": 1}},
    {{"component_id": "{WEB}", "name": "网页对话服务 (Web Chat Service)", "order_id": 2}}
   ],
   "sections": []
  }},
  "active_changes": [{active_changes}]
 }},
 "changeList": {{"items": [{items}]}}
}}"#
        )
        .into_bytes()
    }

    /// An update: when, its status, and the (component id, status) pairs it sets.
    type TestUpdate<'a> = (i64, &'a str, &'a [(&'a str, &'a str)]);

    fn change(id: u64, status: &str, updates: &[TestUpdate<'_>]) -> String {
        let updates: Vec<String> = updates
            .iter()
            .map(|(at, s, changes)| {
                let changes: Vec<String> = changes
                    .iter()
                    .map(|(c, st)| format!(r#"{{"component_id": "{c}", "component_name": "x", "status": "{st}"}}"#))
                    .collect();
                format!(
                    r#"{{"update_id": "u{at}", "at_seconds": {at}, "status": "{s}", "description": "Update {s}.\n\nMore.", "component_changes": [{}]}}"#,
                    changes.join(",")
                )
            })
            .collect();
        format!(
            r#"{{"change_id": {id}, "page_id": 6410630422455, "type": "incident", "title": "API 性能下降（API Degraded Performance）",
               "status": "{status}", "affected_components": [{{"component_id": "{API}", "name": "API 服务 (API Service)"}}],
               "start_at_seconds": 1779967491, "updates": [{}]}}"#,
            updates.join(",")
        )
    }

    #[test]
    fn a_change_sets_its_components_until_it_is_resolved() {
        let history = change(
            6497432543287,
            "resolved",
            &[
                (1779934899, "identified", &[(API, "full_outage"), (WEB, "full_outage")]),
                (1779936653, "resolved", &[(API, "operational"), (WEB, "operational")]),
            ],
        );
        let ongoing = change(
            6499101276287,
            "monitoring",
            &[
                (1779967491, "investigating", &[(API, "partial_outage")]),
                (1779968000, "monitoring", &[(API, "degraded")]),
            ],
        );
        let doc = extract(&summary(&ongoing, &format!("{ongoing},{history}"))).unwrap();
        assert_eq!(doc.description, "DeepSeek");
        let states: Vec<(&str, ComponentStatus, &str)> = doc
            .components
            .iter()
            .map(|c| (c.id.as_str(), c.status, c.raw_status.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                (API, ComponentStatus::Degraded, "degraded"),
                (WEB, ComponentStatus::Operational, ""),
            ]
        );
        assert_eq!(doc.incidents.len(), 2);
        let old = &doc.incidents[0];
        assert_eq!((old.status.as_str(), old.impact.as_str()), ("resolved", "critical"));
        assert_eq!(
            old.components,
            ["API 服务 (API Service)", "网页对话服务 (Web Chat Service)"]
        );
        let now = &doc.incidents[1];
        assert_eq!((now.status.as_str(), now.impact.as_str()), ("monitoring", "major"));
        let u = now.latest_update.as_ref().unwrap();
        assert_eq!(u.at.as_deref(), Some("2026-05-28T11:33:20Z"));
        assert_eq!(u.body, "Update monitoring.\n\nMore.");
        assert!(doc.windowed);

        let done = change(
            6499101276287,
            "resolved",
            &[
                (1779967491, "investigating", &[(API, "partial_outage")]),
                (1779968182, "resolved", &[(API, "operational")]),
            ],
        );
        let doc = extract(&summary("", &format!("{done},{history}"))).unwrap();
        assert!(doc.components.iter().all(|c| c.status == ComponentStatus::Operational));
        assert_eq!(doc.incidents[1].status, "resolved");
    }

    #[test]
    fn other_documents_are_errors() {
        assert!(matches!(
            extract(b"<html>Just a moment...</html>"),
            Err(ExtractError::Unparseable {
                kind: Kind::Flashduty,
                ..
            })
        ));
        assert!(matches!(
            extract(br#"{"page": {}, "components": [], "status": {"indicator": "none"}}"#),
            Err(ExtractError::Structure(m)) if m.starts_with("not a FlashDuty")
        ));
    }
}
