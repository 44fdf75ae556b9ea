//! Materiality: is a change a change of meaning, or only of form?
//!
//! Cosmetic edits (whitespace, punctuation, list numbering or labels, reflowed code or tables with
//! the same values, link-target fixes, page-title artefacts, relative dates, reordered rows) leave
//! the document's *words* the same. So both versions are reduced to their words, in order, after
//! dropping link targets, list labels, relative dates and a leading page-title line; equal word
//! sequences (or the same lines in another order) are not material.

use super::dates::relative_date_phrase;
use regex::Regex;
use std::sync::LazyLock;

static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").expect("valid regex"));
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"https?://\S+").expect("valid regex"));
static LIST_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:(?:[-*+•]|\(?[0-9a-zA-Z]{1,3}[.)])\s+)+").expect("valid regex"));
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{N}]+(?:[.'’][\p{L}\p{N}]+)*").expect("valid regex"));

/// A first line like `Usage policies | OpenAI` is the browser title the archiver kept, not text.
fn is_title_artefact(line: &str) -> bool {
    let l = line.trim();
    !l.starts_with('|') && l.len() < 100 && (l.contains(" | ") || l.contains(" – ") || l.contains(" — "))
}

/// The words of one line, without link targets, list labels or punctuation, lowercased.
/// Link targets and URLs removed: they are addresses, not words of the document.
pub fn strip_links(line: &str) -> String {
    let line = LINK.replace_all(line, "$1");
    URL.replace_all(&line, "").into_owned()
}

pub fn line_words(line: &str) -> Vec<String> {
    if relative_date_phrase(line) {
        return Vec::new();
    }
    let line = LINK.replace_all(line, "$1");
    let line = URL.replace_all(&line, "");
    let line = LIST_LABEL.replace(&line, "");
    WORD.find_iter(&line).map(|m| m.as_str().to_lowercase()).collect()
}

fn content_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.first().is_some_and(|l| is_title_artefact(l)) {
        lines.remove(0);
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
        ] {
            assert!(!is_material(base, edit), "{edit}");
        }
        let table = "| a | $1 |\n| b | $2 |\n";
        assert!(!is_material(table, "| b | $2 |\n| a | $1 |\n"), "reordered rows");
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
