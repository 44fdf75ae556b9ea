//! Source declarations: `sources/<provider>.toml`, validated as a whole.
//!
//! Validation walks the spanned TOML tree by hand instead of going through serde, so that one run
//! reports every problem of every file with its line (serde stops at the first), and semantic
//! checks (cron, selectors, regexes, URLs, duplicate ids) point at the offending value.

mod status;

use super::schedule::Schedule;
use crate::extract::{Kind, Rules};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Document types (closed list): what a source publishes, used as the triage prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Status,
    Pricing,
    Models,
    Deprecations,
    RateLimits,
    Policy,
    Terms,
    Changelog,
    Docs,
}

impl DocType {
    pub const ALL: [DocType; 9] = [
        DocType::Status,
        DocType::Pricing,
        DocType::Models,
        DocType::Deprecations,
        DocType::RateLimits,
        DocType::Policy,
        DocType::Terms,
        DocType::Changelog,
        DocType::Docs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Status => "status",
            DocType::Pricing => "pricing",
            DocType::Models => "models",
            DocType::Deprecations => "deprecations",
            DocType::RateLimits => "rate_limits",
            DocType::Policy => "policy",
            DocType::Terms => "terms",
            DocType::Changelog => "changelog",
            DocType::Docs => "docs",
        }
    }

    pub fn parse(s: &str) -> Option<DocType> {
        DocType::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The default poll schedule when a source does not give one: hourly (jitter spreads the load).
pub const DEFAULT_SCHEDULE: &str = "0 * * * *";

/// One watched document, validated.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub provider: String,
    pub owner: Option<String>,
    pub kind: Kind,
    pub url: url::Url,
    pub doc_type: DocType,
    pub schedule: Schedule,
    pub rules: Rules,
    /// Extra request headers (values of the form `${NAME}` are read from the environment).
    pub headers: Vec<(String, String)>,
    pub enabled: bool,
    /// `false` for a URL that follows the vendor's usual pattern but was not confirmed in public
    /// material: shown as unverified until its first successful fetch.
    pub confirmed: bool,
    /// The page needs JavaScript to render (a plain fetch sees a placeholder): kept in the
    /// catalogue, disabled, with `alternative` naming the machine-readable source watched instead.
    pub renders_with_js: bool,
    pub alternative: Option<String>,
    /// Free text for people reading the catalogue.
    pub note: Option<String>,
    /// Where it was declared, for messages.
    pub file: PathBuf,
    pub line: usize,
}

impl Source {
    /// A stable hash of everything that decides how bytes become the normalized document.
    /// Stored with each snapshot: when it differs, the next run is a "rules upgrade".
    pub fn rules_hash(&self) -> String {
        let canon = serde_json::json!({
            "kind": self.kind,
            "rules": self.rules,
            "extractor_version": crate::extract::EXTRACTOR_VERSION,
        });
        // Hashed here, not through the store: configuration sits below the store.
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canon.to_string().as_bytes()))
    }
}

/// One problem in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Every problem found in a sources directory.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in source files:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct SourceErrors(pub Vec<Problem>);

/// Files a loader reads: `*.toml` only, no dot-files or editor leftovers.
pub fn is_config_file(path: &Path, extensions: &[&str]) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') || name.starts_with('#') || name.ends_with('~') {
        return false;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

/// The catalogue as a Markdown table, one row per source, by provider then id: what docs/sources.md
/// shows (a test keeps the two equal).
pub fn catalogue_markdown(sources: &[Source]) -> String {
    let mut rows: Vec<&Source> = sources.iter().collect();
    rows.sort_by(|a, b| (&a.provider, &a.id).cmp(&(&b.provider, &b.id)));
    let mut out = String::from(
        "| Provider | Source | Watches | Kind | URL | Schedule | State |\n|---|---|---|---|---|---|---|\n",
    );
    for s in rows {
        let state = match (s.enabled, s.renders_with_js, s.confirmed) {
            (_, true, _) => format!(
                "off: needs JavaScript; watched instead: `{}`",
                s.alternative.as_deref().unwrap_or("-")
            ),
            (false, _, _) => "off".to_owned(),
            (true, _, false) => "on, unverified URL".to_owned(),
            (true, _, true) => "on".to_owned(),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | <{}> | `{}` | {} |\n",
            s.provider,
            s.id,
            s.doc_type.as_str().replace('_', " "),
            s.kind.as_str(),
            s.url,
            s.schedule.expr(),
            state
        ));
    }
    out
}

