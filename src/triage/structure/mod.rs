//! The structure of a document: most provider documents are tables and records (a price table, a
//! deprecation table, a YAML price file, a JSON model list, a model card in TypeScript, an SDK's
//! list of model ids). Reading them as rows keyed by their identifying column or field lets a
//! change be diffed row by row and cell by cell, and each changed cell be read through its column
//! header or field name, instead of guessing from lines which model a number belongs to.
//!
//! - [`table`]: Markdown, MDX and HTML-rendered pipe tables (`| a | b |`, with or without the
//!   `|---|` row), transposed tables (models as columns) included;
//! - [`tree`]: JSON, YAML and the data literals of JavaScript, TypeScript and Python files
//!   ([`literal`]), as records (objects with an id, maps of id → object or id → value) and id lists;
//! - [`rowdiff`]: two structures compared record by record and field by field.
//!
//! Nothing here knows a provider or a model: identity comes from which column or field holds
//! identifiers, meaning from header and field names.

pub mod literal;
pub mod rowdiff;
pub mod table;
pub mod tree;

use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// What a document was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prose, possibly with tables.
    Text,
    /// A data file (JSON, YAML, code literals): everything that matters is in its records.
    Tree,
}

#[derive(Debug, Clone)]
pub struct Structure {
    pub format: Format,
    pub records: Vec<Record>,
    pub lists: Vec<IdList>,
    /// Lines (0-based) that belong to tables: prose rules leave them to the table reading.
    pub table_lines: BTreeSet<usize>,
}

/// One row of a table or one record of a data file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Where the record lives: a table's heading and columns, or a data file's path. Records are
    /// matched within their scope first, then across scopes (a row moved to another table).
    pub scope: String,
    /// The section heading above a table, when there is one (`Tier 1`, `Legacy models`).
    pub heading: Option<String>,
    /// The record's identity within its scope (canonical: what matching compares).
    pub key: String,
    /// The ids facts are about: the model ids of the key cell or id field (API ids over display
    /// names; a display name only as its slug). Empty when the record names no model.
    pub subjects: Vec<String>,
    /// The subjects are those of the record this one sits in (a price tier, a matcher): the
    /// record is a part of a model's record, not a model of its own.
    pub inherited: bool,
    /// Fields in document order: the column header or the field's path within the record.
    pub fields: Vec<(String, String)>,
    /// The record's first line in the text (tables only).
    pub line: Option<usize>,
}

