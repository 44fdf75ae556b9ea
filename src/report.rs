//! The impact summary: what changed at the vendors over a period and what we did about it. One
//! gathering used by the `/summary` page and `signalbox report` (HTML from the same template, or
//! Markdown a manager can forward), and the weekly chart drawn here as inline SVG.

use crate::config::Source;
use crate::domain::brief::{BriefStatus, Severity};
use crate::flags::FlagSet;
use crate::store::{BriefFilter, BriefRecord, DecisionFilter, Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How far ahead deadlines are listed.
pub const DEADLINE_DAYS: i64 = 90;

/// At most this many weeks in the chart (the most recent ones).
pub const CHART_WEEKS: i64 = 26;

/// Severities from most to least urgent, the order of the table's columns.
pub const SEVERITY_COLUMNS: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// "7 days", "30 days".
    pub period: String,
    pub sources_watched: usize,
    pub changes: usize,
    pub material: usize,
    /// Provider × category, with a count per severity (in [`SEVERITY_COLUMNS`] order).
    pub matrix: Vec<MatrixRow>,
    pub material_briefs: Vec<BriefLine>,
    pub decisions: Vec<DecisionLine>,
    pub fallbacks: Vec<Fallback>,
    pub deadlines: Vec<Deadline>,
    pub cost_rises: Vec<CostRise>,
    /// Open critical or high briefs older than a day.
    pub waiting: Vec<BriefLine>,
    pub weeks: Vec<Week>,
    /// The categories the chart shows, in legend order.
    pub chart_categories: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub provider: String,
    pub category: String,
    pub counts: Vec<usize>,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BriefLine {
    pub id: i64,
    pub severity: Severity,
    pub provider: String,
    pub category: String,
    pub title: String,
    pub status: BriefStatus,
    pub created_at: DateTime<Utc>,
    pub action: String,
    pub age_days: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionLine {
    pub id: i64,
    pub flag: String,
    pub env: String,
    pub action: crate::domain::decision::Action,
    pub variant: Option<String>,
    pub status: crate::domain::decision::DecisionStatus,
    pub reason: String,
    pub proposed_by: String,
    pub approved_by: Vec<String>,
    pub at: DateTime<Utc>,
    pub brief_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fallback {
    pub decision: i64,
    pub flag: String,
    pub env: String,
    /// `fallback` (serving another variant) or `off` (a kill).
    pub kind: &'static str,
    pub variant: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approved_by: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Deadline {
    pub date: NaiveDate,
    pub days_left: i64,
    /// `retirement` or `policy`.
    pub kind: &'static str,
    pub subject: String,
    pub provider: String,
    pub brief_id: i64,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostRise {
    pub brief_id: i64,
    pub provider: String,
    pub subject: String,
    pub field: String,
    pub old: String,
    pub new: String,
    pub unit: String,
    /// Rounded percentage increase.
    pub percent: i64,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Week {
    /// The Monday the week starts on.
    pub start: NaiveDate,
    /// Count per category (every chart category present, zeros included).
    pub counts: BTreeMap<String, usize>,
    pub total: usize,
}

/// The flags a brief reaches (its `affects`; older briefs: the flags its `what_breaks` names).
fn flags_of(body: &Value) -> Vec<String> {
    crate::triage::affected_flags(body)
}

/// The flags whose `metadata.providers` list `provider/model`.
fn users_of(flags: Option<&FlagSet>, provider: &str, model: &str) -> Vec<String> {
    if model.is_empty() {
        return Vec::new();
    }
    let want = format!("{provider}/{model}");
    flags
        .into_iter()
        .flat_map(|set| set.flags.values())
        .filter(|f| f.providers().any(|p| p == want))
        .map(|f| f.key.clone())
        .collect()
}

fn line(b: &BriefRecord, body: &Value, now: DateTime<Utc>) -> BriefLine {
    BriefLine {
        id: b.id,
        severity: b.severity,
        provider: b.provider.clone(),
        category: b.category.clone().unwrap_or_else(|| "other".into()),
        title: b.title.clone(),
        status: b.status,
        created_at: b.created_at,
        action: body["action"].as_str().unwrap_or("").to_owned(),
        age_days: (now - b.created_at).num_days(),
    }
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

fn decimal(s: &str) -> Option<f64> {
    s.trim().replace(',', "").parse::<f64>().ok()
}

fn open(status: BriefStatus) -> bool {
    status.awaiting_triage()
}

/// Everything the summary shows for `since`..now.
pub async fn gather(
    store: &Store,
    sources: &[Source],
    flags: Option<&FlagSet>,
    since: DateTime<Utc>,
) -> Result<Report, StoreError> {
    gather_at(store, sources, flags, since, Utc::now()).await
}

/// [`gather`] as seen at `now`.
pub async fn gather_at(
    store: &Store,
    sources: &[Source],
    flags: Option<&FlagSet>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let all = store.briefs_with_bodies(&BriefFilter::default()).await?;
    let bodies: BTreeMap<i64, &Value> = all.iter().filter_map(|b| Some((b.id, b.brief.as_ref()?))).collect();
    let body = |id: i64| bodies.get(&id).copied().unwrap_or(&Value::Null);
    let in_period: Vec<&BriefRecord> = all
        .iter()
        .filter(|b| b.created_at >= since && b.created_at <= now)
        .collect();

    // Provider × category × severity.
    let mut cells: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for b in &in_period {
        let key = (b.provider.clone(), b.category.clone().unwrap_or_else(|| "other".into()));
        let row = cells.entry(key).or_insert_with(|| vec![0; SEVERITY_COLUMNS.len()]);
        let col = SEVERITY_COLUMNS.iter().position(|s| *s == b.severity).unwrap_or(4);
        row[col] += 1;
    }
    let matrix = cells
        .into_iter()
        .map(|((provider, category), counts)| MatrixRow {
            provider,
            category,
            total: counts.iter().sum(),
            counts,
        })
        .collect();

    let mut material_briefs: Vec<BriefLine> = in_period
        .iter()
        .filter(|b| b.material)
        .map(|b| line(b, body(b.id), now))
        .collect();
    material_briefs.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.created_at.cmp(&a.created_at)));

    // Decisions with anything happening in the period: proposed, voted, applied or ended.
    let mut decisions = Vec::new();
    let mut fallbacks = Vec::new();
    for d in store.decisions(&DecisionFilter::default()).await? {
        let times = [Some(d.proposed_at), d.applied_at, d.ended_at]
            .into_iter()
            .flatten()
            .chain(d.votes.iter().map(|v| v.at));
        let last = times.filter(|t| *t >= since && *t <= now).max();
        if d.status == crate::domain::decision::DecisionStatus::Active {
            fallbacks.push(Fallback {
                decision: d.id,
                flag: d.flag.clone(),
                env: d.env.clone(),
                kind: if d.action == crate::domain::decision::Action::Kill {
                    "off"
                } else {
                    "fallback"
                },
                variant: d.variant.clone(),
                since: d.applied_at,
                expires_at: d.expires_at,
                approved_by: if d.origin.starts_with("playbook:") {
                    d.origin.clone()
                } else {
                    d.approvers().join(", ")
                },
                reason: d.reason.clone(),
            });
        }
        if let Some(at) = last {
            decisions.push(DecisionLine {
                id: d.id,
                flag: d.flag.clone(),
                env: d.env.clone(),
                action: d.action,
                variant: d.variant.clone(),
                status: d.status,
                reason: d.reason.clone(),
                proposed_by: d.proposed_by.clone(),
                approved_by: d.approvers().into_iter().map(str::to_owned).collect(),
                at,
                brief_id: d.brief_id,
            });
        }
    }
    fallbacks.sort_by(|a, b| (&a.env, &a.flag).cmp(&(&b.env, &b.flag)));
    decisions.sort_by_key(|d| std::cmp::Reverse(d.at));

    // Deadlines in the next 90 days, from briefs still standing (not dismissed).
    let today = now.date_naive();
    let mut deadlines = Vec::new();
    let mut seen = BTreeSet::new();
    for b in all.iter().filter(|b| b.status != BriefStatus::Dismissed) {
        let body = body(b.id);
        for f in body["facts"].as_array().into_iter().flatten() {
            let kind = match f["kind"].as_str() {
                Some("retirement") => "retirement",
                Some("effective_date") => "policy",
                _ => continue,
            };
            // An effective date is the fact's `new` value (a retirement's is also its `date`).
            let Some(date) = f["date"]
                .as_str()
                .or(f["new"].as_str())
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let days_left = (date - today).num_days();
            if !(0..=DEADLINE_DAYS).contains(&days_left) {
                continue;
            }
            let subject = f["subject"].as_str().unwrap_or(&b.title).to_owned();
            if !seen.insert((date, kind, subject.clone())) {
                continue;
            }
            deadlines.push(Deadline {
                date,
                days_left,
                kind,
                subject,
                provider: b.provider.clone(),
                brief_id: b.id,
                flags: flags_of(body),
            });
        }
    }
    deadlines.sort_by(|a, b| a.date.cmp(&b.date).then(a.subject.cmp(&b.subject)));

    // Price rises on models our flags use (the brief names what breaks).
    let mut cost_rises = Vec::new();
    for b in in_period.iter().filter(|b| b.status != BriefStatus::Dismissed) {
        let body = body(b.id);
        let named = flags_of(body);
        for f in body["facts"].as_array().into_iter().flatten() {
            if f["kind"] != "price" {
                continue;
            }
            // The flags the brief names, or else the flags whose providers list the model.
            let subject = f["subject"].as_str().unwrap_or("");
            let flags = if named.is_empty() {
                users_of(flags, &b.provider, subject)
            } else {
                named.clone()
            };
            if flags.is_empty() {
                continue;
            }
            let (Some(old), Some(new)) = (f["old"].as_str(), f["new"].as_str()) else {
                continue;
            };
            let (Some(o), Some(n)) = (decimal(old), decimal(new)) else {
                continue;
            };
            if n <= o {
                continue;
            }
            cost_rises.push(CostRise {
                brief_id: b.id,
                provider: b.provider.clone(),
                subject: f["subject"].as_str().unwrap_or("").to_owned(),
                field: f["field"].as_str().unwrap_or("price").to_owned(),
                old: old.to_owned(),
                new: new.to_owned(),
                unit: f["unit"].as_str().unwrap_or("").to_owned(),
                percent: if o > 0.0 {
                    ((n - o) / o * 100.0).round() as i64
                } else {
                    100
                },
                flags,
            });
        }
    }

    let mut waiting: Vec<BriefLine> = all
        .iter()
        .filter(|b| open(b.status) && b.material && b.severity >= Severity::High)
        .filter(|b| now - b.created_at > Duration::days(1))
        .map(|b| line(b, body(b.id), now))
        .collect();
    waiting.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.created_at.cmp(&b.created_at)));

    // Changes per week by category, every week of the period (Monday-based).
    let chart_categories: Vec<String> = crate::triage::classify::CATEGORIES
        .iter()
        .filter(|c| {
            in_period
                .iter()
                .any(|b| b.category.as_deref().unwrap_or("other") == **c)
        })
        .map(|c| (*c).to_owned())
        .collect();
    let mut weeks = Vec::new();
    // A long period charts its most recent weeks only.
    let mut start = monday(since.date_naive()).max(monday(today) - Duration::weeks(CHART_WEEKS - 1));
    while start <= today {
        let end = start + Duration::days(7);
        let mut counts: BTreeMap<String, usize> = chart_categories.iter().map(|c| (c.clone(), 0)).collect();
        for b in &in_period {
            let d = b.created_at.date_naive();
            if d >= start && d < end {
                *counts
                    .entry(b.category.clone().unwrap_or_else(|| "other".into()))
                    .or_default() += 1;
            }
        }
        let total = counts.values().sum();
        weeks.push(Week { start, counts, total });
        start = end;
    }

    let days = (now - since).num_days().max(0);
    Ok(Report {
        since,
        until: now,
        period: if days == 1 {
            "1 day".into()
        } else {
            format!("{days} days")
        },
        sources_watched: sources.iter().filter(|s| s.enabled).count(),
        changes: in_period.len(),
        material: in_period.iter().filter(|b| b.material).count(),
        matrix,
        material_briefs,
        decisions,
        fallbacks,
        deadlines,
        cost_rises,
        waiting,
        weeks,
        chart_categories,
    })
}

/// Escapes text for XML and HTML (element content and double-quoted attributes).
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A colour per category that stays distinguishable in greyscale print (with the counts written
/// on the bars and the legend, colour is never the only cue).
fn colour(category: &str) -> &'static str {
    match category {
        "pricing" => "#0550ae",
        "rate_limit" => "#8250df",
        "deprecation" => "#bc4c00",
        "policy" => "#1a7f37",
        "incident" => "#a40e26",
        "model_launch" => "#4d2d00",
        "capability" => "#6e7781",
        _ => "#afb8c1",
    }
}

/// The changes per week by category as a stacked bar chart (inline SVG).
pub fn chart_svg(r: &Report) -> String {
    let (w, h, left, bottom, top) = (640.0_f64, 260.0_f64, 40.0_f64, 40.0_f64, 16.0_f64);
    let legend_w = 150.0;
    let plot_w = w - left - legend_w - 10.0;
    let plot_h = h - top - bottom;
    let max = r.weeks.iter().map(|w| w.total).max().unwrap_or(0).max(1);
    let n = r.weeks.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.6).min(48.0);
    let cut = r.weeks.first().is_some_and(|w| w.start > monday(r.since.date_naive()));
    let label_every = r.weeks.len().div_ceil(12).max(1);
    let desc = if r.changes == 0 {
        format!("No change in the last {}.", r.period)
    } else {
        r.weeks
            .iter()
            .map(|wk| {
                let parts: Vec<String> = r
                    .chart_categories
                    .iter()
                    .filter_map(|c| wk.counts.get(c).filter(|n| **n > 0).map(|n| (c, n)))
                    .map(|(c, n)| format!("{n} {}", c.replace('_', " ")))
                    .collect();
                format!(
                    "Week of {}: {}",
                    wk.start.format("%Y-%m-%d"),
                    if parts.is_empty() {
                        "none".into()
                    } else {
                        parts.join(", ")
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(". ")
    };
    let desc = if cut {
        format!("The last {} weeks of the period. {desc}", r.weeks.len())
    } else {
        desc
    };
    let mut s = String::new();
    s.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"chart-title chart-desc\">"
    ));
    s.push_str("<title id=\"chart-title\">Changes per week by category</title>");
    s.push_str(&format!("<desc id=\"chart-desc\">{}</desc>", escape_xml(&desc)));
    // Axis and gridlines at 0, half and the maximum.
    for frac in [0.0, 0.5, 1.0] {
        let y = top + plot_h - plot_h * frac;
        let v = (max as f64 * frac).round() as usize;
        s.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d8dee4\" stroke-width=\"1\"/>",
            left + plot_w
        ));
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1b1f24\">{v}</text>",
            left - 6.0,
            y + 4.0
        ));
    }
    for (i, wk) in r.weeks.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        s.push_str(&format!(
            "<g class=\"week\" data-week=\"{}\"><title>Week of {}: {} change{}</title>",
            wk.start.format("%Y-%m-%d"),
            wk.start.format("%Y-%m-%d"),
            wk.total,
            if wk.total == 1 { "" } else { "s" }
        ));
        for c in &r.chart_categories {
            let n = wk.counts.get(c).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let bh = plot_h * n as f64 / max as f64;
            y -= bh;
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"><title>{} {}</title></rect>",
                colour(c),
                n,
                escape_xml(&c.replace('_', " "))
            ));
        }
        if wk.total > 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">{}</text>",
                x + bar / 2.0,
                y - 4.0,
                wk.total
            ));
        }
        if i % label_every == 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1b1f24\">{}</text>",
                x + bar / 2.0,
                top + plot_h + 16.0,
                wk.start.format("%b %d")
            ));
        }
        s.push_str("</g>");
    }
    let lx = left + plot_w + 20.0;
    s.push_str("<g class=\"legend\">");
    if r.chart_categories.is_empty() {
        s.push_str(&format!(
            "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#57606a\">no changes</text>",
            top + 10.0
        ));
    }
    for (i, c) in r.chart_categories.iter().enumerate() {
        let y = top + 18.0 * i as f64;
        s.push_str(&format!(
            "<rect x=\"{lx:.1}\" y=\"{y:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1b1f24\">{}</text>",
            colour(c),
            lx + 18.0,
            y + 10.5,
            escape_xml(&c.replace('_', " "))
        ));
    }
    s.push_str("</g>");
    s.push_str(&format!(
        "<text x=\"{left}\" y=\"{:.1}\" font-size=\"11\" fill=\"#57606a\">weeks starting Monday (UTC)</text>",
        h - 6.0
    ));
    s.push_str("</svg>");
    s
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary as Markdown, headline numbers first, plain sentences.
pub fn markdown(r: &Report) -> String {
    let mut m = String::new();
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    m.push_str(&format!(
        "# AI vendor impact summary, {} to {}\n\n",
        day(r.since),
        day(r.until)
    ));
    let critical_high: usize = r
        .material_briefs
        .iter()
        .filter(|b| b.severity >= Severity::High)
        .count();
    m.push_str(&format!(
        "- **{}** seen across {} watched, **{}** material ({} critical or high).\n",
        plural(r.changes, "change", "changes"),
        plural(r.sources_watched, "source", "sources"),
        r.material,
        critical_high
    ));
    m.push_str(&format!(
        "- **{}** taken; **{}** currently on a fallback or switched off.\n",
        plural(r.decisions.len(), "decision", "decisions"),
        plural(r.fallbacks.len(), "capability", "capabilities")
    ));
    m.push_str(&format!(
        "- **{}** in the next {DEADLINE_DAYS} days; **{}** on models we use.\n",
        plural(r.deadlines.len(), "deadline", "deadlines"),
        plural(r.cost_rises.len(), "price rise", "price rises")
    ));
    m.push_str(&format!(
        "- **{}** waiting more than a day.\n\n",
        plural(
            r.waiting.len(),
            "open critical or high brief",
            "open critical or high briefs"
        )
    ));

    m.push_str("## Changes by provider and category\n\n");
    if r.matrix.is_empty() {
        m.push_str(&format!(
            "No change in the last {}; signalbox watched {}.\n\n",
            r.period,
            plural(r.sources_watched, "source", "sources")
        ));
    } else {
        m.push_str("| Provider | Category | Critical | High | Medium | Low | Info | Total |\n");
        m.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for row in &r.matrix {
            m.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                md_cell(&row.provider),
                md_cell(&row.category.replace('_', " ")),
                row.counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" | "),
                row.total
            ));
        }
        m.push('\n');
        m.push_str("Changes per week: ");
        m.push_str(
            &r.weeks
                .iter()
                .map(|w| format!("{} in the week of {}", w.total, w.start.format("%b %d")))
                .collect::<Vec<_>>()
                .join(", "),
        );
        m.push_str(".\n\n");
    }

    m.push_str("## Material changes\n\n");
    if r.material_briefs.is_empty() {
        m.push_str(&format!("No material change in the last {}.\n\n", r.period));
    } else {
        for b in &r.material_briefs {
            m.push_str(&format!(
                "- **{}** {}: {} ({}, brief #{}).\n",
                b.severity,
                b.provider,
                md_text(b.title.trim_end_matches('.')),
                b.status,
                b.id
            ));
        }
        m.push('\n');
    }

    m.push_str("## Decisions\n\n");
    if r.decisions.is_empty() {
        m.push_str(&format!(
            "No decision was proposed or taken in the last {}.\n\n",
            r.period
        ));
    } else {
        for d in &r.decisions {
            let what = match (d.action.as_str(), &d.variant) {
                ("kill", _) => format!("switch off {}", d.flag),
                ("restore", _) => format!("restore {} to its default", d.flag),
                (_, Some(v)) => format!("serve {} on {}", v, d.flag),
                _ => format!("{} {}", d.action, d.flag),
            };
            let who = if d.approved_by.is_empty() {
                format!("proposed by {}", d.proposed_by)
            } else {
                format!(
                    "proposed by {}, approved by {}",
                    d.proposed_by,
                    d.approved_by.join(" and ")
                )
            };
            m.push_str(&format!(
                "- Decision #{} to {} in {}: {} ({}). Reason: {}.\n",
                d.id,
                what,
                d.env,
                d.status,
                who,
                md_text(d.reason.trim().trim_end_matches('.'))
            ));
        }
        m.push('\n');
    }

    m.push_str("## On a fallback or switched off\n\n");
    if r.fallbacks.is_empty() {
        m.push_str("No capability is on a fallback: every flag serves its file default.\n\n");
    } else {
        for f in &r.fallbacks {
            let state = if f.kind == "off" {
                "is switched off".to_owned()
            } else {
                format!("serves {}", f.variant.as_deref().unwrap_or("another variant"))
            };
            m.push_str(&format!(
                "- {} in {} {} since {} (decision #{}{}{}).\n",
                f.flag,
                f.env,
                state,
                f.since.map(day).unwrap_or_else(|| "an unknown time".into()),
                f.decision,
                if f.approved_by.is_empty() {
                    String::new()
                } else {
                    format!(", approved by {}", f.approved_by)
                },
                f.expires_at.map(|e| format!(", until {}", day(e))).unwrap_or_default()
            ));
        }
        m.push('\n');
    }

    m.push_str(&format!("## Deadlines in the next {DEADLINE_DAYS} days\n\n"));
    if r.deadlines.is_empty() {
        m.push_str("No retirement or policy date falls in the next 90 days.\n\n");
    } else {
        for d in &r.deadlines {
            let what = if d.kind == "retirement" {
                format!("{} {} retires", d.provider, md_text(&d.subject))
            } else {
                format!("{} policy change takes effect ({})", d.provider, md_text(&d.subject))
            };
            m.push_str(&format!(
                "- {}: {} in {} days; {} (brief #{}).\n",
                d.date,
                what,
                d.days_left,
                if d.flags.is_empty() {
                    "no flag of ours uses it".into()
                } else {
                    format!("affects {}", d.flags.join(", "))
                },
                d.brief_id
            ));
        }
        m.push('\n');
    }

    m.push_str("## Price rises on models we use\n\n");
    if r.cost_rises.is_empty() {
        m.push_str("No price rise on a model our flags use.\n\n");
    } else {
        for c in &r.cost_rises {
            m.push_str(&format!(
                "- {} {} {}: {} → {}{} (+{}%), used by {} (brief #{}).\n",
                c.provider,
                md_text(&c.subject),
                md_text(&c.field),
                c.old,
                c.new,
                if c.unit.is_empty() {
                    String::new()
                } else {
                    format!(" {}", c.unit)
                },
                c.percent,
                c.flags.join(", "),
                c.brief_id
            ));
        }
        m.push('\n');
    }

    m.push_str("## Waiting for someone\n\n");
    if r.waiting.is_empty() {
        m.push_str("No critical or high brief has been open for more than a day.\n");
    } else {
        for b in &r.waiting {
            m.push_str(&format!(
                "- **{}** {}: {}, open for {} days (brief #{}).\n",
                b.severity,
                b.provider,
                md_text(b.title.trim_end_matches('.')),
                b.age_days,
                b.id
            ));
        }
    }
    m
}

