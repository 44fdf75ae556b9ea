//! Status pages are state machines, not documents: their facts come from the structured diff
//! (component transitions, incidents opened, escalated and resolved, maintenances), not from
//! changed lines.
//!
//! Incidents are threads. A change of state is news (an incident opened, escalated, a component
//! newly affected or worse, a resolution, a recovery with nothing left open, a maintenance
//! announced); an update that changes none of that (a new message, investigating → identified →
//! monitoring, a component improving while the incident is still open, a maintenance starting or
//! ending as announced) belongs on the timeline of the brief already written for that incident.

use super::facts::Fact;
use crate::diff::{Diff, StatusDiff, diff};
use crate::extract::{Incident, Kind, Normalized, StatusDoc};

fn docs(before: &str, after: &str) -> Option<(StatusDoc, StatusDoc)> {
    match (
        Normalized::from_text(Kind::Statuspage, before),
        Normalized::from_text(Kind::Statuspage, after),
    ) {
        (Ok(Normalized::Status(a)), Ok(Normalized::Status(b))) => Some((a, b)),
        _ => None,
    }
}

fn status_diff(a: &StatusDoc, b: &StatusDoc) -> Option<StatusDiff> {
    match diff(&Normalized::Status(a.clone()), &Normalized::Status(b.clone())) {
        Diff::Status(d) => Some(d),
        _ => None,
    }
}

/// Incident impact, worst last.
fn impact_rank(impact: &str) -> u8 {
    match impact {
        "critical" => 4,
        "major" => 3,
        "minor" => 2,
        "maintenance" => 1,
        _ => 0,
    }
}

fn status_rank(status: &str) -> u8 {
    match status {
        "major_outage" => 4,
        "partial_outage" => 3,
        "degraded" => 2,
        "maintenance" | "unknown" => 1,
        _ => 0,
    }
}

fn fact(kind: &'static str, subject: &str, field: Option<&str>, old: Option<&str>, new: Option<&str>) -> Fact {
    let mut f = Fact::new(kind);
    f.subject = Some(subject.to_owned());
    f.field = field.map(str::to_owned);
    f.old = old.map(str::to_owned);
    f.new = new.map(str::to_owned);
    f
}

fn is_open(i: &Incident) -> bool {
    !matches!(i.status.as_str(), "resolved" | "postmortem" | "completed")
}

/// Facts of a status-page change; `None` when the texts are not status documents.
pub fn facts(before: &str, after: &str) -> Option<Vec<Fact>> {
    let (a, b) = docs(before, after)?;
    let Some(d) = status_diff(&a, &b) else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let name = |t: &crate::diff::ComponentTransition| match &t.group {
        Some(g) => format!("{g} / {}", t.name),
        None => t.name.clone(),
    };
    for t in &d.components {
        out.push(fact("status_change", &name(t), None, Some(&t.from), Some(&t.to)));
    }
    // A component listed for the first time already affected (a feed that names a service only
    // once an incident does): its transition from operational.
    for c in d.components_added.iter().filter(|c| c.status.rank() > 0) {
        let subject = match &c.group {
            Some(g) => format!("{g} / {}", c.name),
            None => c.name.clone(),
        };
        out.push(fact(
            "status_change",
            &subject,
            None,
            Some("operational"),
            Some(c.status.as_str()),
        ));
    }
    for i in &d.incidents_opened {
        let mut f = fact("incident", &i.name, Some("opened"), None, Some(&i.impact));
        f.date = i.created_at.as_deref().map(|c| c.chars().take(10).collect());
        out.push(f);
    }
    for c in &d.incidents_updated {
        let (old, new) = (&c.before, &c.after);
        if impact_rank(&new.impact) > impact_rank(&old.impact) {
            out.push(fact(
                "incident",
                &new.name,
                Some("escalated"),
                Some(&old.impact),
                Some(&new.impact),
            ));
        } else if impact_rank(&new.impact) < impact_rank(&old.impact) {
            out.push(fact(
                "incident",
                &new.name,
                Some("deescalated"),
                Some(&old.impact),
                Some(&new.impact),
            ));
        } else if old.status != new.status {
            out.push(fact(
                "incident",
                &new.name,
                Some("updated"),
                Some(&old.status),
                Some(&new.status),
            ));
        } else {
            out.push(fact("incident", &new.name, Some("updated"), None, Some(&new.status)));
        }
    }
    for i in &d.incidents_resolved {
        let mut f = fact("incident", &i.name, Some("resolved"), None, Some("resolved"));
        f.date = i.created_at.as_deref().map(|c| c.chars().take(10).collect());
        out.push(f);
    }
    for m in &d.maintenances_added {
        let state = maintenance_state(&m.status);
        let mut f = fact("maintenance", &m.name, Some(state), None, Some(state));
        f.date = m.scheduled_for.as_deref().map(|c| c.chars().take(10).collect());
        out.push(f);
    }
    for c in &d.maintenances_updated {
        let (o, n) = (maintenance_state(&c.before.status), maintenance_state(&c.after.status));
        if o != n {
            let mut f = fact("maintenance", &c.after.name, Some(n), Some(o), Some(n));
            f.date = c.after.scheduled_for.as_deref().map(|c| c.chars().take(10).collect());
            out.push(f);
        }
    }
    for m in &d.maintenances_ended {
        out.push(fact(
            "maintenance",
            &m.name,
            Some("completed"),
            Some(maintenance_state(&m.status)),
            Some("completed"),
        ));
    }
    Some(out)
}

