//! `status_feed` with `platform = "aws"`: the AWS Health Dashboard's per-service, per-region RSS
//! (`https://status.aws.amazon.com/rss/bedrock-us-east-1.rss`). One item per update, its title
//! `"<level>: <summary>"`, the level one of "Informational message", "Performance issues",
//! "Service disruption" or "Service is operating normally" (the resolution), the summary sometimes
//! tagged `[RESOLVED]`, `[MONITORING]`... Newer items drop the level and carry an event ARN as guid.
//!
//! Updates are grouped into incidents by that ARN when there is one, else by their summary: an
//! incident is the run of updates with the same summary up to and including its resolution, so a
//! summary AWS reuses months later ("Increased Error Rates") starts a new incident. The feed covers
//! one service in one region, so "Service is operating normally" ends every incident still open,
//! and closes the only open one even when its summary was reworded.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::feed::Item;
use super::{Read, is_closed, lifecycle_in, severity_in, utc};
use crate::extract::{ComponentStatus, Incident, IncidentUpdate};

/// AWS's levels, worst last, and what they do to the service.
const LEVELS: [(&str, Option<ComponentStatus>); 4] = [
    ("service is operating normally", None),
    ("informational message", Some(ComponentStatus::Degraded)),
    ("performance issues", Some(ComponentStatus::PartialOutage)),
    ("service disruption", Some(ComponentStatus::MajorOutage)),
];

/// One update, its title taken apart.
struct Update {
    item: Item,
    /// The level as AWS wrote it, when the title has one.
    level: Option<String>,
    summary: String,
    status: &'static str,
    /// "Service is operating normally": the level speaks for the whole service.
    service_normal: bool,
    severity: ComponentStatus,
    raw: String,
}

