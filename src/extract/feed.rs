//! The `feed` extractor: RSS 0.9x-2.0, RSS 1.0, Atom and JSON Feed, reduced to their entries.
//!
//! Feed-level metadata (build dates, generator, TTL) is dropped: it changes on every rebuild.
//! Entries are sorted by date then id, so a feed reordering its items is not a change.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Link, Text};
use regex::Regex;
use serde::{Deserialize, Serialize};
use url::Url;

use super::html::{html_fragment_to_text, strip_tracking};
use super::text::normalize_text;
use super::{ExtractError, Kind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDoc {
    pub entries: Vec<FeedEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub id: String,
    pub title: String,
    /// RFC 3339 in UTC (`2025-01-31T12:00:00Z`); the update time when nothing says "published".
    pub published: Option<String>,
    pub link: Option<String>,
    /// Plain text of the summary, or of the content when there is no summary.
    pub summary: String,
}

/// The timestamp format of every normalized document: fixed width and UTC, so that string order
/// is time order.
pub(super) fn utc_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn extract(body: &[u8]) -> Result<FeedDoc, ExtractError> {
    // feed-rs gives id-less entries a hash of their link and title or, with no link, a random
    // UUID, which would make every fetch of such a feed differ. Generating no id lets us apply a
    // stable fallback (link, then title) instead.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::Feed,
        reason: e.to_string(),
    })?;
    if feed.entries.is_empty() {
        return Err(ExtractError::Structure("feed has no entries".to_owned()));
    }

    let mut entries: Vec<FeedEntry> = feed.entries.into_iter().map(entry).collect();
    // Newest first; `None < Some`, so reversing the comparison also puts undated entries last.
    entries.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    // Items are compared by id, so ids must be unique; a repeated one gets its date, then a count.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for e in &mut entries {
        let n = seen.entry(e.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            e.id = format!("{}#{}", e.id, e.published.clone().unwrap_or_else(|| n.to_string()));
        }
    }
    Ok(FeedDoc { entries })
}

fn entry(e: Entry) -> FeedEntry {
    let link = main_link(&e.links)
        .map(|l| strip_tracking(l.href.trim()))
        .filter(|l| !l.is_empty());
    // Relative links inside the summary are resolved against the entry's own page.
    let base = link.as_deref().and_then(|l| Url::parse(l).ok());

    // Titles are one line: a title wrapped in the source is still the same title.
    let title = e
        .title
        .as_ref()
        .map(|t| text_to_plain(t, base.as_ref()))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");

    let summary = e
        .summary
        .as_ref()
        .map(|t| text_to_plain(t, base.as_ref()))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let content = e.content.as_ref()?;
            let body = content.body.as_deref()?;
            let html = is_html_type(content.content_type.subty().as_str());
            Some(to_plain(body, html, base.as_ref()))
        })
        .unwrap_or_default();

    // Without a guid, link and title together: changelog feeds often point every item at the
    // same page, so the link alone would merge distinct items.
    let id = Some(e.id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| match &link {
            Some(l) => format!("{l} {title}"),
            None => title.clone(),
        });

    FeedEntry {
        id,
        title,
        published: e.published.or(e.updated).map(utc_timestamp),
        link,
        summary,
    }
}

/// The entry's own page: its first link that is not a `self`, `enclosure`, ... relation (Atom
/// entries can list those first), else its first link.
fn main_link(links: &[Link]) -> Option<&Link> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
}

pub(super) fn text_to_plain(text: &Text, base: Option<&Url>) -> String {
    let subtype = text.content_type.subty();
    // RSS has no content type for titles (feed-rs calls them text/plain), yet publishers put
    // markup in them; markup that is clearly HTML is rendered as such.
    let html = is_html_type(subtype.as_str()) || looks_like_html(&text.content);
    to_plain(&text.content, html, base)
}

fn to_plain(s: &str, html: bool, base: Option<&Url>) -> String {
    if html {
        html_fragment_to_text(s, base)
    } else {
        // Indentation in a feed's plain text is the XML file's indentation, not the author's.
        let unindented: Vec<&str> = s.lines().map(str::trim_start).collect();
        normalize_text(&unindented.join("\n"))
    }
}

