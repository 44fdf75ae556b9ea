//! Pipe tables as records: Markdown and MDX (`| a | b |` with a `|---|` row, leading and trailing
//! pipes optional when the separator row is there) and tables rendered from HTML (one `| a | b |`
//! line per row, the header row first, no separator).
//!
//! Each row is a record keyed by its identifying column: the column whose cells are most often
//! ids (never a "Replacement"/"Recommended" column: those name the model to move to), else the
//! column whose header says model, name or id, else the first. A table whose header row holds the
//! ids and whose first column holds the field names (prices per model as columns) is read
//! transposed.

use super::{Record, is_id_like, plain, subjects_of};
use regex::Regex;
use std::sync::LazyLock;

pub struct Table {
    pub start: usize,
    pub end: usize,
    pub records: Vec<Record>,
}

/// The cells of a table row, or `None` for a line that is not one.
fn cells(line: &str, loose: bool) -> Option<Vec<String>> {
    let l = line.trim();
    if l.starts_with('|') {
        let inner = l.strip_prefix('|').unwrap_or(l);
        let inner = inner.strip_suffix('|').unwrap_or(inner);
        return Some(split_cells(inner));
    }
    // GFM rows without outer pipes, only inside a table whose separator row says so.
    (loose && l.contains('|') && !l.starts_with("```")).then(|| split_cells(l))
}

/// Splits on `|` outside code spans and escaped pipes (`\|`).
fn split_cells(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_code = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cur.push(c);
            }
            '|' if !in_code => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

fn is_separator(line: &str) -> bool {
    static SEP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$").expect("valid regex"));
    let l = line.trim();
    l.contains('-') && (l.contains('|') || l.starts_with(":-") || l.starts_with("--")) && SEP.is_match(l)
}

static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$").expect("valid regex"));

/// Headers that name the model to move to, not the row's model.
pub static REPLACEMENT_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)replace|recommend|successor|alternative|migrat|upgrade|instead|suggested|use instead|substitute")
        .expect("valid regex")
});
/// A column of aliases (`x-latest`), which point to the row's model.
pub static ALIAS_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\balias(?:es)?\b|\bpointer\b").expect("valid regex"));
static ID_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:model|models|name|id|ids|endpoint|api|identifier|slug|sku)\b").expect("valid regex")
});

/// The nearest Markdown heading above line `at`: its line, level and text.
fn nearest_heading(lines: &[&str], at: usize, max_level: usize) -> Option<(usize, usize, String)> {
    lines[..at].iter().enumerate().rev().take(200).find_map(|(i, l)| {
        let level = l.trim_start().chars().take_while(|c| *c == '#').count();
        HEADING
            .captures(l)
            .filter(|_| level <= max_level)
            .map(|c| (i, level, plain(&c[1])))
    })
}

/// A heading that names no model (`Standard`, `Batch`, `Pricing`): no digit, no id in it. Under
/// one, the section it belongs to says what the table is about.
fn generic_heading(text: &str) -> bool {
    !text.chars().any(|c| c.is_ascii_digit())
        && !text
            .split_whitespace()
            .any(|t| is_id_like(t) && t.contains(['-', '/', ':', '.', '_']))
}

/// The headings above line `at`: the nearest, and when it names no model (`### Standard` under
/// `## Acme 2.5 Flash`), its parent before it, so that the same sub-heading under two models is
/// two scopes.
fn heading_above(lines: &[&str], at: usize) -> Option<String> {
    let (line, level, text) = nearest_heading(lines, at, 6)?;
    if level > 1
        && generic_heading(&text)
        && let Some((_, _, parent)) = nearest_heading(lines, line, level - 1)
    {
        return Some(format!("{parent} / {text}"));
    }
    Some(text)
}

/// A short label right above a table that is not a heading (`On-Demand`, `**Batch**`,
/// `Tier 2:`): it tells two tables with the same columns apart.
fn caption_above(lines: &[&str], at: usize) -> Option<String> {
    let l = lines[..at].iter().rev().take(3).find(|l| !l.trim().is_empty())?;
    let p = plain(l);
    let words = p.split_whitespace().count();
    (!HEADING.is_match(l) && (1..=8).contains(&words) && !l.trim_start().starts_with('|') && !p.ends_with('.'))
        .then(|| p.trim_end_matches(':').to_owned())
}

