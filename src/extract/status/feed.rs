//! `status_feed`: RSS and Atom status feeds. This file reads the feed into items and applies the
//! keyword filter; each platform's file groups the items into incidents.
//!
//! Feeds keep only their recent items, so every platform but Azure gives a `windowed` document
//! (see `mod.rs`). Azure's feed lists what is happening now and nothing else: there an item that is
//! no longer listed was resolved, as on a Statuspage summary, and a feed without items is a quiet day.

use chrono::{DateTime, Utc};
use feed_rs::model::Entry;

use super::super::feed::text_to_plain;
use super::super::html::html_fragment_to_text;
use super::super::text::normalize_text;
use super::{Page, Platform, Read, StatusOptions, assemble, aws, azure, betterstack, generic, one_line, xai};
use crate::extract::{ExtractError, Kind, StatusDoc};

/// One feed item, as the platforms read it.
pub(super) struct Item {
    /// The guid (or Atom id) as published, which may repeat: xAI gives every component's item of an
    /// incident the same guid, Better Stack an incident's "went down" and "recovered" items.
    pub id: String,
    pub title: String,
    /// Plain text of the description, or of the content when there is none.
    pub text: String,
    /// The description as published, for platforms that structure it (xAI).
    pub html: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub categories: Vec<String>,
}

impl Item {
    /// Its identity when the platform gives none of its own: the guid, else the link, else the title.
    pub fn key(&self) -> String {
        [Some(&self.id), self.link.as_ref(), Some(&self.title)]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default()
    }
}

pub(in crate::extract) fn extract(body: &[u8], opts: &StatusOptions) -> Result<StatusDoc, ExtractError> {
    // No generated ids: feed-rs would invent random ones for guid-less items.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::StatusFeed,
        reason: e.to_string(),
    })?;
    let platform = opts.platform.unwrap_or_default();
    let title = feed.title.as_ref().map(|t| one_line(&t.content)).unwrap_or_default();
    let windowed = platform != Platform::Azure;

    // A history feed without a single item names nothing (its provider may have emptied it when
    // moving elsewhere); the watcher decides whether that is news. Azure's empty feed is a quiet day.
    if feed.entries.is_empty() && windowed {
        return Ok(assemble(Page {
            title,
            components: Vec::new(),
            reads: Vec::new(),
            windowed,
            keep_resolved: None,
        }));
    }

    let keyword = opts.keyword.as_deref().map(str::to_lowercase);
    let items: Vec<Item> = feed
        .entries
        .into_iter()
        .map(item)
        .filter(|i| {
            keyword
                .as_deref()
                .is_none_or(|k| format!("{}\n{}", i.title, i.text).to_lowercase().contains(k))
        })
        .collect();

    // The component of feeds that name none: the source's choice, else (Azure) what it filters on,
    // else the feed's title.
    let fallback = opts
        .component
        .clone()
        .or_else(|| (platform == Platform::Azure).then(|| opts.keyword.clone()).flatten())
        .or_else(|| Some(title.clone()).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| "Service".to_owned());
    let reads: Vec<Read> = match platform {
        Platform::Generic => generic::read(items, &fallback),
        Platform::Aws => aws::read(items, &fallback),
        Platform::Azure => azure::read(items, &fallback),
        Platform::Betterstack => betterstack::read(items, &fallback),
        Platform::Xai => xai::read(items, &fallback),
    };
    // Platforms that name their components per item declare the fallback only when nothing else is
    // named, so that a quiet (or fully filtered) feed still says "operational".
    let names_components = matches!(platform, Platform::Betterstack | Platform::Xai);
    let components = if names_components && !reads.is_empty() {
        Vec::new()
    } else {
        vec![(fallback.clone(), fallback)]
    };
    Ok(assemble(Page {
        title,
        components,
        reads,
        windowed,
        keep_resolved: None,
    }))
}

fn item(e: Entry) -> Item {
    let link = e
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| e.links.first())
        .map(|l| l.href.trim().to_owned())
        .filter(|l| !l.is_empty());
    let title = e
        .title
        .as_ref()
        .map(|t| one_line(&text_to_plain(t, None)))
        .unwrap_or_default();
    let summary = e.summary.as_ref().map(|t| (t.content.clone(), text_to_plain(t, None)));
    let content = e.content.as_ref().and_then(|c| c.body.clone()).map(|b| {
        let text = html_fragment_to_text(&b, None);
        (b, text)
    });
    let (html, text) = summary
        .filter(|(_, text)| !text.is_empty())
        .or(content)
        .unwrap_or_default();
    Item {
        id: e.id.trim().to_owned(),
        title,
        text: normalize_text(&text),
        html,
        link,
        published: e.published.or(e.updated),
        categories: e
            .categories
            .iter()
            .map(|c| c.term.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
    }
}

/// The newest version of each item: an item published again under the same id is the same
/// incident, updated in place.
pub(super) fn newest_by_key(items: Vec<Item>) -> std::collections::BTreeMap<String, Item> {
    let mut newest: std::collections::BTreeMap<String, Item> = std::collections::BTreeMap::new();
    for item in items {
        let key = item.key();
        match newest.get(&key) {
            Some(seen) if seen.published >= item.published => {}
            _ => {
                newest.insert(key, item);
            }
        }
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ComponentStatus;

    fn opts(platform: Platform, keyword: Option<&str>) -> StatusOptions {
        StatusOptions {
            platform: Some(platform),
            keyword: keyword.map(str::to_owned),
            ..StatusOptions::default()
        }
    }

    #[test]
    fn an_html_page_is_not_a_feed() {
        let err = extract(
            b"<!doctype html><html><body><h1>We moved!</h1></body></html>",
            &StatusOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ExtractError::Unparseable {
                    kind: Kind::StatusFeed,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_empty_history_feed_names_nothing_but_an_empty_azure_feed_is_a_quiet_day() {
        let empty = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Acme Status</title>
            <lastBuildDate>Mon, 05 Jan 2026 10:00:00 GMT</lastBuildDate></channel></rss>"#;
        let doc = extract(empty, &opts(Platform::Betterstack, None)).unwrap();
        assert!(doc.components.is_empty() && doc.incidents.is_empty());
        assert!(doc.windowed);

        let doc = extract(empty, &opts(Platform::Azure, Some("Azure OpenAI"))).unwrap();
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.components[0].name, "Azure OpenAI");
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        assert!(!doc.windowed);
    }

    #[test]
    fn the_keyword_filters_items_and_a_filtered_feed_is_still_operational() {
        let body = br#"<rss version="2.0"><channel><title>Acme Status</title>
            <item><guid>1</guid><title>Outage of the Widgets service</title>
            <pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate><description>Investigating</description></item>
            </channel></rss>"#;
        let doc = extract(body, &opts(Platform::Generic, Some("gadgets"))).unwrap();
        assert!(doc.incidents.is_empty());
        assert_eq!(doc.components[0].name, "Acme Status");
        assert_eq!(doc.components[0].status, ComponentStatus::Operational);
        let doc = extract(body, &opts(Platform::Generic, Some("WIDGETS"))).unwrap();
        assert_eq!(doc.incidents.len(), 1);
        assert_eq!(doc.components[0].status, ComponentStatus::MajorOutage);
    }
}
