//! Sink configuration: where notifications go and which ones each destination wants.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Notification, NotifyError, signature};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// Any HTTP receiver; bodies are signed per Standard Webhooks.
    Webhook,
    /// A Slack incoming webhook; Slack authenticates by the secret URL, so nothing is signed.
    Slack,
}

/// Severity levels, least first: the briefs' own.
pub use crate::domain::brief::Severity;

/// One configured sink, `[[notify.sinks]]` in the settings file.
///
/// `Debug` is safe to log: the secret is masked and only the scheme and host of the URL are shown.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    /// Unique among sinks; recorded in the delivery log.
    pub name: String,
    pub kind: SinkKind,
    pub url: String,
    /// Standard Webhooks secret, `whsec_<base64>`. Required for `webhook`, ignored for `slack`.
    #[serde(default)]
    pub secret: String,
    /// Lowest severity delivered: `info`, `low`, `medium`, `high` or `critical`.
    #[serde(default = "default_min_severity")]
    pub min_severity: String,
    /// Providers delivered; empty means all.
    #[serde(default)]
    pub providers: Vec<String>,
    /// Categories delivered; empty means all.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Event types delivered (`brief.created`, `source.broken`, ...); empty means all.
    #[serde(default)]
    pub events: Vec<String>,
}

fn default_min_severity() -> String {
    Severity::Info.as_str().to_owned()
}

impl fmt::Debug for SinkSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkSettings")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redacted_url(&self.url))
            .field("secret", &if self.secret.is_empty() { "" } else { "<redacted>" })
            .field("min_severity", &self.min_severity)
            .field("providers", &self.providers)
            .field("categories", &self.categories)
            .field("events", &self.events)
            .finish()
    }
}

/// Scheme and host only: the path of a Slack webhook URL is its credential, and any URL may
/// carry user info or a token in its query.
pub(crate) fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}/…", u.scheme())
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

impl SinkSettings {
    /// Checks what can be checked before the first delivery, so a typo stops start-up instead of
    /// silently dropping notifications.
    pub fn validate(&self) -> Result<(), NotifyError> {
        let invalid = |reason: String| NotifyError::InvalidSink {
            sink: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("name is empty".to_owned()));
        }
        let url = reqwest::Url::parse(&self.url).map_err(|e| invalid(format!("url: {e}")))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(invalid(format!(
                "url scheme must be http or https, not `{}`",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("url has no host".to_owned()));
        }
        if Severity::parse_loose(&self.min_severity).is_none() {
            return Err(invalid(format!(
                "min_severity `{}` is not one of info, low, medium, high, critical",
                self.min_severity
            )));
        }
        if self.kind == SinkKind::Webhook {
            signature::decode_secret(&self.secret).map_err(|e| invalid(format!("secret: {e}")))?;
        }
        Ok(())
    }

    /// Whether this sink wants `n`. All filters must pass:
    /// - `events`: the event is listed (or the list is empty);
    /// - severity: at least `min_severity`; a notification without severity passes. An unknown
    ///   severity ranks as `info`, as in the briefs store;
    /// - `providers` / `categories`: the value is listed, ignoring ASCII case; a notification
    ///   without the value passes only an empty filter, since it cannot match any listed one.
    pub fn accepts(&self, n: &Notification) -> bool {
        if !self.events.is_empty() && !self.events.iter().any(|e| e == &n.event) {
            return false;
        }
        if let Some(severity) = n.severity.as_deref() {
            // An invalid `min_severity` is rejected by `validate`; if it slipped through, deliver
            // rather than drop, since a missed alert costs more than a noisy one.
            let min = Severity::parse_loose(&self.min_severity).unwrap_or(Severity::Info);
            if Severity::parse_loose(severity).unwrap_or(Severity::Info) < min {
                return false;
            }
        }
        filter_allows(&self.providers, n.provider.as_deref()) && filter_allows(&self.categories, n.category.as_deref())
    }
}

fn filter_allows(filter: &[String], value: Option<&str>) -> bool {
    filter.is_empty() || value.is_some_and(|v| filter.iter().any(|f| f.eq_ignore_ascii_case(v)))
}

