//! Facts from a structured diff: each changed cell read through its column header or field name.
//!
//! A field's name says what its value means: `Input (per 1M tokens)`, `input_mtok`,
//! `input_cost_per_token` are prices; `RPM`, `Tokens per minute` rate limits; `Shutdown date`,
//! `retirementDate` retirements; `Deprecation date`, `deprecated: true`, `status: Deprecated`
//! deprecations; `avatar.backgroundColor`, `prices_checked`, `docs_url` nothing at all. The subject
//! of every fact is the record's id (its key cell or id field), never a word found nearby.

use super::dates::{find_dates, parse_date};
use super::facts::Fact;
use super::numbers::{find_prices, find_quantities, parse_decimal};
use super::structure::rowdiff::{CellChange, RowChange, StructDiff};
use super::structure::{Record, table::REPLACEMENT_HEADER};
use crate::config::DocType;
use regex::Regex;
use std::sync::LazyLock;

/// What a field holds, read from its name (and, when the name says nothing, its values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Presentation: colours, icons, links, ordering. Never material.
    Cosmetic,
    /// When someone last looked (`checked`, `updated`, `generated`). Never material.
    Stamp,
    Price,
    RateLimit,
    Retirement,
    Deprecation,
    Effective,
    /// A date of another kind (release, knowledge cut-off).
    OtherDate,
    Status,
    /// `deprecated: true`, `legacy: yes`.
    DeprecatedFlag,
    Alias,
    Replacement,
    Capability,
    /// Free text (descriptions, notes): material only when it says something that matters.
    Text,
    Other,
}

fn words(field: &str) -> String {
    // camelCase → camel case; separators → spaces.
    let mut out = String::new();
    let mut prev_lower = false;
    for c in field.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        if c.is_alphanumeric() || c == '$' {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn re(s: &str) -> Regex {
    Regex::new(s).expect("valid regex")
}

static COSMETIC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:avatar|icons?|colou?rs?|background|logos?|thumbnails?|banners?|styles?|class ?names?|themes?|emojis?|css|fonts?|position|sort|order|collapsed?|hidden|featured|badges?|urls?|links?|hrefs?|uri|docs|documentation|refs?|references?|sources?|anchor|slug|images?|screenshot|playground|button|pages?|bloglink|paperlink|blog)\b",
    )
});
static STAMP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:checked|updated|modified|lastmod|retrieved|fetched|generated|scraped|crawled|timestamps?|etag|revision|sha|commit|hash|build|last seen|verified)\b",
    )
});
static RATE_STRONG: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:rpm|rpd|rps|rph|tpm|tpd|tph|ipm|itpm|otpm|qps|rate ?limits?)\b|\bper (?:minute|second|day|hour|min|sec)\b|\b(?:requests|tokens|images|queries) (?:(?:per|a) )?(?:minute|second|day|hour|min|sec|hr)\b",
    )
});
static CAPABILITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:context|window|max(?:imum)? (?:output |input |completion )?tokens|max tokens|knowledge|cutoff|parameters|dimensions?|modalit|supports?|capabilit|features?|vision|tools?|function|streaming|fine ?tun|embedding|languages?)\b",
    )
});
static RATE_WEAK: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:limits?|quotas?|concurren\w*|throughput|batch queue|max(?:imum)? requests)\b"));
static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:prices?|pricing|costs?|input|output|cache[ds]?|cached|mtok|ktok|usd|\$|fees?|billing|credits?|per (?:1m|1k|million|thousand|token|image|request|second|minute|character|page)|training|hosting|storage)\b",
    )
});
static RETIRE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:retire\w*|retirement|shut ?down|shutdown|sunset\w*|eol|end of (?:life|support|availability)|discontinu\w*|removal|removed|decommission\w*|unavailable|available until|expir\w*|deadline|shutoff|turn ?off)\b",
    )
});
static DEPRECATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:deprecat\w*|legacy)\b"));
static EFFECTIVE: LazyLock<Regex> = LazyLock::new(|| re(r"\beffective\b"));
/// Dates of something else than an end: a release, an announcement, a training cut-off.
static OTHER_DATE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:release\w*|launch\w*|announc\w*|introduc\w*|created|added|published|available (?:from|since)|since|notice|notified|cutoff|cut off|knowledge|training|snapshot|version|updated)\b",
    )
});
static STATUS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|\b)(?:status|state|lifecycle|stage|availability|maturity|support|release stage)$"));
static ALIAS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:alias(?:es)?|points? to|resolves? to|latest|maps? to|pointer|current (?:version|snapshot|model)|target)\b",
    )
});
static TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:description|desc|summary|notes?|comments?|details|about|blurb|explanation|info|remarks?|footnotes?|short description|tagline|subtitle|caption|message|text)\b",
    )
});
static ID: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:id|ids|name|names|model|models|api names?|identifiers?|key)$"));