/// Whether a row reads as a header: no amounts, dates, ids or numbers in it.
fn looks_like_header(row: &[String]) -> bool {
    row.iter().all(|c| {
        let p = plain(c);
        crate::triage::numbers::find_prices(&p).is_empty()
            && crate::triage::dates::find_dates(&p).is_empty()
            && crate::triage::numbers::parse_decimal(&p).is_none()
            && !p.split_whitespace().any(is_id_like)
    }) && row.iter().any(|c| !c.trim().is_empty())
}

/// Every table of a text, each row a record.
pub fn tables(lines: &[&str]) -> Vec<Table> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // A table starts at a pipe row, or at a header row followed by a separator.
        let sep_next = lines.get(i + 1).is_some_and(|l| is_separator(l)) && lines[i].contains('|');
        if cells(lines[i], false).is_none() && !sep_next {
            i += 1;
            continue;
        }
        let start = i;
        let loose = sep_next;
        let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
        let mut header: Option<Vec<String>> = None;
        while i < lines.len() {
            let l = lines[i];
            if is_separator(l) {
                if header.is_none()
                    && let Some((_, h)) = rows.pop()
                {
                    header = Some(h);
                }
                i += 1;
                continue;
            }
            match cells(l, loose) {
                Some(c) if !l.trim().is_empty() => rows.push((i, c)),
                _ => break,
            }
            i += 1;
        }
        let end = i;
        if header.is_none() && rows.len() >= 2 && looks_like_header(&rows[0].1) {
            header = Some(rows.remove(0).1);
        }
        // No header, and the first row names models across (`| MODEL | acme-chat | acme-r |`):
        // that row is the header of a table with models as columns.
        if header.is_none() && rows.len() >= 2 {
            let first = &rows[0].1;
            let ids = first.iter().skip(1).filter(|c| is_id_like(&plain(c))).count();
            if first.len() >= 2 && ids * 2 >= first.len() - 1 && ids > 0 && !is_id_like(&plain(&first[0])) {
                header = Some(rows.remove(0).1);
            }
        }
        if rows.is_empty() || (header.is_none() && rows.len() < 2) {
            continue;
        }
        let width = rows.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        if width < 2 {
            continue;
        }
        let header: Vec<String> = match header {
            Some(h) => (0..width)
                .map(|c| {
                    h.get(c)
                        .map(|x| plain(x))
                        .filter(|x| !x.is_empty())
                        .unwrap_or_else(|| format!("column {}", c + 1))
                })
                .collect(),
            None => (0..width).map(|c| format!("column {}", c + 1)).collect(),
        };
        let heading = match (heading_above(lines, start), caption_above(lines, start)) {
            (Some(h), Some(c)) => Some(format!("{h} / {c}")),
            (h, c) => h.or(c),
        };
        let section = section_ids(lines, start);
        let records = if transposed(&header, &rows) {
            transpose(&header, &rows, heading.as_deref(), start, None)
        } else if let Some(id_row) = named_columns(&header, &rows) {
            transpose(&header, &rows, heading.as_deref(), start, Some(id_row))
        } else if let Some(ids) = section.clone().filter(|_| is_label_table(&header, &rows)) {
            label_records(&header, &rows, heading.as_deref(), &ids, start)
        } else {
            row_records(&header, &rows, heading.as_deref(), section.as_deref())
        };
        out.push(Table { start, end, records });
    }
    out
}