fn is_html_type(subtype: &str) -> bool {
    subtype.eq_ignore_ascii_case("html") || subtype.eq_ignore_ascii_case("xhtml")
}

/// A common HTML tag. Deliberately a short list of real tags, so that plain text such as
/// `Vec<T>` or `a <b` is not mistaken for markup.
fn looks_like_html(s: &str) -> bool {
    static TAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)</?(?:a|b|i|u|p|br|em|strong|code|span|div|img|ul|ol|li|h[1-6])(?:\s[^<>]*)?/?>")
            .expect("static regex compiles")
    });
    TAG.is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Example News</title>
    <link>https://example.com/news</link>
    <description>News</description>
    <lastBuildDate>Mon, 03 Mar 2025 08:00:00 GMT</lastBuildDate>
    <item>
      <title>Older   post</title>
      <link>https://example.com/news/older?utm_source=rss</link>
      <guid isPermaLink="false">post-1</guid>
      <pubDate>Sat, 01 Mar 2025 09:00:00 +0100</pubDate>
      <description>Plain summary.</description>
    </item>
    <item>
      <title>New &lt;b&gt;model&lt;/b&gt; released</title>
      <link>https://example.com/news/new-model</link>
      <guid>https://example.com/news/new-model</guid>
      <pubDate>Sun, 02 Mar 2025 10:30:00 GMT</pubDate>
      <description><![CDATA[<p>We are releasing a <strong>new</strong>
        model.</p><p>See <a href="/docs/models?utm_campaign=launch&amp;v=2">the docs</a>.</p>]]></description>
    </item>
  </channel>
</rss>"#;

    #[test]
    fn rss2() {
        let doc = extract(RSS.as_bytes()).unwrap();
        assert_eq!(
            doc.entries,
            [
                FeedEntry {
                    id: "https://example.com/news/new-model".into(),
                    title: "New model released".into(),
                    published: Some("2025-03-02T10:30:00Z".into()),
                    link: Some("https://example.com/news/new-model".into()),
                    summary: "We are releasing a new model.\n\n\
                              See [the docs](https://example.com/docs/models?v=2)."
                        .into(),
                },
                FeedEntry {
                    id: "post-1".into(),
                    title: "Older post".into(),
                    published: Some("2025-03-01T08:00:00Z".into()),
                    link: Some("https://example.com/news/older".into()),
                    summary: "Plain summary.".into(),
                },
            ]
        );
    }

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Changelog</title>
  <id>urn:example:changelog</id>
  <updated>2025-03-03T00:00:00Z</updated>
  <entry>
    <title type="text">API v2 deprecated</title>
    <id>urn:example:2</id>
    <link rel="self" href="https://example.com/feed/2.xml"/>
    <link rel="alternate" href="https://example.com/changelog/2?fbclid=abc"/>
    <updated>2025-02-20T12:00:00+02:00</updated>
    <content type="html">&lt;ul&gt;&lt;li&gt;v2 ends &lt;em&gt;June 1&lt;/em&gt;&lt;/li&gt;&lt;li&gt;Migrate to v3&lt;/li&gt;&lt;/ul&gt;</content>
  </entry>
  <entry>
    <title>Rate limits raised</title>
    <id>urn:example:3</id>
    <link href="https://example.com/changelog/3"/>
    <published>2025-03-01T00:00:00Z</published>
    <updated>2025-03-02T00:00:00Z</updated>
    <summary type="text">Tier   1 now gets
      100 RPM.</summary>
    <content type="html">&lt;p&gt;Long version&lt;/p&gt;</content>
  </entry>