fn is_url(v: &str) -> bool {
    let v = v.trim();
    v.starts_with("http://")
        || v.starts_with("https://")
        || v.starts_with('/')
        || v.starts_with("mailto:")
        || v.starts_with('#')
}

fn has_money(v: Option<&str>) -> bool {
    v.is_some_and(|v| !find_prices(v).is_empty())
}

fn is_date(v: Option<&str>) -> bool {
    v.is_some_and(|v| parse_date(v).is_some() || find_dates(v).len() == 1 && v.len() < 40)
}

/// Whether a value is a number (possibly with a unit or currency).
fn numeric(v: Option<&str>) -> bool {
    v.is_some_and(|v| number_in(v).is_some())
}

/// What a field means, from its name and values.
pub fn meaning(field: &str, old: Option<&str>, new: Option<&str>, doc_type: Option<DocType>) -> Meaning {
    let w = words(field);
    let last = field.rsplit('.').next().map(words).unwrap_or_default();
    if [old, new].iter().flatten().all(|v| is_url(v)) && (old.is_some() || new.is_some()) {
        return Meaning::Cosmetic;
    }
    if STAMP.is_match(&w) {
        return Meaning::Stamp;
    }
    // A display name beside an id (`Model name` next to `Model ID`): renaming it calls nothing
    // differently. (A name that is the row's key is its identity, compared as rows, not here.)
    if matches!(
        w.as_str(),
        "name" | "model name" | "display name" | "friendly name" | "model version"
    ) && [old, new]
        .iter()
        .flatten()
        .all(|v| !super::structure::is_id_like(&super::structure::plain(v)))
    {
        return Meaning::Cosmetic;
    }
    if COSMETIC.is_match(&last)
        || COSMETIC.is_match(&w) && !PRICE.is_match(&last) && !RETIRE.is_match(&w) && !DEPRECATE.is_match(&w)
    {
        return Meaning::Cosmetic;
    }
    let dated = is_date(old) || is_date(new);
    if dated || w.contains("date") {
        if RETIRE.is_match(&w) {
            return Meaning::Retirement;
        }
        if DEPRECATE.is_match(&w) {
            return Meaning::Deprecation;
        }
        if EFFECTIVE.is_match(&w) {
            return Meaning::Effective;
        }
        if OTHER_DATE.is_match(&w) {
            return Meaning::OtherDate;
        }
        // Extended access or support: a stage of the model's end (often dearer), not the end.
        if w.contains("extended") {
            return Meaning::Deprecation;
        }
        if dated {
            return if doc_type == Some(DocType::Deprecations) {
                Meaning::Retirement
            } else {
                Meaning::OtherDate
            };
        }
    }
    if (DEPRECATE.is_match(&w) || RETIRE.is_match(&w)) && [old, new].iter().flatten().all(|v| boolish(v).is_some()) {
        return Meaning::DeprecatedFlag;
    }
    if STATUS.is_match(&last) || STATUS.is_match(&w) {
        return Meaning::Status;
    }
    if has_money(old) || has_money(new) {
        return Meaning::Price;
    }
    if RATE_STRONG.is_match(&w) && (numeric(old) || numeric(new)) {
        return Meaning::RateLimit;
    }
    if CAPABILITY.is_match(&w) {
        return Meaning::Capability;
    }
    if PRICE.is_match(&w) && (numeric(old) || numeric(new)) {
        return Meaning::Price;
    }
    if RATE_WEAK.is_match(&w) && (numeric(old) || numeric(new)) {
        return Meaning::RateLimit;
    }
    if REPLACEMENT_HEADER.is_match(&w) {
        return Meaning::Replacement;
    }
    if ALIAS.is_match(&w) {
        return Meaning::Alias;
    }
    if TEXT.is_match(&last) || [old, new].iter().flatten().any(|v| v.split_whitespace().count() >= 8) {
        return Meaning::Text;
    }
    if ID.is_match(&last) {
        return Meaning::Other;
    }
    Meaning::Other
}

fn boolish(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "✓" | "✔" | "x" => Some(true),
        "false" | "no" | "n" | "0" | "" | "-" => Some(false),
        _ => None,
    }
}

/// A lifecycle word, as a status value says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Deprecated,
    Retired,
    Active,
    Other,
}

