//! `status_feed` with `platform = "generic"`: one item per incident, its current state in its text
//! (Statuspage's `history.rss`, incident.io and Instatus feeds write the newest update first).

use super::feed::{Item, newest_by_key};
use super::{Read, lifecycle_in};

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    newest_by_key(items)
        .into_iter()
        .map(|(id, item)| {
            let status = lifecycle_in(&format!("{}\n{}", item.title, item.text)).unwrap_or("investigating");
            Read::one_item(id, item.title.clone(), status, item, component)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::extract::status::{Platform, StatusOptions, extract_feed};
    use crate::extract::{ComponentStatus, StatusDoc};

    // Statuspage's history.rss shape: the newest update first in the description.
    fn feed(second_item: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Acme Status - Incident History</title>
    <link>https://status.acme.test</link>
    <item>
      <title>Elevated errors on the Messages API</title>
      <description>&lt;p&gt;&lt;small&gt;Jan &lt;var data-var='date'&gt;5&lt;/var&gt;&lt;/small&gt;&lt;br&gt;&lt;strong&gt;Identified&lt;/strong&gt; - A fix is being rolled out.&lt;/p&gt;&lt;p&gt;&lt;strong&gt;Investigating&lt;/strong&gt; - We are looking into it.&lt;/p&gt;</description>
      <pubDate>Mon, 05 Jan 2026 10:00:00 +0000</pubDate>
      <link>https://status.acme.test/incidents/abc</link>
      <guid>https://status.acme.test/incidents/abc</guid>
    </item>
    {second_item}
  </channel>
</rss>"#
        )
    }

    const OLD: &str = r#"<item>
      <title>Console outage</title>
      <description>&lt;p&gt;&lt;strong&gt;Resolved&lt;/strong&gt; - This incident has been resolved.&lt;/p&gt;</description>
      <pubDate>Fri, 02 Jan 2026 10:00:00 +0000</pubDate>
      <guid>https://status.acme.test/incidents/old</guid>
    </item>"#;

    fn parse(body: &str) -> StatusDoc {
        let opts = StatusOptions {
            platform: Some(Platform::Generic),
            ..StatusOptions::default()
        };
        extract_feed(body.as_bytes(), &opts).unwrap()
    }

    #[test]
    fn each_item_is_an_incident_in_its_latest_state() {
        let doc = parse(&feed(OLD));
        assert_eq!(doc.components.len(), 1);
        assert_eq!(doc.components[0].name, "Acme Status - Incident History");
        assert_eq!(doc.components[0].status, ComponentStatus::Degraded);
        let states: Vec<(&str, &str, &str)> = doc
            .incidents
            .iter()
            .map(|i| (i.id.as_str(), i.status.as_str(), i.impact.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("https://status.acme.test/incidents/abc", "identified", "minor"),
                ("https://status.acme.test/incidents/old", "resolved", "critical"),
            ]
        );
        let update = doc.incidents[0].latest_update.as_ref().unwrap();
        assert!(update.body.starts_with("Jan 5\nIdentified - A fix"), "{}", update.body);
        assert_eq!(update.at.as_deref(), Some("2026-01-05T10:00:00Z"));
    }
}
