//! Calendar dates in free text.
//!
//! Recognised full-date notations (month names are case-insensitive; full names and the usual
//! 3/4-letter abbreviations, with or without a trailing period; ordinal suffixes and commas are
//! optional):
//!
//! | notation                  | example                          |
//! |---------------------------|----------------------------------|
//! | ISO 8601 date             | `2026-01-05`, `2026-1-5`         |
//! | ISO 8601 timestamp        | `2026-01-05T10:00:00Z` (date part) |
//! | year-first slashes        | `2025/06/16`, `2025/6/16`        |
//! | month day year            | `January 5th, 2026`, `Jan. 5 2026`, `Sept 30, 2025` |
//! | day month year            | `5 January 2026`, `5th of January, 2026` |
//! | US slashes, year last     | `03/20/25`, `3/20/2025` (month first; day first only when the first number exceeds 12) |
//!
//! Deliberately *not* recognised: month + year without a day (`January 2026`), dotted
//! day/month orders (`05.01.2026`: ambiguous between locales), two-digit years other than in US
//! slashes, and compact `YYYYMMDD` (only via [`date_in_model_id`]).
//!
//! Identifier rule: a numeric date must not be glued to an identifier. The character before the
//! year must not be alphanumeric or a hyphen, and the date must not be followed by an
//! alphanumeric character or by `-`/`_` plus an alphanumeric. So `gpt-4o-2024-05-13` and
//! `2024-05-13-preview` yield nothing from [`find_dates`]; an id is a subject, not a date.
//! Month names may follow a lowercase letter only when the month is capitalised, which accepts
//! text extracted from HTML where a label and a date were glued together (`UpdatedJanuary 12, 2024`)
//! while rejecting words that merely end in a month abbreviation.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::{Captures, Regex};

/// A date found in text. `start..end` are byte offsets of the whole match (for a timestamp,
/// the whole timestamp including the time part), so `&text[start..end]` is the matched notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDate {
    pub date: NaiveDate,
    pub start: usize,
    pub end: usize,
}

/// Years accepted from free text; anything outside is almost certainly not a date we care about.
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2199;

const MONTHS: &str = "january|february|march|april|june|july|august|september|october|november|december|\
                      sept|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec";

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?").unwrap()
});

static SLASHED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d{4})/(\d{1,2})/(\d{1,2})").unwrap());

/// `03/20/25`, `3/20/2025`: the US order (month first) that US vendors' pages use; day first
/// only when the first number cannot be a month (`20/03/2025`).
static US_SLASHED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})").unwrap());

static MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)({MONTHS})(?:\.\s*|\s+)(\d{{1,2}})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)(\d{{4}})"
    ))
    .unwrap()
});

static DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTHS})(?:\.\s*,?\s*|\s*,\s*|\s+)(\d{{4}})"
    ))
    .unwrap()
});

static RELATIVE_AGO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+few|few|several)\s+(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)\s+ago\b",
    )
    .unwrap()
});

static RELATIVE_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:just\s+now|moments?\s+ago|a\s+moment\s+ago|(?:updated|edited|modified|published|posted|changed|refreshed|as\s+of)\s*:?\s*(?:today|yesterday|this\s+(?:week|month)|last\s+(?:week|month)))\b",
    )
    .unwrap()
});

static RELATIVE_WHOLE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:today|yesterday|just\s+now)$").unwrap());

#[derive(Clone, Copy)]
enum Notation {
    Iso,
    Slashed,
    UsSlashed,
    MonthFirst,
    DayFirst,
}

/// All full dates in `text`, in order of appearance, non-overlapping.
pub fn find_dates(text: &str) -> Vec<FoundDate> {
    let mut found = Vec::new();
    for (re, notation) in [
        (&*ISO, Notation::Iso),
        (&*SLASHED, Notation::Slashed),
        (&*US_SLASHED, Notation::UsSlashed),
        (&*MONTH_FIRST, Notation::MonthFirst),
        (&*DAY_FIRST, Notation::DayFirst),
    ] {
        scan(text, re, notation, &mut found);
    }
    // Earliest first; on equal starts prefer the longer match; then drop overlaps.
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out: Vec<FoundDate> = Vec::with_capacity(found.len());
    for d in found {
        if out.last().is_none_or(|last| d.start >= last.end) {
            out.push(d);
        }
    }
    out
}