fn maintenance_state(status: &str) -> &'static str {
    match status {
        "in_progress" | "verifying" => "in_progress",
        "completed" | "resolved" => "completed",
        _ => "scheduled",
    }
}

/// How a status change relates to the incidents already briefed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thread {
    /// The incidents and maintenances the change is about (`incident:<id>`,
    /// `maintenance:<id>`).
    pub keys: Vec<String>,
    /// A change of state, worth a brief of its own.
    pub news: bool,
    /// What the updates said, for the timeline of the brief they belong to.
    pub updates: Vec<String>,
}

/// The thread of a status change; `None` when the texts are not status documents.
pub fn thread(before: &str, after: &str) -> Option<Thread> {
    let (a, b) = docs(before, after)?;
    let d = status_diff(&a, &b)?;
    let mut t = Thread::default();
    let key = |kind: &str, id: &str| format!("{kind}:{id}");
    let open_after: Vec<&Incident> = b.incidents.iter().filter(|i| is_open(i)).collect();
    let maintenance_open = b
        .maintenances
        .iter()
        .any(|m| maintenance_state(&m.status) != "completed");
    let say = |i: &Incident| {
        let update = i.latest_update.as_ref();
        let status = update.map(|u| u.status.as_str()).unwrap_or(i.status.as_str());
        let body = update.map(|u| u.body.trim()).unwrap_or("");
        format!(
            "{}: {status}{}",
            i.name,
            if body.is_empty() {
                String::new()
            } else {
                format!(": {}", super::shorten(body, 280))
            }
        )
    };

    for i in &d.incidents_opened {
        t.keys.push(key("incident", &i.id));
        t.news = true;
    }
    for i in &d.incidents_resolved {
        t.keys.push(key("incident", &i.id));
        t.updates.push(say(i));
        t.news = true;
    }
    for c in &d.incidents_updated {
        t.keys.push(key("incident", &c.after.id));
        t.updates.push(say(&c.after));
        let escalated = impact_rank(&c.after.impact) > impact_rank(&c.before.impact);
        let newly_affected = c.after.components.iter().any(|x| !c.before.components.contains(x));
        if escalated || newly_affected {
            t.news = true;
        }
    }
    for c in &d.components {
        let worse = status_rank(&c.to) > status_rank(&c.from);
        let maintenance = c.to == "maintenance" || c.from == "maintenance";
        if maintenance && (maintenance_open || !d.maintenances_ended.is_empty()) {
            // Components going into or out of an announced maintenance: its timeline.
            continue;
        }
        if worse {
            // Worse under an incident already briefed and updated in this change is its
            // escalation; worse on its own is news.
            t.news = true;
        } else if open_after.is_empty() {
            // Better with nothing left open: the recovery people wait for.
            t.news = true;
        } else {
            t.updates.push(format!("{}: {} → {}", c.name, c.from, c.to));
        }
    }
    // A component listed for the first time already affected is newly affected.
    if d.components_added.iter().any(|c| c.status.rank() > 0) {
        t.news = true;
    }
    for m in &d.maintenances_added {
        t.keys.push(key("maintenance", &m.id));
        t.news = true;
    }
    for c in &d.maintenances_updated {
        t.keys.push(key("maintenance", &c.after.id));
        t.updates.push(format!(
            "{}: {} → {}",
            c.after.name,
            maintenance_state(&c.before.status),
            maintenance_state(&c.after.status)
        ));
    }
    for m in &d.maintenances_ended {
        t.keys.push(key("maintenance", &m.id));
        t.updates.push(format!("{}: completed", m.name));
    }
    t.keys.sort();
    t.keys.dedup();
    Some(t)
}

