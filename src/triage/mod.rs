//! Triage: the reading of a change. From two normalized versions of a source it says whether the
//! change is material, what kind it is, how severe, the structured facts, which flags it touches
//! and what to do.
//!
//! Stages, data moving forward: `material` (meaning or form?) → `facts` (dates, prices, aliases,
//! models, from the changed lines with their context) → `classify` (facts first, then the rules
//! file's vocabulary with the doc_type prior; severity) → impact on flags → the brief.
//! `dates` and `numbers` are the pure parsers underneath.

pub mod cells;
pub mod classify;
pub mod dates;
pub mod facts;
pub mod material;
pub mod numbers;
pub mod status;
pub mod structure;

use crate::config::DocType;
use crate::diff::{LineOp, text_diff};
use crate::domain::brief::Severity;
use crate::flags::FlagSet;
use facts::Fact;
use serde::Serialize;
use std::cmp::Ordering;

/// What triage knows besides the two texts.
pub struct Context<'a> {
    /// The source's kind: status pages are read from their structured diff.
    pub kind: Option<crate::extract::Kind>,
    pub doc_type: Option<DocType>,
    pub provider: Option<&'a str>,
    pub flags: Option<&'a FlagSet>,
    pub rules: &'a classify::Rules,
    /// The diff stored with the change when it was detected (triage of a stored change reads it
    /// instead of diffing the texts again); `None` when triaging two files.
    pub diff: Option<&'a crate::diff::Diff>,
    /// Today, for how near a deadline is (the caller's clock: triage reads none).
    pub today: chrono::NaiveDate,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffSummary {
    pub added: usize,
    pub removed: usize,
    /// Changed lines, `+ ` / `- ` prefixed, at most 50.
    pub hunks: Vec<String>,
}

/// The triage contract (DESIGN.md "The triage contract").
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    pub material: bool,
    pub category: Option<&'static str>,
    pub categories: Vec<&'static str>,
    pub severity: Severity,
    pub title: String,
    pub what_changed: Vec<String>,
    pub what_breaks: Vec<String>,
    /// The same flags as `what_breaks`, as data: what pages, reports and decisions read.
    pub affects: Vec<Affected>,
    pub action: String,
    pub facts: Vec<Fact>,
    pub diff: DiffSummary,
}

/// A flag a change reaches: the flag, the `provider/model` (or provider) it uses, and the
/// variants whose value names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Affected {
    pub flag: String,
    pub uses: String,
    pub variants: Vec<String>,
}

impl Affected {
    /// The `what_breaks` line: `flag route.chat uses acme/acme-large in variant primary`.
    pub fn line(&self) -> String {
        format!(
            "flag {} uses {}{}",
            self.flag,
            self.uses,
            if self.variants.is_empty() {
                String::new()
            } else {
                format!(" in variant {}", self.variants.join(", "))
            }
        )
    }
}

/// The flags a stored brief reaches, in order, without repeats: its `affects`, or, for a brief
/// stored before that field existed, the flag keys its `what_breaks` lines start with.
pub fn affected_flags(body: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = match body.get("affects") {
        Some(a) => serde_json::from_value::<Vec<Affected>>(a.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.flag)
            .collect(),
        None => body["what_breaks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .filter_map(|l| l.strip_prefix("flag ")?.split_whitespace().next())
            .map(str::to_owned)
            .collect(),
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert(f.clone()));
    out
}

/// `text` cut at a word boundary to at most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let at = cut.rfind(' ').filter(|&i| i > max / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end_matches([',', ';', ':', ' ']))
}

/// A normalized feed as readable text: one section per entry, title then summary.
fn feed_text(normalized: &str) -> Option<String> {
    let doc: crate::extract::FeedDoc = serde_json::from_str(normalized).ok()?;
    let mut out = String::new();
    for e in &doc.entries {
        out.push_str(&format!("## {}\n\n", e.title.trim()));
        if !e.summary.trim().is_empty() {
            out.push_str(e.summary.trim());
            out.push_str("\n\n");
        }
    }
    Some(out)
}

