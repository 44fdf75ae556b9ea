//! `gcp_status`: Google Cloud's `https://status.cloud.google.com/incidents.json`, a JSON array of
//! every incident of every product for years, reduced to one product (`product`, by id such as
//! `Z0FZJAMvEB4j3NbCJs6B` or by title such as "Vertex Gemini API").
//!
//! An incident is open until it has an `end`; its effect is its `status_impact`
//! (`SERVICE_INFORMATION`, `SERVICE_DISRUPTION`, `SERVICE_OUTAGE`), or the status of its most recent
//! update while that is more precise, else its `severity` (`low`, `medium`, `high`). The product is
//! the one component. Resolved incidents are history: the most recent few are kept.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::super::text::normalize_text;
use super::{Page, Read, StatusOptions, assemble, impact_of, one_line, utc};
use crate::extract::{ComponentStatus, ExtractError, Incident, IncidentUpdate, Kind, StatusDoc};

/// Resolved incidents kept in the document: enough to read the recent past, few enough that years
/// of history do not make every snapshot large.
const KEEP_RESOLVED: usize = 20;

// The wire format; every field optional, unknown fields ignored.

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIncident {
    id: Option<String>,
    begin: Option<String>,
    end: Option<String>,
    external_desc: Option<String>,
    service_name: Option<String>,
    severity: Option<String>,
    status_impact: Option<String>,
    affected_products: Option<Vec<RawProduct>>,
    most_recent_update: Option<RawUpdate>,
    updates: Option<Vec<RawUpdate>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProduct {
    id: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct RawUpdate {
    created: Option<String>,
    when: Option<String>,
    status: Option<String>,
    text: Option<String>,
}

pub(in crate::extract) fn extract(body: &[u8], opts: &StatusOptions) -> Result<StatusDoc, ExtractError> {
    let Some(product) = opts.product.as_deref() else {
        return Err(ExtractError::BadRule("kind `gcp_status` needs a `product`".into()));
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::GcpStatus,
        reason: e.to_string(),
    })?;
    let not_incidents = |why: &str| ExtractError::Structure(format!("not a Google Cloud incidents.json: {why}"));
    let Value::Array(entries) = value else {
        return Err(not_incidents("the document is not a JSON array"));
    };
    // Entries that no longer carry the fields we key on are what a format change looks like: it
    // must not read as "no incident for the product".
    let raw: Vec<RawIncident> = entries
        .into_iter()
        .filter_map(|e| serde_json::from_value::<RawIncident>(e).ok())
        .filter(|i| i.id.is_some() && i.begin.is_some())
        .collect();
    let title = |name: &str| format!("Google Cloud: {name}");
    if raw.is_empty() {
        if body_is_empty_array(body) {
            // An empty history names nothing; the watcher decides whether that is a dropped yield.
            return Ok(assemble(Page {
                title: title(product),
                components: Vec::new(),
                reads: Vec::new(),
                windowed: true,
                keep_resolved: Some(KEEP_RESOLVED),
            }));
        }
        return Err(not_incidents("no entry has an `id` and a `begin`"));
    }

    let mine: Vec<RawIncident> = raw.into_iter().filter(|i| concerns(i, product)).collect();
    // The component is named as Google names the product, once an incident tells us; its id is the
    // source's `product`, which never changes with the document.
    let name = opts
        .component
        .clone()
        .or_else(|| mine.iter().find_map(|i| product_title(i, product)))
        .unwrap_or_else(|| product.to_owned());
    let reads = mine.into_iter().map(|i| read(i, &name)).collect();
    Ok(assemble(Page {
        title: title(&name),
        components: vec![(product.to_owned(), name)],
        reads,
        windowed: true,
        keep_resolved: Some(KEEP_RESOLVED),
    }))
}

fn body_is_empty_array(body: &[u8]) -> bool {
    matches!(serde_json::from_slice::<Value>(body), Ok(Value::Array(a)) if a.is_empty())
}

fn concerns(i: &RawIncident, product: &str) -> bool {
    let products = i.affected_products.as_deref().unwrap_or_default();
    products.iter().any(|p| {
        p.id.as_deref() == Some(product) || p.title.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(product))
    }) || (products.is_empty()
        && i.service_name
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(product)))
}

fn product_title(i: &RawIncident, product: &str) -> Option<String> {
    i.affected_products
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|p| {
            p.id.as_deref() == Some(product) || p.title.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(product))
        })
        .and_then(|p| p.title.clone())
        .or_else(|| i.service_name.clone())
}

/// What an impact word does to the product.
fn effect(word: &str) -> Option<ComponentStatus> {
    Some(match word {
        "SERVICE_OUTAGE" | "high" => ComponentStatus::MajorOutage,
        "SERVICE_DISRUPTION" | "medium" => ComponentStatus::PartialOutage,
        "SERVICE_INFORMATION" | "low" => ComponentStatus::Degraded,
        "AVAILABLE" => ComponentStatus::Operational,
        _ => return None,
    })
}