/// Which sources of the catalogue to watch: the ones whose provider and doc_type are selected (an
/// empty list selects all). The others stay listed, disabled.
pub fn select(sources: &mut [Source], providers: &[String], doc_types: &[String]) {
    for s in sources {
        let provider_ok = providers.is_empty() || providers.contains(&s.provider);
        let doc_type_ok = doc_types.is_empty() || doc_types.iter().any(|d| d == s.doc_type.as_str());
        if !(provider_ok && doc_type_ok) {
            s.enabled = false;
        }
    }
}

/// Loads and validates every source file in `dir`; all problems, or all sources.
pub fn load_dir(dir: &Path) -> Result<Vec<Source>, SourceErrors> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(SourceErrors(vec![Problem {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read sources directory: {e}"),
            }]));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_config_file(p, &["toml"]))
        .collect();
    files.sort();

    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let (s, p) = parse_file(&file, &text);
                sources.extend(s);
                problems.extend(p);
            }
            Err(e) => problems.push(Problem {
                file: file.clone(),
                line: 0,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    // Ids are global: history, health and briefs are keyed by them.
    let mut seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
    for s in &sources {
        if let Some((f, l)) = seen.get(&s.id) {
            problems.push(Problem {
                file: s.file.clone(),
                line: s.line,
                message: format!(
                    "duplicate source id `{}` (first declared at {}:{})",
                    s.id,
                    f.display(),
                    l
                ),
            });
        } else {
            seen.insert(s.id.clone(), (s.file.clone(), s.line));
        }
    }
    // An `alternative` must be a source of the catalogue.
    for s in &sources {
        if let Some(a) = &s.alternative
            && !seen.contains_key(a)
        {
            problems.push(Problem {
                file: s.file.clone(),
                line: s.line,
                message: format!("`alternative` names `{a}`, which is not a declared source"),
            });
        }
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(SourceErrors(problems))
    }
}

const FILE_KEYS: &[&str] = &["provider", "owner", "source"];
const SOURCE_KEYS: &[&str] = &[
    "id",
    "kind",
    "url",
    "doc_type",
    "schedule",
    "select",
    "remove",
    "json_path",
    "ignore",
    "platform",
    "product",
    "keyword",
    "component",
    "headers",
    "enabled",
    "confirmed",
    "renders_with_js",
    "alternative",
    "note",
];

/// Parses one file; returns the valid sources and the problems (a source with a problem is left out).
pub fn parse_file(file: &Path, text: &str) -> (Vec<Source>, Vec<Problem>) {
    let mut ctx = Ctx {
        file,
        text,
        problems: Vec::new(),
    };
    let root = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map(|s| ctx.line(s.start)).unwrap_or(1);
            ctx.problem(line, format!("invalid TOML: {}", e.message()));
            return (Vec::new(), ctx.problems);
        }
    };
    let root = root.into_inner();
    ctx.unknown_keys(&root, FILE_KEYS, "file");
    let provider = ctx.string(&root, "provider", 1, true);
    if let Some((p, span)) = &provider
        && !valid_id(p)
    {
        ctx.problem(
            ctx.line(span.start),
            format!("provider `{p}` must be lowercase letters, digits, `-`, `_` or `.`"),
        );
    }
    let owner = ctx.string(&root, "owner", 1, false).map(|(o, _)| o);

    let mut sources = Vec::new();
    match root.get("source").map(|v| (v.get_ref(), v.span())) {
        None => ctx.problem(1, "no [[source]] tables".into()),
        Some((DeValue::Array(items), _)) => {
            for item in items.iter() {
                let line = ctx.line(item.span().start);
                match item.get_ref() {
                    DeValue::Table(t) => {
                        if let Some(s) = ctx.source(t, line, provider.as_ref().map(|p| p.0.as_str()), owner.as_deref())
                        {
                            sources.push(s);
                        }
                    }
                    _ => ctx.problem(line, "`source` entries must be tables ([[source]])".into()),
                }
            }
        }
        Some((_, span)) => ctx.problem(
            ctx.line(span.start),
            "`source` must be an array of tables ([[source]])".into(),
        ),
    }
    (sources, ctx.problems)
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