/// How bad a status change is: the worst new component state or open incident impact; a
/// maintenance is low.
pub fn severity(facts: &[Fact], in_use: bool) -> crate::domain::brief::Severity {
    let worst = facts
        .iter()
        .filter(|f| !matches!(f.field.as_deref(), Some("resolved" | "deescalated")))
        .filter(|f| f.kind != "maintenance")
        .filter_map(|f| f.new.as_deref())
        .map(|s| match s {
            "major_outage" | "critical" | "major" => 3,
            "partial_outage" | "minor" | "degraded" => 2,
            "maintenance" => 1,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    let maintenance = facts
        .iter()
        .any(|f| f.kind == "maintenance" && f.field.as_deref() != Some("completed"));
    match (worst, in_use) {
        (3, true) => crate::domain::brief::Severity::Critical,
        (3, false) | (2, true) => crate::domain::brief::Severity::High,
        (2, false) => crate::domain::brief::Severity::Medium,
        (1, _) => crate::domain::brief::Severity::Low,
        _ if maintenance => crate::domain::brief::Severity::Low,
        _ => crate::domain::brief::Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Statuspage summary with one component and, optionally, one incident.
    fn page(component: &str, incident: Option<(&str, &str, &str, &[&str])>, maintenance: Option<&str>) -> String {
        let mut v = json!({
            "status": {"indicator": "none", "description": "x"},
            "components": [
                {"id": "c1", "name": "API", "status": component},
                {"id": "c2", "name": "Console", "status": "operational"}
            ],
            "incidents": [],
            "scheduled_maintenances": []
        });
        if let Some((status, impact, body, comps)) = incident {
            v["incidents"] = json!([{
                "id": "inc1", "name": "Elevated errors", "status": status, "impact": impact,
                "created_at": "2026-01-01T10:00:00Z",
                "incident_updates": [{"id": format!("u-{body}"), "status": status, "body": body, "created_at": "2026-01-01T10:05:00Z"}],
                "components": comps.iter().map(|c| json!({"id": if *c == "API" { "c1" } else { "c2" }, "name": c})).collect::<Vec<_>>()
            }]);
        }
        if let Some(status) = maintenance {
            v["scheduled_maintenances"] = json!([{
                "id": "m1", "name": "Database upgrade", "status": status, "impact": "maintenance",
                "scheduled_for": "2026-02-01T02:00:00Z", "scheduled_until": "2026-02-01T04:00:00Z",
                "incident_updates": [], "components": [{"id": "c1", "name": "API"}]
            }]);
        }
        let doc = crate::extract::Extractor::new(Kind::Statuspage, Default::default(), None)
            .unwrap()
            .extract(v.to_string().as_bytes())
            .unwrap();
        doc.to_text()
    }

    #[test]
    fn an_incident_is_one_thread_with_news_only_on_changes_of_state() {
        let quiet = page("operational", None, None);
        let opened = page(
            "degraded_performance",
            Some(("investigating", "minor", "Looking", &["API"])),
            None,
        );
        let identified = page(
            "degraded_performance",
            Some(("identified", "minor", "Found it", &["API"])),
            None,
        );
        let worse = page(
            "major_outage",
            Some(("identified", "critical", "Worse", &["API", "Console"])),
            None,
        );
        let monitoring = page(
            "operational",
            Some(("monitoring", "critical", "Fix deployed", &["API", "Console"])),
            None,
        );
        let resolved = page("operational", None, None);

        let t = thread(&quiet, &opened).unwrap();
        assert!(t.news);
        assert_eq!(t.keys, ["incident:inc1"]);
        let t = thread(&opened, &identified).unwrap();
        assert!(!t.news, "{t:?}");
        assert_eq!(t.keys, ["incident:inc1"]);
        assert!(t.updates[0].contains("identified: Found it"), "{t:?}");
        let t = thread(&identified, &worse).unwrap();
        assert!(t.news, "an escalation is news");
        let f = facts(&identified, &worse).unwrap();
        assert!(
            f.iter()
                .any(|f| f.kind == "incident" && f.field.as_deref() == Some("escalated"))
        );
        assert!(
            f.iter()
                .any(|f| f.kind == "status_change" && f.new.as_deref() == Some("major_outage"))
        );
        let t = thread(&worse, &monitoring).unwrap();
        assert!(!t.news, "the component recovering while the incident is open: {t:?}");
        let t = thread(&monitoring, &resolved).unwrap();
        assert!(t.news, "the resolution is news");
        let f = facts(&monitoring, &resolved).unwrap();
        assert!(
            f.iter()
                .any(|f| f.kind == "incident" && f.field.as_deref() == Some("resolved"))
        );
    }

    #[test]
    fn a_component_first_named_by_an_incident_has_its_transition() {
        // A feed that named nothing before the incident (an empty window).
        let empty = r#"{"indicator":"unknown","description":"feed","components":[],"incidents":[],"maintenances":[],"windowed":true}"#;
        let down = r#"{"indicator":"critical","description":"feed","components":[{"id":"Acme API","name":"Acme API","group":null,"status":"major_outage","raw_status":"went down"}],"incidents":[{"id":"i1","name":"Acme API went down","status":"investigating","impact":"critical","created_at":"2026-01-01T10:00:00Z","components":["Acme API"],"latest_update":null}],"maintenances":[],"windowed":true}"#;
        let f = facts(empty, down).unwrap();
        assert!(
            f.iter().any(|f| f.kind == "status_change"
                && f.subject.as_deref() == Some("Acme API")
                && f.old.as_deref() == Some("operational")
                && f.new.as_deref() == Some("major_outage")),
            "{f:?}"
        );
        assert!(thread(empty, down).unwrap().news);
    }

    #[test]
    fn a_maintenance_is_announced_once_and_then_updated() {
        let quiet = page("operational", None, None);
        let scheduled = page("operational", None, Some("scheduled"));
        let running = page("under_maintenance", None, Some("in_progress"));
        let done = page("operational", None, None);
        let t = thread(&quiet, &scheduled).unwrap();
        assert!(t.news);
        let f = facts(&quiet, &scheduled).unwrap();
        assert_eq!(f[0].kind, "maintenance");
        assert_eq!(f[0].field.as_deref(), Some("scheduled"));
        assert_eq!(f[0].date.as_deref(), Some("2026-02-01"));
        assert_eq!(severity(&f, true), crate::domain::brief::Severity::Low);
        let t = thread(&scheduled, &running).unwrap();
        assert!(!t.news, "{t:?}");
        assert_eq!(t.keys, ["maintenance:m1"]);
        let t = thread(&running, &done).unwrap();
        assert!(!t.news, "{t:?}");
        assert!(t.updates.iter().any(|u| u.contains("completed")));
    }
}
