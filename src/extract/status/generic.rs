//! `status_feed` with `platform = "generic"`: one item per incident, its current state in its text
//! (Statuspage's `history.rss`, incident.io and Instatus feeds write the newest update first).

use std::collections::BTreeMap;

use super::feed::Item;
use super::{Read, lifecycle_in, severity_in, utc};
use crate::extract::{Incident, IncidentUpdate};

pub(super) fn read(items: Vec<Item>, component: &str) -> Vec<Read> {
    // An item published again under the same id is the same incident: its newest version counts.
    let mut newest: BTreeMap<String, Item> = BTreeMap::new();
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
        .into_iter()
        .map(|(id, item)| {
            let prose = format!("{}\n{}", item.title, item.text);
            let status = lifecycle_in(&prose).unwrap_or("investigating");
            let (severity, raw) = severity_in(&prose);
            let at = item.published.map(utc);
            let incident = Incident {
                id,
                name: item.title,
                status: status.to_owned(),
                impact: String::new(),
                created_at: at.clone(),
                components: vec![component.to_owned()],
                latest_update: Some(IncidentUpdate {
                    status: status.to_owned(),
                    body: item.text,
                    at,
                }),
            };
            Read::uniform(incident, severity, &raw)
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