type Table<'i> = DeTable<'i>;

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn unknown_keys(&mut self, t: &Table<'_>, known: &[&str], what: &str) {
        for (k, _) in t.iter() {
            if !known.contains(&k.get_ref().as_ref()) {
                let line = self.line(k.span().start);
                self.problem(
                    line,
                    format!(
                        "unknown key `{}` in {what} (expected one of: {})",
                        k.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// A boolean key, `default` when absent (a wrong type is a problem).
    fn flag(&mut self, t: &Table<'_>, key: &str, default: bool) -> bool {
        match self.value(t, key).map(|v| (v.get_ref(), v.span())) {
            None => default,
            Some((DeValue::Boolean(b), _)) => *b,
            Some((other, span)) => {
                let l = self.line(span.start);
                self.problem(l, format!("`{key}` must be true or false, found {}", type_name(other)));
                default
            }
        }
    }

    fn value<'t, 'i>(&self, t: &'t Table<'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        t.get(key)
    }

    /// A string value with its span; reports a wrong type or a missing required key.
    fn string(
        &mut self,
        t: &Table<'_>,
        key: &str,
        table_line: usize,
        required: bool,
    ) -> Option<(String, Range<usize>)> {
        match self.value(t, key) {
            None => {
                if required {
                    self.problem(table_line, format!("missing required key `{key}`"));
                }
                None
            }
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Some((s.to_string(), v.span())),
                other => {
                    let line = self.line(v.span().start);
                    self.problem(line, format!("`{key}` must be a string, found {}", type_name(other)));
                    None
                }
            },
        }
    }

    /// A list of strings (a single string is accepted as a list of one).
    fn strings(&mut self, t: &Table<'_>, key: &str) -> Vec<(String, Range<usize>)> {
        let Some(v) = self.value(t, key) else { return Vec::new() };
        match v.get_ref() {
            DeValue::String(s) => vec![(s.to_string(), v.span())],
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.to_string(), item.span())),
                        other => {
                            let line = self.line(item.span().start);
                            self.problem(
                                line,
                                format!("`{key}` entries must be strings, found {}", type_name(other)),
                            );
                        }
                    }
                }
                out
            }
            other => {
                let line = self.line(v.span().start);
                self.problem(
                    line,
                    format!("`{key}` must be a list of strings, found {}", type_name(other)),
                );
                Vec::new()
            }
        }
    }

    fn source(&mut self, t: &Table<'_>, line: usize, provider: Option<&str>, owner: Option<&str>) -> Option<Source> {
        let before = self.problems.len();
        self.unknown_keys(t, SOURCE_KEYS, "[[source]]");

        let id = self.string(t, "id", line, true);
        if let Some((id, span)) = &id
            && !valid_id(id)
        {
            let l = self.line(span.start);
            self.problem(
                l,
                format!("id `{id}` must be lowercase letters, digits, `-`, `_` or `.`"),
            );
        }
        let kind = self.string(t, "kind", line, true).and_then(|(k, span)| {
            let parsed = Kind::parse(&k);
            if parsed.is_none() {
                let l = self.line(span.start);
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                self.problem(l, format!("unknown kind `{k}` (expected one of: {})", all.join(", ")));
            }
            parsed
        });
        let doc_type = self.string(t, "doc_type", line, true).and_then(|(d, span)| {
            let parsed = DocType::parse(&d);
            if parsed.is_none() {
                let l = self.line(span.start);
                let all: Vec<&str> = DocType::ALL.iter().map(|d| d.as_str()).collect();
                self.problem(
                    l,
                    format!("unknown doc_type `{d}` (expected one of: {})", all.join(", ")),
                );
            }
            parsed
        });
        let url = self.string(t, "url", line, true).and_then(|(u, span)| {
            let l = self.line(span.start);
            match url::Url::parse(&u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
                Ok(_) => {
                    self.problem(
                        l,
                        format!("bad URL `{u}`: only http and https URLs with a host can be watched"),
                    );
                    None
                }
                Err(e) => {
                    self.problem(l, format!("bad URL `{u}`: {e}"));
                    None
                }
            }
        });
        let schedule = match self.string(t, "schedule", line, false) {
            None => Schedule::parse(DEFAULT_SCHEDULE).ok(),
            Some((s, span)) => match Schedule::parse(&s) {
                Ok(s) => Some(s),
                Err(e) => {
                    let l = self.line(span.start);
                    self.problem(l, format!("bad cron schedule `{s}`: {e}"));
                    None
                }
            },
        };

        let select = self.strings(t, "select");
        let remove = self.strings(t, "remove");
        for (sel, span) in select.iter().chain(remove.iter()) {
            if let Err(e) = scraper::Selector::parse(sel) {
                let l = self.line(span.start);
                self.problem(l, format!("bad CSS selector `{sel}`: {e}"));
            }
        }
        let json_path = self.string(t, "json_path", line, false);
        if let Some((p, span)) = &json_path
            && let Err(e) = serde_json_path::JsonPath::parse(p)
        {
            let l = self.line(span.start);
            self.problem(l, format!("bad JSONPath `{p}`: {e}"));
        }
        let ignore = self.strings(t, "ignore");
        for (re, span) in &ignore {
            if let Err(e) = regex::Regex::new(re) {
                let l = self.line(span.start);
                let msg = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
                self.problem(l, format!("bad ignore regex `{re}`: {msg}"));
            }
        }
        // Rules that the kind would silently ignore are mistakes worth pointing out.
        if let Some(kind) = kind {
            if kind != Kind::Html {
                for (key, vals) in [("select", &select), ("remove", &remove)] {
                    if let Some((_, span)) = vals.first() {
                        let l = self.line(span.start);
                        self.problem(l, format!("`{key}` applies to kind `html` only, not `{kind}`"));
                    }
                }
            }
            if kind != Kind::Json
                && let Some((_, span)) = &json_path
            {
                let l = self.line(span.start);
                self.problem(l, format!("`json_path` applies to kind `json` only, not `{kind}`"));
            }
        }

        let status = self.status_options(t, line, kind);
        let headers = self.headers(t);
        let enabled = self.flag(t, "enabled", true);
        let confirmed = self.flag(t, "confirmed", true);
        let renders_with_js = self.flag(t, "renders_with_js", false);
        let alternative = self.string(t, "alternative", line, false).map(|a| a.0);
        let note = self.string(t, "note", line, false).map(|n| n.0);
        if renders_with_js && enabled {
            self.problem(
                line,
                "a page that needs JavaScript to render cannot be watched by a plain fetch: set `enabled = false` \
                 and name the machine-readable source watched instead in `alternative`"
                    .into(),
            );
        }
        if self.problems.len() > before {
            return None;
        }
        Some(Source {
            id: id?.0,
            provider: provider?.to_owned(),
            owner: owner.map(str::to_owned),
            kind: kind?,
            url: url?,
            doc_type: doc_type?,
            schedule: schedule?,
            rules: Rules {
                select: select.into_iter().map(|s| s.0).collect(),
                remove: remove.into_iter().map(|s| s.0).collect(),
                json_path: json_path.map(|s| s.0),
                ignore: ignore.into_iter().map(|s| s.0).collect(),
                status,
            },
            headers,
            enabled,
            confirmed,
            renders_with_js,
            alternative,
            note,
            file: self.file.to_path_buf(),
            line,
        })
    }

    fn headers(&mut self, t: &Table<'_>) -> Vec<(String, String)> {
        let Some(v) = self.value(t, "headers") else {
            return Vec::new();
        };
        let DeValue::Table(h) = v.get_ref() else {
            let l = self.line(v.span().start);
            self.problem(l, "`headers` must be a table of strings".into());
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in h.iter() {
            let l = self.line(k.span().start);
            let name = k.get_ref().to_string();
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.problem(l, format!("bad header name `{name}`"));
                continue;
            }
            let DeValue::String(raw) = v.get_ref() else {
                self.problem(l, format!("header `{name}` must be a string"));
                continue;
            };
            // `${NAME}` keeps secrets (e.g. a GitHub token) out of the file.
            let value = match raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(var) => match std::env::var(var) {
                    Ok(v) => v,
                    Err(_) => {
                        self.problem(
                            l,
                            format!("header `{name}` reads environment variable `{var}`, which is not set"),
                        );
                        continue;
                    }
                },
                None => raw.to_string(),
            };
            if reqwest::header::HeaderValue::from_str(&value).is_err() {
                self.problem(l, format!("bad value for header `{name}`"));
                continue;
            }
            out.push((name, value));
        }
        out
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
provider = "acme"
owner = "platform-team"

