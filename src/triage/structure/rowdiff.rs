//! Two structures compared record by record and field by field.
//!
//! Records are matched by scope and key, then by key alone across scopes (a row moved to another
//! table, a table that gained a column). Values are compared in canonical form, so the same date
//! in another notation, a number with other thousands separators or trailing zeros, Markdown
//! emphasis, quote style, case, spacing and the order of a list's items are no change.

use super::{Record, Structure, plain};
use crate::triage::dates::{find_dates, parse_date};
use crate::triage::numbers::{find_prices, parse_decimal};
use regex::Regex;
use std::sync::LazyLock;

/// A number standing alone in a value (not part of an id or a word).
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\s($])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)\b").expect("valid regex"));
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct CellChange {
    pub field: String,
    /// The field's name before, when the column was renamed (`RPM` → `Requests per minute`,
    /// `Input (per 1K tokens)` → `Input (per 1M tokens)`).
    pub old_field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone)]
pub enum RowChange<'a> {
    Added(&'a Record),
    Removed(&'a Record),
    Changed {
        before: &'a Record,
        after: &'a Record,
        cells: Vec<CellChange>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct ListChange {
    pub scope: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StructDiff<'a> {
    pub rows: Vec<RowChange<'a>>,
    pub lists: Vec<ListChange>,
}

impl StructDiff<'_> {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.lists.iter().all(|l| l.added.is_empty() && l.removed.is_empty())
    }
}

/// A value in the form comparisons use.
pub fn canonical(value: &str) -> String {
    let p = plain(value);
    if p.is_empty() || matches!(p.as_str(), "-" | "–" | "—" | "n/a" | "N/A") {
        return String::new();
    }
    if let Some(d) = parse_date(&p) {
        return d.to_string();
    }
    if let Some(n) = parse_decimal(&p) {
        return n;
    }
    // Dates, amounts (with their unit in one wording: `$15 / MTok` is `$15 per million
    // tokens`) and numbers inside a longer value, then the items of a list in any order.
    let mut s = p.clone();
    for d in find_dates(&p).into_iter().rev() {
        s.replace_range(d.start..d.end, &d.date.to_string());
    }
    let priced = s.clone();
    for pr in find_prices(&priced).into_iter().rev() {
        let unit = pr.unit.map(|u| format!(" {u}")).unwrap_or_default();
        s.replace_range(pr.start..pr.end, &format!("${}{unit}", pr.amount));
    }
    let s = NUMBER
        .replace_all(&s, |c: &regex::Captures<'_>| {
            format!("{}{}", &c[1], parse_decimal(&c[2]).unwrap_or_else(|| c[2].to_owned()))
        })
        .to_lowercase();
    if s.contains(", ") {
        let mut items: Vec<&str> = s.split(", ").map(str::trim).collect();
        items.sort_unstable();
        return items.join(", ");
    }
    s
}

/// Whether two cells are the same price told in different units, each unit from the cell or else
/// its column (`$0.0008` under "Price per 1,000 input tokens" is `$0.80` under "per 1M").
fn same_price(old: &str, old_header: &str, new: &str, new_header: &str) -> bool {
    let price = |value: &str, header: &str| {
        let prices = crate::triage::numbers::find_prices(&plain(value));
        let [p] = prices.as_slice() else { return None };
        let unit = p.unit.clone().or_else(|| crate::triage::cells::unit_from_key(header))?;
        Some((p.amount.clone(), unit))
    };
    match (price(old, old_header), price(new, new_header)) {
        (Some((a, ua)), Some((b, ub))) => crate::triage::cells::same_amount(&a, &ua, &b, &ub),
        _ => false,
    }
}

fn cells(before: &Record, after: &Record) -> Vec<CellChange> {
    let mut old: BTreeMap<&str, &str> = before.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let new: BTreeMap<&str, &str> = after.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Columns renamed in place: the same number of columns, a name gone at the position of a
    // name that is new. The cell is compared with the one that was there.
    let mut renamed: BTreeMap<&str, &str> = BTreeMap::new();
    if before.fields.len() == after.fields.len() {
        for ((bn, bv), (an, _)) in before.fields.iter().zip(&after.fields) {
            if bn != an && !new.contains_key(bn.as_str()) && !old.contains_key(an.as_str()) {
                renamed.insert(an.as_str(), bn.as_str());
                old.remove(bn.as_str());
                old.insert(an.as_str(), bv.as_str());
            }
        }
    }
    let mut names: Vec<&str> = after.fields.iter().map(|(k, _)| k.as_str()).collect();
    names.extend(
        before
            .fields
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !new.contains_key(k)),
    );
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(*n))
        .filter_map(|name| {
            let (o, n) = (old.get(name).copied(), new.get(name).copied());
            let (co, cn) = (
                o.map(canonical).unwrap_or_default(),
                n.map(canonical).unwrap_or_default(),
            );
            let old_name = renamed.get(name).copied().unwrap_or(name);
            let rescaled = matches!((o, n), (Some(o), Some(n)) if same_price(o, old_name, n, name));
            (co != cn && !rescaled).then(|| CellChange {
                field: name.to_owned(),
                old_field: renamed.get(name).map(|x| (*x).to_owned()),
                old: o.filter(|_| !co.is_empty()).map(plain),
                new: n.filter(|_| !cn.is_empty()).map(plain),
            })
        })
        .collect()
}

