//! Facts: the structured findings of a change, read from the changed lines with the unchanged
//! context telling which model or field a value belongs to (a table's row and column header, a
//! YAML block's id, the document's main model).
//!
//! Every rule here is about notation (dates, prices, table headers, `key: value` fields,
//! deprecation vocabulary, `x-latest points to y`), never about a particular provider or model.

use super::dates::find_dates;
use super::numbers::{find_prices, find_quantities, parse_decimal};
use crate::config::DocType;
use regex::Regex;
use serde::Serialize;
use similar::{ChangeTag, TextDiff};
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

impl Fact {
    pub fn new(kind: &'static str) -> Fact {
        Fact {
            kind,
            subject: None,
            field: None,
            old: None,
            new: None,
            unit: None,
            date: None,
        }
    }
}

use super::structure::{MODEL_ID, is_model_like};
static RETIRE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)retire|shut(?:s|ting)?\s*down|end[ -]of[ -]life|\beol\b|sunset|discontinu|removed? from|no longer (?:be )?available").expect("valid regex")
});
/// Words right after a date that make it the date of an announcement.
static ANNOUNCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W{0,3}(?:\w+\W+){0,2}?(?:notified|announced|informed|told|emailed|e-mailed|alerted|wrote|published|released|launched|introduced|shared)\b")
        .expect("valid regex")
});
static DEPRECATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)deprecat|legacy").expect("valid regex"));
static EFFECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)effective|updated|last (?:modified|revised)|revised|as of|version date|\bstarting\b|\bbeginning\b|takes effect").expect("valid regex")
});
/// Words right before a date that make it the day a change takes effect ("Starting <date>, x is
/// billed ..."), whichever models the sentence names.
static STARTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:starting|effective|beginning|as of|takes effect)\s+(?:on\s+|from\s+)?$").expect("valid regex")
});
/// When a page was last edited: a policy's version date, elsewhere a stamp.
static EDITED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)updated|modified|revised|version date").expect("valid regex"));
static ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([a-z0-9][a-z0-9.-]*-latest)\W+(?:\w+\s+){0,2}?(?:points?|alias(?:es)?|maps?|resolves?|redirects?|routes?)\s+to\W+([a-z0-9][a-z0-9.-]*[a-z0-9])")
        .expect("valid regex")
});
/// `alias → snapshot` (or `->`, `=>`) on a short line: what an alias resolves to, as model pages
/// list their snapshots.
static ARROW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"([A-Za-z0-9][A-Za-z0-9.:/_-]*[A-Za-z0-9])`?\s*(?:→|->|=>|⇒)\s*`?([A-Za-z0-9][A-Za-z0-9.:/_-]*[A-Za-z0-9])",
    )
    .expect("valid regex")
});
/// Words that introduce the model to move to, in prose ("migrate to y", "replaced by y",
/// "in favour of y", "we recommend y") or as a table column ("Replacement", "Recommended").
static REPLACEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:migrat\w*|switch\w*|mov\w*|upgrad\w*|transition\w*)\s+(?:\w+\s+){0,3}?to\b|\breplace(?:d|ment|s)?\b(?:\s+(?:by|with))?|\bin favou?r of\b|\bsuccessor\b|\brecommend\w*|\balternative\w*|\bsuggested\b|\binstead of\b|\buse\s")
        .expect("valid regex")
});
static LAUNCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bnew\b|introduc|launch|now available|release|available (?:today|now)|preview|\bga\b|generally available|announc|\badd(?:s|ed)?\b|\bsupport(?:s|ed)? for\b")
        .expect("valid regex")
});
static KEY_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*-?\s*["']?([A-Za-z_][\w.-]*)["']?\s*[:=]\s*["']?\$?([0-9][0-9,]*(?:\.[0-9]+)?)["']?\s*,?\s*$"#)
        .expect("valid regex")
});
static ID_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*-?\s*["']?(?:id|name|model|model_id|slug)["']?\s*[:=]\s*["']?([A-Za-z0-9][\w./-]*)"#)
        .expect("valid regex")
});
static NEGATIVE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)[:=]\s*(?:false|null|none|nil|\{\s*\}|\[\s*\])\s*,?\s*$").expect("valid regex"));
static PRICE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)price|cost|input|output|mtok|ktok|per_|cache").expect("valid regex"));

/// A token that is a date and nothing else (`2026-10-06`); a snapshot id ending in one
/// (`acme-mini-2026-10-06`) is an id.
fn only_a_date(token: &str) -> bool {
    find_dates(token).iter().any(|d| {
        !token[..d.start].chars().any(|c| c.is_ascii_alphabetic())
            && !token[d.end..].chars().any(|c| c.is_ascii_alphabetic())
    })
}

fn model_ids(line: &str) -> Vec<String> {
    let line = super::material::strip_links(line);
    // Whole tokens first: ids with an organisation (`org/Model-7B-Instruct`), a version after a
    // colon (`vendor.model-v2:1`) or capitals are kept whole; lowercase ids inside other text
    // come from the id pattern.
    let mut out: Vec<String> = line
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '`' | '"' | '\'' | '*' | '[' | ']'))
        .map(|t| t.trim_end_matches(['.', ':']))
        .filter(|t| {
            super::structure::is_id_like(t)
                && t.contains(['-', '/'])
                && (t.contains('/') || t.contains(':') || t.chars().any(|c| c.is_ascii_uppercase()))
                && t.chars().any(|c| c.is_ascii_digit())
                && !t.starts_with("http")
                && !only_a_date(t)
        })
        .map(str::to_owned)
        .collect();
    // A display name followed by its id in code (`**Acme Deep Research** (`acme-deep-research`)`):
    // an id even without a digit.
    static NAMED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:\*\*|[A-Z][\w.-]*)\s*\(\s*`([a-z][a-z0-9._:/-]*[a-z0-9])`\s*\)").expect("valid regex")
    });
    for c in NAMED.captures_iter(&line) {
        let id = c[1].to_owned();
        if id.contains(['-', '/', '.']) && !out.contains(&id) {
            out.push(id);
        }
    }
    for m in MODEL_ID.find_iter(&line) {
        let m = m.as_str().trim_end_matches('.');
        if is_model_like(m) && !m.starts_with("http") && !only_a_date(m) && !out.iter().any(|w| w.contains(m)) {
            out.push(m.to_owned());
        }
    }
    out
}