pub fn triage(before: &str, after: &str, ctx: &Context<'_>) -> Brief {
    // Feeds are triaged as the text a reader sees (each entry's title and summary), so that a
    // new entry reads like a new paragraph rather than a block of JSON fields.
    let rendered = (ctx.kind == Some(crate::extract::Kind::Feed))
        .then(|| feed_text(before).zip(feed_text(after)))
        .flatten();
    let (before, after) = match &rendered {
        Some((b, a)) => (b.as_str(), a.as_str()),
        None => (before, after),
    };
    let computed;
    let d = match ctx.diff {
        // Feeds are triaged as rendered text, which is not what their stored diff compares.
        Some(crate::diff::Diff::Text(t)) if rendered.is_none() => t,
        _ => {
            computed = text_diff(before, after);
            &computed
        }
    };
    let changed: Vec<&str> = d
        .hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter(|l| l.op != LineOp::Equal)
        .map(|l| l.text.as_str())
        .collect();
    let hunks: Vec<String> = d
        .hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter(|l| l.op != LineOp::Equal && !l.text.trim().is_empty())
        .take(50)
        .map(|l| format!("{} {}", if l.op == LineOp::Insert { "+" } else { "-" }, l.text))
        .collect();
    let diff = DiffSummary {
        added: d.added,
        removed: d.removed,
        hunks,
    };
    let provider = ctx.provider.unwrap_or("the provider");

    if ctx.kind.is_some_and(crate::extract::Kind::is_state)
        && let Some(facts) = status::facts(before, after)
    {
        return status_brief(facts, ctx, provider, diff);
    }

    // An error page in place of the document (on either side) is a capture artefact.
    let artefact = match (crate::extract::error_page(before), crate::extract::error_page(after)) {
        (None, Some(why)) | (Some(why), None) => Some(why),
        _ => None,
    };
    let reading = read_change(before, after, ctx.doc_type);
    // The operator's own patterns outrank the shipped vocabulary of what prose matters.
    let owner = !reading.material && ctx.rules.owner_matches(&changed) && material::is_material(before, after);
    if artefact.is_some() || !(reading.material || owner) {
        return Brief {
            material: false,
            category: None,
            categories: Vec::new(),
            severity: Severity::Info,
            title: format!(
                "Cosmetic edit of a {} document from {provider}",
                ctx.doc_type.map(|d| d.as_str()).unwrap_or("watched")
            ),
            what_changed: vec![match artefact {
                Some(why) => format!("Capture artefact, not a change of the document: {why}"),
                None => "Only formatting, punctuation, links, dates written another way or stamps changed".into(),
            }],
            what_breaks: Vec::new(),
            affects: Vec::new(),
            action: "Nothing to do".into(),
            facts: Vec::new(),
            diff,
        };
    }

    let facts = reading.facts;
    let categories = ctx.rules.categories(&changed, &facts, ctx.doc_type);
    let category = categories[0];
    let mut severity = classify::severity(category, &facts, changed.len());
    let affects = impact(&facts, ctx, provider);
    let what_breaks: Vec<String> = affects.iter().map(Affected::line).collect();
    // A change to a model a flag serves raises the brief; a provider-wide change (a policy
    // edit, a page with no model in it) names the flags for context only: every watched
    // provider is one we use, and raising all of its edits would drown the ones that matter.
    // Good news (limits raised, prices cut) on a model we use is still good news.
    let good_news = (category == "rate_limit" && classify::all_moved(&facts, "rate_limit", Ordering::Greater))
        || (category == "pricing" && classify::all_moved(&facts, "price", Ordering::Less));
    let model_hit = !good_news && !what_breaks.is_empty() && facts.iter().any(|f| f.subject.is_some());
    if model_hit && category == "deprecation" {
        severity = if within_days(&facts, 30, ctx.today) {
            Severity::Critical
        } else {
            Severity::High
        };
    } else if model_hit && matches!(severity, Severity::Low | Severity::Medium) {
        severity = Severity::High;
    }
    let mut what_changed = describe(&facts, &changed);
    if facts.is_empty() && !reading.notes.is_empty() {
        what_changed = reading.notes.iter().take(10).cloned().collect();
    }
    Brief {
        material: true,
        category: Some(category),
        title: title(category, &facts, provider, ctx.doc_type),
        action: action(category, &facts, !what_breaks.is_empty()),
        categories,
        severity,
        what_changed,
        what_breaks,
        affects,
        facts,
        diff,
    }
}

/// What a change says: its facts and whether anything of meaning changed.
pub struct Reading {
    pub material: bool,
    pub facts: Vec<Fact>,
    /// Changed fields that gave no fact, described.
    pub notes: Vec<String>,
}