fn update(item: Item) -> Update {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*\[([A-Za-z ]+)\]\s*").expect("static regex compiles"));
    let mut rest = item.title.as_str();
    let mut level = None;
    if let Some((head, tail)) = rest.split_once(':')
        && let Some((_, effect)) = LEVELS.iter().find(|(l, _)| head.trim().eq_ignore_ascii_case(l))
    {
        level = Some((head.trim().to_owned(), *effect));
        rest = tail;
    }
    let mut tags = Vec::new();
    while let Some(c) = TAG.captures(rest) {
        tags.push(c[1].trim().to_lowercase());
        rest = &rest[c[0].len()..];
    }
    let summary = rest.trim().to_owned();

    let service_normal = level.as_ref().is_some_and(|(_, effect)| effect.is_none());
    let status = if service_normal {
        "resolved"
    } else if let Some(tag) = tags.iter().find_map(|t| lifecycle_in(t)) {
        tag
    } else {
        lifecycle_in(&item.text).unwrap_or("investigating")
    };
    let (severity, raw) = match &level {
        Some((written, Some(effect))) => (*effect, written.clone()),
        // Untagged titles (and the resolution itself) speak in prose.
        _ => severity_in(&format!("{summary}\n{}", item.text)),
    };
    Update {
        level: level.map(|(written, _)| written),
        summary,
        status,
        service_normal,
        severity,
        raw,
        item,
    }
}

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    let mut updates: Vec<Update> = items.into_iter().map(update).collect();
    updates.sort_by(|a, b| (a.item.published, &a.item.id).cmp(&(b.item.published, &b.item.id)));

    // Oldest first: each update joins the open incident of its key, or starts one.
    let mut incidents: Vec<(String, Vec<Update>)> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    // Incidents that a later "Service is operating normally" ended without naming them (AWS may
    // word the resolution's summary differently from the opening's).
    let mut ended: Vec<bool> = Vec::new();
    for u in updates {
        let arn = u.item.id.starts_with("arn:aws:health").then(|| u.item.id.clone());
        let key = arn.clone().unwrap_or_else(|| u.summary.to_lowercase());
        // A resolution reworded from the opening ("Elevated API Errors" closing "Increased Error
        // Rates") still closes the one incident that is open.
        let sole_open = (u.service_normal && arn.is_none() && open.len() == 1)
            .then(|| open.values().next().copied())
            .flatten();
        let idx = match open.get(&key).copied().or(sole_open) {
            Some(idx) => idx,
            None => {
                // The first update's time tells incidents with the same summary apart.
                let id = arn.clone().unwrap_or_else(|| match u.item.published {
                    Some(t) => format!("{key} @ {}", utc(t)),
                    None => key.clone(),
                });
                incidents.push((id, Vec::new()));
                ended.push(false);
                incidents.len() - 1
            }
        };
        let closes = is_closed(u.status);
        incidents[idx].1.push(u);
        if incidents[idx].1.last().is_some_and(|u| u.service_normal) {
            // The service as a whole is fine again: whatever else was open is over. Event ARNs stay
            // known, so that a later update of the same event joins it.
            for &other in open.values().filter(|&&o| o != idx) {
                ended[other] = true;
            }
            open.retain(|k, _| k.starts_with("arn:"));
        } else if closes && arn.is_none() {
            open.remove(&key);
            continue;
        }
        // An ARN names one event for good, updates after its resolution included.
        if arn.is_some() || !closes {
            open.insert(key, idx);
        }
    }

    incidents
        .into_iter()
        .zip(ended)
        .filter_map(|((id, updates), ended)| {
            let first = updates.first()?;
            let last = updates.last()?;
            let status = if ended && !is_closed(last.status) {
                "resolved"
            } else {
                last.status
            };
            // The worst level any update of the incident announced.
            let worst = updates
                .iter()
                .filter(|u| !is_closed(u.status) || u.level.is_none())
                .max_by_key(|u| u.severity.rank())
                .unwrap_or(last);
            let incident = Incident {
                id,
                name: last.summary.clone(),
                status: status.to_owned(),
                impact: String::new(),
                created_at: first.item.published.map(utc),
                components: vec![component.to_owned()],
                latest_update: Some(IncidentUpdate {
                    status: last.status.to_owned(),
                    body: if last.item.text.is_empty() {
                        last.item.title.clone()
                    } else {
                        last.item.text.clone()
                    },
                    at: last.item.published.map(utc),
                }),
            };
            Some(Read::uniform(incident, worst.severity, &worst.raw))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::extract::status::{Platform, StatusOptions, extract_feed};
    use crate::extract::{ComponentStatus, StatusDoc};

    const CHANNEL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title><![CDATA[Amazon Bedrock (N. Virginia) Service Status]]></title>
    <link>http://status.aws.amazon.com/</link>
    <language>en-us</language>
    <lastBuildDate>Tue, 10 Mar 2026 18:02:11 PST</lastBuildDate>
    <generator>AWS Service Health Dashboard RSS Generator</generator>
    <description><![CDATA[Amazon Bedrock (N. Virginia) Service Status]]></description>
    <ttl>5</ttl>
    {items}
  </channel>
</rss>"#;

    fn item(title: &str, epoch: u32, date: &str, text: &str) -> String {
        format!(
            r#"<item>
      <title type="text">{title}</title>
      <link>http://status.aws.amazon.com/</link>
      <pubDate>{date}</pubDate>
      <guid isPermaLink="false">http://status.aws.amazon.com/#bedrock-us-east-1_{epoch}</guid>
      <description type="text">{text}</description>
    </item>"#
        )
    }

    fn feed(items: &[String]) -> Vec<u8> {
        // Newest first, as AWS publishes.
        CHANNEL.replace("{items}", &items.concat()).into_bytes()
    }

    fn parse(body: &[u8]) -> StatusDoc {
        let opts = StatusOptions {
            platform: Some(Platform::Aws),
            ..StatusOptions::default()
        };
        extract_feed(body, &opts).unwrap()
    }

    fn opened() -> String {
        item(
            "Informational message: Increased Error Rates",
            1773160800,
            "Tue, 10 Mar 2026 09:40:00 PDT",
            "We are investigating increased error rates for InvokeModel requests in the US-EAST-1 Region.",
        )
    }

    fn worse() -> String {
        item(
            "Service disruption: Increased Error Rates",
            1773162600,
            "Tue, 10 Mar 2026 10:10:00 PDT",
            "We have identified the cause of increased error rates and are working on a fix.",
        )
    }

    fn resolved() -> String {
        item(
            "Service is operating normally: [RESOLVED] Increased Error Rates",
            1773166200,
            "Tue, 10 Mar 2026 11:10:00 PDT",
            "Between 9:25 AM and 11:02 AM PDT, we experienced increased error rates. The issue has been resolved and the service is operating normally.",
        )
    }

    /// The same summary, months earlier: another incident, long resolved.
    fn last_year() -> Vec<String> {
        vec![
            item(
                "Service is operating normally: [RESOLVED] Increased Error Rates",
                1751390000,
                "Tue, 01 Jul 2025 12:00:00 PDT",
                "The issue has been resolved.",
            ),
            item(
                "Performance issues: Increased Error Rates",
                1751386400,
                "Tue, 01 Jul 2025 11:00:00 PDT",
                "We are investigating.",
            ),
        ]
    }

    #[test]
    fn updates_make_one_incident_through_its_resolution() {
        let old = last_year();
        let doc = parse(&feed(&[opened(), old[0].clone(), old[1].clone()]));
        assert_eq!(doc.components.len(), 1);
        let api = &doc.components[0];
        assert_eq!(api.name, "Amazon Bedrock (N. Virginia) Service Status");
        assert_eq!(api.status, ComponentStatus::Degraded);
        assert_eq!(api.raw_status, "Informational message");
        assert_eq!(doc.indicator, "minor");
        let ids: Vec<(&str, &str)> = doc
            .incidents
            .iter()
            .map(|i| (i.id.as_str(), i.status.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("increased error rates @ 2025-07-01T18:00:00Z", "resolved"),
                ("increased error rates @ 2026-03-10T16:40:00Z", "investigating"),
            ]
        );

        let doc = parse(&feed(&[worse(), opened(), old[0].clone(), old[1].clone()]));
        assert_eq!(doc.components[0].status, ComponentStatus::MajorOutage);
        assert_eq!(doc.components[0].raw_status, "Service disruption");
        let now = &doc.incidents[1];
        assert_eq!(now.id, "increased error rates @ 2026-03-10T16:40:00Z");
        assert_eq!((now.status.as_str(), now.impact.as_str()), ("identified", "critical"));

        let doc = parse(&feed(&[resolved(), worse(), opened(), old[0].clone(), old[1].clone()]));
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        assert_eq!(doc.components[0].raw_status, "");
        assert_eq!(doc.indicator, "none");
        let now = &doc.incidents[1];
        assert_eq!(now.id, "increased error rates @ 2026-03-10T16:40:00Z");
        assert_eq!(now.status, "resolved");
        assert_eq!(now.impact, "critical", "the incident keeps the worst level it reached");
        assert_eq!(now.name, "Increased Error Rates");
        let update = now.latest_update.as_ref().unwrap();
        assert_eq!(update.at.as_deref(), Some("2026-03-10T18:10:00Z"));
        assert!(update.body.starts_with("Between 9:25 AM"), "{}", update.body);
    }

    #[test]
    fn an_event_arn_groups_updates_and_untagged_titles_speak_in_prose() {
        let arn = |title: &str, date: &str, text: &str| {
            format!(
                "<item><title>{title}</title><guid>arn:aws:health:us-east-1::event/BEDROCK/AWS_BEDROCK_OPERATIONAL_ISSUE/abc</guid>\
                 <pubDate>{date}</pubDate><description>{text}</description></item>"
            )
        };
        let doc = parse(&feed(&[
            arn(
                "[RESOLVED] Model invocation outage",
                "Wed, 11 Mar 2026 12:00:00 GMT",
                "Resolved.",
            ),
            arn(
                "Model invocation outage",
                "Wed, 11 Mar 2026 10:00:00 GMT",
                "We are investigating.",
            ),
        ]));
        assert_eq!(doc.incidents.len(), 1);
        let i = &doc.incidents[0];
        assert_eq!(
            i.id,
            "arn:aws:health:us-east-1::event/BEDROCK/AWS_BEDROCK_OPERATIONAL_ISSUE/abc"
        );
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("resolved", "critical"));
        assert_eq!(i.created_at.as_deref(), Some("2026-03-11T10:00:00Z"));
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
    }

    #[test]
    fn the_service_operating_normally_ends_an_incident_whatever_its_summary() {
        let reworded = item(
            "Service is operating normally: [RESOLVED] Elevated API Errors",
            1773166200,
            "Tue, 10 Mar 2026 11:10:00 PDT",
            "The issue has been resolved.",
        );
        let doc = parse(&feed(&[reworded.clone(), worse(), opened()]));
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        let states: Vec<(&str, &str)> = doc
            .incidents
            .iter()
            .map(|i| (i.id.as_str(), i.status.as_str()))
            .collect();
        assert_eq!(states, [("increased error rates @ 2026-03-10T16:40:00Z", "resolved")]);
        assert_eq!(doc.incidents[0].name, "Elevated API Errors");

        // With two incidents open, the resolution cannot say whose it is: it ends both.
        let other = item(
            "Informational message: Delayed Model Customization Jobs",
            1773163000,
            "Tue, 10 Mar 2026 10:16:40 PDT",
            "Customization jobs are delayed.",
        );
        let doc = parse(&feed(&[reworded, other, worse(), opened()]));
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        assert_eq!(doc.incidents.len(), 3);
        assert!(
            doc.incidents.iter().all(|i| i.status == "resolved"),
            "{:?}",
            doc.incidents
        );
    }

    #[test]
    fn updates_aging_out_report_nothing() {
        use crate::diff::{Diff, diff};
        use crate::extract::Normalized;
        let old = last_year();
        let status = |d: StatusDoc| Normalized::Status(d);
        let before = parse(&feed(&[resolved(), worse(), opened(), old[0].clone(), old[1].clone()]));
        // The oldest update of last year's incident leaves the feed (its id, taken from its first
        // update, changes), then the rest of it: neither is news.
        for window in [
            vec![resolved(), worse(), opened(), old[0].clone()],
            vec![resolved(), worse(), opened()],
            vec![resolved(), worse()],
        ] {
            let after = parse(&feed(&window));
            match diff(&status(before.clone()), &status(after)) {
                Diff::Status(d) => panic!("nothing structured changed, yet: {d:?}"),
                Diff::Text(_) | Diff::Feed(_) => {}
            }
        }
    }

    #[test]
    fn a_service_with_nothing_but_history_is_operational() {
        let doc = parse(&feed(&last_year()));
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        assert_eq!(doc.incidents.len(), 1);
        assert_eq!(doc.incidents[0].impact, "major");
    }
}