</feed>"#;

    #[test]
    fn atom() {
        let doc = extract(ATOM.as_bytes()).unwrap();
        assert_eq!(
            doc.entries,
            [
                FeedEntry {
                    id: "urn:example:3".into(),
                    title: "Rate limits raised".into(),
                    published: Some("2025-03-01T00:00:00Z".into()),
                    link: Some("https://example.com/changelog/3".into()),
                    summary: "Tier 1 now gets\n100 RPM.".into(),
                },
                FeedEntry {
                    id: "urn:example:2".into(),
                    title: "API v2 deprecated".into(),
                    published: Some("2025-02-20T10:00:00Z".into()),
                    link: Some("https://example.com/changelog/2".into()),
                    summary: "- v2 ends June 1\n- Migrate to v3".into(),
                },
            ]
        );
    }

    #[test]
    fn json_feed() {
        let body = r#"{
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Status blog",
            "items": [{
                "id": "42",
                "url": "https://example.com/blog/42?utm_medium=feed",
                "title": "Incident report",
                "content_html": "<p>Root cause: <b>config</b> push.</p>",
                "date_published": "2025-03-01T12:00:00-05:00"
            }]
        }"#;
        let doc = extract(body.as_bytes()).unwrap();
        assert_eq!(
            doc.entries,
            [FeedEntry {
                id: "42".into(),
                title: "Incident report".into(),
                published: Some("2025-03-01T17:00:00Z".into()),
                link: Some("https://example.com/blog/42".into()),
                summary: "Root cause: config push.".into(),
            }]
        );
    }

    #[test]
    fn missing_ids_fall_back_to_link_and_title_and_are_stable() {
        let body = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>No link</title></item>
            <item><title>Linked</title><link>https://example.com/a?gclid=1</link></item>
        </channel></rss>"#;
        let a = extract(body.as_bytes()).unwrap();
        let ids: Vec<&str> = a.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["No link", "https://example.com/a Linked"]);
        assert_eq!(a, extract(body.as_bytes()).unwrap());
    }

    #[test]
    fn repeated_ids_are_made_unique() {
        let body = r#"<rss version="2.0"><channel><title>t</title>
            <item><guid>x</guid><title>One</title><pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate></item>
            <item><guid>x</guid><title>Two</title><pubDate>Tue, 06 Jan 2026 10:00:00 GMT</pubDate></item>
        </channel></rss>"#;
        let ids: Vec<String> = extract(body.as_bytes())
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["x", "x#2026-01-05T10:00:00Z"]);
    }

    #[test]
    fn undated_entries_sort_last_and_item_order_does_not_matter() {
        let items = [
            "<item><guid>b</guid><title>B</title></item>",
            "<item><guid>c</guid><title>C</title><pubDate>Sun, 02 Mar 2025 10:00:00 GMT</pubDate></item>",
            "<item><guid>a</guid><title>A</title></item>",
        ];
        let feed = |order: [usize; 3]| {
            let items: String = order.iter().map(|&i| items[i]).collect();
            format!(r#"<rss version="2.0"><channel><title>t</title>{items}</channel></rss>"#)
        };
        let a = extract(feed([0, 1, 2]).as_bytes()).unwrap();
        let b = extract(feed([2, 0, 1]).as_bytes()).unwrap();
        assert_eq!(a, b);
        let ids: Vec<&str> = a.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }

    #[test]
    fn garbage_is_unparseable() {
        for body in [&b"<html><body>Not a feed</body></html>"[..], b"\x00\x01garbage", b"{}"] {
            let err = extract(body).unwrap_err();
            assert!(
                matches!(err, ExtractError::Unparseable { kind: Kind::Feed, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn empty_channel_is_a_structure_error() {
        let body = r#"<rss version="2.0"><channel><title>Empty</title>
            <lastBuildDate>Mon, 03 Mar 2025 08:00:00 GMT</lastBuildDate></channel></rss>"#;
        let err = extract(body.as_bytes()).unwrap_err();
        assert!(matches!(err, ExtractError::Structure(m) if m == "feed has no entries"));
    }

    #[test]
    fn markup_detection_is_conservative() {
        assert!(looks_like_html("New <b>model</b>"));
        assert!(looks_like_html("line<br/>break"));
        assert!(!looks_like_html("Vec<T> and Option<u8> in a <= b"));
    }
}
