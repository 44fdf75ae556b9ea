//! The two wire formats: the Standard Webhooks envelope and a Slack Block Kit message.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::{Notification, Severity};

/// Slack's limits, in characters (<https://docs.slack.dev/reference/block-kit/blocks>).
const SLACK_HEADER_MAX: usize = 150;
const SLACK_TEXT_MAX: usize = 3000;
const SLACK_URL_MAX: usize = 3000;
/// Short fields (severity, provider, event) are cut well before the limits so that one odd value
/// cannot crowd out the message text.
const SLACK_FIELD_MAX: usize = 100;

/// The Standard Webhooks envelope: `{"type", "timestamp", "data"}`.
///
/// `data` holds `id` (the message id, also sent as `webhook-id`), the notification's fields, and
/// the keys of `n.data` when it is an object (any other non-null value goes under `extra`). The
/// notification's own fields are written last so that free-form data cannot replace `id`,
/// `title` and the rest.
pub fn webhook_body(msg_id: &str, n: &Notification) -> Vec<u8> {
    let mut data = match &n.data {
        Value::Object(fields) => fields.clone(),
        Value::Null => Map::new(),
        other => Map::from_iter([("extra".to_owned(), other.clone())]),
    };
    let fixed = [
        ("id", json!(msg_id)),
        ("severity", json!(n.severity)),
        ("provider", json!(n.provider)),
        ("category", json!(n.category)),
        ("title", json!(n.title)),
        ("text", json!(n.text)),
        ("url", json!(n.url)),
    ];
    for (key, value) in fixed {
        data.insert(key.to_owned(), value);
    }
    let envelope = json!({
        "type": n.event,
        "timestamp": n.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    // `Value`'s `Display` cannot fail (all keys are strings), unlike `to_vec`'s signature.
    envelope.to_string().into_bytes()
}

/// A Slack incoming-webhook message: a `text` fallback (used in notifications) and blocks:
/// header (title), section (severity, provider, category, text), context (event and time) and,
/// when the notification has a usable http(s) link, an "Open in signalbox" button.
///
/// Every text is escaped (`&`, `<`, `>`) so that notification content cannot form links or
/// mentions such as `<!channel>`, and is cut to Slack's limits, which would otherwise make Slack
/// reject the whole message.
pub fn slack_body(n: &Notification) -> Vec<u8> {
    let title = [n.title.as_str(), n.event.as_str(), "signalbox notification"]
        .into_iter()
        .find(|t| !t.trim().is_empty())
        .unwrap_or("signalbox notification");

    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": escape_truncate(title, SLACK_HEADER_MAX), "emoji": true},
    })];

    let mut facts = Vec::new();
    if let Some(severity) = n.severity.as_deref() {
        let icon = Severity::parse_loose(severity).map(severity_icon).unwrap_or_default();
        facts.push(format!(
            "{icon}*Severity:* {}",
            escape_truncate(severity, SLACK_FIELD_MAX)
        ));
    }
    if let Some(provider) = n.provider.as_deref() {
        facts.push(format!("*Provider:* {}", escape_truncate(provider, SLACK_FIELD_MAX)));
    }
    if let Some(category) = n.category.as_deref() {
        facts.push(format!("*Category:* {}", escape_truncate(category, SLACK_FIELD_MAX)));
    }
    let facts = facts.join("   ");
    let section = match (facts.is_empty(), n.text.trim().is_empty()) {
        (true, true) => String::new(),
        (false, true) => facts,
        (true, false) => escape_truncate(&n.text, SLACK_TEXT_MAX),
        (false, false) => {
            // The facts line is at most a few hundred characters, so the text always has room.
            let budget = SLACK_TEXT_MAX.saturating_sub(slack_len(&facts) + 1);
            format!("{facts}\n{}", escape_truncate(&n.text, budget))
        }
    };
    if !section.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": section}}));
    }

    // `<!date^…>` shows the time in each reader's own time zone; the part after `|` is the
    // fallback for clients that cannot.
    let when = format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        n.at.timestamp(),
        n.at.format("%Y-%m-%d %H:%M UTC")
    );
    let context = format!("signalbox · `{}` · {when}", escape_truncate(&n.event, SLACK_FIELD_MAX));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));

    if let Some(url) = n.url.as_deref() {
        if button_url_ok(url) {
            blocks.push(json!({
                "type": "actions",
                "elements": [{
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in signalbox"},
                    "url": url,
                }],
            }));
        } else {
            // Slack refuses the whole message over one bad button URL; the message matters more.
            tracing::debug!(event = %n.event, "notification url not usable as a Slack button; left out");
        }
    }

    let mut fallback = String::new();
    if let Some(severity) = n.severity.as_deref() {
        fallback.push_str(&format!("[{}] ", truncate_raw(severity, SLACK_FIELD_MAX)));
    }
    if let Some(provider) = n.provider.as_deref() {
        fallback.push_str(&format!("{}: ", truncate_raw(provider, SLACK_FIELD_MAX)));
    }
    fallback.push_str(title);

    json!({"text": escape_truncate(&fallback, SLACK_TEXT_MAX), "blocks": blocks})
        .to_string()
        .into_bytes()
}

fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light: ",
        Severity::High => ":red_circle: ",
        Severity::Medium => ":large_orange_circle: ",
        Severity::Low => ":large_yellow_circle: ",
        Severity::Info => ":information_source: ",
    }
}

fn button_url_ok(url: &str) -> bool {
    url.len() <= SLACK_URL_MAX
        && reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Length as Slack may count it. Counting UTF-16 units is never less than counting code points,
/// so staying under the limit in these units stays under it either way.
fn slack_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Escapes Slack's control characters and cuts the result to `max` (in [`slack_len`] units),
/// ending with `…` when cut. The cut falls between characters, never inside an entity such as
/// `&amp;`, which would otherwise reach the reader half-escaped.
fn escape_truncate(s: &str, max: usize) -> String {
    let escaped = escape(s);
    if slack_len(&escaped) <= max {
        return escaped;
    }
    let budget = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let piece = escape_char(c);
        let len = piece.encode_utf16().count();
        if used + len > budget {
            break;
        }
        out.push_str(&piece);
        used += len;
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// Cuts unescaped text by characters (for pieces escaped later as part of a longer string).
fn truncate_raw(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        s.chars().take(max_chars.saturating_sub(1)).chain(['…']).collect()
    }
}

fn escape(s: &str) -> String {
    s.chars().map(escape_char).collect()
}

fn escape_char(c: char) -> String {
    match c {
        '&' => "&amp;".to_owned(),
        '<' => "&lt;".to_owned(),
        '>' => "&gt;".to_owned(),
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn note() -> Notification {
        Notification {
            event: "brief.created".into(),
            severity: Some("high".into()),
            provider: Some("openai".into()),
            category: Some("deprecation".into()),
            title: "gpt-4 retires <soon> & more".into(),
            text: "Use <!channel> & <https://evil.example|click> > now".into(),
            url: Some("https://signalbox.example/briefs/42?x=1&y=2".into()),
            data: json!({"brief_id": 42, "id": "spoofed", "title": "spoofed"}),
            at: Utc.with_ymd_and_hms(2021, 2, 25, 15, 2, 10).unwrap(),
        }
    }

    fn blocks_of(body: &Value) -> &Vec<Value> {
        body["blocks"].as_array().unwrap()
    }

    fn block<'a>(body: &'a Value, kind: &str) -> Option<&'a Value> {
        blocks_of(body).iter().find(|b| b["type"] == kind)
    }

    #[test]
    fn webhook_envelope() {
        let body: Value = serde_json::from_slice(&webhook_body("msg_1", &note())).unwrap();
        assert_eq!(body["type"], "brief.created");
        assert_eq!(body["timestamp"], "2021-02-25T15:02:10.000Z");
        let data = &body["data"];
        assert_eq!(data["id"], "msg_1", "data cannot override the message id");
        assert_eq!(
            data["title"], "gpt-4 retires <soon> & more",
            "webhook bodies are not Slack-escaped"
        );
        assert_eq!(data["brief_id"], 42);
        assert_eq!(data["severity"], "high");
        assert_eq!(data["provider"], "openai");
        assert_eq!(data["category"], "deprecation");
        assert_eq!(data["url"], "https://signalbox.example/briefs/42?x=1&y=2");
        assert_eq!(body.as_object().unwrap().len(), 3);

        let mut n = note();
        n.data = json!([1, 2]);
        n.severity = None;
        let body: Value = serde_json::from_slice(&webhook_body("msg_2", &n)).unwrap();
        assert_eq!(body["data"]["extra"], json!([1, 2]));
        assert!(body["data"]["severity"].is_null());
    }

    #[test]
    fn slack_escapes_control_characters() {
        let body: Value = serde_json::from_slice(&slack_body(&note())).unwrap();
        let header = &block(&body, "header").unwrap()["text"];
        assert_eq!(header["type"], "plain_text");
        assert_eq!(header["text"], "gpt-4 retires &lt;soon&gt; &amp; more");

        let section = block(&body, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(section.contains("*Severity:* high"), "{section}");
        assert!(section.contains("*Provider:* openai"), "{section}");
        assert!(
            section.ends_with("Use &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; &gt; now"),
            "{section}"
        );
        assert!(!section.contains("<!channel>") && !section.contains("<https://evil"));

        assert_eq!(body["text"], "[high] openai: gpt-4 retires &lt;soon&gt; &amp; more");
        let context = block(&body, "context").unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(context.contains("`brief.created`"), "{context}");
        assert!(context.contains("<!date^1614265330^"), "{context}");

        // Button URLs are URLs, not text: sent as they are.
        let button = &block(&body, "actions").unwrap()["elements"][0];
        assert_eq!(button["url"], "https://signalbox.example/briefs/42?x=1&y=2");
        assert_eq!(button["text"]["text"], "Open in signalbox");
    }

    #[test]
    fn slack_truncates_to_limits_without_splitting_entities() {
        let mut n = note();
        n.title = "&".repeat(200);
        n.text = "<".repeat(5000);
        let body: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        let header = block(&body, "header").unwrap()["text"]["text"].as_str().unwrap();
        assert!(slack_len(header) <= 150, "{}", slack_len(header));
        assert!(header.ends_with("&amp;…"), "{header}");
        assert_eq!(header.matches("&amp;").count(), 29); // 29 × 5 + 1 = 146

        let section = block(&body, "section").unwrap()["text"]["text"].as_str().unwrap();
        assert!(slack_len(section) <= 3000, "{}", slack_len(section));
        assert!(slack_len(section) > 2990, "should use the room it has");
        assert!(section.ends_with("&lt;…"), "{}", &section[section.len() - 20..]);
        assert!(slack_len(body["text"].as_str().unwrap()) <= 3000);

        // Characters outside the BMP count double, so a cut can never land above the limit.
        n.title = "🚨".repeat(100);
        let body: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        let header = block(&body, "header").unwrap()["text"]["text"].as_str().unwrap();
        assert!(slack_len(header) <= 150);
        assert_eq!(header.chars().count(), 75); // 74 emoji + …

        // Exactly at the limit: untouched.
        n.title = "a".repeat(150);
        let body: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        assert_eq!(block(&body, "header").unwrap()["text"]["text"], n.title);
    }

    #[test]
    fn slack_optional_parts() {
        let n = Notification {
            event: "source.broken".into(),
            severity: None,
            provider: None,
            category: None,
            title: String::new(),
            text: String::new(),
            url: Some("javascript:alert(1)".into()),
            data: Value::Null,
            at: Utc::now(),
        };
        let body: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        assert_eq!(block(&body, "header").unwrap()["text"]["text"], "source.broken");
        assert!(block(&body, "section").is_none(), "Slack rejects empty section text");
        assert!(block(&body, "actions").is_none(), "non-http links are left out");
        assert_eq!(body["text"], "source.broken");

        let mut n = n;
        n.url = None;
        n.text = "only text".into();
        let body: Value = serde_json::from_slice(&slack_body(&n)).unwrap();
        assert_eq!(block(&body, "section").unwrap()["text"]["text"], "only text");
        assert!(block(&body, "actions").is_none());
    }

    #[test]
    fn escape_truncate_edges() {
        assert_eq!(escape_truncate("a<b", 10), "a&lt;b");
        assert_eq!(escape_truncate("a<b", 6), "a&lt;b");
        assert_eq!(escape_truncate("a<b", 5), "a…");
        assert_eq!(escape_truncate("abc", 0), "");
        assert_eq!(truncate_raw("abcdef", 4), "abc…");
    }
}
