//! The `json` extractor, and the canonical JSON text shared by every structured kind.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use super::{ExtractError, Kind};

/// Parses a JSON document and, when `json_path` is given, keeps only the selected part: one
/// node as itself, several as an array of them (in the order JSONPath returns them).
pub(super) fn extract(body: &[u8], json_path: Option<&str>) -> Result<Value, ExtractError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| ExtractError::Unparseable {
        kind: Kind::Json,
        reason: e.to_string(),
    })?;
    let Some(path_text) = json_path else {
        return Ok(doc);
    };
    let path =
        JsonPath::parse(path_text).map_err(|e| ExtractError::BadRule(format!("json_path `{path_text}`: {e}")))?;
    let mut nodes = path.query(&doc).all();
    match nodes.len() {
        0 => Err(ExtractError::EmptySelection(path_text.to_owned())),
        1 => Ok(nodes.remove(0).clone()),
        _ => Ok(Value::Array(nodes.into_iter().cloned().collect())),
    }
}

/// Pretty-printed JSON (2-space indent, no trailing newline) with object keys sorted at every
/// level, so the text only changes when the data does.
///
/// Keys are sorted explicitly rather than relying on `serde_json::Map` being a `BTreeMap`:
/// with serde_json's `preserve_order` feature (which any crate in the build can switch on) it
/// keeps the source order instead, and the snapshot text would follow the provider's key order.
pub fn canonical_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&sorted(v)).expect("a JSON value serializes to a string")
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MODELS: &str = r#"{
        "object": "list",
        "meta": {"generated_at": "2025-01-01T00:00:00Z"},
        "data": {
            "models": [
                {"id": "large-2", "context": 200000, "deprecated": false},
                {"id": "small-1", "context": 32000, "deprecated": true}
            ]
        }
    }"#;

    #[test]
    fn whole_document_without_path() {
        let v = extract(MODELS.as_bytes(), None).unwrap();
        assert_eq!(v["object"], "list");
    }

    #[test]
    fn path_selecting_a_nested_array() {
        let v = extract(MODELS.as_bytes(), Some("$.data.models")).unwrap();
        assert_eq!(
            v,
            json!([
                {"id": "large-2", "context": 200000, "deprecated": false},
                {"id": "small-1", "context": 32000, "deprecated": true}
            ])
        );
    }

    #[test]
    fn path_with_several_nodes_gives_an_array() {
        let v = extract(MODELS.as_bytes(), Some("$.data.models[*].id")).unwrap();
        assert_eq!(v, json!(["large-2", "small-1"]));
        let v = extract(MODELS.as_bytes(), Some("$.data.models[?@.deprecated == true].id")).unwrap();
        assert_eq!(v, json!("small-1"));
    }

    #[test]
    fn path_matching_nothing_is_an_empty_selection() {
        let err = extract(MODELS.as_bytes(), Some("$.data.pricing")).unwrap_err();
        assert!(matches!(err, ExtractError::EmptySelection(p) if p == "$.data.pricing"));
    }

    #[test]
    fn bad_path_and_bad_json() {
        let err = extract(MODELS.as_bytes(), Some("$.[")).unwrap_err();
        assert!(matches!(err, ExtractError::BadRule(_)));
        let err = extract(b"{\"a\": ", None).unwrap_err();
        assert!(matches!(err, ExtractError::Unparseable { kind: Kind::Json, .. }));
    }

    #[test]
    fn key_order_does_not_matter() {
        let a = extract(br#"{"b": {"y": 1, "x": [2, {"q": 1, "p": 0}]}, "a": null}"#, None);
        let b = extract(br#"{"a": null, "b": {"x": [2, {"p": 0, "q": 1}], "y": 1}}"#, None);
        let (a, b) = (canonical_pretty(&a.unwrap()), canonical_pretty(&b.unwrap()));
        assert_eq!(a, b);
        let expected = "{\n  \"a\": null,\n  \"b\": {\n    \"x\": [\n      2,\n      {\n        \
                        \"p\": 0,\n        \"q\": 1\n      }\n    ],\n    \"y\": 1\n  }\n}";
        assert_eq!(a, expected);
    }
}

/// Tests of the `Extractor` and `Normalized` API of `mod.rs`, kept here because `mod.rs` is the
/// shared interface file (and `to_text` is `canonical_pretty`).
#[cfg(test)]
mod extractor_tests {
    use super::super::{Extractor, Kind, Normalized, Rules};
    use super::*;
    use serde_json::json;

    fn extractor(kind: Kind, select: &[&str], ignore: &[&str]) -> Extractor {
        let rules = Rules {
            select: select.iter().map(|s| s.to_string()).collect(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            ..Rules::default()
        };
        Extractor::new(kind, rules, None).unwrap()
    }

    #[test]
    fn html_ignore_removes_relative_dates() {
        let page = |days: u32| {
            format!(
                "<main><h1>Deprecations</h1><p>Updated: {days} days ago</p>\
                 <ul><li>v1 ends May 1 (Updated: {days} days ago)</li></ul></main>"
            )
        };
        let ex = extractor(Kind::Html, &["main"], &[r"Updated: \d+ days ago"]);
        let a = ex.extract(page(3).as_bytes()).unwrap();
        assert_eq!(a.to_text(), "# Deprecations\n\n- v1 ends May 1 ()");
        assert_eq!(a, ex.extract(page(12).as_bytes()).unwrap());
    }

    #[test]
    fn nothing_left_after_ignore_is_empty() {
        let ex = extractor(Kind::Text, &[], &[r"(?m)^Updated: .*$"]);
        let err = ex.extract(b"Updated: today\n\nUpdated: yesterday").unwrap_err();
        assert!(matches!(err, ExtractError::Empty));
    }

    #[test]
    fn bad_ignore_regex_is_a_bad_rule() {
        let rules = Rules {
            ignore: vec!["(unclosed".into()],
            ..Rules::default()
        };
        let err = Extractor::new(Kind::Html, rules, None).unwrap_err();
        assert!(matches!(err, ExtractError::BadRule(m) if m.contains("(unclosed")));
    }

    const FEED: &str = r#"<rss version="2.0"><channel><title>Blog</title>
        <item><guid>1</guid><title>Launch "quoted" {braces}</title>
          <description>Big news. 1,234 views</description></item>
        <item><guid>2</guid><title>Other</title><description>Small news.</description>
          <pubDate>Sun, 02 Mar 2025 10:00:00 GMT</pubDate></item>
    </channel></rss>"#;

    #[test]
    fn feed_ignore_edits_strings_not_json() {
        // A regex that would break the JSON text if applied to it (it eats quotes and braces).
        let ex = extractor(Kind::Feed, &[], &[r"[\d,]+ views", r#"["{}]"#]);
        let Normalized::Feed(doc) = ex.extract(FEED.as_bytes()).unwrap() else {
            panic!("feed extractor returns a feed document");
        };
        let summaries: Vec<&str> = doc.entries.iter().map(|e| e.summary.as_str()).collect();
        assert_eq!(summaries, ["Small news.", "Big news."]);
        assert_eq!(doc.entries[1].title, "Launch quoted braces");
    }

    #[test]
    fn feed_text_round_trip() {
        let doc = extractor(Kind::Feed, &[], &[]).extract(FEED.as_bytes()).unwrap();
        let text = doc.to_text();
        assert!(
            text.starts_with("{\n  \"entries\": [\n    {\n      \"id\": \"2\","),
            "{text}"
        );
        assert_eq!(Normalized::from_text(Kind::Feed, &text).unwrap(), doc);
    }

    #[test]
    fn status_text_round_trip() {
        let body = br#"{"status": {"indicator": "major", "description": "Major Outage"},
            "components": [{"id": "c1", "name": "API", "status": "major_outage", "group_id": "g"},
                           {"id": "g", "name": "Core", "status": "major_outage", "group": true}],
            "incidents": [{"id": "i1", "name": "API down", "status": "investigating",
                           "impact": "critical", "incident_updates": [{"status": "investigating",
                           "body": "Looking.", "created_at": "2025-03-01T10:00:00Z"}]}],
            "scheduled_maintenances": []}"#;
        let doc = extractor(Kind::Statuspage, &[], &[]).extract(body).unwrap();
        let text = doc.to_text();
        assert!(text.contains("\"group\": \"Core\""), "{text}");
        assert!(text.contains("\"status\": \"major_outage\""), "{text}");
        assert_eq!(Normalized::from_text(Kind::Statuspage, &text).unwrap(), doc);
        assert!(matches!(
            Normalized::from_text(Kind::Statuspage, "not json"),
            Err(ExtractError::Unparseable {
                kind: Kind::Statuspage,
                ..
            })
        ));
    }

    #[test]
    fn json_and_text_round_trip() {
        let json = extractor(Kind::Json, &[], &[r"^beta-"])
            .extract(br#"{"z": ["beta-x", 1], "a": {"k": " beta-y "}}"#)
            .unwrap();
        assert_eq!(json, Normalized::Json(json!({"a": {"k": "beta-y"}, "z": ["x", 1]})));
        assert_eq!(Normalized::from_text(Kind::Json, &json.to_text()).unwrap(), json);

        let text = extractor(Kind::Markdown, &[], &[]).extract(b"# Hi\n").unwrap();
        assert_eq!(Normalized::from_text(Kind::Markdown, &text.to_text()).unwrap(), text);
    }
}