/// The models a changed line is about, and the ones it names as their replacements. In a table
/// the replacement is a column; in prose, the models after "migrate to", "replaced by" and the
/// like, up to the end of the sentence.
fn subjects_and_replacements(line: &str, header: Option<&[String]>) -> (Vec<String>, Vec<String>) {
    if let (Some(h), Some(row)) = (header, cells(line)) {
        let (mut subjects, mut replacements) = (Vec::new(), Vec::new());
        for (i, cell) in row.iter().enumerate() {
            let is_replacement = h.get(i).is_some_and(|name| REPLACEMENT.is_match(name));
            let target = if is_replacement {
                &mut replacements
            } else {
                &mut subjects
            };
            target.extend(model_ids(cell));
        }
        return (subjects, replacements);
    }
    let line = super::material::strip_links(line);
    let (mut subjects, mut replacements) = (Vec::new(), Vec::new());
    for sentence in line.split_inclusive(". ") {
        // "use y instead of x": x is the subject, y the replacement.
        let split = match sentence.find("instead of") {
            Some(at) => {
                let (head, tail) = sentence.split_at(at);
                replacements.extend(model_ids(head));
                subjects.extend(model_ids(tail));
                continue;
            }
            None => REPLACEMENT.find(sentence).map(|m| m.start()),
        };
        match split {
            Some(at) => {
                subjects.extend(model_ids(&sentence[..at]));
                replacements.extend(model_ids(&sentence[at..]));
            }
            None => subjects.extend(model_ids(sentence)),
        }
    }
    subjects.retain(|m| !replacements.contains(m));
    (subjects, replacements)
}

/// The dates deleted lines gave `subject` in the same place: the same column (`context` is the
/// column's header) in a table, anywhere on the line in prose. ISO, in order.
fn dates_before(deleted: &[(usize, &str)], lines: &[&str], subject: &str, context: &str) -> Vec<String> {
    deleted
        .iter()
        .filter(|(_, l)| model_ids(l).iter().any(|m| m == subject))
        .flat_map(|&(i, l)| {
            let header = table_header(lines, i);
            let row = cells(l);
            find_dates(l)
                .into_iter()
                .filter(move |d| match (&header, &row) {
                    (Some(h), Some(r)) => r
                        .iter()
                        .position(|cell| cell.contains(&l[d.start..d.end]))
                        .and_then(|c| h.get(c))
                        .is_some_and(|h| h.trim() == context.trim()),
                    _ => true,
                })
                .map(|d| d.date.format("%Y-%m-%d").to_string())
        })
        .collect()
}

/// The cells of a Markdown table row, or `None`.
fn cells(line: &str) -> Option<Vec<String>> {
    let l = line.trim();
    if !l.starts_with('|') {
        return None;
    }
    Some(l.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect())
}

fn is_separator(line: &str) -> bool {
    cells(line).is_some_and(|c| {
        c.iter()
            .all(|x| !x.is_empty() && x.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
    })
}

/// The header row of the table that `idx` belongs to: the row above the `|---|` separator in
/// Markdown; in tables rendered from HTML (no separator), the table's first row when it reads as
/// a header (no amounts, no dates).
fn table_header(lines: &[&str], idx: usize) -> Option<Vec<String>> {
    let mut i = idx;
    while i > 0 && cells(lines[i - 1]).is_some() {
        i -= 1;
        if is_separator(lines[i]) && i > 0 {
            return cells(lines[i - 1]);
        }
    }
    if i == idx {
        return None;
    }
    let first = cells(lines[i])?;
    let looks_like_header = first
        .iter()
        .all(|c| find_prices(c).is_empty() && find_dates(c).is_empty() && model_ids(c).is_empty());
    looks_like_header.then_some(first)
}

/// A price column's field as people say it: `Output (per 1M tokens)` → `output`.
fn price_field(header: &str) -> String {
    let plain = header.split(['(', '[']).next().unwrap_or(header);
    let words: Vec<&str> = plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "price" | "prices" | "cost" | "usd" | "per" | "tokens"
            )
        })
        .collect();
    if words.is_empty() {
        header.trim().to_owned()
    } else {
        words.join(" ").to_lowercase()
    }
}

/// The id a `key: value` line belongs to: the nearest `id:`/`name:`/`model:` above it.
fn block_id(lines: &[&str], idx: usize) -> Option<String> {
    (0..idx)
        .rev()
        .take(60)
        .find_map(|i| ID_FIELD.captures(lines[i]).map(|c| c[1].to_owned()))
}

/// The model the document is about, when it is about one: its most frequent model id, when that
/// is at least a third of the mentions (a page listing many models evenly is about none).
fn main_model(text: &str) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in text.lines() {
        for m in model_ids(l) {
            *counts.entry(m).or_default() += 1;
        }
    }
    let total: usize = counts.values().sum();
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| n * 3 >= total)
        .map(|(m, _)| m)
}

/// The models named earlier in the paragraph of line `idx` (a sentence wrapped over lines): up
/// to a blank line, a heading or a table.
fn paragraph_subjects(lines: &[&str], idx: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut blank_then_intro = false;
    for (i, l) in lines[..idx].iter().enumerate().rev().take(8) {
        let t = l.trim_start();
        if t.is_empty() {
            // A block introduced by a sentence ending in a colon ("billed at the following
            // rates:") belongs to that sentence.
            let intro = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
            if !blank_then_intro && intro.is_some_and(|l| l.trim_end().ends_with(':')) {
                blank_then_intro = true;
                continue;
            }
            break;
        }
        if t.starts_with(['#', '|']) {
            break;
        }
        let (ids, _) = subjects_and_replacements(l, None);
        if !ids.is_empty() {
            out = ids;
            break;
        }
    }
    out
}

