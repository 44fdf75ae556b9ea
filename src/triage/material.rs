//! Materiality: is a change a change of meaning, or only of form?
//!
//! Cosmetic edits (whitespace, punctuation, list numbering or labels, reflowed code or tables with
//! the same values, link-target fixes, page-title artefacts, relative dates, reordered rows) leave
//! the document's *words* the same. So both versions are reduced to their words, in order, after
//! dropping link targets, list labels, relative dates and a leading page-title line; equal word
//! sequences (or the same lines in another order) are not material.

use super::dates::{find_dates, relative_date_phrase};
use regex::Regex;
use std::sync::LazyLock;

static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").expect("valid regex"));
/// What is left of a link whose Markdown was mangled (`\](mailto:x)`, a bare `(https://...)`).
static LINK_REMNANT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\?\]\([^)]*\)|\((?:https?://|mailto:|#)[^)]*\)").expect("valid regex"));
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:https?://|mailto:)\S+").expect("valid regex"));
/// E-mail addresses and the placeholders CDNs put in their place (`[email protected]`).
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\[?\\?\[?email(?:&#160;|\s)+protected\\?\]?\]?").expect("valid regex")
});
static LIST_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:(?:[-*+•]|\(?[0-9a-zA-Z]{1,3}[.)])\s+)+").expect("valid regex"));
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{N}]+(?:[.'’][\p{L}\p{N}]+)*").expect("valid regex"));
/// Numeric dates with the day and month in either order (`11-04-2023`, `4/11/2023`).
static NUMERIC_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\b").expect("valid regex"));
/// A table-of-contents entry: a list item that is only a link to an anchor of the page.
static TOC_ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[-*+•]|\d+[.)])?\s*\[[^\]]*\]\(#[^)]*\)\s*$").expect("valid regex"));
static TOC_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\W*(?:table of contents|contents|on this page|in this article|jump to|skip to (?:main )?content)\W*$",
    )
    .expect("valid regex")
});

/// A first line like `Usage policies | OpenAI` is the browser title the archiver kept, not text.
fn is_title_artefact(line: &str) -> bool {
    let l = line.trim();
    !l.starts_with('|') && l.len() < 100 && (l.contains(" | ") || l.contains(" – ") || l.contains(" — "))
}

/// A document's title line: short, no date, no sentence, no list or table. Captures keep or
/// drop it (a page title, a brand name, a heading the renderer moved), so it is not content.
fn is_title_line(line: &str) -> bool {
    let l = line.trim().trim_start_matches('#').trim();
    let words = l.split_whitespace().count();
    (1..=8).contains(&words)
        && !l.ends_with(['.', ':', ';', ','])
        && !l.starts_with(['|', '-', '*', '+'])
        && find_dates(l).is_empty()
        && !l.chars().any(|c| c.is_ascii_digit())
}

/// The date notation a reader does not care about: every date as `y m d`, and where day and
/// month could be either (both at most 12) in a fixed order, so `11-04-2023`, `2023-11-04` and
/// `November 4, 2023` read the same.
fn canonical_dates(line: &str) -> String {
    let token = |y: i32, m: u32, d: u32| {
        let (a, b) = if m <= 12 && d <= 12 {
            (m.min(d), m.max(d))
        } else {
            (m, d)
        };
        format!(" date{y}x{a:02}x{b:02} ")
    };
    let mut s = line.to_owned();
    for d in find_dates(line).into_iter().rev() {
        use chrono::Datelike;
        s.replace_range(d.start..d.end, &token(d.date.year(), d.date.month(), d.date.day()));
    }
    NUMERIC_DATE
        .replace_all(&s, |c: &regex::Captures<'_>| {
            let (a, b, y) = (
                c[1].parse::<u32>().unwrap_or(0),
                c[2].parse::<u32>().unwrap_or(0),
                c[3].parse::<i32>().unwrap_or(0),
            );
            // Month first when it can be (US), else day first.
            if a <= 12 { token(y, a, b) } else { token(y, b, a) }
        })
        .into_owned()
}

/// Link targets and URLs removed: they are addresses, not words of the document.
pub fn strip_links(line: &str) -> String {
    let line = LINK.replace_all(line, "$1");
    URL.replace_all(&line, "").into_owned()
}

