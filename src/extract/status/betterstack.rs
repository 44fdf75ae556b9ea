//! `status_feed` with `platform = "betterstack"`: a Better Stack status page's `/feed` (Together AI,
//! Fireworks). One item per event: a monitored resource's "X went down" and "X recovered", or a
//! status report's updates. An incident's items share its link when the link points at the incident
//! (`/incident/123`), else its guid (the pages whose links all point at the home page give both
//! events of an incident the same guid). The resource named in "X went down" is the component.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use super::feed::Item;
use super::{Read, is_closed, lifecycle_in, severity_in, utc};
use crate::extract::{ComponentStatus, Incident, IncidentUpdate};

/// "Whisper Large V3 went down", "Web endpoints and Volumes are down", "API recovered"...
static RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(.+?)\s+(went down|is down|are down|recovered|is back up|are back up|is degraded|are degraded)\.?$",
    )
    .expect("static regex compiles")
});

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    let mut groups: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in items {
        groups.entry(group_key(&item)).or_default().push(item);
    }
    groups
        .into_iter()
        .filter_map(|(id, mut items)| {
            items.sort_by(|a, b| (a.published, &a.title).cmp(&(b.published, &b.title)));
            let first = items.first()?;
            let last = items.last()?;
            let status = lifecycle_in(&format!("{}\n{}", last.title, last.text)).unwrap_or("investigating");
            let mut components: Vec<String> = items
                .iter()
                .filter_map(|i| RESOURCE.captures(&i.title).map(|c| c[1].to_owned()))
                .collect();
            if components.is_empty() {
                components.push(component.to_owned());
            }
            // The worst any of its events announced; a recovery announces nothing.
            let (severity, raw) = items
                .iter()
                .map(|i| format!("{}\n{}", i.title, i.text))
                .filter(|prose| !lifecycle_in(prose).is_some_and(is_closed))
                .map(|prose| severity_in(&prose))
                .max_by_key(|(s, _)| s.rank())
                .unwrap_or((ComponentStatus::Degraded, String::new()));
            let incident = Incident {
                id,
                name: first.title.clone(),
                status: status.to_owned(),
                impact: String::new(),
                created_at: first.published.map(utc),
                components,
                latest_update: Some(IncidentUpdate {
                    status: status.to_owned(),
                    body: if last.text.is_empty() {
                        last.title.clone()
                    } else {
                        last.text.clone()
                    },
                    at: last.published.map(utc),
                }),
            };
            Some(Read::uniform(incident, severity, &raw))
        })
        .collect()
}

/// The incident an item belongs to: its link when the link names a page of its own, else its guid.
fn group_key(item: &Item) -> String {
    let incident_link = item
        .link
        .as_deref()
        .and_then(|l| Url::parse(l).ok())
        .filter(|u| !u.path().trim_matches('/').is_empty());
    match incident_link {
        Some(u) => u.to_string(),
        None => item.key(),
    }
}

#[cfg(test)]
mod tests {
    use crate::extract::status::{Platform, StatusOptions, extract_feed};
    use crate::extract::{ComponentStatus, StatusDoc};