fn life(v: Option<&str>) -> Life {
    static DEP: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)deprecat|legacy|sunset|retiring|end[ -]of[ -]life|\beol\b"));
    static RET: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)\bretired\b|shut ?down|discontinued|removed|unavailable|decommissioned"));
    static ACT: LazyLock<Regex> = LazyLock::new(|| {
        re(r"(?i)\b(?:active|available|ga|generally available|stable|current|supported|live|production)\b")
    });
    match v {
        Some(v) if RET.is_match(v) => Life::Retired,
        Some(v) if DEP.is_match(v) => Life::Deprecated,
        Some(v) if ACT.is_match(v) => Life::Active,
        _ => Life::Other,
    }
}

/// The number a value holds: a money amount, a quantity (`500 RPM`, `2M`), a plain number.
fn number_in(v: &str) -> Option<String> {
    let p = super::structure::plain(v);
    if let Some(p) = find_prices(&p).into_iter().next() {
        return Some(p.amount);
    }
    if let Some(n) = parse_decimal(&p) {
        return Some(n);
    }
    if let Some(q) = find_quantities(&p).into_iter().next() {
        return Some(q.value);
    }
    // The first number of a short value ("1,000 (batch: 2,000)", "10K tokens").
    let first = p.split_whitespace().next()?;
    (p.split_whitespace().count() <= 4)
        .then(|| parse_decimal(first.trim_end_matches([',', ';'])))
        .flatten()
}

/// When `field` lies in the n-th entry (n ≥ 1) of a list whose entries carry a date (a price
/// schedule: `prices[1].constraint.start_date`), the same field of the entry before it and the
/// entry's date.
fn schedule_previous(rec: &Record, field: &str) -> Option<(Option<String>, String)> {
    static INDEX: LazyLock<Regex> = LazyLock::new(|| re(r"\[(\d+)\]"));
    for cap in INDEX.captures_iter(field).collect::<Vec<_>>().into_iter().rev() {
        let whole = cap.get(0)?;
        let n: usize = cap[1].parse().ok()?;
        let prefix = &field[..whole.end()];
        let Some(date) = rec
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && k.len() > prefix.len())
            .find_map(|(_, v)| parse_date(v))
        else {
            continue;
        };
        if n == 0 {
            return None;
        }
        let previous = format!("{}[{}]{}", &field[..whole.start()], n - 1, &field[whole.end()..]);
        return Some((rec.field(&previous).and_then(number_in), date.to_string()));
    }
    None
}

/// How many units a price unit counts (`per 1M tokens` → tokens, 1,000,000).
fn unit_scale(unit: &str) -> Option<(&'static str, f64)> {
    Some(match unit {
        "per token" => ("token", 1.0),
        "per 1K tokens" => ("token", 1e3),
        "per 1M tokens" => ("token", 1e6),
        "per character" => ("character", 1.0),
        "per 1M characters" => ("character", 1e6),
        "per request" => ("request", 1.0),
        "per 1K requests" => ("request", 1e3),
        "per second" => ("second", 1.0),
        "per minute" => ("second", 60.0),
        "per hour" => ("second", 3600.0),
        _ => return None,
    })
}

/// Whether two amounts in their units are the same price.
pub fn same_amount(a: &str, ua: &str, b: &str, ub: &str) -> bool {
    let (Some((ka, sa)), Some((kb, sb)), Ok(x), Ok(y)) =
        (unit_scale(ua), unit_scale(ub), a.parse::<f64>(), b.parse::<f64>())
    else {
        return false;
    };
    ka == kb && ((x / sa) - (y / sb)).abs() <= 1e-9 * (x / sa).abs().max(1e-12)
}