/// How often a column's cells are ids, 0..=1 (empty cells not counted): `(whole, partial)`, the
/// share of cells that are nothing but ids and the share that contain one.
fn id_share(rows: &[(usize, Vec<String>)], col: usize) -> (f64, f64) {
    let filled: Vec<String> = rows
        .iter()
        .filter_map(|(_, r)| r.get(col))
        .map(|c| plain(c))
        .filter(|c| !c.is_empty() && c != "-")
        .collect();
    if filled.is_empty() {
        return (0.0, 0.0);
    }
    let tokens = |c: &String| -> Vec<String> {
        c.split(|ch: char| ch.is_whitespace() || ch == ',')
            .map(|t| t.trim_matches(|x: char| matches!(x, '.' | '(' | ')' | ';')).to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let whole = filled
        .iter()
        .filter(|c| tokens(c).iter().all(|t| is_id_like(t)))
        .count();
    let partial = filled
        .iter()
        .filter(|c| tokens(c).iter().any(|t| is_id_like(t)))
        .count();
    (whole as f64 / filled.len() as f64, partial as f64 / filled.len() as f64)
}

/// The identifying column: cells that are ids (whole cells before cells that contain one), a
/// header that says model, id or name as the tie-breaker, never a replacement column.
fn key_column(header: &[String], rows: &[(usize, Vec<String>)]) -> usize {
    let candidates: Vec<usize> = (0..header.len())
        .filter(|c| !REPLACEMENT_HEADER.is_match(&header[*c]))
        .collect();
    let mut best: Option<(usize, f64)> = None;
    for &c in &candidates {
        let (whole, partial) = id_share(rows, c);
        if whole < 0.5 && partial < 0.5 {
            continue;
        }
        // An alias column is the stable name of its row (the model it points to changes).
        let bonus = if ALIAS_HEADER.is_match(&header[c]) {
            1.0
        } else if ID_HEADER.is_match(&header[c]) {
            0.3
        } else {
            0.0
        };
        let score = whole + 0.25 * partial + bonus;
        if best.is_none_or(|(_, s)| score > s + 1e-9) {
            best = Some((c, score));
        }
    }
    if let Some((c, _)) = best {
        return c;
    }
    candidates
        .iter()
        .copied()
        .find(|c| ID_HEADER.is_match(&header[*c]))
        .or(candidates.first().copied())
        .unwrap_or(0)
}

fn scope(heading: Option<&str>, header: &[String]) -> String {
    format!(
        "{}table: {}",
        heading.map(|h| format!("{h} / ")).unwrap_or_default(),
        header.iter().map(|h| h.to_lowercase()).collect::<Vec<_>>().join(" | ")
    )
}

/// Rows of a table, each a record keyed by its identifying column. When that column names no
/// model (`Tier 1`, `Free`) and the section is about one (`# acme-4.1`, then `## Rate limits`),
/// the rows are parts of that model's record: its subjects, fields named with the row
/// (`Tier 1 TPM`).
fn row_records(
    header: &[String],
    rows: &[(usize, Vec<String>)],
    heading: Option<&str>,
    section: Option<&[String]>,
) -> Vec<Record> {
    let key_col = key_column(header, rows);
    let scope = scope(heading, header);
    let cell = |row: &Vec<String>, c: usize| plain(row.get(c).map(String::as_str).unwrap_or(""));
    // A row with an empty key cell continues the row above (a second price tier); it is keyed
    // by its first filled cell rather than dropped.
    let bases: Vec<Option<String>> = rows
        .iter()
        .map(|(_, row)| {
            let k = cell(row, key_col);
            if k.is_empty() {
                row.iter().map(|c| plain(c)).find(|c| !c.is_empty())
            } else {
                Some(k)
            }
        })
        .collect();
    // The same model on several rows (one per version, region or tier): a column that tells
    // them apart joins the key, so that inserting a row does not shift the others' identity.
    // Prices and dates are what changes, so they never identify a row.
    let distinct = |keys: &[String]| keys.iter().collect::<std::collections::BTreeSet<_>>().len() == keys.len();
    let plain_bases: Vec<String> = bases.iter().flatten().map(|b| b.to_lowercase()).collect();
    let discriminator = (!distinct(&plain_bases))
        .then(|| {
            (0..header.len()).filter(|c| *c != key_col).find(|&c| {
                let stable = rows.iter().all(|(_, r)| {
                    let v = cell(r, c);
                    v.len() <= 40
                        && crate::triage::numbers::find_prices(&v).is_empty()
                        && crate::triage::dates::find_dates(&v).is_empty()
                });
                let keys: Vec<String> = rows
                    .iter()
                    .zip(&bases)
                    .filter_map(|((_, r), b)| {
                        b.as_ref()
                            .map(|b| format!("{} / {}", b.to_lowercase(), cell(r, c).to_lowercase()))
                    })
                    .collect();
                stable && distinct(&keys)
            })
        })
        .flatten();
    let owner: Option<Vec<String>> = section
        .filter(|ids| ids.iter().all(|i| i.chars().any(|c| c.is_ascii_digit())))
        .filter(|_| id_share(rows, key_col).1 < 0.5 && !ID_HEADER.is_match(&header[key_col]))
        .map(<[String]>::to_vec);
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    rows.iter()
        .zip(bases)
        .filter_map(|((line, row), base)| {
            let base = base?.to_lowercase();
            let base = match discriminator {
                Some(c) => format!("{base} / {}", cell(row, c).to_lowercase()),
                None => base,
            };
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}#{n}") };
            let key_cell = cell(row, key_col);
            if let Some(ids) = &owner {
                return Some(Record {
                    scope: scope.clone(),
                    heading: heading.map(str::to_owned),
                    key,
                    subjects: ids.clone(),
                    inherited: true,
                    fields: header
                        .iter()
                        .enumerate()
                        .map(|(c, h)| {
                            let name = if c == key_col {
                                h.clone()
                            } else {
                                format!("{key_cell} {h}")
                            };
                            (name, row.get(c).cloned().unwrap_or_default())
                        })
                        .collect(),
                    line: Some(*line),
                });
            }
            Some(Record {
                scope: scope.clone(),
                heading: heading.map(str::to_owned),
                key,
                subjects: if key_cell.is_empty() {
                    Vec::new()
                } else {
                    subjects_of(&key_cell)
                },
                inherited: false,
                fields: header
                    .iter()
                    .enumerate()
                    .map(|(c, h)| (h.clone(), row.get(c).cloned().unwrap_or_default()))
                    .collect(),
                line: Some(*line),
            })
        })
        .collect()
}

/// The model a section is about: the ids in its heading or in the short lines between the
/// heading and the table (`*\`acme-2.5-pro\`*` under `## Acme 2.5 Pro`), else the heading's slug.
fn section_ids(lines: &[&str], table_start: usize) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    // Under a heading that names no model (`### Standard`), the section above it: up to its
    // parent heading.
    let mut parent_level: Option<usize> = None;
    let mut budget = 12;
    for l in lines[..table_start].iter().rev().take(60) {
        if budget == 0 {
            break;
        }
        budget -= 1;
        if let Some(c) = HEADING.captures(l) {
            let level = l.trim_start().chars().take_while(|c| *c == '#').count();
            if parent_level.is_some_and(|p| level >= p) {
                continue;
            }
            if ids.is_empty() && level > 1 && parent_level.is_none() && generic_heading(&plain(&c[1])) {
                parent_level = Some(level);
                budget = 12;
                continue;
            }
            if ids.is_empty() {
                ids = super::subjects_of(&c[1]);
            }
            break;
        }
        if l.split_whitespace().count() <= 4 {
            ids.extend(
                plain(l)
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|t| is_id_like(t) && t.contains(['-', '.', '/']))
                    .map(str::to_owned),
            );
        }
    }
    (!ids.is_empty()).then_some(ids)
}