/// Validates every sink and checks that names are unique (the delivery log is keyed by name).
pub fn validate_sinks(sinks: &[SinkSettings]) -> Result<(), NotifyError> {
    let mut seen = HashSet::new();
    for sink in sinks {
        sink.validate()?;
        if !seen.insert(sink.name.as_str()) {
            return Err(NotifyError::DuplicateSink(sink.name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn sink(kind: SinkKind) -> SinkSettings {
        SinkSettings {
            name: "ops".into(),
            kind,
            url: "https://hooks.example.com/in".into(),
            secret: SECRET.into(),
            min_severity: "info".into(),
            providers: vec![],
            categories: vec![],
            events: vec![],
        }
    }

    fn note(event: &str, severity: Option<&str>, provider: Option<&str>, category: Option<&str>) -> Notification {
        Notification {
            event: event.into(),
            severity: severity.map(Into::into),
            provider: provider.map(Into::into),
            category: category.map(Into::into),
            title: "t".into(),
            text: "x".into(),
            url: None,
            data: serde_json::Value::Null,
            at: Utc::now(),
        }
    }

    #[derive(Deserialize)]
    struct File {
        notify: Notify,
    }
    #[derive(Deserialize)]
    struct Notify {
        sinks: Vec<SinkSettings>,
    }

    fn parse(value: serde_json::Value) -> Result<Vec<SinkSettings>, serde_json::Error> {
        serde_json::from_value::<File>(value).map(|f| f.notify.sinks)
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_fields() {
        let sinks = parse(serde_json::json!({"notify": {"sinks": [
            {"name": "a", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"},
            {"name": "b", "kind": "webhook", "url": "http://h/", "secret": SECRET, "events": ["brief.created"]},
        ]}}))
        .unwrap();
        assert_eq!(sinks[0].kind, SinkKind::Slack);
        assert_eq!(sinks[0].min_severity, "info");
        assert!(sinks[0].secret.is_empty() && sinks[0].providers.is_empty());
        assert_eq!(sinks[1].kind, SinkKind::Webhook);
        assert_eq!(sinks[1].events, ["brief.created"]);
        validate_sinks(&sinks).unwrap();

        let typo = parse(serde_json::json!({"notify": {"sinks": [
            {"name": "a", "kind": "slack", "url": "https://x/", "min_severty": "high"},
        ]}}));
        assert!(typo.unwrap_err().to_string().contains("min_severty"));
        let bad_kind =
            parse(serde_json::json!({"notify": {"sinks": [{"name": "a", "kind": "Email", "url": "https://x/"}]}}));
        assert!(bad_kind.is_err());
    }

    #[test]
    fn validate_checks_url_secret_and_severity() {
        sink(SinkKind::Webhook).validate().unwrap();

        let mut s = sink(SinkKind::Webhook);
        s.url = "ftp://example.com/".into();
        assert!(s.validate().unwrap_err().to_string().contains("scheme"));
        s.url = "not a url".into();
        assert!(s.validate().is_err());

        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", // no prefix
            "whsec_not*base64",
            "whsec_c2hvcnQ=",                        // 5 bytes
            &format!("whsec_{}", "QUFB".repeat(22)), // 66 bytes
        ] {
            let mut s = sink(SinkKind::Webhook);
            s.secret = bad.to_owned();
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains("secret"), "{bad:?}: {err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "error leaks the secret: {err}");
            }
        }
        // Slack sinks authenticate by URL; a secret is neither needed nor checked.
        let mut s = sink(SinkKind::Slack);
        s.secret = String::new();
        s.validate().unwrap();

        let mut s = sink(SinkKind::Slack);
        s.min_severity = "urgent".into();
        assert!(s.validate().unwrap_err().to_string().contains("min_severity"));
        s.min_severity = "HIGH".into();
        s.validate().unwrap();
        s.name = " ".into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let err = validate_sinks(&[sink(SinkKind::Slack), sink(SinkKind::Webhook)]).unwrap_err();
        assert!(matches!(err, NotifyError::DuplicateSink(name) if name == "ops"));
    }

    #[test]
    fn debug_hides_secret_and_url_path() {
        let mut s = sink(SinkKind::Slack);
        s.url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET".into();
        let shown = format!("{s:?}");
        assert!(!shown.contains("XXXXSECRET") && !shown.contains("LaLaSw"), "{shown}");
        assert!(shown.contains("hooks.slack.com"), "{shown}");
    }

    #[test]
    fn severity_threshold() {
        let mut s = sink(SinkKind::Slack);
        s.min_severity = "high".into();
        assert!(!s.accepts(&note("brief.created", Some("info"), None, None)));
        assert!(!s.accepts(&note("brief.created", Some("medium"), None, None)));
        assert!(s.accepts(&note("brief.created", Some("high"), None, None)));
        assert!(s.accepts(&note("brief.created", Some("Critical"), None, None)));
        // No severity (e.g. source.broken) is not filtered by severity.
        assert!(s.accepts(&note("source.broken", None, None, None)));
        // Unknown severities rank as info.
        assert!(!s.accepts(&note("brief.created", Some("sev1"), None, None)));
        s.min_severity = "info".into();
        assert!(s.accepts(&note("brief.created", Some("sev1"), None, None)));
    }

    #[test]
    fn provider_and_category_filters() {
        let mut s = sink(SinkKind::Webhook);
        s.providers = vec!["openai".into(), "anthropic".into()];
        assert!(s.accepts(&note("e", None, Some("openai"), None)));
        assert!(s.accepts(&note("e", None, Some("Anthropic"), None)));
        assert!(!s.accepts(&note("e", None, Some("google"), None)));
        assert!(
            !s.accepts(&note("e", None, None, None)),
            "no provider cannot match a provider filter"
        );

        s.categories = vec!["pricing".into()];
        assert!(s.accepts(&note("e", None, Some("openai"), Some("pricing"))));
        assert!(!s.accepts(&note("e", None, Some("openai"), Some("status"))));
        assert!(!s.accepts(&note("e", None, Some("openai"), None)));

        let open = sink(SinkKind::Webhook);
        assert!(
            open.accepts(&note("e", None, None, None)),
            "empty filters accept everything"
        );
    }

    #[test]
    fn event_filter() {
        let mut s = sink(SinkKind::Slack);
        s.events = vec!["decision.pending_approval".into(), "source.broken".into()];
        assert!(s.accepts(&note("decision.pending_approval", Some("low"), None, None)));
        assert!(s.accepts(&note("source.broken", None, None, None)));
        assert!(!s.accepts(&note("brief.created", Some("critical"), None, None)));
        assert!(
            !s.accepts(&note("decision.pending", None, None, None)),
            "no prefix matching"
        );
    }

    #[test]
    fn all_filters_combine() {
        let mut s = sink(SinkKind::Slack);
        s.events = vec!["brief.created".into()];
        s.min_severity = "medium".into();
        s.providers = vec!["openai".into()];
        s.categories = vec!["deprecation".into()];
        let good = note("brief.created", Some("high"), Some("openai"), Some("deprecation"));
        assert!(s.accepts(&good));
        let mut n = good.clone();
        n.severity = Some("low".into());
        assert!(!s.accepts(&n));
        let mut n = good.clone();
        n.event = "decision.applied".into();
        assert!(!s.accepts(&n));
    }
}