/// Reads a change structure first: tables and records are diffed row by row and cell by cell
/// (`structure`, `cells`); the prose around them keeps its sentence rules (`facts`, `material`).
/// A data file (JSON, YAML, code literals) on both sides is read from its records alone.
/// Markdown footnotes named by what they say, not by their number: `[^2]` becomes
/// `[^includes-256k-context]` in references and definitions, so renumbering them (and moving
/// their definitions) changes nothing.
fn resolve_footnotes(text: &str) -> std::borrow::Cow<'_, str> {
    static DEFINITION: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)^\s*\[\^([^\]]+)\]:\s*(.*)$").expect("valid regex"));
    static REFERENCE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\[\^([^\]]+)\]").expect("valid regex"));
    if !text.contains("[^") {
        return std::borrow::Cow::Borrowed(text);
    }
    let names: std::collections::HashMap<String, String> = DEFINITION
        .captures_iter(text)
        .map(|c| {
            let slug: Vec<String> = c[2]
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .take(4)
                .map(str::to_lowercase)
                .collect();
            (c[1].to_owned(), slug.join("-"))
        })
        .collect();
    if names.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    REFERENCE.replace_all(text, |c: &regex::Captures<'_>| match names.get(&c[1]) {
        Some(n) => format!("[^{n}]"),
        None => c[0].to_owned(),
    })
}