/// A table of one model's values: row labels in the first column (`Input price`, `Output
/// price`, `RPM`), tiers or plans as columns, no column of ids.
fn is_label_table(header: &[String], rows: &[(usize, Vec<String>)]) -> bool {
    static LABEL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)price|cost|input|output|cach|limit|rpm|tpm|rpd|context|tokens|date|deprecat|retire|shutdown|status",
        )
        .expect("valid regex")
    });
    let labels: Vec<String> = rows
        .iter()
        .map(|(_, r)| plain(r.first().map(String::as_str).unwrap_or("")))
        .collect();
    let labelled = labels.iter().filter(|l| LABEL.is_match(l)).count();
    header.len() >= 2
        && (1..header.len()).all(|c| id_share(rows, c).0 < 0.5)
        && id_share(rows, 0).0 < 0.5
        && labelled * 2 >= labels.len().max(1)
}

/// One record per value column (a plan, a tier), the model from the section, the row labels as
/// fields.
fn label_records(
    header: &[String],
    rows: &[(usize, Vec<String>)],
    heading: Option<&str>,
    ids: &[String],
    start: usize,
) -> Vec<Record> {
    let labels: Vec<String> = rows
        .iter()
        .map(|(_, r)| plain(r.first().map(String::as_str).unwrap_or("")))
        .collect();
    let scope = scope(heading, &labels);
    (1..header.len())
        .map(|c| Record {
            scope: scope.clone(),
            heading: heading.map(str::to_owned),
            key: format!("{} / {}", ids[0].to_lowercase(), header[c].to_lowercase()),
            subjects: ids.to_vec(),
            inherited: false,
            fields: labels
                .iter()
                .zip(rows)
                .map(|(l, (_, r))| (format!("{l} ({})", header[c]), r.get(c).cloned().unwrap_or_default()))
                .collect(),
            line: Some(start),
        })
        .collect()
}

/// Models as columns: the header's cells after the first are mostly ids and the first column is
/// not.
fn transposed(header: &[String], rows: &[(usize, Vec<String>)]) -> bool {
    let ids = header[1..].iter().filter(|h| is_id_like(h)).count();
    header.len() >= 3 && ids * 2 > header.len() - 1 && id_share(rows, 0).1 < 0.5
}