/// A price field as people say it: `prices.input_mtok.base` → `input`, `Output (per 1M tokens)` →
/// `output`, `input_cost_per_token` → `input`, `prices.output_mtok.tiers[0].price` →
/// `output tier 1`.
pub fn price_field(field: &str) -> String {
    static INDEX: LazyLock<Regex> = LazyLock::new(|| re(r"\[[^\]]*\]"));
    let plain = field.split('(').next().unwrap_or(field);
    let tier = plain
        .split_once("tiers[")
        .and_then(|(_, r)| r.split(']').next())
        .map(|t| match t.parse::<usize>() {
            Ok(i) => format!(" tier {}", i + 1),
            Err(_) => format!(" tier {t}"),
        });
    let kept: Vec<String> = words(&INDEX.replace_all(plain, ""))
        .split(' ')
        .filter(|w| {
            !matches!(
                *w,
                "price"
                    | "prices"
                    | "pricing"
                    | "cost"
                    | "costs"
                    | "usd"
                    | "per"
                    | "tokens"
                    | "token"
                    | "mtok"
                    | "ktok"
                    | "base"
                    | "amount"
                    | "value"
                    | "1m"
                    | "1k"
                    | "million"
                    | "thousand"
                    | "$"
                    | "tiers"
                    | "tier"
                    | ""
            ) && !w.chars().all(|c| c.is_ascii_digit() || c == ',')
        })
        .map(str::to_owned)
        .collect();
    // A qualifier in parentheses that is not a unit (`(batch)`, `(cached)`) says which price.
    let qualifier = field
        .split_once('(')
        .and_then(|(_, r)| r.split(')').next())
        .map(|q| q.trim().to_lowercase())
        .filter(|q| {
            !q.is_empty()
                && q.split_whitespace().count() <= 3
                && !q.contains("per")
                && !q.contains("token")
                && !q.contains('$')
                && !q.chars().any(|c| c.is_ascii_digit())
        });
    let base = if kept.is_empty() {
        field.trim().to_lowercase()
    } else {
        kept.join(" ")
    };
    let base = match qualifier {
        Some(q) if !base.contains(&q) => format!("{q} {base}"),
        _ => base,
    };
    format!("{base}{}", tier.unwrap_or_default())
}

/// `input_mtok` → per 1M tokens; `price_per_1k` → per 1K tokens; `cost_per_token` → per token;
/// a header `Price (per image)` → per image.
pub fn unit_from_key(key: &str) -> Option<String> {
    let k = key
        .to_lowercase()
        .replace([' ', '_', '-'], "")
        .replace("1,000,000", "1m")
        .replace("1000000", "1m")
        .replace("1,000", "1k")
        .replace("1000", "1k");
    if k.contains("mtok") || k.contains("1m") || k.contains("million") || k.contains("/m") {
        return Some("per 1M tokens".into());
    }
    if k.contains("ktok") || k.contains("1k") || k.contains("thousand") {
        return Some("per 1K tokens".into());
    }
    if k.contains("pertoken") {
        return Some("per token".into());
    }
    [
        "image",
        "minute",
        "hour",
        "second",
        "request",
        "page",
        "character",
        "query",
        "search",
    ]
    .iter()
    .find(|u| k.contains(&format!("per{u}")))
    .map(|u| format!("per {u}"))
}

/// A rate limit's unit from its header (`RPM`, `Tokens per minute (TPM)`).
fn limit_unit(field: &str, value: Option<&str>) -> Option<String> {
    if let Some(q) = value.and_then(|v| find_quantities(v).into_iter().next()) {
        return Some(q.unit);
    }
    let w = words(field);
    let abbreviations = [
        ("itpm", "input tokens per minute"),
        ("otpm", "output tokens per minute"),
        ("rpm", "requests per minute"),
        ("rpd", "requests per day"),
        ("rps", "requests per second"),
        ("rph", "requests per hour"),
        ("qps", "requests per second"),
        ("tpm", "tokens per minute"),
        ("tpd", "tokens per day"),
        ("tph", "tokens per hour"),
        ("ipm", "images per minute"),
    ];
    for (abbr, unit) in abbreviations {
        if w.split(' ').any(|x| x == abbr) {
            return Some(unit.into());
        }
    }
    let plain = field.split('(').next().unwrap_or(field).trim();
    (!plain.is_empty()).then(|| plain.to_lowercase())
}

fn fact(kind: &'static str, subject: &str) -> Fact {
    let mut f = Fact::new(kind);
    f.subject = Some(subject.to_owned());
    f
}

/// What the structured diff of a change says, and whether any of it matters.
pub struct Reading {
    pub facts: Vec<Fact>,
    /// Something of meaning changed (a fact, a row added or removed, a field that is neither
    /// cosmetic nor a stamp).
    pub material: bool,
    /// Lines describing changes that gave no fact (for `what_changed` and classification).
    pub notes: Vec<String>,
}