fn read(raw: RawIncident, component: &str) -> Read {
    let latest = raw.most_recent_update.clone().or_else(|| {
        raw.updates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .max_by_key(|u| time(u.when.as_deref().or(u.created.as_deref())))
            .cloned()
    });
    let resolved = raw.end.as_deref().is_some_and(|e| !e.trim().is_empty());
    let status = if resolved {
        "resolved"
    } else if latest.as_ref().and_then(|u| u.status.as_deref()) == Some("AVAILABLE") {
        // The service is back but Google has not closed the incident yet.
        "monitoring"
    } else {
        "investigating"
    };
    let known = |w: Option<String>| w.and_then(|w| effect(&w).map(|s| (s, w)));
    // How bad it got, from the incident's own fields; how things are now, from its most recent
    // update when that says.
    let worst = known(raw.status_impact.clone()).or_else(|| known(raw.severity.clone()));
    let (now, word) = known(latest.as_ref().and_then(|u| u.status.clone()))
        .or_else(|| worst.clone())
        .unwrap_or((ComponentStatus::Unknown, raw.status_impact.clone().unwrap_or_default()));
    let impact = impact_of(worst.map_or(now, |(s, _)| s));
    let incident = Incident {
        id: raw.id.unwrap_or_default(),
        name: one_line(raw.external_desc.as_deref().unwrap_or_default()),
        status: status.to_owned(),
        impact: impact.to_owned(),
        created_at: timestamp(raw.begin),
        components: vec![component.to_owned()],
        latest_update: latest.map(|u| IncidentUpdate {
            status: u.status.unwrap_or_default(),
            body: normalize_text(u.text.as_deref().unwrap_or_default()),
            // When Google posted it: `when` may be set back to the moment it describes.
            at: timestamp(u.created.or(u.when)),
        }),
    };
    Read::uniform(incident, now, &word)
}

fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A timestamp in UTC; an unparseable one is kept as written rather than lost.
fn timestamp(s: Option<String>) -> Option<String> {
    match time(s.as_deref()) {
        Some(t) => Some(utc(t)),
        None => s.filter(|s| !s.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERTEX: &str = "Z0FZJAMvEB4j3NbCJs6B";

    fn incident(id: &str, product: (&str, &str), begin: &str, end: Option<&str>, impact: &str, latest: &str) -> String {
        // Google's most recent update is the closing one once the incident has ended.
        let latest_at = end.unwrap_or("2026-03-01T11:30:00+00:00");
        let end = end.map(|e| format!(r#""end": "{e}","#)).unwrap_or_default();
        format!(
            r#"{{
      "id": "{id}", "number": "1{id}", "begin": "{begin}", "created": "{begin}", {end}
      "modified": "2026-03-02T00:00:00+00:00",
      "external_desc": "{} customers may see elevated\n error rates",
      "updates": [
        {{"created": "{begin}", "modified": "{begin}", "when": "{begin}", "text": "We are investigating.", "status": "{impact}",
          "affected_locations": [{{"title": "Iowa (us-central1)", "id": "us-central1"}}]}}
      ],
      "most_recent_update": {{"created": "{latest_at}", "modified": "{latest_at}",
        "when": "2026-03-01T11:00:00+00:00", "text": "**Summary:** {latest}", "status": "{latest}", "affected_locations": []}},
      "status_impact": "{impact}", "severity": "medium",
      "service_key": "{}", "service_name": "{}",
      "affected_products": [{{"title": "{}", "id": "{}"}}],
      "uri": "incidents/{id}", "currently_affected_locations": [], "previously_affected_locations": []
    }}"#,
            product.1, product.0, product.1, product.1, product.0
        )
    }

    fn doc(incidents: &[String]) -> Vec<u8> {
        format!("[{}]", incidents.join(",")).into_bytes()
    }

    fn parse(body: &[u8], product: &str) -> StatusDoc {
        let opts = StatusOptions {
            product: Some(product.into()),
            ..StatusOptions::default()
        };
        extract(body, &opts).unwrap()
    }

    fn others() -> Vec<String> {
        vec![
            incident(
                "bq1",
                ("9CcrhHUcFevXPSVaSxkf", "BigQuery"),
                "2026-03-01T09:00:00+00:00",
                None,
                "SERVICE_OUTAGE",
                "SERVICE_OUTAGE",
            ),
            incident(
                "vx0",
                (VERTEX, "Vertex Gemini API"),
                "2026-01-10T09:00:00+00:00",
                Some("2026-01-10T12:00:00+00:00"),
                "SERVICE_OUTAGE",
                "AVAILABLE",
            ),
        ]
    }

    #[test]
    fn one_product_is_kept_and_its_history_does_not_degrade_it() {
        let d = parse(&doc(&others()), VERTEX);
        assert_eq!(d.description, "Google Cloud: Vertex Gemini API");
        assert_eq!(d.components.len(), 1);
        let c = &d.components[0];
        assert_eq!((c.id.as_str(), c.name.as_str()), (VERTEX, "Vertex Gemini API"));
        assert_eq!(c.status, ComponentStatus::Operational);
        assert_eq!(d.incidents.len(), 1, "BigQuery's outage is not ours");
        let i = &d.incidents[0];
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("resolved", "critical"));
        assert_eq!(i.name, "Vertex Gemini API customers may see elevated error rates");
        assert!(d.windowed);
        // By title as well as by id.
        assert_eq!(parse(&doc(&others()), "vertex gemini api").incidents.len(), 1);
    }

    #[test]
    fn an_open_incident_degrades_the_product_until_it_ends() {
        let open = |end: Option<&str>, latest: &str| {
            incident(
                "vx1",
                (VERTEX, "Vertex Gemini API"),
                "2026-03-01T10:00:00+00:00",
                end,
                "SERVICE_DISRUPTION",
                latest,
            )
        };
        let mut docs = others();
        docs.insert(0, open(None, "SERVICE_DISRUPTION"));
        let d = parse(&doc(&docs), VERTEX);
        assert_eq!(d.components[0].status, ComponentStatus::PartialOutage);
        assert_eq!(d.components[0].raw_status, "SERVICE_DISRUPTION");
        assert_eq!(d.indicator, "major");
        let i = d.incidents.iter().find(|i| i.id == "vx1").unwrap();
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("investigating", "major"));
        assert_eq!(i.created_at.as_deref(), Some("2026-03-01T10:00:00Z"));
        let u = i.latest_update.as_ref().unwrap();
        assert_eq!(u.status, "SERVICE_DISRUPTION");
        assert_eq!(u.at.as_deref(), Some("2026-03-01T11:30:00Z"));
        assert_eq!(u.body, "**Summary:** SERVICE_DISRUPTION");

        // Available again, not yet closed: monitoring, and no longer degrading the product.
        docs[0] = open(None, "AVAILABLE");
        let d = parse(&doc(&docs), VERTEX);
        let i = d.incidents.iter().find(|i| i.id == "vx1").unwrap();
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("monitoring", "major"));
        assert_eq!(d.components[0].status, ComponentStatus::Operational);
        assert_eq!(d.components[0].raw_status, "AVAILABLE");

        docs[0] = open(Some("2026-03-01T12:00:00+00:00"), "AVAILABLE");
        let d = parse(&doc(&docs), VERTEX);
        assert_eq!(d.incidents.iter().find(|i| i.id == "vx1").unwrap().status, "resolved");
        assert_eq!(d.components[0].status, ComponentStatus::Operational);
    }

    #[test]
    fn no_incident_for_the_product_is_all_operational() {
        let d = parse(&doc(&others()[..1]), VERTEX);
        assert!(d.incidents.is_empty());
        assert_eq!(d.components.len(), 1);
        assert_eq!(
            d.components[0].name, VERTEX,
            "named by the source until Google names it"
        );
        assert_eq!(d.components[0].status, ComponentStatus::Operational);
    }

    #[test]
    fn old_resolved_incidents_leave_the_document() {
        let many: Vec<String> = (0..25)
            .map(|n| {
                incident(
                    &format!("old{n:02}"),
                    (VERTEX, "Vertex Gemini API"),
                    &format!("2025-01-{:02}T00:00:00+00:00", n + 1),
                    Some(&format!("2025-01-{:02}T06:00:00+00:00", n + 1)),
                    "SERVICE_INFORMATION",
                    "AVAILABLE",
                )
            })
            .collect();
        let d = parse(&doc(&many), VERTEX);
        assert_eq!(d.incidents.len(), KEEP_RESOLVED);
        assert_eq!(d.incidents[0].id, "old05", "the oldest were dropped");
    }

    #[test]
    fn other_documents_are_errors_and_an_empty_array_names_nothing() {
        let opts = StatusOptions {
            product: Some(VERTEX.into()),
            ..StatusOptions::default()
        };
        for (body, unparseable) in [
            (&b"<html>Moved to a new status page</html>"[..], true),
            (br#"{"incidents": []}"#, false),
            (br#"[{"incident_id": "x", "start": "2026-01-01"}]"#, false),
        ] {
            let err = extract(body, &opts).unwrap_err();
            match err {
                ExtractError::Unparseable { kind, .. } => assert!(unparseable && kind == Kind::GcpStatus),
                ExtractError::Structure(m) => assert!(!unparseable && m.starts_with("not a Google Cloud"), "{m}"),
                other => panic!("{other}"),
            }
        }
        let d = extract(b"[]", &opts).unwrap();
        assert!(d.components.is_empty() && d.incidents.is_empty());
        assert!(matches!(
            extract(b"[]", &StatusOptions::default()),
            Err(ExtractError::BadRule(_))
        ));
    }
}