/// Changed lines of a line diff, with their index in their own version.
struct Changed<'a> {
    deleted: Vec<(usize, &'a str)>,
    inserted: Vec<(usize, &'a str)>,
}

fn changed<'a>(before: &'a str, after: &'a str) -> Changed<'a> {
    // Both texts end their last line: otherwise a line appended at the end makes the old last
    // line (which lacked a newline) look changed.
    let (b, a) = (crate::diff::terminated(before), crate::diff::terminated(after));
    let d = TextDiff::from_lines(b.as_ref(), a.as_ref());
    let mut c = Changed {
        deleted: Vec::new(),
        inserted: Vec::new(),
    };
    for ch in d.iter_all_changes() {
        match ch.tag() {
            ChangeTag::Delete => c.deleted.push((
                ch.old_index().unwrap_or(0),
                before.lines().nth(ch.old_index().unwrap_or(0)).unwrap_or(""),
            )),
            ChangeTag::Insert => c.inserted.push((
                ch.new_index().unwrap_or(0),
                after.lines().nth(ch.new_index().unwrap_or(0)).unwrap_or(""),
            )),
            ChangeTag::Equal => {}
        }
    }
    c
}

fn push_unique(facts: &mut Vec<Fact>, f: Fact) {
    if !facts.contains(&f) {
        facts.push(f);
    }
}

/// Everything a change says, in structured form.
pub fn extract(before: &str, after: &str, doc_type: Option<DocType>) -> Vec<Fact> {
    let c = changed(before, after);
    let before_lines: Vec<&str> = before.lines().collect();
    let after_lines: Vec<&str> = after.lines().collect();
    let main = main_model(after);
    let mut facts = Vec::new();
    let deprecation_doc = matches!(doc_type, Some(DocType::Deprecations));

    // Dates on inserted lines: retirements and deprecations of models, effective dates.
    for &(idx, line) in &c.inserted {
        let dates = find_dates(line);
        if dates.is_empty() {
            continue;
        }
        let header = table_header(&after_lines, idx);
        let row = cells(line);
        let (mut subjects, _) = subjects_and_replacements(line, header.as_deref());
        if subjects.is_empty() && (RETIRE.is_match(line) || DEPRECATE.is_match(line)) {
            // A wrapped sentence: the models its paragraph names, else the page's model.
            subjects = paragraph_subjects(&after_lines, idx);
            if subjects.is_empty() {
                subjects.extend(main.clone());
            }
        }
        for d in &dates {
            // What the date means: its column header in a table, else the words around it.
            let context = match (&header, &row) {
                (Some(h), Some(r)) => {
                    let col = r.iter().position(|cell| cell.contains(&line[d.start..d.end]));
                    col.and_then(|i| h.get(i)).cloned().unwrap_or_default()
                }
                _ => {
                    // The words that belong to this date: back to the previous date or the
                    // sentence's start, else forward to the next date or the sentence's end
                    // ("deprecated on <d1> and reaches end of life on <d2>").
                    let from = dates
                        .iter()
                        .filter(|x| x.end <= d.start)
                        .map(|x| x.end)
                        .max()
                        .unwrap_or(0)
                        .max(line[..d.start].rfind(['.', ';']).map(|i| i + 1).unwrap_or(0));
                    let to = dates
                        .iter()
                        .filter(|x| x.start >= d.end)
                        .map(|x| x.start)
                        .min()
                        .unwrap_or(line.len());
                    let to = line[d.end..to].find(['.', ';']).map(|i| d.end + i).unwrap_or(to);
                    let before = &line[from..d.start];
                    if RETIRE.is_match(before) || DEPRECATE.is_match(before) {
                        before.to_owned() + &line[d.start..d.end]
                    } else {
                        line[d.start..to].to_owned()
                    }
                }
            };
            let context = if context.trim().is_empty() {
                line.to_owned()
            } else {
                context
            };
            let iso = d.date.format("%Y-%m-%d").to_string();
            // "On April 14th, 2025, we notified developers that x is deprecated": the date the
            // news was given, not the deadline.
            if ANNOUNCED.is_match(&line[d.end..]) {
                continue;
            }
            let kind = if RETIRE.is_match(&context) {
                Some("retirement")
            } else if DEPRECATE.is_match(&context) {
                Some("deprecation")
            } else if !subjects.is_empty() && (deprecation_doc || RETIRE.is_match(line) || DEPRECATE.is_match(line)) {
                Some("retirement")
            } else {
                None
            };
            match kind {
                Some(kind) if !subjects.is_empty() => {
                    for s in &subjects {
                        // The row changed but not this date: no fact. A date that moved keeps
                        // its previous value as `old`.
                        let before = dates_before(&c.deleted, &before_lines, s, &context);
                        if before.contains(&iso) {
                            continue;
                        }
                        let mut f = Fact::new(kind);
                        f.subject = Some(s.clone());
                        f.date = Some(iso.clone());
                        f.new = Some(iso.clone());
                        f.old = before.into_iter().next();
                        push_unique(&mut facts, f);
                    }
                }
                _ if EFFECTIVE.is_match(line)
                    && (subjects.is_empty() || STARTS.is_match(&line[..d.start]))
                    && (matches!(doc_type, Some(DocType::Policy | DocType::Terms)) || !EDITED.is_match(line)) =>
                {
                    let mut f = Fact::new("effective_date");
                    f.new = Some(iso.clone());
                    push_unique(&mut facts, f);
                }
                _ => {}
            }
        }
    }

    // A policy's effective date often sits in its first lines without a keyword on the line.
    if matches!(doc_type, Some(DocType::Policy | DocType::Terms)) && !facts.iter().any(|f| f.kind == "effective_date") {
        let head_before: Vec<String> = before_lines
            .iter()
            .take(15)
            .flat_map(|l| find_dates(l))
            .map(|d| d.date.to_string())
            .collect();
        if let Some(d) = after_lines
            .iter()
            .take(15)
            .flat_map(|l| find_dates(l))
            .map(|d| d.date.to_string())
            .find(|d| !head_before.contains(d))
        {
            let mut f = Fact::new("effective_date");
            f.new = Some(d);
            facts.push(f);
        }
    }

    // Alias retargets: `x-latest ... points to y`.
    let alias_targets = |lines: &[(usize, &str)]| -> BTreeMap<String, String> {
        lines
            .iter()
            .flat_map(|(_, l)| {
                ALIAS
                    .captures_iter(l)
                    .map(|c| (c[1].to_lowercase(), c[2].to_lowercase()))
            })
            .collect()
    };
    let (old_alias, new_alias) = (alias_targets(&c.deleted), alias_targets(&c.inserted));
    for (alias, target) in &new_alias {
        if old_alias.get(alias) != Some(target) {
            let mut f = Fact::new("alias_change");
            f.subject = Some(alias.clone());
            f.old = old_alias.get(alias).cloned();
            f.new = Some(target.clone());
            push_unique(&mut facts, f);
        }
    }
    // `alias → snapshot` lines: an alias that resolved to one snapshot and now to another.
    let arrows = |lines: &[(usize, &str)]| -> BTreeMap<String, String> {
        lines
            .iter()
            .filter(|(_, l)| super::structure::plain(l).split_whitespace().count() <= 6)
            .flat_map(|(_, l)| {
                ARROW
                    .captures_iter(l)
                    .filter(|c| super::structure::is_id_like(&c[1]) && super::structure::is_id_like(&c[2]))
                    .map(|c| (c[1].to_lowercase(), c[2].to_lowercase()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (old_arrows, new_arrows) = (arrows(&c.deleted), arrows(&c.inserted));
    for (alias, target) in &new_arrows {
        if let Some(previous) = old_arrows.get(alias).filter(|p| *p != target) {
            let mut f = Fact::new("alias_change");
            f.subject = Some(alias.clone());
            f.old = Some(previous.clone());
            f.new = Some(target.clone());
            push_unique(&mut facts, f);
        }
    }

    // Models that appear for the first time.
    if matches!(
        doc_type,
        Some(DocType::Models | DocType::Pricing | DocType::Changelog | DocType::Deprecations) | None
    ) {
        let before_lower = before.to_lowercase();
        // Models this change retires or deprecates are not launches, whatever the page said before.
        let leaving: Vec<String> = facts
            .iter()
            .filter(|f| matches!(f.kind, "retirement" | "deprecation"))
            .filter_map(|f| f.subject.clone())
            .collect();
        for &(idx, line) in &c.inserted {
            // In prose, a model mentioned for the first time is new only when the words say so
            // ("introducing", "now available"); tables, lists and fields list models as such.
            let structured = cells(line).is_some() || ID_FIELD.is_match(line) || KEY_NUMBER.is_match(line);
            let prose_launch = LAUNCH.is_match(line)
                || (idx > 0 && after_lines.get(idx - 1).is_some_and(|prev| LAUNCH.is_match(prev)));
            let listing = matches!(doc_type, Some(DocType::Models | DocType::Pricing));
            if !(structured || prose_launch || listing) {
                continue;
            }
            for m in model_ids(line) {
                if !m.ends_with("-latest")
                    && !leaving.contains(&m)
                    && !before_lower.contains(&m)
                    && !facts
                        .iter()
                        .any(|f| f.kind == "model_added" && f.subject.as_deref() == Some(&m))
                {
                    let mut f = Fact::new("model_added");
                    f.subject = Some(m);
                    facts.push(f);
                }
            }
        }
    }

    // Deprecation withdrawn: deprecation markers that were removed and not replaced.
    // A marker set to a negative value (`legacy: false`, `deprecated: null`, `{}`) marks nothing.
    let marks = |lines: &[(usize, &str)]| {
        lines
            .iter()
            .filter(|(_, l)| (DEPRECATE.is_match(l) || RETIRE.is_match(l)) && !NEGATIVE.is_match(l))
            .count()
    };
    if marks(&c.deleted) > 0
        && marks(&c.inserted) == 0
        && !facts.iter().any(|f| matches!(f.kind, "retirement" | "deprecation"))
    {
        let mut f = Fact::new("deprecation_withdrawn");
        f.subject = c.deleted.iter().flat_map(|(_, l)| model_ids(l)).next().or(main.clone());
        facts.push(f);
    }

    // Prices: `key: number` fields whose key reads like a price, and money amounts in table rows.
    let old_fields: BTreeMap<(Option<String>, String), String> = c
        .deleted
        .iter()
        .filter_map(|&(i, l)| {
            KEY_NUMBER
                .captures(l)
                .map(|cap| ((block_id(&before_lines, i), cap[1].to_owned()), cap[2].to_owned()))
        })
        .collect();
    // A key repeated within one block is a schedule (a price, then the price from a date on): each
    // value's "old" is the one before it.
    let mut seen_new: BTreeMap<(Option<String>, String), String> = BTreeMap::new();
    for &(i, l) in &c.inserted {
        if let Some(cap) = KEY_NUMBER.captures(l)
            && PRICE_KEY.is_match(&cap[1])
        {
            let subject = block_id(&after_lines, i);
            let key = (subject.clone(), cap[1].to_owned());
            let mut f = Fact::new("price");
            f.field = Some(cap[1].to_owned());
            f.new = parse_decimal(&cap[2]);
            f.old = seen_new
                .get(&key)
                .or_else(|| old_fields.get(&key))
                .and_then(|v| parse_decimal(v));
            seen_new.insert(key, cap[2].to_owned());
            f.unit = unit_from_key(&cap[1]);
            f.subject = subject;
            push_unique(&mut facts, f);
        }
    }
    let old_rows: BTreeMap<String, Vec<String>> = c
        .deleted
        .iter()
        .filter_map(|(_, l)| cells(l).map(|c| (c.first().cloned().unwrap_or_default(), c)))
        .collect();
    for &(i, l) in &c.inserted {
        let Some(row) = cells(l) else { continue };
        let header = table_header(&after_lines, i).unwrap_or_default();
        let old = old_rows.get(row.first().map(String::as_str).unwrap_or(""));
        for (col, cell) in row.iter().enumerate() {
            let Some(p) = find_prices(cell).into_iter().next() else {
                continue;
            };
            let before_cell = old
                .and_then(|o| o.get(col))
                .and_then(|c| find_prices(c).into_iter().next());
            if before_cell.as_ref().is_some_and(|b| b.amount == p.amount) {
                continue;
            }
            let mut f = Fact::new("price");
            f.subject = model_ids(l).into_iter().next().or_else(|| row.first().cloned());
            let column = header.get(col).filter(|h| !h.is_empty());
            f.field = column.map(|h| price_field(h));
            f.old = before_cell.map(|b| b.amount);
            // The unit is in the cell ("$8 / 1M tokens") or in its column's header.
            f.unit = p.unit.clone().or_else(|| column.and_then(|h| unit_from_key(h)));
            f.new = Some(p.amount);
            push_unique(&mut facts, f);
        }
    }
    rate_limits(&c, &before_lines, &after_lines, &mut facts);
    prose_prices(&c, &after_lines, main.as_deref(), &mut facts);
    edited_prices(&c, &after_lines, main.as_deref(), &mut facts);
    if matches!(doc_type, Some(DocType::Policy | DocType::Terms)) {
        policy_clauses(&c, &before_lines, &after_lines, &mut facts);
    }
    facts
}

/// Rate limits on changed lines (`60 RPM`, `10,000 tokens per minute`), paired with the same row
/// or model's value before.
fn rate_limits(c: &Changed<'_>, before_lines: &[&str], after_lines: &[&str], facts: &mut Vec<Fact>) {
    let key = |lines: &[&str], i: usize, l: &str| {
        model_ids(l)
            .into_iter()
            .next()
            .or_else(|| cells(l).and_then(|c| c.first().cloned()))
            .or_else(|| block_id(lines, i))
    };
    let mut old: BTreeMap<(Option<String>, String), String> = BTreeMap::new();
    for &(i, l) in &c.deleted {
        for q in find_quantities(l) {
            old.insert((key(before_lines, i, l), q.unit.clone()), q.value);
        }
    }
    for &(i, l) in &c.inserted {
        for q in find_quantities(l) {
            let subject = key(after_lines, i, l);
            let before = old.get(&(subject.clone(), q.unit.clone())).cloned();
            if before.as_deref() == Some(q.value.as_str()) {
                continue;
            }
            let mut f = Fact::new("rate_limit");
            f.subject = subject;
            f.old = before;
            f.new = Some(q.value);
            f.unit = Some(q.unit);
            push_unique(facts, f);
        }
    }
}

/// A price change told in a sentence: "from $10 to $2", "$2 (previously $10)", "now $2, down
/// from $10".
static PRICE_FROM_TO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bfrom\s+(?P<old>[$€£]\s?[\d.,]+)\s+to\s+(?P<new>[$€£]\s?[\d.,]+)|(?P<new2>[$€£]\s?[\d.,]+)(?P<unit>[^.;()$€£]{0,40}?)\(?\s*(?:previously|was|formerly|down from|up from|instead of|reduced from|increased from)\s+(?P<old2>[$€£]\s?[\d.,]+)|(?P<old3>[$€£]\s?[\d.,]+)\s*(?:->|→|=>|⇒)\s*(?P<new3>[$€£]\s?[\d.,]+)")
        .expect("valid regex")
});
static PRICE_SIDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(cached input|cache writes?|cache reads?|cache hits?|batch input|batch output|input|output)\b")
        .expect("valid regex")
});

/// Prices changed in prose (changelogs, announcements), with the model the sentence names.
fn prose_prices(c: &Changed<'_>, after_lines: &[&str], main: Option<&str>, facts: &mut Vec<Fact>) {
    for &(idx, line) in &c.inserted {
        if cells(line).is_some() {
            continue;
        }
        // A price sentence names its model; short ids (`o3`) count here, where the sentence is
        // about a price, though not in prose at large.
        static SHORT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[a-z][0-9]\b").expect("valid regex"));
        let subject = model_ids(line)
            .into_iter()
            .next()
            .or_else(|| SHORT_ID.find(line).map(|m| m.as_str().to_owned()))
            .or_else(|| paragraph_subjects(after_lines, idx).into_iter().next())
            .or_else(|| main.map(str::to_owned));
        for m in PRICE_FROM_TO.captures_iter(line) {
            let (old, new) = match (
                m.name("old").or(m.name("old2")).or(m.name("old3")),
                m.name("new").or(m.name("new2")).or(m.name("new3")),
            ) {
                (Some(o), Some(n)) => (o, n),
                _ => continue,
            };
            let (Some(ov), Some(nv)) = (parse_decimal(o_str(old.as_str())), parse_decimal(o_str(new.as_str()))) else {
                continue;
            };
            if ov == nv {
                continue;
            }
            // The side is the last one named before the amount ("output $8 ... (previously $40)").
            let start = m.get(0).map(|x| x.start()).unwrap_or(0);
            let field = PRICE_SIDE
                .find_iter(&line[..start.min(line.len())])
                .last()
                .or_else(|| PRICE_SIDE.find(m.get(0).map(|x| x.as_str()).unwrap_or("")))
                .map(|x| x.as_str().to_lowercase());
            let unit = find_prices(&line[new.start()..])
                .into_iter()
                .next()
                .and_then(|p| p.unit);
            let mut f = Fact::new("price");
            f.subject = subject.clone();
            f.field = field;
            f.old = Some(ov);
            f.new = Some(nv);
            f.unit = unit;
            push_unique(facts, f);
        }
    }
}

/// Prices in sentences edited in place: a deleted line and an inserted line that read the same
/// but for their amounts (`$3 per million reasoning tokens` → `$5 per million ...`). Each amount
/// that differs is a price of the line's model (else its paragraph's, else the page's), its
/// field the words after it (`reasoning`) or the side named before it.
fn edited_prices(c: &Changed<'_>, after_lines: &[&str], main: Option<&str>, facts: &mut Vec<Fact>) {
    let template = |line: &str| -> (String, Vec<crate::triage::numbers::FoundPrice>) {
        let prices = find_prices(line);
        let mut t = line.to_owned();
        for p in prices.iter().rev() {
            t.replace_range(p.start..p.end, "¤");
        }
        (t, prices)
    };
    const FILLER: &[&str] = &[
        "per", "a", "an", "every", "million", "1m", "mtok", "1k", "thousand", "1,000", "1000", "tokens", "token", "of",
        "for", "the", "/", "usd",
    ];
    for &(idx, line) in &c.inserted {
        if cells(line).is_some() {
            continue;
        }
        let (t_new, p_new) = template(line);
        if p_new.is_empty() {
            continue;
        }
        let Some((_, p_old)) = c.deleted.iter().map(|(_, l)| template(l)).find(|(t, _)| *t == t_new) else {
            continue;
        };
        if p_old.len() != p_new.len() {
            continue;
        }
        let subject = model_ids(line)
            .into_iter()
            .next()
            .or_else(|| paragraph_subjects(after_lines, idx).into_iter().next())
            .or_else(|| main.map(str::to_owned));
        for (o, n) in p_old.iter().zip(&p_new) {
            let (Some(ov), Some(nv)) = (parse_decimal(&o.amount), parse_decimal(&n.amount)) else {
                continue;
            };
            if ov == nv {
                continue;
            }
            // The words after the amount, within its span (`$5 per million reasoning tokens`)
            // and up to the next item.
            let after_words: Vec<String> = line[n.start..]
                .split(|ch: char| ch.is_whitespace() || matches!(ch, ',' | ';' | '(' | ')'))
                .take_while(|w| !matches!(*w, "and" | "or" | "with" | "plus"))
                .filter(|w| !w.is_empty())
                .take(7)
                .map(|w| w.trim_matches(|ch: char| !ch.is_alphanumeric()).to_lowercase())
                .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()) && parse_decimal(w).is_none())
                .take(2)
                .collect();
            let field = if after_words.is_empty() {
                PRICE_SIDE
                    .find_iter(&line[..n.start])
                    .last()
                    .map(|x| x.as_str().to_lowercase())
            } else {
                Some(after_words.join(" "))
            };
            let mut f = Fact::new("price");
            f.subject = subject.clone();
            f.field = field;
            f.old = Some(ov);
            f.new = Some(nv);
            f.unit = n.unit.clone();
            if !facts
                .iter()
                .any(|g| g.kind == "price" && g.subject == f.subject && g.old == f.old && g.new == f.new)
            {
                facts.push(f);
            }
        }
    }
}

fn o_str(s: &str) -> &str {
    s.trim_end_matches(['.', ','])
}

static LIST_ITEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[-*+•]|\d+[.)]|[a-z][.)])\s+").expect("valid regex"));
static OBLIGATION: LazyLock<Regex> = LazyLock::new(|| {
    // Prohibitions and obligations, and the commitments a provider makes ("does not use your
    // data to train", "will not"), and list items that are prohibitions by themselves ("* Not
    // use the outputs to ...").
    Regex::new(r"(?i)\b(?:must(?: not)?|may not|shall(?: not)?|do not|does not|will not|won't|don't|cannot|not (?:be )?(?:permitted|allowed)|prohibit\w*|forbid\w*|you (?:agree|may)|we may|required to|undertakes? to|commits? to|authori[sz]es?)\b|^\s*(?:[-*+•]|\d+[.)])?\s*(?:\*\*)?(?:not|never|no longer)\s+\w")
        .expect("valid regex")
});