/// Facts of one record's cells, `before` → `after` (`None` for an added or removed record).
fn record_facts(
    before: Option<&Record>,
    after: Option<&Record>,
    cells: &[CellChange],
    ctx: &ReadCtx,
    out: &mut Reading,
) {
    let doc_type = ctx.doc_type;
    let rec = after.or(before).expect("a record on one side");
    let subjects: Vec<String> = if rec.subjects.is_empty() {
        vec![rec.key.clone()]
    } else {
        rec.subjects.clone()
    };
    let mut local: Vec<Fact> = Vec::new();
    let mut dep_before = false;
    let mut dep_after = false;
    // The status says the model is active again: whatever its dates say now (a "not sooner
    // than" estimate), the deprecation is withdrawn.
    let mut reactivated = false;
    for c in cells {
        let (o, n) = (c.old.as_deref(), c.new.as_deref());
        let m = meaning(&c.field, o, n, doc_type);
        match m {
            Meaning::Cosmetic | Meaning::Stamp => continue,
            Meaning::Text => {
                if signal(o, n) {
                    out.material = true;
                    out.notes.push(format!(
                        "{}: {}",
                        subjects[0],
                        super::shorten(n.unwrap_or("(removed)"), 160)
                    ));
                }
                continue;
            }
            // A data file's bookkeeping (matchers, internal names, display labels) changes
            // without the provider changing anything; a curated table's cells do not.
            Meaning::Other if ctx.data_file => {
                if !(signal(o, n) || SIGNAL.is_match(&words(&c.field))) {
                    continue;
                }
                out.material = true;
            }
            // Numbers are material when they differ (in one unit), decided below.
            Meaning::Price | Meaning::RateLimit if before.is_some() && c.old.is_some() && c.new.is_some() => {}
            _ => out.material = true,
        }
        match m {
            Meaning::Price => {
                // A new model's prices are part of its launch, not price changes.
                if before.is_none() {
                    continue;
                }
                // Several prices in one cell (tiers: "$10, prompts <= 200k; $15, prompts >
                // 200k"): compared place by place, each labelled with the words after it.
                let (lo, ln) = (
                    o.map(find_prices).unwrap_or_default(),
                    n.map(find_prices).unwrap_or_default(),
                );
                if lo.len() > 1 && lo.len() == ln.len() {
                    let nv = n.unwrap_or("");
                    for (i, (a, b)) in lo.iter().zip(&ln).enumerate() {
                        if a.amount == b.amount {
                            continue;
                        }
                        out.material = true;
                        let rest = nv[b.end..].split([';', '$', '€', '£']).next().unwrap_or("");
                        let label = rest.trim_matches(|c: char| c == ',' || c.is_whitespace() || c == '(' || c == ')');
                        for s in &subjects {
                            let mut f = fact("price", s);
                            f.field = Some(if label.is_empty() {
                                format!("{} ({})", price_field(&c.field), i + 1)
                            } else {
                                format!("{} ({label})", price_field(&c.field))
                            });
                            f.old = Some(a.amount.clone());
                            f.new = Some(b.amount.clone());
                            f.unit = b.unit.clone().or_else(|| unit_from_key(&c.field));
                            local.push(f);
                        }
                    }
                    continue;
                }
                let (mut po, pn) = (o.and_then(number_in), n.and_then(number_in));
                // A price in the n-th entry of a dated schedule replaces the entry before it.
                let scheduled = after.and_then(|a| schedule_previous(a, &c.field));
                if let Some((previous, _)) = &scheduled {
                    po = previous.clone();
                }
                if po == pn || pn.is_none() {
                    continue;
                }
                // The same price in another unit (`$0.0005 / 1K tokens` = `$0.50 / 1M tokens`).
                let unit_of = |v: Option<&str>, field: &str| {
                    v.and_then(|v| find_prices(v).into_iter().next())
                        .and_then(|p| p.unit)
                        .or_else(|| unit_from_key(field))
                };
                let (uo, un) = (
                    unit_of(o, c.old_field.as_deref().unwrap_or(&c.field)),
                    unit_of(n, &c.field),
                );
                if scheduled.is_none()
                    && let (Some(a), Some(b), Some(x), Some(y)) = (&po, &pn, &uo, &un)
                    && same_amount(a, x, b, y)
                {
                    continue;
                }
                out.material = true;
                for s in &subjects {
                    let mut f = fact("price", s);
                    f.field = Some(price_field(&c.field));
                    f.old = po.clone();
                    f.new = pn.clone();
                    f.date = scheduled.as_ref().map(|(_, d)| d.clone());
                    f.unit = n
                        .and_then(|v| find_prices(v).into_iter().next())
                        .and_then(|p| p.unit)
                        .or_else(|| unit_from_key(&c.field));
                    local.push(f);
                }
            }
            Meaning::RateLimit => {
                let (lo, ln) = (o.and_then(number_in), n.and_then(number_in));
                if lo == ln {
                    continue;
                }
                out.material = true;
                // A new model's limits come with its launch.
                if ln.is_none() || before.is_none() {
                    continue;
                }
                for s in &subjects {
                    let mut f = fact("rate_limit", s);
                    f.field = Some(c.field.clone());
                    f.old = lo.clone();
                    f.new = ln.clone();
                    f.unit = limit_unit(&c.field, n);
                    local.push(f);
                }
            }
            // A limit of what the model can do (context window, max output) changed in place:
            // apps sized for the old value break or lose quality.
            Meaning::Capability
                if before.is_some()
                    && o.and_then(number_in).is_some()
                    && n.and_then(number_in).is_some()
                    && o.and_then(number_in) != n.and_then(number_in) =>
            {
                out.material = true;
                for s in &subjects {
                    let mut f = fact("capability_change", s);
                    f.field = Some(c.field.clone());
                    f.old = o.and_then(number_in);
                    f.new = n.and_then(number_in);
                    local.push(f);
                }
            }
            Meaning::Retirement | Meaning::Deprecation => {
                let date_of =
                    |v: Option<&str>| v.and_then(|v| parse_date(v).or_else(|| find_dates(v).first().map(|d| d.date)));
                let (dold, dnew) = (date_of(o), date_of(n));
                if dold.is_some() {
                    dep_before = true;
                }
                match dnew {
                    Some(d) if Some(d) != dold => {
                        dep_after = true;
                        let kind = if m == Meaning::Retirement {
                            "retirement"
                        } else {
                            "deprecation"
                        };
                        for s in &subjects {
                            let mut f = fact(kind, s);
                            f.date = Some(d.to_string());
                            f.new = Some(d.to_string());
                            f.old = dold.map(|x| x.to_string());
                            local.push(f);
                        }
                    }
                    Some(_) => dep_after = true,
                    None => {}
                }
            }
            Meaning::Effective => {
                if let Some(d) = n.and_then(parse_date) {
                    let mut f = Fact::new("effective_date");
                    f.new = Some(d.to_string());
                    local.push(f);
                }
            }
            Meaning::Status => match (life(o), life(n)) {
                (a, Life::Deprecated) if a != Life::Deprecated => {
                    dep_after = true;
                    local.extend(subjects.iter().map(|s| fact("deprecation", s)));
                }
                (a, Life::Retired) if a != Life::Retired => {
                    dep_after = true;
                    local.extend(subjects.iter().map(|s| fact("retirement", s)));
                }
                (Life::Deprecated | Life::Retired, Life::Active) => {
                    dep_before = true;
                    reactivated = true;
                }
                (Life::Deprecated | Life::Retired, Life::Other) => dep_before = true,
                _ => {}
            },
            Meaning::DeprecatedFlag => {
                let (bo, bn) = (
                    o.and_then(boolish).unwrap_or(false),
                    n.and_then(boolish).unwrap_or(false),
                );
                if bn && !bo {
                    dep_after = true;
                    local.extend(subjects.iter().map(|s| fact("deprecation", s)));
                } else if bo && !bn {
                    dep_before = true;
                }
            }
            Meaning::Alias => {
                // A new row's alias is part of the new model, not a move.
                if let Some(nv) = n.filter(|v| super::structure::is_id_like(v) && before.is_some()) {
                    let mut f = fact("alias_change", &subjects[0]);
                    f.old = o.map(str::to_owned);
                    f.new = Some(nv.to_owned());
                    local.push(f);
                }
            }
            // The row of an alias (keyed by its alias column) now names another model.
            _ if keyed_by_alias(rec)
                && o.is_some_and(super::structure::is_id_like)
                && n.is_some_and(super::structure::is_id_like) =>
            {
                let mut f = fact("alias_change", &subjects[0]);
                f.old = o.map(str::to_owned);
                f.new = n.map(str::to_owned);
                local.push(f);
            }
            _ => out.notes.push(format!(
                "{} {}: {} → {}",
                subjects[0],
                c.field,
                o.unwrap_or("-"),
                n.unwrap_or("-")
            )),
        }
    }
    // "Currently points to x" in a description: the alias (named in the sentence, else the
    // row's model) points elsewhere now.
    if let (Some(b), Some(a)) = (before, after) {
        let (old, new) = (alias_statements(b, &subjects[0]), alias_statements(a, &subjects[0]));
        for (alias, target) in &new {
            if let Some(previous) = old.get(alias).filter(|p| *p != target) {
                out.material = true;
                let mut f = fact("alias_change", alias);
                f.old = Some(previous.clone());
                f.new = Some(target.clone());
                local.push(f);
            }
        }
    }
    // Moved into a section about deprecation ("Legacy models", "Deprecated").
    if let (Some(b), Some(a)) = (before, after)
        && b.heading != a.heading
        && a.heading
            .as_deref()
            .is_some_and(|h| DEPRECATE.is_match(&h.to_lowercase()) || RETIRE.is_match(&h.to_lowercase()))
        && !local.iter().any(|f| matches!(f.kind, "retirement" | "deprecation"))
    {
        out.material = true;
        local.extend(subjects.iter().map(|s| fact("deprecation", s)));
        dep_after = true;
    }
    // Deprecation signals that were there and are gone: the deprecation was withdrawn (unless
    // another signal still says it).
    if before.is_some() && after.is_some() && dep_before && !dep_after {
        let still = after.is_some_and(|a| {
            a.fields.iter().any(|(k, v)| {
                let m = meaning(k, None, Some(v), doc_type);
                (matches!(m, Meaning::Retirement | Meaning::Deprecation) && parse_date(v).is_some())
                    || (m == Meaning::Status && matches!(life(Some(v)), Life::Deprecated | Life::Retired))
                    || (m == Meaning::DeprecatedFlag && boolish(v) == Some(true))
            })
        });
        if !still {
            local.extend(subjects.iter().map(|s| fact("deprecation_withdrawn", s)));
        }
    }
    if reactivated {
        local.retain(|f| !matches!(f.kind, "retirement" | "deprecation" | "deprecation_withdrawn"));
        local.extend(subjects.iter().map(|s| fact("deprecation_withdrawn", s)));
    }
    // A dated retirement or deprecation says more than an undated one for the same model.
    let dated: Vec<String> = local
        .iter()
        .filter(|f| matches!(f.kind, "retirement" | "deprecation") && f.date.is_some())
        .filter_map(|f| f.subject.clone())
        .collect();
    local.retain(|f| {
        !(matches!(f.kind, "retirement" | "deprecation")
            && f.date.is_none()
            && f.subject.as_ref().is_some_and(|s| dated.contains(s)))
    });
    for f in local {
        if !out.facts.contains(&f) {
            out.facts.push(f);
        }
    }
}

