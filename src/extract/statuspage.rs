//! The `statuspage` extractor: Atlassian Statuspage v2 `summary.json`, reduced to the state a
//! reader cares about (overall indicator, component statuses, open incidents, maintenances).
//!
//! Deliberately dropped because they change without meaning: `page` (its `updated_at` moves on
//! every refresh), component `updated_at`/`position`, incident `updated_at`/`shortlink`, and the
//! order of every list. Timestamps are rewritten in UTC so a page time zone change is no change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::feed::utc_timestamp;
use super::text::normalize_text;
use super::{ExtractError, Kind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDoc {
    /// `none`, `minor`, `major` or `critical` (`unknown` when the summary has no status).
    pub indicator: String,
    pub description: String,
    pub components: Vec<Component>,
    pub incidents: Vec<Incident>,
    pub maintenances: Vec<Maintenance>,
    /// The incidents are a window over the platform's history (a status feed, Google Cloud's
    /// incidents.json), resolved ones included: an incident that is no longer listed has left the
    /// window, which says nothing about whether it was resolved. False for a Statuspage summary,
    /// which lists unresolved incidents only. Left out of the text when false, so Statuspage
    /// documents read exactly as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub windowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub id: String,
    pub name: String,
    /// Name of the group the component belongs to.
    pub group: Option<String>,
    pub status: ComponentStatus,
    /// The status as Statuspage spelled it, kept for values this version does not know.
    pub raw_status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
    Maintenance,
    Unknown,
}

impl ComponentStatus {
    fn from_statuspage(s: &str) -> Self {
        match s {
            "operational" => ComponentStatus::Operational,
            "degraded_performance" => ComponentStatus::Degraded,
            "partial_outage" => ComponentStatus::PartialOutage,
            "major_outage" => ComponentStatus::MajorOutage,
            "under_maintenance" => ComponentStatus::Maintenance,
            _ => ComponentStatus::Unknown,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::Degraded => "degraded",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
            ComponentStatus::Maintenance => "maintenance",
            ComponentStatus::Unknown => "unknown",
        }
    }

    /// Severity, for ordering and "got worse / got better". An unknown status ranks with
    /// maintenance: worth a look, but not evidence of an outage.
    pub fn rank(&self) -> u8 {
        match self {
            ComponentStatus::Operational => 0,
            ComponentStatus::Maintenance | ComponentStatus::Unknown => 1,
            ComponentStatus::Degraded => 2,
            ComponentStatus::PartialOutage => 3,
            ComponentStatus::MajorOutage => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub created_at: Option<String>,
    /// Names of the affected components, sorted.
    pub components: Vec<String>,
    pub latest_update: Option<IncidentUpdate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    pub status: String,
    pub body: String,
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Maintenance {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub scheduled_for: Option<String>,
    pub scheduled_until: Option<String>,
    /// Names of the affected components, sorted.
    pub components: Vec<String>,
}

// The wire format. Every field is optional (or defaults when missing or null): pages differ in
// which fields they fill, and a missing optional field must not stop a status page from being
// watched. Unknown fields are ignored.

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSummary {
    status: Option<RawStatus>,
    #[serde(deserialize_with = "nullable")]
    components: Vec<RawComponent>,
    #[serde(deserialize_with = "nullable")]
    incidents: Vec<RawIncident>,
    #[serde(deserialize_with = "nullable")]
    scheduled_maintenances: Vec<RawIncident>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStatus {
    indicator: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawComponent {
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    group: Option<bool>,
    group_id: Option<String>,
    /// Member ids, on groups only.
    #[serde(deserialize_with = "nullable")]
    components: Vec<String>,
}

/// An incident or a scheduled maintenance (the latter adds `scheduled_*`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIncident {
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    impact: Option<String>,
    created_at: Option<String>,
    scheduled_for: Option<String>,
    scheduled_until: Option<String>,
    #[serde(deserialize_with = "nullable")]
    incident_updates: Vec<RawUpdate>,
    #[serde(deserialize_with = "nullable")]
    components: Vec<RawComponent>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawUpdate {
    id: Option<String>,
    status: Option<String>,
    body: Option<String>,
    created_at: Option<String>,
}

/// `null` reads as the default (an empty list), like a missing field.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

pub(super) fn extract(body: &[u8]) -> Result<StatusDoc, ExtractError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::Statuspage,
        reason: e.to_string(),
    })?;
    let not_summary = |why: &str| ExtractError::Structure(format!("not a Statuspage summary.json: {why}"));
    let Some(object) = value.as_object() else {
        return Err(not_summary("the document is not a JSON object"));
    };
    let has_status = object.get("status").is_some_and(|s| s.is_object());
    let has_components = object.get("components").is_some_and(|c| c.is_array());
    if !has_status && !has_components {
        return Err(not_summary("no `status` object and no `components` array"));
    }
    let raw: RawSummary = serde_json::from_value(value).map_err(|e| not_summary(&e.to_string()))?;
    Ok(normalize(raw))
}

fn normalize(raw: RawSummary) -> StatusDoc {
    let status = raw.status.unwrap_or_default();

    // Group containers are skipped (their status is derived from their members) but name the
    // group of their members, found by `group_id` or, failing that, the group's member list.
    let mut group_names: HashMap<&str, &str> = HashMap::new();
    let mut member_groups: HashMap<&str, &str> = HashMap::new();
    for group in raw.components.iter().filter(|c| c.group == Some(true)) {
        let (Some(id), Some(name)) = (group.id.as_deref(), group.name.as_deref()) else {
            continue;
        };
        group_names.insert(id, name);
        for member in &group.components {
            member_groups.insert(member, name);
        }
    }

    let mut components: Vec<Component> = raw
        .components
        .iter()
        .filter(|c| c.group != Some(true))
        .map(|c| {
            let id = c.id.clone().unwrap_or_default();
            let group = c
                .group_id
                .as_deref()
                .and_then(|g| group_names.get(g))
                .or_else(|| member_groups.get(id.as_str()))
                .map(|name| (*name).to_owned());
            let raw_status = c.status.clone().unwrap_or_default();
            Component {
                name: c.name.clone().unwrap_or_default(),
                group,
                status: ComponentStatus::from_statuspage(&raw_status),
                raw_status,
                id,
            }
        })
        .collect();
    components.sort_by(|a, b| (&a.group, &a.name, &a.id).cmp(&(&b.group, &b.name, &b.id)));

    let mut incidents: Vec<Incident> = raw.incidents.into_iter().map(incident).collect();
    incidents.sort_by(|a, b| a.id.cmp(&b.id));
    let mut maintenances: Vec<Maintenance> = raw.scheduled_maintenances.into_iter().map(maintenance).collect();
    maintenances.sort_by(|a, b| a.id.cmp(&b.id));

    StatusDoc {
        indicator: status.indicator.unwrap_or_else(|| "unknown".to_owned()),
        description: status.description.unwrap_or_default(),
        components,
        incidents,
        maintenances,
        windowed: false,
    }
}

fn incident(raw: RawIncident) -> Incident {
    let latest_update = raw
        .incident_updates
        .into_iter()
        .map(|u| (parse_time(u.created_at.as_deref()), u))
        // Newest by time; the id breaks ties so the pick does not depend on list order.
        .max_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.id.cmp(&b.id)))
        .map(|(time, u)| IncidentUpdate {
            status: u.status.unwrap_or_default(),
            body: normalize_text(u.body.as_deref().unwrap_or_default()),
            at: time.map(utc_timestamp).or(u.created_at),
        });
    Incident {
        components: component_names(&raw.components),
        id: raw.id.unwrap_or_default(),
        name: raw.name.unwrap_or_default(),
        status: raw.status.unwrap_or_default(),
        impact: raw.impact.unwrap_or_default(),
        created_at: timestamp(raw.created_at),
        latest_update,
    }
}

fn maintenance(raw: RawIncident) -> Maintenance {
    Maintenance {
        components: component_names(&raw.components),
        id: raw.id.unwrap_or_default(),
        name: raw.name.unwrap_or_default(),
        status: raw.status.unwrap_or_default(),
        impact: raw.impact.unwrap_or_default(),
        scheduled_for: timestamp(raw.scheduled_for),
        scheduled_until: timestamp(raw.scheduled_until),
    }
}

fn component_names(components: &[RawComponent]) -> Vec<String> {
    let mut names: Vec<String> = components.iter().filter_map(|c| c.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

fn parse_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A timestamp in UTC; an unparseable one is kept as written rather than lost.
fn timestamp(s: Option<String>) -> Option<String> {
    match parse_time(s.as_deref()) {
        Some(t) => Some(utc_timestamp(t)),
        None => s.filter(|s| !s.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{
      "page": {"id": "p1", "name": "Example", "url": "https://status.example.com",
               "time_zone": "America/Los_Angeles", "updated_at": "2025-03-01T10:05:00.000-08:00"},
      "status": {"indicator": "minor", "description": "Partially Degraded Service"},
      "components": [
        {"id": "g1", "name": "API", "status": "degraded_performance", "group": true,
         "components": ["c2", "c1"], "position": 1, "updated_at": "2025-03-01T10:00:00Z"},
        {"id": "c2", "name": "Messages", "status": "degraded_performance", "group_id": "g1",
         "group": false, "position": 2, "updated_at": "2025-03-01T10:00:00Z",
         "only_show_if_degraded": false, "description": null, "showcase": true},
        {"id": "c1", "name": "Batches", "status": "operational", "group_id": "g1",
         "group": false, "position": 3, "updated_at": "2025-03-01T09:00:00Z"},
        {"id": "c3", "name": "Console", "status": "under_maintenance", "group_id": null,
         "group": false, "position": 4, "updated_at": "2025-03-01T09:00:00Z"},
        {"id": "c4", "name": "Billing", "status": "sleeping", "group": false}
      ],
      "incidents": [
        {"id": "inc1", "name": "Elevated errors on Messages", "status": "identified",
         "impact": "minor", "created_at": "2025-03-01T09:30:00.000-08:00",
         "updated_at": "2025-03-01T10:05:00.000-08:00", "monitoring_at": null,
         "resolved_at": null, "shortlink": "https://stspg.io/abc", "page_id": "p1",
         "incident_updates": [
           {"id": "u1", "status": "investigating", "body": "We are investigating.",
            "created_at": "2025-03-01T09:30:00.000-08:00", "affected_components": []},
           {"id": "u2", "status": "identified",
            "body": "The issue has been  identified.\r\nA fix is being\u00a0implemented.",
            "created_at": "2025-03-01T18:00:00Z", "affected_components": null}
         ],
         "components": [{"id": "c2", "name": "Messages", "status": "degraded_performance"}]}
      ],
      "scheduled_maintenances": [
        {"id": "m1", "name": "Database upgrade", "status": "scheduled", "impact": "maintenance",
         "scheduled_for": "2025-03-05T02:00:00.000-08:00",
         "scheduled_until": "2025-03-05T04:00:00.000-08:00", "incident_updates": [],
         "components": [{"id": "c3", "name": "Console"}, {"id": "c1", "name": "Batches"}]}
      ]
    }"#;

    #[test]
    fn summary_is_normalized() {
        let doc = extract(SUMMARY.as_bytes()).unwrap();
        assert_eq!(doc.indicator, "minor");
        assert_eq!(doc.description, "Partially Degraded Service");

        let summary: Vec<(Option<&str>, &str, ComponentStatus)> = doc
            .components
            .iter()
            .map(|c| (c.group.as_deref(), c.name.as_str(), c.status))
            .collect();
        assert_eq!(
            summary,
            [
                (None, "Billing", ComponentStatus::Unknown),
                (None, "Console", ComponentStatus::Maintenance),
                (Some("API"), "Batches", ComponentStatus::Operational),
                (Some("API"), "Messages", ComponentStatus::Degraded),
            ]
        );
        assert_eq!(doc.components[0].raw_status, "sleeping");

        assert_eq!(
            doc.incidents,
            [Incident {
                id: "inc1".into(),
                name: "Elevated errors on Messages".into(),
                status: "identified".into(),
                impact: "minor".into(),
                created_at: Some("2025-03-01T17:30:00Z".into()),
                components: vec!["Messages".into()],
                latest_update: Some(IncidentUpdate {
                    status: "identified".into(),
                    body: "The issue has been identified.\nA fix is being implemented.".into(),
                    at: Some("2025-03-01T18:00:00Z".into()),
                }),
            }]
        );

        assert_eq!(
            doc.maintenances,
            [Maintenance {
                id: "m1".into(),
                name: "Database upgrade".into(),
                status: "scheduled".into(),
                impact: "maintenance".into(),
                scheduled_for: Some("2025-03-05T10:00:00Z".into()),
                scheduled_until: Some("2025-03-05T12:00:00Z".into()),
                components: vec!["Batches".into(), "Console".into()],
            }]
        );
    }

    #[test]
    fn updated_at_and_order_do_not_matter() {
        let a = r#"{"page": {"updated_at": "2025-03-01T10:00:00Z"},
            "status": {"indicator": "none", "description": "All Systems Operational"},
            "components": [
              {"id": "a", "name": "API", "status": "operational", "updated_at": "2025-03-01T10:00:00Z", "position": 1},
              {"id": "b", "name": "Web", "status": "operational", "updated_at": "2025-03-01T10:00:00Z", "position": 2}
            ],
            "incidents": [], "scheduled_maintenances": []}"#;
        let b = r#"{"page": {"updated_at": "2025-03-02T11:11:11Z"},
            "status": {"indicator": "none", "description": "All Systems Operational"},
            "components": [
              {"id": "b", "name": "Web", "status": "operational", "updated_at": "2025-03-02T11:11:11Z", "position": 1},
              {"id": "a", "name": "API", "status": "operational", "updated_at": "2025-03-02T11:11:00Z", "position": 2}
            ],
            "incidents": [], "scheduled_maintenances": []}"#;
        let (a, b) = (extract(a.as_bytes()).unwrap(), extract(b.as_bytes()).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.components[0].name, "API");
    }

    #[test]
    fn tolerates_missing_optional_fields() {
        let doc = extract(br#"{"components": [{"name": "API", "status": "major_outage"}]}"#).unwrap();
        assert_eq!(doc.indicator, "unknown");
        assert_eq!(doc.components[0].status, ComponentStatus::MajorOutage);
        assert!(doc.incidents.is_empty() && doc.maintenances.is_empty());

        let doc = extract(br#"{"status": {"indicator": "none"}, "incidents": null}"#).unwrap();
        assert_eq!(doc.indicator, "none");
        assert!(doc.components.is_empty());
    }

    #[test]
    fn bad_json_is_unparseable() {
        let err = extract(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(matches!(
            err,
            ExtractError::Unparseable {
                kind: Kind::Statuspage,
                ..
            }
        ));
    }

    #[test]
    fn other_json_is_a_structure_error() {
        for body in [&br#"[1, 2]"#[..], br#"{"data": []}"#, br#"{"components": [1]}"#] {
            let err = extract(body).unwrap_err();
            assert!(
                matches!(&err, ExtractError::Structure(m) if m.starts_with("not a Statuspage summary.json")),
                "{err}"
            );
        }
    }

    #[test]
    fn status_strings_and_ranks() {
        let all = [
            ComponentStatus::Operational,
            ComponentStatus::Degraded,
            ComponentStatus::PartialOutage,
            ComponentStatus::MajorOutage,
            ComponentStatus::Maintenance,
            ComponentStatus::Unknown,
        ];
        for s in all {
            // `as_str` is the serialized form.
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(ComponentStatus::MajorOutage.rank() > ComponentStatus::PartialOutage.rank());
        assert!(ComponentStatus::Degraded.rank() > ComponentStatus::Maintenance.rank());
        assert_eq!(ComponentStatus::Unknown.rank(), 1);
    }
}
