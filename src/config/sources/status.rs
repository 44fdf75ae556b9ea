//! The status platforms' keys of a `[[source]]`: `platform`, `product`, `keyword` and `component`,
//! each checked against the kind that reads it, with the line of the offending value.

use super::{Ctx, Table};
use crate::extract::{Kind, Platform, StatusOptions};

/// The kinds that read each key, for the "applies to" message.
const USED_BY: [(&str, &[Kind]); 4] = [
    ("platform", &[Kind::StatusFeed]),
    ("product", &[Kind::GcpStatus]),
    ("keyword", &[Kind::StatusFeed]),
    ("component", &[Kind::StatusFeed, Kind::GcpStatus]),
];

impl Ctx<'_> {
    /// Reads and checks the status keys of one source; `kind` is `None` when it was invalid (and
    /// already reported), in which case only the values' types are checked.
    pub(super) fn status_options(&mut self, t: &Table<'_>, line: usize, kind: Option<Kind>) -> StatusOptions {
        let mut values = Vec::new();
        for (key, kinds) in USED_BY {
            let Some((value, span)) = self.string(t, key, line, false) else {
                continue;
            };
            let l = self.line(span.start);
            if let Some(kind) = kind
                && !kinds.contains(&kind)
            {
                let names: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
                let noun = if names.len() > 1 { "kinds" } else { "kind" };
                self.problem(
                    l,
                    format!("`{key}` applies to {noun} {} only, not `{kind}`", names.join(" and ")),
                );
            } else if value.trim().is_empty() {
                self.problem(l, format!("`{key}` must not be empty"));
            } else {
                values.push((key, value, l));
            }
        }

        let mut opts = StatusOptions::default();
        for (key, value, l) in values {
            match key {
                "platform" => match Platform::parse(&value) {
                    Some(p) => opts.platform = Some(p),
                    None => {
                        let all: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
                        self.problem(
                            l,
                            format!("unknown platform `{value}` (expected one of: {})", all.join(", ")),
                        );
                    }
                },
                "product" => opts.product = Some(value),
                "keyword" => opts.keyword = Some(value),
                _ => opts.component = Some(value),
            }
        }

        match kind {
            Some(Kind::GcpStatus) if opts.product.is_none() && t.get("product").is_none() => self.problem(
                line,
                "missing required key `product` (kind `gcp_status` keeps one product, by id or title, \
                 e.g. product = \"Vertex Gemini API\")"
                    .into(),
            ),
            Some(Kind::StatusFeed)
                if opts.platform == Some(Platform::Azure) && opts.keyword.is_none() && t.get("keyword").is_none() =>
            {
                self.problem(
                    line,
                    "missing required key `keyword` (Azure's feed covers every Azure service, \
                     e.g. keyword = \"Azure OpenAI\")"
                        .into(),
                )
            }
            _ => {}
        }
        opts
    }
}

#[cfg(test)]
mod tests {
    use crate::config::sources::parse_file;
    use crate::extract::{Kind, Platform, StatusOptions};
    use std::path::Path;

    const GOOD: &str = r#"provider = "cloud"

[[source]]
id = "vertex-status"
kind = "gcp_status"
url = "https://status.cloud.google.com/incidents.json"
doc_type = "status"
product = "Z0FZJAMvEB4j3NbCJs6B"

[[source]]
id = "azure-openai-status"
kind = "status_feed"
platform = "azure"
keyword = "Azure OpenAI"
url = "https://rssfeed.azure.status.microsoft/en-us/status/feed/"
doc_type = "status"

[[source]]
id = "xai-status"
kind = "status_feed"
platform = "xai"
url = "https://status.x.ai/feed.xml"
doc_type = "status"

[[source]]
id = "deepseek-status"
kind = "flashduty"
url = "https://status.deepseek.com/api/widget/v1/summary.json"
doc_type = "status"
"#;

    #[test]
    fn status_sources_parse_with_their_options() {
        let (sources, problems) = parse_file(Path::new("cloud.toml"), GOOD);
        assert!(problems.is_empty(), "{problems:?}");
        let kinds: Vec<Kind> = sources.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [Kind::GcpStatus, Kind::StatusFeed, Kind::StatusFeed, Kind::Flashduty]
        );
        assert_eq!(sources[0].rules.status.product.as_deref(), Some("Z0FZJAMvEB4j3NbCJs6B"));
        assert_eq!(
            sources[1].rules.status,
            StatusOptions {
                platform: Some(Platform::Azure),
                keyword: Some("Azure OpenAI".into()),
                ..StatusOptions::default()
            }
        );
        assert_eq!(sources[2].rules.status.platform, Some(Platform::Xai));
    }

    #[test]
    fn options_only_change_the_rules_hash_of_the_sources_that_use_them() {
        let (sources, _) = parse_file(Path::new("cloud.toml"), GOOD);
        let plain = &sources[3];
        let canon = serde_json::to_value(&plain.rules).unwrap();
        // The same JSON as before status options existed: existing sources keep their rules hash.
        assert_eq!(
            canon,
            serde_json::json!({"select": [], "remove": [], "json_path": null, "ignore": []})
        );
        let mut other = sources[1].clone();
        other.rules.status.keyword = Some("Azure AI Search".into());
        assert_ne!(other.rules_hash(), sources[1].rules_hash());
    }

    #[test]
    fn every_problem_names_its_line() {
        let bad = r#"provider = "cloud"

[[source]]
id = "a"
kind = "gcp_status"
url = "https://status.cloud.google.com/incidents.json"
doc_type = "status"
keyword = "Vertex"

[[source]]
id = "b"
kind = "status_feed"
platform = "statuspage"
url = "https://x.test/feed"
doc_type = "status"
product = "x"

[[source]]
id = "c"
kind = "status_feed"
platform = "azure"
url = "https://x.test/feed"
doc_type = "status"

[[source]]
id = "d"
kind = "html"
url = "https://x.test/"
doc_type = "docs"
component = "API"

[[source]]
id = "e"
kind = "status_feed"
url = "https://x.test/feed"
doc_type = "status"
keyword = ""
platform = 3
"#;
        let (sources, problems) = parse_file(Path::new("bad.toml"), bad);
        assert!(sources.is_empty(), "{sources:?}");
        let lines: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        let expect = [
            (3, "missing required key `product`"),
            (8, "`keyword` applies to kind `status_feed` only, not `gcp_status`"),
            (
                13,
                "unknown platform `statuspage` (expected one of: generic, aws, azure, betterstack, xai)",
            ),
            (16, "`product` applies to kind `gcp_status` only, not `status_feed`"),
            (18, "missing required key `keyword`"),
            (
                30,
                "`component` applies to kinds `status_feed` and `gcp_status` only, not `html`",
            ),
            (37, "`keyword` must not be empty"),
            (38, "`platform` must be a string, found an integer"),
        ];
        for (line, text) in expect {
            assert!(
                lines.iter().any(|(l, m)| *l == line && m.contains(text)),
                "missing {line}: {text} in {lines:#?}"
            );
        }
        assert_eq!(problems.len(), expect.len(), "{lines:#?}");
    }
}
