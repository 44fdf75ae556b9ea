//! Status pages are state machines, not documents: their facts come from the structured diff
//! (component transitions, incidents opened and resolved), not from changed lines.

use super::facts::Fact;
use crate::diff::{Diff, diff};
use crate::extract::{Kind, Normalized};

/// Facts of a status-page change; `None` when the texts are not status documents.
pub fn facts(before: &str, after: &str) -> Option<Vec<Fact>> {
    let (Ok(a @ Normalized::Status(_)), Ok(b @ Normalized::Status(_))) = (
        Normalized::from_text(Kind::Statuspage, before),
        Normalized::from_text(Kind::Statuspage, after),
    ) else {
        return None;
    };
    let Diff::Status(d) = diff(&a, &b) else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    for t in &d.components {
        out.push(Fact {
            kind: "status_change",
            subject: Some(match &t.group {
                Some(g) => format!("{g} / {}", t.name),
                None => t.name.clone(),
            }),
            field: None,
            old: Some(t.from.clone()),
            new: Some(t.to.clone()),
            unit: None,
            date: None,
        });
    }
    for (i, state) in d
        .incidents_opened
        .iter()
        .map(|i| (i, "opened"))
        .chain(d.incidents_resolved.iter().map(|i| (i, "resolved")))
    {
        out.push(Fact {
            kind: "incident",
            subject: Some(i.name.clone()),
            field: Some(state.into()),
            old: None,
            new: Some(if state == "resolved" {
                "resolved".into()
            } else {
                i.impact.clone()
            }),
            unit: None,
            date: i.created_at.as_deref().map(|c| c.chars().take(10).collect()),
        });
    }
    for c in &d.incidents_updated {
        out.push(Fact {
            kind: "incident",
            subject: Some(c.after.name.clone()),
            field: Some("updated".into()),
            old: Some(c.before.status.clone()),
            new: Some(c.after.status.clone()),
            unit: None,
            date: None,
        });
    }
    Some(out)
}

/// How bad a status change is: the worst new component state or open incident impact.
pub fn severity(facts: &[Fact], in_use: bool) -> &'static str {
    let worst = facts
        .iter()
        .filter(|f| f.field.as_deref() != Some("resolved"))
        .filter_map(|f| f.new.as_deref())
        .map(|s| match s {
            "major_outage" | "critical" | "major" => 3,
            "partial_outage" | "minor" | "degraded" => 2,
            "maintenance" => 1,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    match (worst, in_use) {
        (3, true) => "critical",
        (3, false) | (2, true) => "high",
        (2, false) => "medium",
        (1, _) => "low",
        _ => "info",
    }
}