/// Text from vendor pages or from people, made inert in Markdown: no links, images, HTML or
/// emphasis it did not mean, on one line.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The template context of the summary (page and `report --format html`).
pub fn context(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).expect("report serializes");
    v["chart"] = Value::String(chart_svg(r));
    v["severities"] = serde_json::json!(SEVERITY_COLUMNS);
    v["since_day"] = Value::String(r.since.format("%Y-%m-%d").to_string());
    v["until_day"] = Value::String(r.until.format("%Y-%m-%d").to_string());
    v["critical_high"] = r
        .material_briefs
        .iter()
        .filter(|b| b.severity >= Severity::High)
        .count()
        .into();
    v
}

/// A time as RFC 3339 or a duration back from now (`7d`, `30d`, `12h`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        let t = t.with_timezone(&Utc);
        if t.timestamp() < 946_684_800 {
            return Err(format!("`{text}` reaches too far back (before 2000)"));
        }
        return Ok(t);
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is neither an RFC 3339 time nor a duration such as 7d: {e}"))?;
    let d = Duration::from_std(d).map_err(|e| e.to_string())?;
    // Nothing signalbox stored predates 2000: an older start only makes the chart's weeks absurd.
    let floor = DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .expect("a valid date")
        .with_timezone(&Utc);
    now.checked_sub_signed(d)
        .filter(|t| *t >= floor)
        .ok_or_else(|| format!("`{text}` reaches too far back (before 2000)"))
}

#[cfg(test)]
mod tests;