pub fn diff<'a>(a: &'a Structure, b: &'a Structure) -> StructDiff<'a> {
    let mut rows = Vec::new();
    let by_scope: HashMap<(&str, &str), usize> = a
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.scope.as_str(), r.key.as_str()), i))
        .collect();
    let mut matched_a = vec![false; a.records.len()];
    let mut pending_b = Vec::new();
    for r in &b.records {
        match by_scope.get(&(r.scope.as_str(), r.key.as_str())) {
            Some(&i) if !matched_a[i] => {
                matched_a[i] = true;
                let c = cells(&a.records[i], r);
                if !c.is_empty() {
                    rows.push(RowChange::Changed {
                        before: &a.records[i],
                        after: r,
                        cells: c,
                    });
                }
            }
            _ => pending_b.push(r),
        }
    }
    // Moved between scopes: matched by key when it is unique among the unmatched on each side.
    let count = |keys: Vec<&'a str>| {
        let mut m: HashMap<&'a str, usize> = HashMap::new();
        for k in keys {
            *m.entry(k).or_default() += 1;
        }
        m
    };
    let left_keys = count(
        a.records
            .iter()
            .zip(&matched_a)
            .filter(|(_, m)| !**m)
            .map(|(r, _)| r.key.as_str())
            .collect(),
    );
    let right_keys = count(pending_b.iter().map(|r| r.key.as_str()).collect());
    for r in pending_b {
        let unique = left_keys.get(r.key.as_str()) == Some(&1) && right_keys.get(r.key.as_str()) == Some(&1);
        let left = unique
            .then(|| {
                a.records
                    .iter()
                    .enumerate()
                    .find(|(i, x)| !matched_a[*i] && x.key == r.key)
            })
            .flatten()
            .map(|(i, _)| i);
        match left {
            Some(i) => {
                matched_a[i] = true;
                let c = cells(&a.records[i], r);
                if !c.is_empty() || a.records[i].heading != r.heading {
                    rows.push(RowChange::Changed {
                        before: &a.records[i],
                        after: r,
                        cells: c,
                    });
                }
            }
            None => rows.push(RowChange::Added(r)),
        }
    }
    for (r, m) in a.records.iter().zip(&matched_a) {
        if !m {
            rows.push(RowChange::Removed(r));
        }
    }

    let old_lists: BTreeMap<&str, &Vec<String>> = a.lists.iter().map(|l| (l.scope.as_str(), &l.ids)).collect();
    let mut lists = Vec::new();
    for l in &b.lists {
        let before: &[String] = old_lists.get(l.scope.as_str()).map(|v| v.as_slice()).unwrap_or(&[]);
        lists.push(ListChange {
            scope: l.scope.clone(),
            added: l.ids.iter().filter(|i| !before.contains(i)).cloned().collect(),
            removed: before.iter().filter(|i| !l.ids.contains(i)).cloned().collect(),
        });
    }
    for l in &a.lists {
        if !b.lists.iter().any(|x| x.scope == l.scope) {
            lists.push(ListChange {
                scope: l.scope.clone(),
                added: Vec::new(),
                removed: l.ids.clone(),
            });
        }
    }
    lists.retain(|l| !l.added.is_empty() || !l.removed.is_empty());
    StructDiff { rows, lists }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn notation_is_no_change() {
        assert_eq!(canonical("`2025-1-6`"), canonical("January 6, 2025"));
        assert_eq!(canonical("$1,000.50"), canonical("1000.5"));
        assert_eq!(canonical("text, image"), canonical("Image, Text"));
        assert_eq!(
            canonical("$0.10 / GB / day (1GB free)"),
            canonical("$0.1 / GB / day (1GB free)")
        );
        assert_eq!(canonical("$15 / MTok"), canonical("$15 per million tokens"));
        assert_ne!(canonical("$15 / MTok"), canonical("$18 / MTok"));
        assert_ne!(canonical("2025-01-06"), canonical("2025-01-07"));
    }

    #[test]
    fn a_moved_row_and_a_changed_cell() {
        let a = parse("| Model | Input |\n|---|---|\n| acme-a-1 | $2 |\n| acme-b-1 | $3 |\n");
        let b = parse("| Model | Input |\n|---|---|\n| acme-b-1 | $3.00 |\n| acme-a-1 | $2.50 |\n");
        let d = diff(&a, &b);
        assert_eq!(d.rows.len(), 1, "{:?}", d.rows);
        let RowChange::Changed { cells, .. } = &d.rows[0] else {
            panic!()
        };
        assert_eq!(
            cells[0],
            CellChange {
                field: "Input".into(),
                old_field: None,
                old: Some("$2".into()),
                new: Some("$2.50".into())
            }
        );
    }

    #[test]
    fn a_row_moved_to_another_table() {
        let a = parse(
            "## Active\n\n| Model | Input |\n|---|---|\n| acme-a-1 | $2 |\n\n## Legacy\n\n| Model | Retirement |\n|---|---|\n| acme-z-1 | 2025-01-01 |\n",
        );
        let b = parse(
            "## Active\n\n| Model | Input |\n|---|---|\n\n## Legacy\n\n| Model | Retirement |\n|---|---|\n| acme-z-1 | 2025-01-01 |\n| acme-a-1 | 2026-06-01 |\n",
        );
        let d = diff(&a, &b);
        assert_eq!(d.rows.len(), 1, "{:?}", d.rows);
        let RowChange::Changed { cells, after, .. } = &d.rows[0] else {
            panic!()
        };
        assert_eq!(after.heading.as_deref(), Some("Legacy"));
        assert!(
            cells
                .iter()
                .any(|c| c.field == "Retirement" && c.new.as_deref() == Some("2026-06-01"))
        );
    }
}