/// Whether a record is keyed by an alias column (its key is the value of a column headed
/// "Alias").
fn keyed_by_alias(rec: &Record) -> bool {
    rec.fields.iter().any(|(k, v)| {
        super::structure::table::ALIAS_HEADER.is_match(k) && super::structure::plain(v).to_lowercase() == rec.key
    })
}

/// `alias → target` stated in a record's values: "x-latest points to y", "currently points to y"
/// (the alias being the record's own model).
fn alias_statements(rec: &Record, own: &str) -> std::collections::BTreeMap<String, String> {
    static POINTS: LazyLock<Regex> = LazyLock::new(|| {
        re(
            r"(?i)(?:`?([a-z0-9][\w.:/-]*[a-z0-9])`?\s+)?(?:currently\s+|now\s+)?(?:points?|resolves?|maps?|routes?|redirects?|is an alias)\s+(?:to|for)\s+`?([a-z0-9][\w.:/-]*[a-z0-9])`?",
        )
    });
    let mut out = std::collections::BTreeMap::new();
    for (_, v) in &rec.fields {
        for c in POINTS.captures_iter(v) {
            let target = c[2].to_owned();
            if !super::structure::is_id_like(&target) {
                continue;
            }
            let alias = c
                .get(1)
                .map(|m| m.as_str().to_owned())
                .filter(|a| super::structure::is_id_like(a))
                .unwrap_or_else(|| own.to_owned());
            if alias != target {
                out.insert(alias, target);
            }
        }
    }
    out
}