/// Models as columns under their display names (`| Feature | Acme Large 2 | Acme Small 2 |`),
/// with a row of their ids (`| API ID | acme-large-2-0925 | acme-small-2-0925 |`): the index of
/// that row. The first column is labels, not ids.
fn named_columns(header: &[String], rows: &[(usize, Vec<String>)]) -> Option<usize> {
    if header.len() < 3 || id_share(rows, 0).1 >= 0.5 || rows.len() < 2 {
        return None;
    }
    rows.iter().position(|(_, r)| {
        let label = plain(r.first().map(String::as_str).unwrap_or(""));
        let ids = r[1..].iter().filter(|c| is_id_like(&plain(c))).count();
        ID_HEADER.is_match(&label) && !ALIAS_HEADER.is_match(&label) && ids * 2 > header.len() - 1
    })
}

/// One record per column. The subjects are the column's cell in `id_row` when there is one
/// (the API id under a display name), else the header's ids.
fn transpose(
    header: &[String],
    rows: &[(usize, Vec<String>)],
    heading: Option<&str>,
    start: usize,
    id_row: Option<usize>,
) -> Vec<Record> {
    let labels: Vec<String> = rows
        .iter()
        .map(|(_, r)| plain(r.first().map(String::as_str).unwrap_or("")))
        .collect();
    let scope = scope(heading, &labels);
    (1..header.len())
        .map(|c| Record {
            scope: scope.clone(),
            heading: heading.map(str::to_owned),
            key: header[c].to_lowercase(),
            subjects: id_row
                .and_then(|r| rows[r].1.get(c))
                .map(|cell| subjects_of(cell))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| subjects_of(&header[c])),
            inherited: false,
            fields: labels
                .iter()
                .zip(rows)
                .map(|(l, (_, r))| (l.clone(), r.get(c).cloned().unwrap_or_default()))
                .collect(),
            line: Some(start),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Record> {
        let lines: Vec<&str> = text.lines().collect();
        tables(&lines).into_iter().flat_map(|t| t.records).collect()
    }

    #[test]
    fn markdown_table_rows_keyed_by_their_id_column() {
        let t = "## Legacy\n\n| Name | API id | Retirement | Replacement |\n|---|:--:|---|---|\n| Acme L | `acme-l-1` | 2026-01-05 | `acme-l-2` |\n| Acme S | `acme-s-1` | | acme-s-2 |\n";
        let r = read(t);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].key, "acme-l-1");
        assert_eq!(r[0].subjects, ["acme-l-1"]);
        assert_eq!(r[0].heading.as_deref(), Some("Legacy"));
        assert_eq!(r[0].field("Retirement"), Some("2026-01-05"));
        assert_eq!(r[1].field("Retirement"), Some(""));
    }

    #[test]
    fn html_rendered_and_gfm_tables() {
        let html = "| Model | Input (per 1M tokens) | Output |\n| acme-x | $2.00 | $8.00 |\n| acme-y | $1 | $4 |\n";
        let r = read(html);
        assert_eq!(r[1].field("Input (per 1M tokens)"), Some("$1"));
        let gfm = "Model | RPM\n--- | ---\nacme-x | 500\nacme-y | 60\n";
        let r = read(gfm);
        assert_eq!((r[0].key.as_str(), r[0].field("RPM")), ("acme-x", Some("500")));
    }

    #[test]
    fn rows_of_one_model_are_told_apart_by_another_column() {
        let t = "| Model | Version | Retirement |\n|---|---|---|\n| acme-t | 0301 | 2025-02-13 |\n| acme-t | 0613 | 2025-06-13 |\n";
        let r = read(t);
        assert_eq!(r[0].key, "acme-t / 0301");
        assert_eq!(r[1].key, "acme-t / 0613");
        assert_eq!(r[1].subjects, ["acme-t"]);
    }

    #[test]
    fn display_names_become_slugs_and_models_as_columns_are_transposed() {
        let t = "| Model | Input |\n|---|---|\n| Acme Large 2 | $3 |\n| Acme Small | $1 |\n";
        let r = read(t);
        assert_eq!(r[0].subjects, ["acme-large-2"]);
        let t = "| | acme-x-1 | acme-y-1 |\n|---|---|---|\n| Input | $2 | $1 |\n| Output | $8 | $4 |\n";
        let r = read(t);
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].key.as_str(), r[1].field("Output")), ("acme-y-1", Some("$4")));
    }
}