/// Scans with `re`, retrying one character after the start of any rejected candidate so that a
/// rejected match cannot hide a valid one that overlaps it.
fn scan(text: &str, re: &Regex, notation: Notation, out: &mut Vec<FoundDate>) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else { break };
        let m = caps.get(0).expect("group 0");
        match accept(text, &caps, notation) {
            Some(date) => {
                out.push(FoundDate {
                    date,
                    start: m.start(),
                    end: m.end(),
                });
                pos = m.end();
            }
            None => pos = next_char_boundary(text, m.start()),
        }
    }
}

fn next_char_boundary(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(text.len() + 1, |c| i + c.len_utf8())
}

fn accept(text: &str, caps: &Captures<'_>, notation: Notation) -> Option<NaiveDate> {
    let m = caps.get(0)?;
    let before = text[..m.start()].chars().next_back();
    let after = &text[m.end()..];
    let num = |i: usize| caps.get(i).and_then(|g| g.as_str().parse::<u32>().ok());
    let (y, mo, d) = match notation {
        Notation::Iso | Notation::Slashed => {
            let sep = if matches!(notation, Notation::Iso) { '-' } else { '/' };
            if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == sep) {
                return None;
            }
            if glued_after(after) || (after.starts_with(sep) && after[1..].starts_with(|c: char| c.is_ascii_digit())) {
                return None;
            }
            (num(1)?, num(2)?, num(3)?)
        }
        Notation::UsSlashed => {
            if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '-' | '$'))
                || glued_after(after)
                || after.starts_with(['/', '.']) && after[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                return None;
            }
            let (a, b) = (num(1)?, num(2)?);
            let y = match caps.get(3)?.as_str().len() {
                2 => 2000 + num(3)?,
                _ => num(3)?,
            };
            if a > 12 { (y, b, a) } else { (y, a, b) }
        }
        Notation::MonthFirst => {
            let month_start = caps.get(1)?.start();
            if !month_boundary_ok(text, month_start) || glued_after(after) {
                return None;
            }
            (num(3)?, month_number(caps.get(1)?.as_str())?, num(2)?)
        }
        Notation::DayFirst => {
            if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | ',' | '-' | '/')) || glued_after(after) {
                return None;
            }
            (num(3)?, month_number(caps.get(2)?.as_str())?, num(1)?)
        }
    };
    make_date(y, mo, d)
}

/// Whether what follows a match glues it to a longer token (`20261`, `2026-01-05-preview`).
fn glued_after(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        Some(c) if c.is_alphanumeric() => true,
        Some('-' | '_') => chars.next().is_some_and(char::is_alphanumeric),
        _ => false,
    }
}

/// A month name must start a word, except that a capitalised month may directly follow a
/// lowercase letter (`UpdatedJanuary 12, 2024`, a common artefact of HTML-to-text extraction).
fn month_boundary_ok(text: &str, month_start: usize) -> bool {
    match text[..month_start].chars().next_back() {
        None => true,
        Some(c) if c.is_lowercase() => text[month_start..].starts_with(|m: char| m.is_uppercase()),
        Some(c) => !c.is_alphanumeric(),
    }
}

fn make_date(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    let y = i32::try_from(y).ok()?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let n = match lower.get(..3)? {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(n)
}

/// Characters that may wrap a date in a cell or value: whitespace, markdown emphasis, code
/// ticks, table pipes, quotes, brackets and trailing punctuation.
fn is_wrapper(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '*' | '_' | '`' | '|' | '"' | '\'' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '.'
        )
}