/// Policy clauses (obligations and prohibitions) that appear or disappear, by their words: a
/// clause that only moved or was re-punctuated is neither added nor removed.
fn policy_clauses(c: &Changed<'_>, before_lines: &[&str], after_lines: &[&str], facts: &mut Vec<Fact>) {
    let words = |l: &str| super::material::line_words(l).join(" ");
    // A list item takes its force from the sentence that introduces the list ("You may not use
    // the services to:"): the item is a clause of that sentence.
    let with_intro = |lines: &[&str], i: usize, l: &str| -> String {
        if OBLIGATION.is_match(l) || !LIST_ITEM.is_match(l) {
            return l.to_owned();
        }
        let intro = (0..i)
            .rev()
            .take(40)
            .map(|j| lines[j])
            .find(|p| !p.trim().is_empty() && !LIST_ITEM.is_match(p));
        let item = LIST_ITEM.replace(l, "");
        match intro {
            Some(p) if OBLIGATION.is_match(p) && !p.trim_start().starts_with('#') => {
                format!("{} {}", p.trim(), item.trim())
            }
            // "## Do not compromise systems" / "This includes using our services to:" / items:
            // the section's heading says what the list is.
            Some(p) => {
                let heading = (0..i)
                    .rev()
                    .take(80)
                    .map(|j| lines[j])
                    .find(|h| h.trim_start().starts_with('#'))
                    .map(|h| h.trim().trim_start_matches('#').trim());
                match heading {
                    Some(h) if OBLIGATION.is_match(h) && p.trim_end().ends_with(':') => {
                        format!("{h}: {} {}", p.trim(), item.trim())
                    }
                    _ => l.to_owned(),
                }
            }
            None => l.to_owned(),
        }
    };
    let deleted: Vec<String> = c.deleted.iter().map(|(_, l)| words(l)).collect();
    let inserted: Vec<String> = c.inserted.iter().map(|(_, l)| words(l)).collect();
    let clause = |l: &str| {
        l.trim()
            .trim_start_matches(['-', '*', '#', ' '])
            .chars()
            .take(300)
            .collect::<String>()
    };
    for (&(i, l), w) in c.inserted.iter().zip(&inserted) {
        let l = with_intro(after_lines, i, l);
        if OBLIGATION.is_match(&l) && !w.is_empty() && !deleted.contains(w) {
            let mut f = Fact::new("policy_clause_added");
            f.new = Some(clause(&l));
            push_unique(facts, f);
        }
    }
    for (&(i, l), w) in c.deleted.iter().zip(&deleted) {
        let l = with_intro(before_lines, i, l);
        if OBLIGATION.is_match(&l) && !w.is_empty() && !inserted.contains(w) {
            let mut f = Fact::new("policy_clause_removed");
            f.old = Some(clause(&l));
            push_unique(facts, f);
        }
    }
}