/// Words a reader acts on.
static SIGNAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)deprecat|retire|shut ?down|sunset|discontinu|no longer|end[ -]of[ -]life|legacy|price|pricing|\$\s?\d|cost|rate limit|quota|limit|prohibit|must not|may not|breaking|removed|replaced|endpoint|modalit|\bmode\b",
    )
});

/// Free text whose new words say something a reader acts on.
fn signal(old: Option<&str>, new: Option<&str>) -> bool {
    let ow: std::collections::BTreeSet<String> =
        old.unwrap_or("").split_whitespace().map(|w| w.to_lowercase()).collect();
    new.unwrap_or("")
        .split_whitespace()
        .filter(|w| !ow.contains(&w.to_lowercase()))
        .any(|w| SIGNAL.is_match(w))
}

struct ReadCtx {
    doc_type: Option<DocType>,
    /// The document is a data file (JSON, YAML, code), not prose with tables.
    data_file: bool,
}

/// Reads a structured diff; `data_file` when the document is a data file rather than prose
/// with tables.
pub fn read(d: &StructDiff<'_>, doc_type: Option<DocType>, data_file: bool) -> Reading {
    let ctx = ReadCtx { doc_type, data_file };
    // Rows of a policy's or a status page's tables (purposes and legal bases, regions) are not
    // models: in those documents a row coming or going is text, not a launch or a removal.
    let lists_models = !matches!(doc_type, Some(DocType::Policy | DocType::Terms | DocType::Status));
    let mut out = Reading {
        facts: Vec::new(),
        material: false,
        notes: Vec::new(),
    };
    for change in &d.rows {
        match change {
            RowChange::Changed { before, after, cells } => {
                record_facts(Some(before), Some(after), cells, &ctx, &mut out)
            }
            RowChange::Added(r) => {
                let cells: Vec<CellChange> = r
                    .fields
                    .iter()
                    .map(|(k, v)| CellChange {
                        field: k.clone(),
                        old_field: None,
                        old: None,
                        new: (!v.trim().is_empty()).then(|| super::structure::plain(v)),
                    })
                    .filter(|c| c.new.is_some())
                    .collect();
                let before = out.facts.len();
                record_facts(None, Some(r), &cells, &ctx, &mut out);
                out.material = true;
                let deprecates = out.facts[before..]
                    .iter()
                    .any(|f| matches!(f.kind, "retirement" | "deprecation"));
                if lists_models
                    && !deprecates
                    && !r.inherited
                    && !r.subjects.is_empty()
                    && doc_type != Some(DocType::Deprecations)
                {
                    for s in &r.subjects {
                        let f = fact("model_added", s);
                        if !out.facts.contains(&f) {
                            out.facts.push(f);
                        }
                    }
                }
            }
            RowChange::Removed(r) => {
                out.material = true;
                // A row leaving a deprecation table is history tidied (or a deprecation
                // withdrawn, which the model's status says elsewhere), not a model removed.
                if lists_models && doc_type != Some(DocType::Deprecations) && !r.inherited && !r.subjects.is_empty() {
                    for s in &r.subjects {
                        let f = fact("model_removed", s);
                        if !out.facts.contains(&f) {
                            out.facts.push(f);
                        }
                    }
                }
            }
        }
    }
    for l in d.lists.iter().filter(|_| lists_models) {
        out.material = true;
        for id in &l.added {
            out.facts.push(fact("model_added", id));
        }
        for id in &l.removed {
            out.facts.push(fact("model_removed", id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_say_what_values_mean() {
        let m = |f: &str, o: &str, n: &str| meaning(f, Some(o), Some(n), None);
        assert_eq!(m("Input (per 1M tokens)", "$2", "$3"), Meaning::Price);
        assert_eq!(m("prices.input_mtok.base", "1", "0.2"), Meaning::Price);
        assert_eq!(m("input_cost_per_token", "0.000003", "0.000002"), Meaning::Price);
        assert_eq!(m("RPM", "500", "100"), Meaning::RateLimit);
        assert_eq!(
            m("Maximum input tokens per minute (ITPM)", "20,000", "40,000"),
            Meaning::RateLimit
        );
        assert_eq!(m("context_window", "128000", "200000"), Meaning::Capability);
        assert_eq!(m("Shutdown date", "", "2026-01-05"), Meaning::Retirement);
        assert_eq!(m("metadata.retirementDate", "", "August 31, 2026"), Meaning::Retirement);
        assert_eq!(m("deprecation_date", "", "2026-01-05"), Meaning::Deprecation);
        assert_eq!(m("deprecated", "false", "true"), Meaning::DeprecatedFlag);
        assert_eq!(m("status", "Active", "Deprecated"), Meaning::Status);
        assert_eq!(m("avatar.backgroundColor", "red", "blue"), Meaning::Cosmetic);
        assert_eq!(m("prices_checked", "true", "2025-06-23"), Meaning::Stamp);
        assert_eq!(m("docs", "https://a.test/1", "https://a.test/2"), Meaning::Cosmetic);
        assert_eq!(m("Replacement", "acme-2", "acme-3"), Meaning::Replacement);
        assert_eq!(
            m("description", "A model.", "A very fast model for you and your team."),
            Meaning::Text
        );
    }

    #[test]
    fn price_fields_and_units() {
        assert_eq!(price_field("prices.input_mtok.base"), "input");
        assert_eq!(price_field("Output (per 1M tokens)"), "output");
        assert_eq!(price_field("prices.output_mtok.tiers[0].price"), "output tier 1");
        assert_eq!(price_field("input_cost_per_token"), "input");
        assert_eq!(unit_from_key("input_mtok").as_deref(), Some("per 1M tokens"));
        assert_eq!(unit_from_key("input_cost_per_token").as_deref(), Some("per token"));
        assert_eq!(limit_unit("TPM", Some("30,000")).as_deref(), Some("tokens per minute"));
    }
}