/// Parses a string that is exactly one date (in any notation [`find_dates`] accepts), ignoring
/// surrounding whitespace, markdown emphasis, backticks, table pipes, quotes and brackets.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let inner = s.trim_matches(is_wrapper);
    if inner.is_empty() {
        return None;
    }
    match find_dates(inner).as_slice() {
        [only] if only.start == 0 && only.end == inner.len() => Some(only.date),
        _ => None,
    }
}

/// The release date encoded as a compact `YYYYMMDD` suffix of a hyphenated model id, e.g.
/// `some-model-3-20240620` → 2024-06-20. The last `-`-separated segment (or the part after `@`,
/// as in `model@20240620`) must be exactly 8 digits forming a valid date in 2015..=2100, and
/// there must be a non-empty prefix before the separator. Short version suffixes such as `2501`
/// (year-month) are not dates and yield `None`.
pub fn date_in_model_id(id: &str) -> Option<NaiveDate> {
    let id = id.trim().trim_matches('`');
    let sep = id.rfind(['-', '@'])?;
    let (prefix, digits) = (&id[..sep], &id[sep + 1..]);
    if prefix.is_empty() || digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if id.chars().any(char::is_whitespace) {
        return None;
    }
    let y: i32 = digits[..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..].parse().ok()?;
    if !(2015..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Whether `line` contains a relative-time phrase ("updated 3 days ago", "2 hours ago",
/// "last updated: today", "a minute ago", "just now"), which changes on every fetch and so marks
/// an edit as cosmetic.
///
/// To limit false positives on real announcements ("Today we are launching…"), a bare
/// `today`/`yesterday` counts only after an update verb (`updated`, `edited`, `modified`,
/// `published`, `posted`, `changed`, `refreshed`, `as of`) or when it is the whole line
/// (ignoring punctuation and markdown).
pub fn relative_date_phrase(s: &str) -> bool {
    RELATIVE_AGO.is_match(s) || RELATIVE_OTHER.is_match(s) || RELATIVE_WHOLE_LINE.is_match(s.trim_matches(is_wrapper))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn dates(text: &str) -> Vec<NaiveDate> {
        find_dates(text).into_iter().map(|f| f.date).collect()
    }

    fn spans(text: &str) -> Vec<&str> {
        find_dates(text).into_iter().map(|f| &text[f.start..f.end]).collect()
    }

    // ---- find_dates: notations ----

    #[test]
    fn iso_date() {
        assert_eq!(dates("Retires on 2026-01-05."), vec![ymd(2026, 1, 5)]);
        assert_eq!(spans("Retires on 2026-01-05."), vec!["2026-01-05"]);
    }

    #[test]
    fn iso_timestamp_yields_date_and_spans_whole_timestamp() {
        let t = "published 2026-01-05T10:00:00Z by bot";
        assert_eq!(dates(t), vec![ymd(2026, 1, 5)]);
        assert_eq!(spans(t), vec!["2026-01-05T10:00:00Z"]);
        assert_eq!(
            spans("at 2025-03-02T23:59:59.123+01:00."),
            vec!["2025-03-02T23:59:59.123+01:00"]
        );
        assert_eq!(spans("at 2025-03-02T08:15 local"), vec!["2025-03-02T08:15"]);
    }

    #[test]
    fn slashed_year_first() {
        assert_eq!(
            dates("| 2025/06/16 | 2025/9/3 |"),
            vec![ymd(2025, 6, 16), ymd(2025, 9, 3)]
        );
    }

    #[test]
    fn month_first_variants() {
        for (s, want) in [
            ("January 5th, 2026", ymd(2026, 1, 5)),
            ("January 5, 2026", ymd(2026, 1, 5)),
            ("Jan 5 2026", ymd(2026, 1, 5)),
            ("Jan. 5, 2026", ymd(2026, 1, 5)),
            ("Jan.5, 2026", ymd(2026, 1, 5)),
            ("Sept 30, 2025", ymd(2025, 9, 30)),
            ("Sept. 30, 2025", ymd(2025, 9, 30)),
            ("Sep 1st 2025", ymd(2025, 9, 1)),
            ("Nov 30, 2025", ymd(2025, 11, 30)),
            ("march 22nd, 2024", ymd(2024, 3, 22)),
            ("AUGUST 3RD, 2027", ymd(2027, 8, 3)),
            ("Dec 31 , 2030", ymd(2030, 12, 31)),
            ("May 1, 2025", ymd(2025, 5, 1)),
            ("June\u{a0}9,\u{a0}2025", ymd(2025, 6, 9)),
        ] {
            assert_eq!(dates(s), vec![want], "{s}");
            assert_eq!(spans(s), vec![s], "{s}");
        }
    }

    #[test]
    fn day_first_variants() {
        for (s, want) in [
            ("5 January 2026", ymd(2026, 1, 5)),
            ("5th of January, 2026", ymd(2026, 1, 5)),
            ("21st Feb. 2028", ymd(2028, 2, 21)),
            ("02 oct 2024", ymd(2024, 10, 2)),
            ("9 Sept, 2025", ymd(2025, 9, 9)),
        ] {
            assert_eq!(dates(s), vec![want], "{s}");
            assert_eq!(spans(s), vec![s], "{s}");
        }
    }

    #[test]
    fn several_dates_in_order_with_offsets() {
        let t = "Deprecated 3 March 2025; retired on 2025-06-01 (was Apr 30, 2025).";
        let got = find_dates(t);
        assert_eq!(
            got.iter().map(|f| f.date).collect::<Vec<_>>(),
            vec![ymd(2025, 3, 3), ymd(2025, 6, 1), ymd(2025, 4, 30)]
        );
        assert_eq!(&t[got[0].start..got[0].end], "3 March 2025");
        assert!(got.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn table_row_cell() {
        let t = "| example-model-1 | January 5th, 2026 | other-model-2 |";
        assert_eq!(spans(t), vec!["January 5th, 2026"]);
    }

    #[test]
    fn markdown_bold_and_code() {
        assert_eq!(dates("**Effective:** **October 2, 2026**"), vec![ymd(2026, 10, 2)]);
        assert_eq!(dates("**2026-02-14**"), vec![ymd(2026, 2, 14)]);
        assert_eq!(dates("`2026-02-14`"), vec![ymd(2026, 2, 14)]);
        assert_eq!(dates("_12 April 2026_"), vec![ymd(2026, 4, 12)]);
    }

    #[test]
    fn quoted_value_in_source_code() {
        assert_eq!(
            dates(r#"    "some-model-v2": "February 29th, 2028","#),
            vec![ymd(2028, 2, 29)]
        );
        assert_eq!(dates("retireDate: 'Jul 4, 2026',"), vec![ymd(2026, 7, 4)]);
    }

    #[test]
    fn label_glued_to_capitalised_month() {
        assert_eq!(dates("Last editedMarch 3, 2024"), vec![ymd(2024, 3, 3)]);
    }

    #[test]
    fn month_inside_word_is_not_a_month() {
        // "mar" at the end of "grammar", "dec" inside "bdec"
        assert!(dates("grammar 5 2026").is_empty());
        assert!(dates("bdec 5, 2026").is_empty());
        assert_eq!(dates("_Jan 5, 2026_"), vec![ymd(2026, 1, 5)]);
    }

    // ---- find_dates: rejections ----

    #[test]
    fn invalid_calendar_dates_rejected() {
        assert!(dates("February 30, 2026").is_empty());
        assert!(dates("2026-02-30").is_empty());
        assert!(dates("2025-13-01").is_empty());
        assert!(dates("31 April 2026").is_empty());
        assert!(dates("Feb 29, 2027").is_empty());
        assert_eq!(dates("Feb 29, 2028"), vec![ymd(2028, 2, 29)]);
        assert!(dates("2025/00/10").is_empty());
        assert!(dates("Jan 0, 2026").is_empty());
    }

    #[test]
    fn implausible_years_rejected() {
        assert!(dates("Jan 5, 1066").is_empty());
        assert!(dates("0001-01-01").is_empty());
    }

    #[test]
    fn month_year_only_is_not_a_date() {
        assert!(dates("released January 2026").is_empty());
        assert!(dates("Sept 2025 update").is_empty());
    }

    #[test]
    fn dates_embedded_in_identifiers_are_skipped() {
        assert!(dates("use vendor-4o-2024-05-13 instead").is_empty());
        assert!(dates("`model_x-2025-01-31`").is_empty());
        assert!(dates("2024-05-13-preview").is_empty());
        assert!(dates("abc2024-05-13").is_empty());
        assert!(dates("some-model-20240620").is_empty());
        assert!(dates("2024-05-13x").is_empty());
    }

    #[test]
    fn us_slashed_dates() {
        assert_eq!(dates("Shutdown 03/20/25."), vec![ymd(2025, 3, 20)]);
        assert_eq!(dates("after 2/22/2025"), vec![ymd(2025, 2, 22)]);
        assert_eq!(dates("on 20/03/2025"), vec![ymd(2025, 3, 20)]);
        assert!(dates("13/13/2025").is_empty());
    }

    #[test]
    fn version_strings_and_numbers_are_not_dates() {
        assert!(dates("v2.10.3").is_empty());
        assert!(dates("version 25.08 and 24.11").is_empty());
        assert!(dates("release 1.2025.3").is_empty());
        assert!(dates("05.01.2026").is_empty());
        assert!(dates("1/2/3").is_empty());
        assert!(dates("$1/05/2026").is_empty());
        assert!(dates("1/2025/06/16").is_empty());
        assert!(dates("2025/06/16/7").is_empty());
        assert!(dates("20261-01-05").is_empty());
        assert!(dates("Jan 5 20261").is_empty());
        assert!(dates("x5 January 2026").is_empty());
        assert!(dates("1.5 January 2026").is_empty());
    }

    #[test]
    fn rejected_candidate_does_not_hide_later_date() {
        let t = "id-2024-05-13 then 2024-05-14";
        assert_eq!(dates(t), vec![ymd(2024, 5, 14)]);
    }

    #[test]
    fn iso_followed_by_sentence_punctuation_or_dash_space() {
        assert_eq!(
            dates("2026-01-05, 2026-01-06; 2026-01-07 - 2026-01-08"),
            vec![ymd(2026, 1, 5), ymd(2026, 1, 6), ymd(2026, 1, 7), ymd(2026, 1, 8)]
        );
        assert_eq!(dates("2026-01-05–2026-02-01"), vec![ymd(2026, 1, 5), ymd(2026, 2, 1)]);
    }

    #[test]
    fn unicode_text_around_dates_is_safe() {
        let t = "Mise à jour : 5 June 2026 — “Août” ✓ 2026-07-01";
        assert_eq!(dates(t), vec![ymd(2026, 6, 5), ymd(2026, 7, 1)]);
        for f in find_dates(t) {
            assert!(t.is_char_boundary(f.start) && t.is_char_boundary(f.end));
        }
    }

    #[test]
    fn empty_and_no_dates() {
        assert!(find_dates("").is_empty());
        assert!(find_dates("No dates here, just 42 and 2026.").is_empty());
    }

    // ---- parse_date ----

    #[test]
    fn parse_date_whole_string_forms() {
        assert_eq!(parse_date("2026-01-05"), Some(ymd(2026, 1, 5)));
        assert_eq!(parse_date("  2026-01-05T10:00:00Z "), Some(ymd(2026, 1, 5)));
        assert_eq!(parse_date("2025/06/16"), Some(ymd(2025, 6, 16)));
        assert_eq!(parse_date("January 5th, 2026"), Some(ymd(2026, 1, 5)));
        assert_eq!(parse_date("Jan. 5, 2026"), Some(ymd(2026, 1, 5)));
        assert_eq!(parse_date("5th of January, 2026"), Some(ymd(2026, 1, 5)));
    }

    #[test]
    fn parse_date_strips_wrappers() {
        assert_eq!(parse_date("**Nov 30, 2025**"), Some(ymd(2025, 11, 30)));
        assert_eq!(parse_date("`2025/03/30`"), Some(ymd(2025, 3, 30)));
        assert_eq!(parse_date("| 2025/03/30|"), Some(ymd(2025, 3, 30)));
        assert_eq!(parse_date("\"October 22, 2025\","), Some(ymd(2025, 10, 22)));
        assert_eq!(parse_date("'March 1, 2026'"), Some(ymd(2026, 3, 1)));
        assert_eq!(parse_date("(2026-04-01)."), Some(ymd(2026, 4, 1)));
        assert_eq!(parse_date("_4 May 2026_"), Some(ymd(2026, 5, 4)));
    }

    #[test]
    fn parse_date_rejects_extra_text_and_non_dates() {
        assert_eq!(parse_date("on 2026-01-05"), None);
        assert_eq!(parse_date("2026-01-05 or later"), None);
        assert_eq!(parse_date("2026-01-05 2026-01-06"), None);
        assert_eq!(parse_date("January 2026"), None);
        assert_eq!(parse_date("February 30, 2026"), None);
        assert_eq!(parse_date("TBD"), None);
        assert_eq!(parse_date("-"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("**"), None);
        assert_eq!(parse_date("model-2024-05-13"), None);
    }

    // ---- date_in_model_id ----

    #[test]
    fn model_id_compact_date() {
        assert_eq!(date_in_model_id("acme-chat-3-5-20240620"), Some(ymd(2024, 6, 20)));
        assert_eq!(date_in_model_id("acme-large-20251001"), Some(ymd(2025, 10, 1)));
        assert_eq!(date_in_model_id("`acme-large-20251001`"), Some(ymd(2025, 10, 1)));
        assert_eq!(date_in_model_id("acme-large@20251001"), Some(ymd(2025, 10, 1)));
    }

    #[test]
    fn model_id_without_compact_date() {
        assert_eq!(date_in_model_id("acme-large-2501"), None); // year-month version, not a date
        assert_eq!(date_in_model_id("acme-large-latest"), None);
        assert_eq!(date_in_model_id("acme-large-20241301"), None); // month 13
        assert_eq!(date_in_model_id("acme-large-20240230"), None); // Feb 30
        assert_eq!(date_in_model_id("acme-large-19991231"), None); // before 2015
        assert_eq!(date_in_model_id("acme-large-21010101"), None); // after 2100
        assert_eq!(date_in_model_id("acme-large-202406201"), None); // 9 digits
        assert_eq!(date_in_model_id("acme-large-20240620-v1"), None); // not at the end
        assert_eq!(date_in_model_id("20240620"), None); // no id prefix
        assert_eq!(date_in_model_id("-20240620"), None);
        assert_eq!(date_in_model_id("acme large-20240620"), None);
        assert_eq!(date_in_model_id("acme-2024-06-20"), None);
        assert_eq!(date_in_model_id(""), None);
    }

    // ---- relative_date_phrase ----

    #[test]
    fn relative_phrases_detected() {
        for s in [
            "Updated 3 days ago",
            "2 hours ago",
            "edited a minute ago by someone",
            "Last updated: today",
            "last updated yesterday",
            "Modified an hour ago",
            "posted 1 week ago",
            "10 mins ago",
            "a few seconds ago",
            "several months ago",
            "just now",
            "*Yesterday*",
            "Today",
            "As of today, the page reads",
            "Published: this week",
        ] {
            assert!(relative_date_phrase(s), "{s}");
        }
    }

    #[test]
    fn non_relative_lines_not_flagged() {
        for s in [
            "Today we are launching a new model.",
            "Yesterday's outage affected the API.",
            "Updated on January 5, 2026",
            "The model retires in 3 days.",
            "Requests older than 30 days are deleted.",
            "agone 3 days",
            "",
        ] {
            assert!(!relative_date_phrase(s), "{s}");
        }
        assert!(!relative_date_phrase("3 days agony"));
    }
}