impl Record {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A list of identifiers (an SDK's `Literal[...]` of model ids, a JSON array of model names).
#[derive(Debug, Clone, PartialEq)]
pub struct IdList {
    pub scope: String,
    pub ids: Vec<String>,
}

/// Reads a document's structure. A data file (JSON, YAML, code with data literals) is read as a
/// tree when most of it parses; anything else as text whose tables are read as records.
pub fn parse(text: &str) -> Structure {
    if let Some(s) = tree::parse(text) {
        return s;
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut s = Structure {
        format: Format::Text,
        records: Vec::new(),
        lists: Vec::new(),
        table_lines: BTreeSet::new(),
    };
    for t in table::tables(&lines) {
        s.table_lines.extend(t.start..t.end);
        s.records.extend(t.records);
    }
    for (used, record) in section_records(&lines, &s.table_lines) {
        s.table_lines.extend(used);
        s.records.push(record);
    }
    for (range, list) in text_id_lists(&lines) {
        if !range.clone().any(|i| s.table_lines.contains(&i)) {
            s.table_lines.extend(range);
            s.lists.push(list);
        }
    }
    s
}

/// A model's card in prose: under a heading, two or more `Label: value` lines whose values are
/// short and carry a number, a date or an id (`- Input: $2.50 / 1M tokens`, `**Context:** 128k`).
/// The section is a record keyed by its heading, its subject the id the section names in code
/// (`` `acme-r-plus-08-2024` ``) or the heading's slug.
fn section_records(lines: &[&str], taken: &BTreeSet<usize>) -> Vec<(Vec<usize>, Record)> {
    static HEADING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$").expect("valid regex"));
    static LABEL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*(?:[-*+•]\s+)?(?:\*\*|__)?([A-Za-z][A-Za-z0-9 ()/&'.-]{0,40}?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(\S.*)$")
            .expect("valid regex")
    });
    static CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`]+)`").expect("valid regex"));
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(h) = HEADING.captures(lines[i]) else {
            i += 1;
            continue;
        };
        let heading = plain(&h[1]);
        let mut j = i + 1;
        let (mut used, mut fields, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        while j < lines.len() && !HEADING.is_match(lines[j]) {
            let l = lines[j];
            if !taken.contains(&j)
                && let Some(c) = LABEL.captures(l)
            {
                let value = plain(&c[2]);
                let telling = value.chars().any(|ch| ch.is_ascii_digit()) || value.split_whitespace().any(is_id_like);
                if value.split_whitespace().count() <= 12 && telling && !value.contains("http") {
                    used.push(j);
                    fields.push((plain(&c[1]), value));
                }
            }
            if j <= i + 6 {
                ids.extend(
                    CODE.captures_iter(l)
                        .map(|c| c[1].trim().to_owned())
                        .filter(|t| is_id_like(t) && t.contains(['-', '.', '/'])),
                );
            }
            j += 1;
        }
        if fields.len() >= 2 {
            let subjects = if ids.is_empty() { subjects_of(&heading) } else { ids };
            out.push((
                used,
                Record {
                    scope: "section".into(),
                    heading: Some(heading.clone()),
                    key: heading.to_lowercase(),
                    subjects,
                    inherited: false,
                    fields,
                    line: Some(i),
                },
            ));
        }
        i = j;
    }
    out
}

/// Lists of bare ids in text (`- acme-large-3`, `` * `acme-small-3` ``, one quoted id per line
/// in a code block): two or more consecutive lines, each nothing but one id.
fn text_id_lists(lines: &[&str]) -> Vec<(std::ops::Range<usize>, IdList)> {
    static HEADING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$").expect("valid regex"));
    let bare = |l: &str| -> Option<String> {
        let t = l
            .trim()
            .trim_start_matches(['-', '*', '+', '•'])
            .trim()
            .trim_end_matches([',', ';'])
            .trim_matches(|c: char| matches!(c, '`' | '"' | '\''));
        (is_id_like(t) && t.contains(['-', '.', '/', ':'])).then(|| t.to_owned())
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut heading = String::new();
    while i < lines.len() {
        if let Some(c) = HEADING.captures(lines[i]) {
            heading = plain(&c[1]);
        }
        let start = i;
        let mut ids = Vec::new();
        while i < lines.len() {
            match bare(lines[i]) {
                Some(id) => ids.push(id),
                None => break,
            }
            i += 1;
        }
        if ids.len() >= 2 {
            out.push((
                start..i,
                IdList {
                    scope: format!("{heading} / list"),
                    ids,
                },
            ));
        }
        if i == start {
            i += 1;
        }
    }
    out
}

/// Model ids as vendors write them in prose: lowercase, with a digit and a separator
/// (`model-2-large`, `name-1.3`, `family-7b`), or a `-latest` alias.
pub static MODEL_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*-(?:[a-z0-9.]*[0-9][a-z0-9.]*|latest)(?:-[a-z0-9.]+)*\b|\b[a-z]+[0-9][a-z0-9.-]*\b")
        .expect("valid regex")
});

static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)^v?\d+(?:[._]\d+)*[a-z]?$").expect("valid regex"));
static HASH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-f]{7,64}$").expect("valid regex"));

/// A lowercase model id of the kind prose names (see [`MODEL_ID`]).
pub fn is_model_like(s: &str) -> bool {
    MODEL_ID.find(s).is_some_and(|m| m.as_str() == s)
        && s.len() >= 3
        && !s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !VERSION.is_match(s)
        && !HASH.is_match(s)
}

/// An identifier as data files and tables hold them: one token of letters, digits and
/// `. _ : / @ -`, with a letter and a digit or separator. Not a version (`v2.0`), a hash, a date,
/// a URL, an e-mail or a plain word; mixed case allowed (`Llama-3.3-70B-Instruct`,
/// `vendor.model-v1:0`).
pub fn is_id_like(s: &str) -> bool {
    let s = s.trim();
    // Placeholders for "nothing here" are not names.
    if matches!(
        s.to_ascii_lowercase().as_str(),
        "n/a" | "n.a." | "tbd" | "tba" | "none" | "null" | "nil"
    ) {
        return false;
    }
    (2..=120).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@' | '-'))
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.chars().any(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '_'))
        && !VERSION.is_match(s)
        && !HASH.is_match(s)
        && !s.contains("://")
        && !s.starts_with("www.")
        && super::dates::parse_date(s).is_none()
        // `snake_case` words are field names, not ids, unless they carry a digit.
        && (s.chars().any(|c| c.is_ascii_digit()) || s.contains('-') || s.contains('/'))
}