/// The words of one line, without link targets, e-mail addresses, list labels or punctuation,
/// dates in one notation, lowercased.
pub fn line_words(line: &str) -> Vec<String> {
    if relative_date_phrase(line) {
        return Vec::new();
    }
    let line = LINK.replace_all(line, "$1");
    let line = LINK_REMNANT.replace_all(&line, "");
    let line = URL.replace_all(&line, "");
    let line = EMAIL.replace_all(&line, "");
    let line = LIST_LABEL.replace(&line, "");
    let line = canonical_dates(&line);
    WORD.find_iter(&line).map(|m| m.as_str().to_lowercase()).collect()
}

fn content_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !TOC_ENTRY.is_match(l) && !TOC_TITLE.is_match(l.trim()))
        .collect();
    // The title block: a kept browser title, a brand line, the page's own title (at most three
    // lines; real text ends it).
    for _ in 0..3 {
        if lines.first().is_some_and(|l| {
            is_title_artefact(l) || is_title_line(l) || l.chars().all(|c| matches!(c, '-' | '=' | ' '))
        }) {
            lines.remove(0);
        }
    }
    lines
}

/// Whether `before` → `after` changes meaning.
pub fn is_material(before: &str, after: &str) -> bool {
    let (a, b) = (content_lines(before), content_lines(after));
    let words = |lines: &[&str]| lines.iter().flat_map(|l| line_words(l)).collect::<Vec<_>>();
    if words(&a) == words(&b) {
        return false;
    }
    // Reordered rows or items with the same content.
    let mut sa: Vec<Vec<String>> = a.iter().map(|l| line_words(l)).filter(|w| !w.is_empty()).collect();
    let mut sb: Vec<Vec<String>> = b.iter().map(|l| line_words(l)).filter(|w| !w.is_empty()).collect();
    sa.sort();
    sb.sort();
    sa != sb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosmetic_edits_are_not_material() {
        let base = "# Policy\n\n1. Do not spam.\n2. Do not phish, ever.\n\nSee [docs](https://a.test/x).\n";
        for edit in [
            "# Policy\n\n- Do not spam.\n- Do not phish, ever.\n\nSee [docs](https://a.test/y).\n",
            "# Policy\n1.  Do not spam\n2. Do not phish ever.\nSee [docs](https://a.test/x).",
            "# Policy\n\n* a. Do not spam.\n* b. Do not phish, ever.\n\nSee [docs](https://a.test/x).\n",
            "Policy | Acme\n# Policy\n\n1. Do not spam.\n2. Do not phish, ever.\n\nSee [docs](https://a.test/x).\n",
            "# Policy\n\n1. Do not spam.\n2. Do not phish,\never.\n\nSee [docs](https://a.test/x).\nUpdated 3 days ago\n",
            // A table of contents, a title line, an e-mail behind a CDN placeholder.
            "Contents\n\n- [Policy](#policy)\n# Policy\n\n1. Do not spam.\n2. Do not phish, ever.\n\nSee [docs](https://a.test/x).\n",
        ] {
            assert!(!is_material(base, edit), "{edit}");
        }
        let table = "| a | $1 |\n| b | $2 |\n";
        assert!(!is_material(table, "| b | $2 |\n| a | $1 |\n"), "reordered rows");
    }

    #[test]
    fn dates_and_addresses_in_another_notation_are_not_material() {
        let base = "Acme Privacy Policy\n---\n\nEffective Date: 11-04-2023\n\nWrite to [\\[email protected\\]](https://a.test/cdn-cgi/l/email-protection) today.\n";
        let after = "Effective date: 2023-11-04\n\nWrite to [privacy@acme.test](mailto:privacy@acme.test) today.\n";
        assert!(!is_material(base, after));
        assert!(!is_material("Retires on 2025-1-6.\n", "Retires on January 6, 2025.\n"));
        assert!(!is_material("Retires on June 5, 2024.\n", "Retires on 5 June 2024.\n"));
        assert!(is_material("Retires on 2025-01-06.\n", "Retires on 2025-01-20.\n"));
        // A mangled link and its fixed form.
        assert!(!is_material(
            "Mail ([help@acme.test](mailto:help@acme.test)\\](mailto:help@acme.test) .\n",
            "Mail [help@acme.test](mailto:help@acme.test).\n"
        ));
    }

    #[test]
    fn small_edits_of_meaning_are_material() {
        let base = "| model-a | 2025-01-05 |\nDo not spam.\nPrice: $2 per 1M tokens\n";
        assert!(is_material(base, &base.replace("2025-01-05", "2025-02-05")));
        assert!(is_material(
            base,
            &base.replace("Do not spam.", "Do not spam or phish.")
        ));
        assert!(is_material(base, &base.replace("$2", "$3")));
    }
}
