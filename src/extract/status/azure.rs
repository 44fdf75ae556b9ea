//! `status_feed` with `platform = "azure"`: Azure's all-services status RSS
//! (`https://rssfeed.azure.status.microsoft/en-us/status/feed/`), read through a `keyword` such as
//! "Azure OpenAI". The feed lists the events happening now, one item each, updated in place, and
//! nothing else: a quiet day is a channel without items, and an event that leaves the feed is over.
//! That is why this platform's documents are not `windowed`.

use std::sync::LazyLock;

use regex::Regex;

use super::feed::{Item, newest_by_key};
use super::{Read, lifecycle_in};

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    // Titles may open with the event's state ("Active - ", "Mitigated - "): it is the state, not
    // part of the name, and keeping it would rename the incident when it changes.
    static STATE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(active|investigating|identified|mitigated|resolved|monitoring|update)\s*[-:–]\s*")
            .expect("static regex compiles")
    });
    newest_by_key(items)
        .into_iter()
        .map(|(id, item)| {
            let (state, name) = match STATE.captures(&item.title) {
                Some(c) => (Some(c[1].to_lowercase()), item.title[c[0].len()..].to_owned()),
                None => (None, item.title.clone()),
            };
            let status = state
                .as_deref()
                .and_then(lifecycle_in)
                .or_else(|| lifecycle_in(&format!("{}\n{}", item.title, item.text)))
                .unwrap_or("investigating");
            Read::one_item(id, name, status, item, component)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::extract::status::{Platform, StatusOptions, extract_feed};
    use crate::extract::{ComponentStatus, StatusDoc};

    // The shape of Azure's feed: an RSS 2.0 channel written by .NET's syndication classes, with the
    // Atom namespace for `a10:updated`, and every Azure service in it.
    fn feed(items: &str) -> Vec<u8> {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss xmlns:a10="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>Azure Status</title>
    <link>https://azure.status.microsoft/en-us/status/</link>
    <description>Azure Status</description>
    <language>en-US</language>
    <lastBuildDate>Thu, 12 Mar 2026 15:30:00 Z</lastBuildDate>
    {items}
  </channel>
</rss>"#
        )
        .into_bytes()
    }

    const STORAGE: &str = r#"<item>
      <guid isPermaLink="false">KT7Q-5D0</guid>
      <link>https://azure.status.microsoft/en-us/status/history/?trackingId=KT7Q-5D0</link>
      <title>Active - Storage - West Europe - Intermittent connectivity</title>
      <description>Starting at 11:00 UTC on 12 Mar 2026, a subset of customers using Storage in West Europe may experience intermittent failures.</description>
      <pubDate>Thu, 12 Mar 2026 12:10:00 Z</pubDate>
      <a10:updated>2026-03-12T12:10:00Z</a10:updated>
    </item>"#;

    fn openai(state: &str, text: &str) -> String {
        format!(
            r#"<item>
      <guid isPermaLink="false">4L2P-9XY</guid>
      <link>https://azure.status.microsoft/en-us/status/history/?trackingId=4L2P-9XY</link>
      <title>{state} - Azure OpenAI Service - East US 2 - Service degradation</title>
      <description>{text}</description>
      <pubDate>Thu, 12 Mar 2026 14:05:00 Z</pubDate>
      <a10:updated>2026-03-12T15:20:00Z</a10:updated>
    </item>"#
        )
    }

    fn parse(body: &[u8]) -> StatusDoc {
        let opts = StatusOptions {
            platform: Some(Platform::Azure),
            keyword: Some("azure openai".into()),
            ..StatusOptions::default()
        };
        extract_feed(body, &opts).unwrap()
    }

    #[test]
    fn other_services_are_filtered_out() {
        let doc = parse(&feed(STORAGE));
        assert!(doc.incidents.is_empty());
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.components[0].name, "azure openai");
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        assert!(!doc.windowed);
    }

    #[test]
    fn an_active_event_degrades_the_component_until_it_is_mitigated() {
        let active = openai(
            "Active",
            "Starting at 13:50 UTC, customers using Azure OpenAI Service in East US 2 may experience increased latency and 5xx errors. We are investigating.",
        );
        let doc = parse(&feed(&format!("{STORAGE}{active}")));
        assert_eq!(doc.incidents.len(), 1);
        let i = &doc.incidents[0];
        assert_eq!(i.id, "4L2P-9XY");
        assert_eq!(i.name, "Azure OpenAI Service - East US 2 - Service degradation");
        assert_eq!((i.status.as_str(), i.impact.as_str()), ("investigating", "minor"));
        assert_eq!(doc.components[0].status, ComponentStatus::Degraded);

        let mitigated = openai(
            "Mitigated",
            "Between 13:50 and 15:10 UTC, customers may have experienced increased latency. This issue is now mitigated.",
        );
        let doc = parse(&feed(&format!("{mitigated}{STORAGE}")));
        assert_eq!(doc.incidents[0].status, "resolved");
        assert_eq!(
            doc.incidents[0].name,
            "Azure OpenAI Service - East US 2 - Service degradation"
        );
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
    }

    #[test]
    fn the_component_can_be_named() {
        let opts = StatusOptions {
            platform: Some(Platform::Azure),
            keyword: Some("Azure OpenAI".into()),
            component: Some("Azure OpenAI (all regions)".into()),
            ..StatusOptions::default()
        };
        let doc = extract_feed(&feed(""), &opts).unwrap();
        assert_eq!(doc.components[0].name, "Azure OpenAI (all regions)");
    }
}