/// `input_mtok` → per 1M tokens; `price_per_1k` → per 1K tokens; a header `Price (per image)`
/// → per image.
fn unit_from_key(key: &str) -> Option<String> {
    let k = key.to_lowercase().replace(' ', "");
    if k.contains("mtok") || k.contains("1m") || k.contains("million") {
        return Some("per 1M tokens".into());
    }
    if k.contains("ktok") || k.contains("1k") {
        return Some("per 1K tokens".into());
    }
    ["image", "minute", "hour", "second", "request", "page", "character"]
        .iter()
        .find(|u| k.contains(&format!("per{u}")))
        .map(|u| format!("per {u}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(f: &[Fact]) -> Vec<(&str, Option<&str>, Option<&str>)> {
        f.iter()
            .map(|f| (f.kind, f.subject.as_deref(), f.date.as_deref().or(f.new.as_deref())))
            .collect()
    }

    #[test]
    fn a_retirement_date_in_a_table_row_names_its_model() {
        let before =
            "| Model | Deprecation date | Retirement date |\n|---|---|---|\n| acme-large-2407 | 2024/11/30 | |\n";
        let after = "| Model | Deprecation date | Retirement date |\n|---|---|---|\n| acme-large-2407 | 2024/11/30 | 2025/03/30 |\n";
        let f = extract(before, after, Some(DocType::Models));
        assert!(
            kinds(&f).contains(&("retirement", Some("acme-large-2407"), Some("2025-03-30"))),
            "{f:?}"
        );
        // A date moved later is a new retirement date.
        let later = after.replace("2025/03/30", "2025/06/16");
        let f = extract(after, &later, Some(DocType::Models));
        assert!(
            kinds(&f).contains(&("retirement", Some("acme-large-2407"), Some("2025-06-16"))),
            "{f:?}"
        );
    }

    #[test]
    fn a_deprecation_table_in_code_gives_retirements() {
        let before = "DEPRECATED = {\n    \"acme-1\": \"June 1st, 2025\",\n}\n";
        let after =
            "DEPRECATED = {\n    \"acme-1\": \"June 1st, 2025\",\n    \"acme-2-mini\": \"January 5th, 2026\",\n}\n";
        let f = extract(before, after, Some(DocType::Deprecations));
        assert!(
            kinds(&f).contains(&("retirement", Some("acme-2-mini"), Some("2026-01-05"))),
            "{f:?}"
        );
    }

    #[test]
    fn alias_retargets_and_new_models() {
        let before = "- `acme-large-latest`: currently points to `acme-large-2407`.\n";
        let after = "- `acme-large-latest`: currently points to `acme-large-2411`.\n";
        let f = extract(before, after, Some(DocType::Models));
        assert!(
            kinds(&f).contains(&("alias_change", Some("acme-large-latest"), Some("acme-large-2411"))),
            "{f:?}"
        );
        assert!(
            kinds(&f).contains(&("model_added", Some("acme-large-2411"), None)),
            "{f:?}"
        );
    }

    #[test]
    fn a_withdrawn_deprecation() {
        let before =
            "name: 'acme-code-2501',\nstatus: 'Deprecated',\nmetadata: {deprecationDate: 'October 31, 2025'},\n";
        let after = "name: 'acme-code-2501',\nstatus: 'Active',\nmetadata: {},\n";
        let f = extract(before, after, Some(DocType::Models));
        assert_eq!(kinds(&f), [("deprecation_withdrawn", Some("acme-code-2501"), None)]);
    }

    #[test]
    fn price_fields_and_price_cells() {
        let before = "- id: acme-o\n  input_mtok: 2\n  output_mtok: 8\n";
        let after = "- id: acme-o\n  input_mtok: 2\n  output_mtok: 10\n";
        let f = extract(before, after, Some(DocType::Pricing));
        let p = f.iter().find(|f| f.kind == "price").unwrap();
        assert_eq!(
            (
                p.subject.as_deref(),
                p.field.as_deref(),
                p.old.as_deref(),
                p.new.as_deref()
            ),
            (Some("acme-o"), Some("output_mtok"), Some("8"), Some("10"))
        );
        assert_eq!(p.unit.as_deref(), Some("per 1M tokens"));
        let before =
            "| Model | Input | Output |\n|---|---|---|\n| acme-x-1 | $2.00 / 1M tokens | $8.00 / 1M tokens |\n";
        let after = before.replace("$8.00", "$10.00");
        let f = extract(before, &after, Some(DocType::Pricing));
        let p = f.iter().find(|f| f.kind == "price").unwrap();
        assert_eq!(
            (
                p.subject.as_deref(),
                p.field.as_deref(),
                p.old.as_deref(),
                p.new.as_deref()
            ),
            (Some("acme-x-1"), Some("output"), Some("8"), Some("10"))
        );
    }

    #[test]
    fn rate_limits_that_change() {
        let before = "| Model | RPM | TPM |\n|---|---|---|\n| acme-x-1 | 500 RPM | 30,000 TPM |\n";
        let after = before.replace("500 RPM", "100 RPM");
        let f = extract(before, &after, Some(DocType::RateLimits));
        let r: Vec<&Fact> = f.iter().filter(|f| f.kind == "rate_limit").collect();
        assert_eq!(r.len(), 1, "{f:?}");
        assert_eq!(
            (r[0].subject.as_deref(), r[0].old.as_deref(), r[0].new.as_deref()),
            (Some("acme-x-1"), Some("500"), Some("100"))
        );
        assert_eq!(r[0].unit.as_deref(), Some("requests per minute"));
    }

    #[test]
    fn policy_clauses_added_and_removed() {
        let before = "# Rules\n- You must not use the service for spam.\n- Be nice.\n";
        let after = "# Rules\n- Be nice.\n- You must not use the service for election interference.\n";
        let f = extract(before, after, Some(DocType::Policy));
        assert!(
            f.iter()
                .any(|f| f.kind == "policy_clause_added" && f.new.as_deref().is_some_and(|c| c.contains("election"))),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|f| f.kind == "policy_clause_removed" && f.old.as_deref().is_some_and(|c| c.contains("spam"))),
            "{f:?}"
        );
        // A clause that only moved is neither.
        let moved = "# Rules\n- Be nice.\n- You must not use the service for spam.\n";
        let f = extract(before, moved, Some(DocType::Policy));
        assert!(!f.iter().any(|f| f.kind.starts_with("policy_clause")), "{f:?}");
    }

    #[test]
    fn an_effective_date_in_a_policy() {
        let before = "# Usage policy\nUpdated: March 1, 2024\n\nDo not spam.\n";
        let after = "# Usage policy\nUpdated: January 10, 2025\n\nDo not spam.\nDo not phish.\n";
        let f = extract(before, after, Some(DocType::Policy));
        assert!(
            kinds(&f).contains(&("effective_date", None, Some("2025-01-10"))),
            "{f:?}"
        );
    }

    #[test]
    fn the_replacement_column_and_unchanged_dates_give_no_facts() {
        let before = "| Model | Deprecation date | Retirement date | Replacement |\n|---|---|---|---|\n| acme-large-2407 | 2025-01-10 | | acme-large-2411 |\n";
        let after = before.replace("| |", "| March 30th, 2025 |");
        let f = extract(before, &after, Some(DocType::Deprecations));
        assert_eq!(kinds(&f), [("retirement", Some("acme-large-2407"), Some("2025-03-30"))]);
    }

    #[test]
    fn prose_replacements_are_not_retired_nor_launched() {
        let before = "## Notices\n\nNothing yet.\n";
        let after = "## Notices\n\nacme-small-1 will be retired on January 15, 2026. Please migrate to acme-small-2.\n";
        let f = extract(before, after, Some(DocType::Changelog));
        assert_eq!(kinds(&f), [("retirement", Some("acme-small-1"), Some("2026-01-15"))]);
        let after = "## Notices\n\nUse acme-small-2 instead of acme-small-1, which shuts down on 2026-01-15.\n";
        let f = extract(before, after, Some(DocType::Changelog));
        assert_eq!(kinds(&f), [("retirement", Some("acme-small-1"), Some("2026-01-15"))]);
    }

    #[test]
    fn a_launch_in_prose_is_a_new_model() {
        let before = "## News\n\nNothing yet.\n";
        let after = "## News\n\nIntroducing acme-vision-3, now available in the API.\n";
        let f = extract(before, after, Some(DocType::Changelog));
        assert_eq!(kinds(&f), [("model_added", Some("acme-vision-3"), None)]);
    }

    #[test]
    fn a_table_rendered_from_html_takes_field_and_unit_from_its_header() {
        // No `|---|` row: the HTML extractor writes the header row first.
        let before = "| Model | Input (per 1M tokens) | Cached input (per 1M tokens) | Output (per 1M tokens) |\n| acme-l-2 | $2.00 | $0.50 | $8.00 |\n| acme-s-2 | $0.20 | $0.05 | $0.80 |\n";
        let after = before.replace("$0.50", "$0.25");
        let f = extract(before, &after, Some(DocType::Pricing));
        let p: Vec<_> = f.iter().filter(|f| f.kind == "price").collect();
        assert_eq!(p.len(), 1, "{f:?}");
        assert_eq!(
            (p[0].subject.as_deref(), p[0].field.as_deref(), p[0].unit.as_deref()),
            (Some("acme-l-2"), Some("cached input"), Some("per 1M tokens"))
        );
        assert_eq!((p[0].old.as_deref(), p[0].new.as_deref()), (Some("0.5"), Some("0.25")));
    }

    #[test]
    fn a_list_item_added_under_a_prohibition_is_a_clause() {
        let before = "# Usage policy\n\nYou may not use the services to:\n\n- Build malware.\n- Harass people.\n\n## Other\n\n- Be nice.\n";
        let after = before.replace(
            "- Harass people.\n",
            "- Harass people.\n- Impersonate election officials.\n",
        );
        let f = extract(before, &after, Some(DocType::Policy));
        let c: Vec<_> = f.iter().filter(|f| f.kind == "policy_clause_added").collect();
        assert_eq!(c.len(), 1, "{f:?}");
        assert!(
            c[0].new
                .as_deref()
                .unwrap()
                .contains("may not use the services to: Impersonate election officials")
        );
        // An item added to a list with no obligation around it is no clause.
        let after = before.replace("- Be nice.\n", "- Be nice.\n- Be kind.\n");
        let f = extract(before, &after, Some(DocType::Policy));
        assert!(!f.iter().any(|f| f.kind == "policy_clause_added"), "{f:?}");
    }
}