/// A cell or value without its Markdown dressing: links become their text, code ticks, emphasis,
/// footnote marks and surrounding quotes go.
pub fn plain(cell: &str) -> String {
    static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"!?\[([^\]]*)\]\([^)]*\)").expect("valid regex"));
    static MARKS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[`*†‡§¹²³⁴⁵⁶⁷⁸⁹⁰]|\[\d{1,2}\]|</?[A-Za-z][^<>]{0,40}>").expect("valid regex"));
    static BREAK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<br\s*/?>").expect("valid regex"));
    let s = LINK.replace_all(cell, "$1");
    // A line break inside a cell separates values (two price tiers), it does not glue them.
    let s = BREAK.replace_all(&s, "; ");
    let s = MARKS.replace_all(&s, "");
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '_' | ' '))
        .to_owned()
}

/// The ids in a key cell or field value: every id-like token, in order (`gpt-x-1, gpt-x-2`); for
/// a display name with no id in it (`Acme Large 2`), its slug (`acme-large-2`) when it is short
/// enough to be a name.
pub fn subjects_of(value: &str) -> Vec<String> {
    let p = plain(value);
    let all: Vec<&str> = p
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '|'))
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '"' | '\'')))
        .filter(|t| !t.is_empty())
        .collect();
    // A cell of ids is its ids. In a display name, only a token shaped like a model id (with a
    // separator: `acme-large-2`, `org/model`) is one; `70B`, `R1`, `H100` are parts of the name.
    let whole = all.iter().all(|t| is_id_like(t));
    let tokens: Vec<String> = all
        .iter()
        .filter(|t| {
            is_id_like(t)
                && (whole
                    || t.contains(['-', '/', ':', '.', '_'])
                        && t.chars().any(|c| c.is_ascii_alphabetic())
                        && t.len() >= 4)
        })
        .map(|t| (*t).to_owned())
        .collect();
    if !tokens.is_empty() {
        return tokens;
    }
    slug(&p).into_iter().collect()
}

/// A display name as an id: `Acme Large 2.1` → `acme-large-2.1`; `None` for text that is not a
/// short name (a sentence, a number).
pub fn slug(name: &str) -> Option<String> {
    const GLUE: &[&str] = &[
        "the", "a", "an", "and", "or", "of", "to", "for", "with", "in", "on", "our", "your", "we", "you", "is", "are",
    ];
    let name = name.trim().trim_end_matches([':', ';', ',']);
    let words: Vec<&str> = name.split_whitespace().collect();
    // A name is a few words; a phrase with glue words or a sentence is not one.
    if words.is_empty()
        || words.len() > 6
        || name.len() > 60
        || name.ends_with('.')
        || words.iter().any(|w| GLUE.contains(&w.to_lowercase().as_str()))
    {
        return None;
    }
    let s: String = words
        .join("-")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | ':'))
        .collect();
    let s = s.trim_matches('-').to_owned();
    (s.chars().any(|c| c.is_ascii_alphabetic()) && s.len() >= 2).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_versions_hashes_and_names() {
        for id in [
            "acme-large-2411",
            "o3-mini",
            "Llama-3.3-70B-Instruct",
            "vendor.model-v1:0",
            "org/model-7b",
            "x1",
        ] {
            assert!(is_id_like(id), "{id}");
        }
        for not in [
            "v2.0",
            "2.0",
            "deadbeef12",
            "2025-01-06",
            "https://a.test/x",
            "input_mtok",
            "Model",
            "a",
        ] {
            assert!(!is_id_like(not), "{not}");
        }
        assert_eq!(subjects_of("`acme-1`, `acme-2`*"), ["acme-1", "acme-2"]);
        assert_eq!(subjects_of("**Acme Large 2.1**"), ["acme-large-2.1"]);
        assert_eq!(subjects_of("[acme-l-2](https://a.test/m)"), ["acme-l-2"]);
        assert!(subjects_of("This model is very good and will be here for a long while.").is_empty());
        assert_eq!(subjects_of("Llama 3.1 Instruct (70B)"), ["llama-3.1-instruct-70b"]);
        assert_eq!(subjects_of("Acme R1 Distill 70B"), ["acme-r1-distill-70b"]);
        assert_eq!(subjects_of("Acme Chat (`acme-chat-2`)"), ["acme-chat-2"]);
    }
}