pub fn read_change(before: &str, after: &str, doc_type: Option<DocType>) -> Reading {
    let (before, after) = (resolve_footnotes(before), resolve_footnotes(after));
    let (before, after) = (before.as_ref(), after.as_ref());
    let (sb, sa) = (structure::parse(before), structure::parse(after));
    if sb.format != sa.format {
        // One version no longer parses as data (or now does): compare as text.
        return Reading {
            material: material::is_material(before, after),
            facts: facts::extract(before, after, doc_type),
            notes: Vec::new(),
        };
    }
    let d = structure::rowdiff::diff(&sb, &sa);
    let read = cells::read(&d, doc_type, sa.format == structure::Format::Tree);
    if sa.format == structure::Format::Tree {
        return Reading {
            material: read.material,
            facts: read.facts,
            notes: read.notes,
        };
    }
    // Tables were read as records; the rest is prose. Table lines are blanked (not removed) so
    // that line positions, and the context rules that use them, stay as they were.
    let blank = |text: &str, lines: &std::collections::BTreeSet<usize>| -> String {
        text.lines()
            .enumerate()
            .map(|(i, l)| if lines.contains(&i) { "" } else { l })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (pb, pa) = (blank(before, &sb.table_lines), blank(after, &sa.table_lines));
    let mut prose_material = material::is_material(&pb, &pa);
    // Outside legal text (where every word binds), prose matters when the words that changed
    // say something: a number, a date, an id or the vocabulary of prices, models, limits and
    // deadlines. A reworded introduction, a typo fixed, a footer link renamed do not.
    let tabular = !matches!(doc_type, Some(DocType::Policy | DocType::Terms));
    if prose_material && tabular && !material::changed_words_signal(&pb, &pa) {
        prose_material = false;
    }
    let mut facts = read.facts;
    if prose_material {
        // A table's date for a model says more than a sentence near it (which may be the date
        // the deprecation was announced).
        let dated: Vec<String> = facts
            .iter()
            .filter(|f| matches!(f.kind, "retirement" | "deprecation"))
            .filter_map(|f| f.subject.clone())
            .collect();
        for f in facts::extract(&pb, &pa, doc_type) {
            let covered =
                matches!(f.kind, "retirement" | "deprecation") && f.subject.as_ref().is_some_and(|s| dated.contains(s));
            if !covered && !facts.contains(&f) {
                facts.push(f);
            }
        }
    }
    // A model this change retires is not launched by it, whatever a sentence near it says.
    let leaving: Vec<String> = facts
        .iter()
        .filter(|f| matches!(f.kind, "retirement" | "deprecation" | "model_removed"))
        .filter_map(|f| f.subject.clone())
        .collect();
    facts.retain(|f| !(f.kind == "model_added" && f.subject.as_ref().is_some_and(|s| leaving.contains(s))));
    Reading {
        material: read.material || prose_material,
        facts,
        notes: read.notes,
    }
}

/// A status page's brief: every state change is material (recovery included: it is the news
/// people wait for); an outage of a provider a flag uses is critical.
fn status_brief(facts: Vec<Fact>, ctx: &Context<'_>, provider: &str, diff: DiffSummary) -> Brief {
    let in_use = ctx.flags.is_some_and(|set| {
        set.flags.values().any(|f| {
            f.providers()
                .any(|p| ctx.provider.is_some_and(|cp| p.split('/').next() == Some(cp)))
        })
    });
    let affects = if in_use { impact(&[], ctx, provider) } else { Vec::new() };
    let what_breaks: Vec<String> = affects.iter().map(Affected::line).collect();
    let severity = status::severity(&facts, in_use);
    // The title says the change of state that matters most: an incident opened or escalated, a
    // resolution, a maintenance, else the first component transition.
    let pick = |field: &str| facts.iter().find(|f| f.field.as_deref() == Some(field));
    let subject = |f: &Fact| f.subject.clone().unwrap_or_else(|| "?".into());
    let title = if let Some(f) = pick("opened") {
        format!("{provider} incident: {}", subject(f))
    } else if let Some(f) = pick("escalated") {
        format!(
            "{provider} incident escalated ({} → {}): {}",
            f.old.as_deref().unwrap_or("?"),
            f.new.as_deref().unwrap_or("?"),
            subject(f)
        )
    } else if let Some(f) = pick("resolved") {
        format!("{provider} incident resolved: {}", subject(f))
    } else if let Some(f) = facts.iter().find(|f| f.kind == "maintenance") {
        format!(
            "{provider} maintenance {}: {}{}",
            f.field.as_deref().unwrap_or("").replace('_', " "),
            subject(f),
            f.date.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
        )
    } else if let Some(f) = facts.first() {
        match f.kind {
            "incident" => format!(
                "{provider} incident {}: {}",
                f.field.as_deref().unwrap_or(""),
                subject(f)
            ),
            _ => format!(
                "{provider} {}: {} → {}",
                f.subject.as_deref().unwrap_or("component"),
                f.old.as_deref().unwrap_or("?"),
                f.new.as_deref().unwrap_or("?")
            ),
        }
    } else {
        format!("{provider} status page changed")
    };
    let maintenance_only = !facts.is_empty()
        && facts
            .iter()
            .all(|f| f.kind == "maintenance" || f.new.as_deref() == Some("maintenance"));
    let recovered = severity == Severity::Info;
    Brief {
        material: !facts.is_empty(),
        category: (!facts.is_empty()).then_some("incident"),
        categories: if facts.is_empty() { Vec::new() } else { vec!["incident"] },
        severity,
        title,
        what_changed: facts
            .iter()
            .map(|f| {
                format!(
                    "{}: {} → {}",
                    f.subject.as_deref().unwrap_or("?"),
                    f.old.as_deref().unwrap_or("-"),
                    f.new.as_deref().unwrap_or("-")
                )
            })
            .collect(),
        action: if maintenance_only {
            "Planned maintenance: check its window against your traffic and plan a failover if needed".into()
        } else if recovered {
            "Recovered: revert any failover once the provider is stable".into()
        } else if in_use {
            "Consider failing over the affected routes (a playbook may already cover it)".into()
        } else {
            "Watch the incident; nothing we use is affected".into()
        },
        what_breaks,
        affects,
        facts,
        diff,
    }
}

/// The deadline of a change: its earliest retirement date, else its earliest deprecation date
/// (a deprecation date alone may already be past without anything breaking yet).
pub fn deadline(facts: &[Fact]) -> Option<chrono::NaiveDate> {
    earliest_deadline(facts.iter().filter_map(|f| Some((f.kind, f.date.as_deref()?))))
}

/// The same rule over `(kind, ISO date)` pairs, for facts read back from a stored brief.
pub fn earliest_deadline<'a>(facts: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Option<chrono::NaiveDate> {
    let dates = |kind: &str| {
        facts
            .clone()
            .filter(|(k, _)| *k == kind)
            .filter_map(|(_, d)| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .min()
    };
    dates("retirement").or_else(|| dates("deprecation"))
}

fn within_days(facts: &[Fact], days: i64, today: chrono::NaiveDate) -> bool {
    deadline(facts).is_some_and(|d| (d - today).num_days() <= days)
}

/// Flags whose variants use an affected model or, for provider-wide changes, the provider.
fn impact(facts: &[Fact], ctx: &Context<'_>, provider: &str) -> Vec<Affected> {
    let Some(set) = ctx.flags else { return Vec::new() };
    let subjects: Vec<&str> = facts.iter().filter_map(|f| f.subject.as_deref()).collect();
    let mut out = Vec::new();
    for flag in set.flags.values() {
        for used in flag.providers() {
            let (p, model) = used.split_once('/').unwrap_or((used, ""));
            let hit = subjects
                .iter()
                .any(|s| !model.is_empty() && (model == *s || model.starts_with(&format!("{s}-"))))
                || (subjects.is_empty() && ctx.provider.is_some_and(|cp| cp == p));
            if hit {
                let variants: Vec<&str> = flag
                    .variants
                    .iter()
                    .filter(|(_, v)| v.to_string().contains(if model.is_empty() { p } else { model }))
                    .map(|(k, _)| k.as_str())
                    .collect();
                out.push(Affected {
                    flag: flag.key.clone(),
                    uses: used.to_string(),
                    variants: variants.into_iter().map(str::to_owned).collect(),
                });
            }
        }
    }
    let _ = provider;
    out.sort();
    out.dedup();
    out
}

fn describe(facts: &[Fact], changed: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = facts
        .iter()
        .map(|f| {
            let s = f.subject.as_deref().unwrap_or("document");
            match f.kind {
                "retirement" => format!("{s}: retires on {}", f.date.as_deref().unwrap_or("?")),
                "deprecation" => format!("{s}: deprecated as of {}", f.date.as_deref().unwrap_or("?")),
                "deprecation_withdrawn" => format!("{s}: deprecation withdrawn"),
                "alias_change" => format!(
                    "{s} now points to {}{}",
                    f.new.as_deref().unwrap_or("?"),
                    f.old.as_deref().map(|o| format!(" (was {o})")).unwrap_or_default()
                ),
                "model_added" => format!("new model {s}"),
                "price" => format!(
                    "{s}{}: {} → {}{}",
                    f.field.as_deref().map(|x| format!(" {x}")).unwrap_or_default(),
                    f.old.as_deref().unwrap_or("?"),
                    f.new.as_deref().unwrap_or("?"),
                    f.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default()
                ),
                "effective_date" => format!("effective {}", f.new.as_deref().unwrap_or("?")),
                "policy_clause_added" => format!("new clause: “{}”", f.new.as_deref().unwrap_or("?")),
                "policy_clause_removed" => format!("clause removed: “{}”", f.old.as_deref().unwrap_or("?")),
                "rate_limit" => format!(
                    "{s}: {} → {}{}",
                    f.old.as_deref().unwrap_or("?"),
                    f.new.as_deref().unwrap_or("?"),
                    f.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default()
                ),
                "model_removed" => format!("model {s} removed"),
                "capability_change" => format!(
                    "{s}{}: {} → {}",
                    f.field.as_deref().map(|x| format!(" {x}")).unwrap_or_default(),
                    f.old.as_deref().unwrap_or("?"),
                    f.new.as_deref().unwrap_or("?"),
                ),
                other => format!("{other}: {s}"),
            }
        })
        .collect();
    if out.is_empty() {
        out.extend(
            changed
                .iter()
                .filter(|l| !l.trim().is_empty())
                .take(5)
                .map(|l| l.trim().chars().take(160).collect::<String>()),
        );
    }
    out
}

fn title(category: &str, facts: &[Fact], provider: &str, doc_type: Option<DocType>) -> String {
    let first = |kind: &str| facts.iter().find(|f| f.kind == kind);
    if let Some(f) = first("retirement") {
        return format!(
            "{} retires on {}",
            f.subject.as_deref().unwrap_or("a model"),
            f.date.as_deref().unwrap_or("?")
        );
    }
    if let Some(f) = first("deprecation_withdrawn") {
        return format!("{} is no longer deprecated", f.subject.as_deref().unwrap_or("a model"));
    }
    if let Some(f) = first("alias_change") {
        return format!(
            "{} now points to {}",
            f.subject.as_deref().unwrap_or("an alias"),
            f.new.as_deref().unwrap_or("?")
        );
    }
    if let Some(f) = first("price") {
        return format!(
            "{} price{} changes{}",
            f.subject.as_deref().unwrap_or(provider),
            f.field.as_deref().map(|x| format!(" ({x})")).unwrap_or_default(),
            match (&f.old, &f.new) {
                (Some(o), Some(n)) => format!(": {o} → {n}"),
                (None, Some(n)) => format!(" to {n}"),
                _ => String::new(),
            }
        );
    }
    if let Some(f) = first("model_added") {
        return format!("{provider} adds {}", f.subject.as_deref().unwrap_or("a model"));
    }
    if let Some(f) = first("capability_change") {
        return format!(
            "{} {} changes: {} → {}",
            f.subject.as_deref().unwrap_or("a model"),
            f.field.as_deref().unwrap_or("capability"),
            f.old.as_deref().unwrap_or("?"),
            f.new.as_deref().unwrap_or("?")
        );
    }
    let doc = doc_type
        .map(|d| d.as_str().replace('_', " "))
        .unwrap_or_else(|| "document".into());
    if let Some(f) = first("policy_clause_added") {
        let clause = shorten(f.new.as_deref().unwrap_or(""), 90);
        let effective = first("effective_date")
            .and_then(|e| e.new.as_deref())
            .map(|d| format!(" (effective {d})"))
            .unwrap_or_default();
        return format!("{provider} {doc} adds a clause{effective}: “{clause}”");
    }
    match (category, first("effective_date")) {
        (_, Some(f)) => format!(
            "{provider} {doc} updated, effective {}",
            f.new.as_deref().unwrap_or("?")
        ),
        _ => format!("{provider} {doc} changed ({})", category.replace('_', " ")),
    }
}

fn action(category: &str, facts: &[Fact], in_use: bool) -> String {
    let date = facts.iter().find_map(|f| f.date.clone());
    match category {
        "deprecation" => match (facts.iter().find(|f| f.kind == "retirement"), in_use) {
            (Some(f), _) => format!(
                "Plan the move off {} before {}{}",
                f.subject.as_deref().unwrap_or("the model"),
                date.unwrap_or_default(),
                if in_use {
                    "; the affected flags need a failover variant"
                } else {
                    ""
                }
            ),
            _ => "Check whether the models you use are affected and update your plans".into(),
        },
        "pricing" => "Review the cost impact for the models you use".into(),
        "rate_limit" => "Check your traffic against the new limits".into(),
        "policy" => "Have the owner read the changed clauses and confirm your use still complies".into(),
        "incident" => "Consider failing over the affected routes".into(),
        "model_launch" => "Evaluate the new model; nothing breaks".into(),
        "capability" => "Check that your prompts and outputs fit the model's new limits".into(),
        _ => "Read the change".into(),
    }
}

/// A readable Markdown brief (for people, e-mail and the CLI).
pub fn to_markdown(b: &Brief) -> String {
    markdown(&serde_json::to_value(b).expect("brief serializes"))
}

/// The same, from a stored brief's JSON (the triage contract's shape).
pub fn markdown(b: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let list = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let mut s = format!("# {}\n\n", text(&b["title"]));
    s.push_str(&format!(
        "**Material:** {} · **Category:** {} · **Severity:** {}\n\n## What changed\n\n",
        if b["material"].as_bool().unwrap_or(false) {
            "yes"
        } else {
            "no"
        },
        b["category"].as_str().unwrap_or("none"),
        text(&b["severity"])
    ));
    for w in list(&b["what_changed"]) {
        s.push_str(&format!("- {}\n", text(&w)));
    }
    let breaks = list(&b["what_breaks"]);
    if !breaks.is_empty() {
        s.push_str("\n## What breaks\n\n");
        for w in breaks {
            s.push_str(&format!("- {}\n", text(&w)));
        }
    }
    s.push_str(&format!("\n## Action\n\n{}\n", text(&b["action"])));
    let facts = list(&b["facts"]);
    if !facts.is_empty() {
        s.push_str("\n## Facts\n\n| kind | subject | field | old | new | date |\n|---|---|---|---|---|---|\n");
        for f in facts {
            let c = |k: &str| text(&f[k]);
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                c("kind"),
                c("subject"),
                c("field"),
                c("old"),
                c("new"),
                c("date")
            ));
        }
    }
    let d = &b["diff"];
    s.push_str(&format!("\n## Diff (+{} −{})\n\n```diff\n", d["added"], d["removed"]));
    for h in list(&d["hunks"]) {
        s.push_str(&text(&h));
        s.push('\n');
    }
    s.push_str("```\n");
    s
}

#[cfg(test)]
mod tests;