[[source]]
id = "acme-status"
kind = "statuspage"
url = "https://status.acme.test/api/v2/summary.json"
doc_type = "status"
schedule = "*/5 * * * *"

[[source]]
id = "acme-policy"
kind = "html"
url = "https://acme.test/policy"
doc_type = "policy"
select = ["main"]
remove = ["nav", "footer"]
ignore = ['Updated: \d+ days ago']
"#;

    #[test]
    fn a_good_file_parses() {
        let (sources, problems) = parse_file(Path::new("acme.toml"), GOOD);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].id, "acme-status");
        assert_eq!(sources[0].kind, Kind::Statuspage);
        assert_eq!(sources[1].owner.as_deref(), Some("platform-team"));
        assert_eq!(sources[1].rules.select, vec!["main"]);
        assert_eq!(sources[1].schedule.expr(), DEFAULT_SCHEDULE);
        assert_eq!(sources[1].line, 12);
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let bad = r#"provider = "acme"
colour = "blue"

[[source]]
id = "a"
kind = "htm"
url = "ftp://x.test/"
doc_type = "status"
schedule = "* * *"

[[source]]
id = "b"
kind = "html"
url = "https://x.test/"
doc_type = "pricing"
select = ["div[[["]
ignore = ['(unclosed']
json_path = "$.a"
frobnicate = 1
"#;
        let (sources, problems) = parse_file(Path::new("bad.toml"), bad);
        assert!(sources.is_empty());
        let lines: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        let expect = [
            (2, "unknown key `colour`"),
            (6, "unknown kind `htm`"),
            (7, "bad URL"),
            (9, "bad cron schedule"),
            (16, "bad CSS selector"),
            (17, "bad ignore regex"),
            (18, "`json_path` applies to kind `json` only"),
            (19, "unknown key `frobnicate`"),
        ];
        for (line, text) in expect {
            assert!(
                lines.iter().any(|(l, m)| *l == line && m.contains(text)),
                "missing {line}: {text} in {lines:#?}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let (_, problems) = parse_file(Path::new("x.toml"), "provider = \"a\"\n[[source]]\nid = \n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].message.starts_with("invalid TOML"));
    }

    #[test]
    fn duplicate_ids_across_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("b.toml"), GOOD.replace("acme-policy", "other")).unwrap();
        std::fs::write(dir.path().join(".hidden.toml"), "garbage").unwrap();
        std::fs::write(dir.path().join("b.toml~"), "garbage").unwrap();
        let err = load_dir(dir.path()).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(err.0[0].message.contains("duplicate source id `acme-status`"));
        assert!(err.0[0].file.ends_with("b.toml"));
    }

    const CATALOGUE: &str = r#"provider = "acme"