    fn feed(items: &[&str]) -> Vec<u8> {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Together AI status</title>
    <link>https://status.together.ai</link>
    <description>Together AI status</description>
    <atom:link href="https://status.together.ai/feed" rel="self" type="application/rss+xml"/>
    {}
  </channel>
</rss>"#,
            items.concat()
        )
        .into_bytes()
    }

    fn event(title: &str, guid: &str, date: &str) -> String {
        format!(
            "<item><title>{title}</title><description>{title}</description><pubDate>{date}</pubDate>\
             <link>https://status.together.ai/</link><guid isPermaLink=\"false\">{guid}</guid></item>"
        )
    }

    fn parse(body: &[u8]) -> StatusDoc {
        let opts = StatusOptions {
            platform: Some(Platform::Betterstack),
            ..StatusOptions::default()
        };
        extract_feed(body, &opts).unwrap()
    }

    const OLD_DOWN: &str = "Fri, 02 Jan 2026 08:00:00 +0000";
    const OLD_UP: &str = "Fri, 02 Jan 2026 08:20:00 +0000";

    #[test]
    fn a_resource_goes_down_and_recovers() {
        let old = [
            event("Llama 3 70B recovered", "https://status.together.ai/#a1b2", OLD_UP),
            event("Llama 3 70B went down", "https://status.together.ai/#a1b2", OLD_DOWN),
        ];
        let down = event(
            "Serverless inference went down",
            "https://status.together.ai/#c3d4",
            "Mon, 05 Jan 2026 10:00:00 +0000",
        );
        let doc = parse(&feed(&[&down, &old[0], &old[1]]));
        let states: Vec<(&str, ComponentStatus)> = doc.components.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            states,
            [
                ("Llama 3 70B", ComponentStatus::Operational),
                ("Serverless inference", ComponentStatus::MajorOutage),
            ]
        );
        assert_eq!(doc.components[1].raw_status, "went down");
        let i = doc.incidents.iter().find(|i| i.id.ends_with("#c3d4")).unwrap();
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("investigating", "critical"));
        let old_incident = doc.incidents.iter().find(|i| i.id.ends_with("#a1b2")).unwrap();
        assert_eq!(old_incident.status, "resolved");
        assert_eq!(old_incident.created_at.as_deref(), Some("2026-01-02T08:00:00Z"));

        let up = event(
            "Serverless inference recovered",
            "https://status.together.ai/#c3d4",
            "Mon, 05 Jan 2026 10:45:00 +0000",
        );
        let doc = parse(&feed(&[&up, &down, &old[0], &old[1]]));
        assert!(doc.components.iter().all(|c| c.status == ComponentStatus::Operational));
        let i = doc.incidents.iter().find(|i| i.id.ends_with("#c3d4")).unwrap();
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("resolved", "critical"));
        assert_eq!(i.name, "Serverless inference went down");
        assert_eq!(
            i.latest_update.as_ref().unwrap().at.as_deref(),
            Some("2026-01-05T10:45:00Z")
        );
    }

    #[test]
    fn leaving_the_window_is_not_a_resolution() {
        use crate::diff::{Diff, diff};
        use crate::extract::Normalized;
        // A monitor down for long enough that newer events push it out of the feed: it was never
        // said to recover, so it must not be reported resolved.
        let stuck = event(
            "Legacy endpoint went down",
            "https://status.together.ai/#dead",
            "Thu, 01 Jan 2026 00:00:00 +0000",
        );
        let flap = |n: u32| {
            event(
                &format!("Model {n} went down"),
                &format!("https://status.together.ai/#f{n}"),
                &format!("Mon, 05 Jan 2026 10:{n:02}:00 +0000"),
            )
        };
        let (f1, f2) = (flap(1), flap(2));
        let before = parse(&feed(&[&f1, &stuck]));
        let after = parse(&feed(&[&f2, &f1]));
        let Diff::Status(d) = diff(&Normalized::Status(before), &Normalized::Status(after)) else {
            panic!("a status diff")
        };
        assert!(d.incidents_resolved.is_empty(), "{d:?}");
        let opened: Vec<&str> = d.incidents_opened.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(opened, ["Model 2 went down"]);
        // Its component is no longer named by the feed: removed, not recovered.
        assert!(d.components.is_empty(), "{d:?}");
        assert_eq!(d.components_removed[0].name, "Legacy endpoint");
    }

    #[test]
    fn status_reports_group_by_their_incident_link() {
        let report = |title: &str, text: &str, hash: &str, date: &str| {
            format!(
                "<item><title>{title}</title><description>{text}</description><pubDate>{date}</pubDate>\
                 <link>https://status.fireworks.ai/incident/2001</link>\
                 <guid>https://status.fireworks.ai/incident/2001#{hash}</guid></item>"
            )
        };
        let doc = parse(&feed(&[
            &report(
                "Elevated latency on inference",
                "We are monitoring the fix.",
                "u2",
                "Mon, 05 Jan 2026 11:00:00 +0000",
            ),
            &report(
                "Elevated latency on inference",
                "We are investigating elevated latency.",
                "u1",
                "Mon, 05 Jan 2026 10:00:00 +0000",
            ),
        ]));
        assert_eq!(doc.incidents.len(), 1);
        let i = &doc.incidents[0];
        assert_eq!(i.id, "https://status.fireworks.ai/incident/2001");
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("monitoring", "minor"));
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.components[0].name, "Together AI status");
        assert_eq!(doc.components[0].status, ComponentStatus::Degraded);
    }
}
