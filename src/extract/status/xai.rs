//! `status_feed` with `platform = "xai"`: xAI's own RSS (`https://status.x.ai/feed.xml`). One item
//! per incident and component: the title is `"[Component] Incident name"`, the guid is the
//! incident's (repeated on each of its components' items), the two categories are its severity
//! (`outage`, `disruption`...) and its state (`investigating`... `resolved`), and the description
//! is HTML repeating them ("Status: RESOLVED", "Severity: outage") above the updates, newest first:
//! `<div><p><strong>date</strong></p><h3>state</h3><p>text</p></div>`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};

use super::feed::Item;
use super::{Read, one_line, utc};
use crate::extract::{ComponentStatus, Incident, IncidentUpdate};

const STATES: [&str; 7] = [
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "scheduled",
    "in_progress",
    "completed",
];

/// xAI's severities; a word not listed here is kept raw with status `unknown`.
fn severity(word: &str) -> ComponentStatus {
    match word {
        "outage" | "major_outage" => ComponentStatus::MajorOutage,
        "disruption" | "partial_outage" => ComponentStatus::PartialOutage,
        "degraded" | "degradation" | "degraded_performance" | "minor" => ComponentStatus::Degraded,
        "maintenance" => ComponentStatus::Maintenance,
        _ => ComponentStatus::Unknown,
    }
}

fn word(s: &str) -> String {
    s.trim().to_lowercase().replace([' ', '-'], "_")
}

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    static BRACKET: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*\[([^\]]+)\]\s*(.*)$").expect("static regex compiles"));
    static LABEL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?im)^[#\s]*(status|severity):\s*(.+)$").expect("static regex compiles"));

    let mut incidents: BTreeMap<String, Vec<Item>> = BTreeMap::new();
    for item in items {
        incidents.entry(item.key()).or_default().push(item);
    }
    incidents
        .into_iter()
        .filter_map(|(id, items)| {
            // Every component's item repeats the incident; the most recently published one speaks.
            let item = items
                .iter()
                .max_by(|a, b| (a.published, &a.title).cmp(&(b.published, &b.title)))?;
            let components: Vec<String> = items
                .iter()
                .map(|i| match BRACKET.captures(&i.title) {
                    Some(c) => c[1].trim().to_owned(),
                    None => component.to_owned(),
                })
                .collect();
            let name = match BRACKET.captures(&item.title) {
                Some(c) => c[2].trim().to_owned(),
                None => item.title.clone(),
            };
            // Categories first; the description's labels when the categories say nothing.
            let categories: Vec<String> = item.categories.iter().map(|c| word(c)).collect();
            let labelled = |label: &str| {
                LABEL
                    .captures_iter(&item.text)
                    .find(|c| c[1].eq_ignore_ascii_case(label))
                    .map(|c| word(&c[2]))
            };
            let state = categories
                .iter()
                .find(|c| STATES.contains(&c.as_str()))
                .cloned()
                .or_else(|| labelled("status"))
                .unwrap_or_else(|| "investigating".to_owned());
            let raw = categories
                .iter()
                .find(|c| !STATES.contains(&c.as_str()))
                .cloned()
                .or_else(|| labelled("severity"))
                .unwrap_or_default();
            let updates = updates(&item.html);
            let created_at = updates
                .iter()
                .filter_map(|u| u.at)
                .min()
                .or(items.iter().filter_map(|i| i.published).min())
                .map(utc);
            let latest_update = updates.into_iter().max_by_key(|u| u.at).map(|u| IncidentUpdate {
                status: u.state,
                body: u.body,
                at: u.at.map(utc),
            });
            let incident = Incident {
                id,
                name,
                status: state,
                impact: String::new(),
                created_at,
                components,
                latest_update,
            };
            Some(Read::uniform(incident, severity(&raw), &raw))
        })
        .collect()
}

struct Update {
    at: Option<DateTime<Utc>>,
    state: String,
    body: String,
}