[[source]]
id = "acme-deprecations-page"
kind = "html"
url = "https://docs.acme.example/deprecations"
doc_type = "deprecations"
renders_with_js = true
enabled = false
alternative = "acme-sdk-releases"
note = "the page shows Loading... without JavaScript"

[[source]]
id = "acme-sdk-releases"
kind = "feed"
url = "https://github.com/acme/acme-python/releases.atom"
doc_type = "changelog"
confirmed = false
"#;

    #[test]
    fn catalogue_marks_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("acme.toml"), CATALOGUE).unwrap();
        let all = load_dir(dir.path()).unwrap();
        assert!(all[0].renders_with_js && !all[0].enabled);
        assert_eq!(all[0].alternative.as_deref(), Some("acme-sdk-releases"));
        assert!(!all[1].confirmed && all[1].enabled);

        // A JavaScript page left enabled, and an alternative that does not exist.
        std::fs::write(dir.path().join("acme.toml"), CATALOGUE.replace("enabled = false\n", "")).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("acme.toml:3: a page that needs JavaScript"), "{err}");
        let bad = CATALOGUE.replace("alternative = \"acme-sdk-releases\"", "alternative = \"nope\"");
        std::fs::write(dir.path().join("acme.toml"), bad).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`nope`, which is not a declared source"), "{err}");
        std::fs::write(
            dir.path().join("acme.toml"),
            CATALOGUE.replace("confirmed = false", "confirmed = \"no\""),
        )
        .unwrap();
        assert!(
            load_dir(dir.path())
                .unwrap_err()
                .to_string()
                .contains("`confirmed` must be true or false")
        );
    }

    #[test]
    fn the_settings_select_providers_and_doc_types() {
        let (mut all, p) = parse_file(Path::new("a.toml"), GOOD);
        assert!(p.is_empty());
        let (other, _) = parse_file(
            Path::new("b.toml"),
            &GOOD.replace("\"acme\"", "\"globex\"").replace("acme-", "globex-"),
        );
        all.extend(other);
        select(&mut all, &["acme".into()], &["status".into()]);
        let on: Vec<&str> = all.iter().filter(|s| s.enabled).map(|s| s.id.as_str()).collect();
        assert_eq!(on, ["acme-status"]);
    }
}