/// The updates listed in an item's description; none when it is not in xAI's shape.
fn updates(html: &str) -> Vec<Update> {
    static DIV: LazyLock<Selector> = LazyLock::new(|| Selector::parse("div").expect("static selector"));
    static STRONG: LazyLock<Selector> = LazyLock::new(|| Selector::parse("strong").expect("static selector"));
    static H3: LazyLock<Selector> = LazyLock::new(|| Selector::parse("h3").expect("static selector"));
    static P: LazyLock<Selector> = LazyLock::new(|| Selector::parse("p").expect("static selector"));
    let text = |e: ElementRef<'_>| one_line(&e.text().collect::<String>());
    let fragment = Html::parse_fragment(html);
    fragment
        .select(&DIV)
        .filter_map(|div| {
            let at = div
                .select(&STRONG)
                .next()
                .and_then(|s| DateTime::parse_from_rfc2822(&text(s)).ok())
                .map(|t| t.with_timezone(&Utc));
            let state = word(&text(div.select(&H3).next()?));
            let body = div
                .select(&P)
                .filter(|p| p.select(&STRONG).next().is_none())
                .map(text)
                .collect::<Vec<_>>()
                .join("\n");
            Some(Update { at, state, body })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::extract::status::{Platform, StatusOptions, extract_feed};
    use crate::extract::{ComponentStatus, StatusDoc};

    fn feed(items: &[String]) -> Vec<u8> {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>SpaceXAI System Status</title>
    <link>https://status.x.ai</link>
    <atom:link href="https://status.x.ai/feed.xml" rel="self" type="application/rss+xml" />
    <description>Incident history for xAI services.</description>
    {}
  </channel>
</rss>"#,
            items.concat()
        )
        .into_bytes()
    }

    /// One item of incident `id` for `component`, in state `state` with the given updates.
    fn item(
        component: &str,
        slug: &str,
        id: &str,
        severity: &str,
        state: &str,
        updates: &[(&str, &str, &str)],
    ) -> String {
        let resolved = updates
            .iter()
            .find(|(_, s, _)| *s == "Resolved")
            .map(|(d, _, _)| format!("<p>Resolved: {d}</p>"))
            .unwrap_or_default();
        let updates: String = updates
            .iter()
            .map(|(date, s, text)| format!("<div><p><strong>{date}</strong></p><h3>{s}</h3><p>{text}</p></div>"))
            .collect();
        let started = "Tue, 22 Sep 2026 01:02:42 GMT";
        format!(
            r#"<item>
      <title>[{component}] Outages across API and Grok.com</title>
      <link>https://status.x.ai/{slug}/{id}</link>
      <guid isPermaLink="false">{id}</guid>
      <description><![CDATA[<h3>Status: {}</h3><p>Severity: {severity}</p>{resolved}<hr /><h4>Updates:</h4>{updates}]]></description>
      <pubDate>{started}</pubDate>
      <category>{severity}</category>
      <category>{state}</category>
    </item>"#,
            state.to_uppercase()
        )
    }

    const OLD: &str = r#"<item>
      <title>[Voice] Enterprise Voice Degraded</title>
      <link>https://status.x.ai/voice/INC698e276c</link>
      <guid isPermaLink="false">INC698e276c</guid>
      <description><![CDATA[<h3>Status: RESOLVED</h3><p>Severity: disruption</p><p>Resolved: Thu, 10 Sep 2026 07:15:52 GMT</p><hr /><h4>Updates:</h4><div><p><strong>Thu, 10 Sep 2026 07:15:52 GMT</strong></p><h3>Resolved</h3><p>The incident has been fully resolved.</p></div><div><p><strong>Thu, 10 Sep 2026 07:03:52 GMT</strong></p><h3>Investigating</h3><p>We are investigating an issue with Enterprise Voice.</p></div>]]></description>
      <pubDate>Thu, 10 Sep 2026 07:03:52 GMT</pubDate>
      <category>disruption</category>
      <category>resolved</category>
    </item>"#;

    fn parse(body: &[u8]) -> StatusDoc {
        let opts = StatusOptions {
            platform: Some(Platform::Xai),
            ..StatusOptions::default()
        };
        extract_feed(body, &opts).unwrap()
    }

    #[test]
    fn one_incident_across_its_components_and_its_resolution() {
        let investigating = [(
            "Tue, 22 Sep 2026 01:03:07 GMT",
            "Investigating",
            "We are investigating a datacenter issue",
        )];
        let open = feed(&[
            item(
                "Global (api.x.ai)",
                "api-global",
                "INC578e0bc8",
                "outage",
                "investigating",
                &investigating,
            ),
            item(
                "grok.com",
                "grok-com",
                "INC578e0bc8",
                "outage",
                "investigating",
                &investigating,
            ),
            OLD.to_owned(),
        ]);
        let doc = parse(&open);
        let states: Vec<(&str, ComponentStatus, &str)> = doc
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.status, c.raw_status.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("Global (api.x.ai)", ComponentStatus::MajorOutage, "outage"),
                ("Voice", ComponentStatus::Operational, ""),
                ("grok.com", ComponentStatus::MajorOutage, "outage"),
            ]
        );
        assert_eq!(doc.incidents.len(), 2);
        let i = &doc.incidents[0];
        assert_eq!(i.id, "INC578e0bc8");
        assert_eq!(i.name, "Outages across API and Grok.com");
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("investigating", "critical"));
        assert_eq!(i.components, ["Global (api.x.ai)", "grok.com"]);
        assert_eq!(i.created_at.as_deref(), Some("2026-09-22T01:03:07Z"));

        let updates = [
            (
                "Tue, 22 Sep 2026 01:28:43 GMT",
                "Resolved",
                "This incident has been resolved. All services are operating normally.",
            ),
            investigating[0],
        ];
        let resolved = feed(&[
            item(
                "Global (api.x.ai)",
                "api-global",
                "INC578e0bc8",
                "outage",
                "resolved",
                &updates,
            ),
            item("grok.com", "grok-com", "INC578e0bc8", "outage", "resolved", &updates),
            OLD.to_owned(),
        ]);
        let doc = parse(&resolved);
        assert!(doc.components.iter().all(|c| c.status == ComponentStatus::Operational));
        let i = &doc.incidents[0];
        assert_eq!(i.status, "resolved");
        let update = i.latest_update.as_ref().unwrap();
        assert_eq!(update.status, "resolved");
        assert_eq!(update.at.as_deref(), Some("2026-09-22T01:28:43Z"));
        assert!(update.body.starts_with("This incident has been resolved."));
        assert_eq!(doc.indicator, "none");
    }

    #[test]
    fn labels_stand_in_for_missing_categories_and_unknown_severities_are_kept_raw() {
        let body = feed(&[OLD
            .replace("<category>disruption</category>", "")
            .replace("<category>resolved</category>", "")]);
        let doc = parse(&body);
        assert_eq!(doc.incidents[0].status, "resolved");
        assert_eq!(doc.incidents[0].impact, "major");

        let odd = feed(&[item("API", "api", "INC1", "wobbly", "identified", &[])]);
        let doc = parse(&odd);
        assert_eq!(doc.components[0].status, ComponentStatus::Unknown);
        assert_eq!(doc.components[0].raw_status, "wobbly");
        assert_eq!(doc.incidents[0].status, "identified");
    }
}
