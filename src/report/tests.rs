use super::*;
use crate::store::{
    Blob, ChangeKind, NewBrief, NewChange, NewDecision, NewSnapshot, PollResult, PollWrite, SnapRef, SnapshotOrigin,
};
use serde_json::json;

fn snap(at: DateTime<Utc>, body: &str) -> NewSnapshot {
    NewSnapshot {
        fetched_at: at,
        url: "https://acme.test/doc".into(),
        http_status: Some(200),
        headers: Vec::new(),
        raw: Blob::new(body.as_bytes().to_vec()),
        text: Blob::new(body.as_bytes().to_vec()),
        rules_hash: "r1".into(),
        origin: SnapshotOrigin::Fetch,
    }
}

/// A stored change of its own source, for a brief to point at.
async fn change(store: &Store, source: &str) -> i64 {
    let t0 = Utc::now() - Duration::hours(2);
    let write = |snapshots, changes, expected_latest| PollWrite {
        source: source.into(),
        expected_latest,
        url: "https://acme.test/doc".into(),
        at: t0,
        attempts: Vec::new(),
        snapshots,
        changes,
        result: PollResult::Success {
            validators: Default::default(),
            changed: true,
        },
    };
    let first = store
        .commit_poll(write(vec![snap(t0, &format!("{source} v1"))], vec![], None))
        .await
        .unwrap();
    let c = NewChange {
        kind: ChangeKind::Change,
        before: SnapRef::Stored(first.snapshots[0]),
        after: SnapRef::New(0),
        diff: json!({"type": "text"}),
    };
    store
        .commit_poll(write(
            vec![snap(t0, &format!("{source} v2"))],
            vec![c],
            Some(first.snapshots[0]),
        ))
        .await
        .unwrap()
        .changes[0]
        .id
}

struct Seed<'a> {
    provider: &'a str,
    material: bool,
    category: &'a str,
    severity: &'a str,
    title: &'a str,
    body: Value,
}

async fn brief(store: &Store, n: usize, s: Seed<'_>) -> i64 {
    let source = format!("src-{n}");
    let change_id = change(store, &source).await;
    store
        .insert_brief(NewBrief {
            change_id,
            source: &source,
            provider: s.provider,
            owner: None,
            material: s.material,
            category: Some(s.category),
            severity: s.severity.parse().unwrap(),
            title: s.title,
            body: s.body,
            threads: Vec::new(),
            now: Utc::now(),
        })
        .await
        .unwrap()
        .id()
}

async fn store() -> ((tempfile::TempDir, crate::store::TestDb), Store) {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::store::TestDb::new(dir.path());
    let store = Store::open(&db.url).await.unwrap();
    ((dir, db), store)
}

/// Two providers, five briefs (one not material, one dismissed), a decision that is active.
async fn seeded() -> ((tempfile::TempDir, crate::store::TestDb), Store, i64) {
    let (dir, store) = store().await;
    let in_40_days = (Utc::now() + Duration::days(40)).format("%Y-%m-%d").to_string();
    let in_200_days = (Utc::now() + Duration::days(200)).format("%Y-%m-%d").to_string();
    let retire = brief(
        &store,
        1,
        Seed {
            provider: "acme",
            material: true,
            category: "deprecation",
            severity: "high",
            title: "acme-large-2407 retires soon",
            body: json!({"facts": [
                {"kind": "retirement", "subject": "acme-large-2407", "date": in_40_days},
                {"kind": "retirement", "subject": "acme-old-1", "date": in_200_days}],
                "what_breaks": ["flag route.chat uses acme/acme-large-2407 in variant primary"],
                "action": "Move route.chat to its failover."}),
        },
    )
    .await;
    brief(
        &store,
        2,
        Seed {
            provider: "acme",
            material: true,
            category: "pricing",
            severity: "medium",
            title: "acme-l output price 8 → 10",
            body: json!({"facts": [
                {"kind": "price", "subject": "acme-l", "field": "output", "old": "8", "new": "10", "unit": "USD per 1M tokens"},
                {"kind": "price", "subject": "acme-s", "field": "output", "old": "2", "new": "1"}],
                "what_breaks": ["flag route.summarize uses acme/acme-l in variant primary"]}),
        },
    )
    .await;
    brief(
        &store,
        3,
        Seed {
            provider: "other",
            material: false,
            category: "other",
            severity: "info",
            title: "Wording",
            body: json!({}),
        },
    )
    .await;
    let dismissed = brief(
        &store,
        4,
        Seed {
            provider: "other",
            material: true,
            category: "policy",
            severity: "critical",
            title: "New usage policy",
            body: json!({"facts": [{"kind": "effective_date", "date": in_40_days}]}),
        },
    )
    .await;
    store
        .transition_brief(
            dismissed,
            crate::domain::brief::BriefStatus::Dismissed,
            "alice",
            Some("not for us"),
            Utc::now(),
        )
        .await
        .unwrap();
    let d = store
        .insert_decision(NewDecision {
            flag: "route.chat",
            env: "production",
            action: crate::domain::decision::Action::Serve,
            variant: Some("failover"),
            reason: "move off acme-large-2407",
            brief_id: Some(retire),
            origin: "manual",
            proposed_by: "alice",
            starts_at: None,
            expires_at: Some(Utc::now() + Duration::days(30)),
            approvals_required: 1,
            status: crate::domain::decision::DecisionStatus::Proposed,
            now: Utc::now(),
        })
        .await
        .unwrap();
    approve_and_apply(&store, d.id).await;
    (dir, store, retire)
}

#[tokio::test]
async fn gathering_counts_changes_decisions_deadlines_and_price_rises() {
    let (_dir, store, retire) = seeded().await;
    let now = Utc::now();
    let r = gather_at(&store, &[], None, now - Duration::days(7), now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!((r.changes, r.material), (4, 3));
    let acme_dep = r
        .matrix
        .iter()
        .find(|m| m.provider == "acme" && m.category == "deprecation")
        .unwrap();
    assert_eq!(acme_dep.counts, [0, 1, 0, 0, 0], "critical, high, medium, low, info");
    assert_eq!(r.matrix.iter().map(|m| m.total).sum::<usize>(), 4);
    assert_eq!(r.material_briefs[0].severity.as_str(), "critical", "most severe first");
    assert_eq!(r.decisions.len(), 1);
    assert_eq!(r.decisions[0].proposed_by, "alice");
    assert_eq!(r.decisions[0].approved_by, ["bob"]);
    assert_eq!(r.fallbacks.len(), 1);
    assert_eq!(r.fallbacks[0].variant.as_deref(), Some("failover"));
    assert_eq!(r.fallbacks[0].approved_by, "bob");
    assert!(r.fallbacks[0].since.is_some());
    // The 40-day retirement, not the 200-day one, and not the dismissed policy brief's date.
    assert_eq!(r.deadlines.len(), 1, "{:?}", r.deadlines);
    assert_eq!(r.deadlines[0].subject, "acme-large-2407");
    assert_eq!(r.deadlines[0].brief_id, retire);
    assert_eq!(r.deadlines[0].flags, ["route.chat"]);
    assert!((39..=40).contains(&r.deadlines[0].days_left));
    // A price rise, not the cut.
    assert_eq!(r.cost_rises.len(), 1);
    assert_eq!(
        (r.cost_rises[0].subject.as_str(), r.cost_rises[0].percent),
        ("acme-l", 25)
    );
    assert_eq!(r.cost_rises[0].flags, ["route.summarize"]);
    // Nothing has waited a day yet.
    assert!(r.waiting.is_empty());
    let total: usize = r.weeks.iter().map(|w| w.total).sum();
    assert_eq!(total, 4);
}

#[tokio::test]
async fn open_urgent_briefs_wait_after_a_day_and_the_period_bounds_the_changes() {
    let (_dir, store, retire) = seeded().await;
    let later = Utc::now() + Duration::days(3);
    let r = gather_at(&store, &[], None, later - Duration::days(1), later)
        .await
        .unwrap();
    assert_eq!(r.changes, 0, "the briefs are older than the period");
    assert_eq!(r.waiting.len(), 1, "the dismissed critical one does not wait");
    assert_eq!(r.waiting[0].id, retire);
    assert!(r.waiting[0].age_days >= 2);
    let md = markdown(&r);
    assert!(
        md.contains("No change in the last 1 day; signalbox watched 0 sources."),
        "{md}"
    );
    assert!(md.contains("open for "), "{md}");
}

#[tokio::test]
async fn the_markdown_reads_as_a_summary() {
    let (_dir, store, _) = seeded().await;
    let now = Utc::now();
    let r = gather_at(&store, &[], None, now - Duration::days(7), now + Duration::seconds(1))
        .await
        .unwrap();
    let md = markdown(&r);
    let first_section = md.find("## ").unwrap();
    assert!(
        md[..first_section].contains("**4 changes** seen"),
        "headline first:\n{md}"
    );
    assert!(md.contains("| acme | deprecation | 0 | 1 | 0 | 0 | 0 | 1 |"), "{md}");
    assert!(md.contains("proposed by alice, approved by bob"), "{md}");
    assert!(md.contains("route.chat in production serves failover since"), "{md}");
    assert!(md.contains("acme acme-large-2407 retires in"), "{md}");
    assert!(md.contains("acme-l output: 8 → 10 USD per 1M tokens (+25%)"), "{md}");
    assert!(!md.contains('{') && !md.contains("\"kind\""), "no raw JSON:\n{md}");
}

#[tokio::test]
async fn an_empty_store_says_so_and_why() {
    let (_dir, store) = store().await;
    let now = Utc::now();
    let r = gather_at(&store, &[], None, now - Duration::days(7), now)
        .await
        .unwrap();
    let md = markdown(&r);
    assert!(
        md.contains("No change in the last 7 days; signalbox watched 0 sources."),
        "{md}"
    );
    assert!(md.contains("No capability is on a fallback"), "{md}");
    let svg = chart_svg(&r);
    well_formed(&svg).unwrap();
    assert!(svg.contains("No change in the last 7 days"));
}

fn report_with_weeks(weeks: &[&[(&str, usize)]]) -> Report {
    let start = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let cats: Vec<String> = ["pricing", "deprecation", "policy"].map(String::from).to_vec();
    let weeks: Vec<Week> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut counts: BTreeMap<String, usize> = cats.iter().map(|c| (c.clone(), 0)).collect();
            for (c, n) in *w {
                counts.insert((*c).to_owned(), *n);
            }
            Week {
                start: start + Duration::days(7 * i as i64),
                total: counts.values().sum(),
                counts,
            }
        })
        .collect();
    Report {
        since: Utc::now() - Duration::days(28),
        until: Utc::now(),
        period: "28 days".into(),
        sources_watched: 3,
        changes: weeks.iter().map(|w| w.total).sum(),
        material: 0,
        matrix: Vec::new(),
        material_briefs: Vec::new(),
        decisions: Vec::new(),
        fallbacks: Vec::new(),
        deadlines: Vec::new(),
        cost_rises: Vec::new(),
        waiting: Vec::new(),
        weeks,
        chart_categories: cats,
    }
}

/// A small XML well-formedness check: balanced, properly nested tags, quoted attributes, known
/// entities only.
fn well_formed(xml: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    let mut roots = 0;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt])?;
        let gt = rest[lt..].find('>').ok_or("unclosed tag")? + lt;
        let tag = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> without an open tag"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag.split_whitespace().next().ok_or("empty tag")?;
        let attrs = &tag[name.len()..];
        if !attrs.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        check_text(&attrs.replace('"', ""))?;
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name.to_owned());
        }
    }
    check_text(rest)?;
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

fn check_text(t: &str) -> Result<(), String> {
    if t.contains('>') && !t.contains("=\"") {
        return Err(format!("bare > in {t:?}"));
    }
    for (i, _) in t.match_indices('&') {
        let ent = &t[i..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|e| ent.starts_with(e))
        {
            return Err(format!("bad entity at {ent:.10}"));
        }
    }
    Ok(())
}

#[test]
fn the_checker_itself_catches_broken_xml() {
    assert!(well_formed("<svg><g></svg>").is_err());
    assert!(well_formed("<svg>a & b</svg>").is_err());
    assert!(well_formed("<svg><rect x=\"1/></svg>").is_err());
    assert!(well_formed("<svg><title>x</title></svg>").is_ok());
}

#[test]
fn the_chart_has_a_stacked_bar_per_week_a_legend_and_a_description() {
    let r = report_with_weeks(&[
        &[("pricing", 2), ("policy", 1)],
        &[],
        &[("deprecation", 4)],
        &[("pricing", 1)],
    ]);
    let svg = chart_svg(&r);
    well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(svg.matches("<g class=\"week\"").count(), 4, "one group per week");
    let week = |i: usize| {
        svg.split("<g class=\"week\"")
            .nth(i + 1)
            .unwrap()
            .split("</g>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(week(0).matches("<rect").count(), 2, "pricing and policy stacked");
    assert_eq!(week(1).matches("<rect").count(), 0);
    assert_eq!(week(2).matches("<rect").count(), 1);
    // The tallest bar (4) reaches the top of the plot; 2 of them are half as tall.
    let height = |w: &str, n: usize| -> f64 {
        let h = w.split("height=\"").nth(n + 1).unwrap();
        h[..h.find('"').unwrap()].parse().unwrap()
    };
    let full = height(&week(2), 0);
    assert!((height(&week(0), 0) - full / 2.0).abs() < 0.2, "{svg}");
    assert!(svg.contains("<title id=\"chart-title\">Changes per week by category</title>"));
    assert!(svg.contains("Week of 2026-11-02: 2 pricing, 1 policy"), "{svg}");
    let legend = svg.split("<g class=\"legend\">").nth(1).unwrap();
    for c in ["pricing", "deprecation", "policy"] {
        assert!(legend.contains(&format!(">{c}</text>")), "legend lacks {c}");
    }
}

#[test]
fn since_takes_durations_and_times() {
    let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(parse_since("7d", now).unwrap(), now - Duration::days(7));
    assert_eq!(
        parse_since("2026-11-01T00:00:00Z", now).unwrap().to_rfc3339(),
        "2026-11-01T00:00:00+00:00"
    );
    assert!(parse_since("last week", now).is_err());
}

#[tokio::test]
async fn a_long_period_charts_its_last_26_weeks_with_readable_labels() {
    let (_dir, store, _) = seeded().await;
    let now = Utc::now();
    let r = gather_at(
        &store,
        &[],
        None,
        now - Duration::days(3 * 365),
        now + Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(r.weeks.len(), CHART_WEEKS as usize);
    assert_eq!(r.weeks.iter().map(|w| w.total).sum::<usize>(), 4);
    let svg = chart_svg(&r);
    well_formed(&svg).unwrap();
    assert!(svg.contains("The last 26 weeks of the period."), "{svg}");
    let labels = svg.matches("text-anchor=\"middle\" fill=\"#1b1f24\">").count();
    assert!(
        labels <= 13 + 1,
        "week labels thinned out (plus the one total): {labels}"
    );
}

#[test]
fn vendor_text_is_inert_in_the_markdown() {
    let s = super::md_text("[rotate keys](https://evil) <img src=//x> *now*\nnext");
    assert!(!s.contains('\n'), "{s}");
    // Every character Markdown would act on is escaped.
    for (i, c) in s.char_indices() {
        if "[]<>*".contains(c) {
            assert_eq!(&s[i - 1..i], "\\", "unescaped {c} in {s}");
        }
    }
}

#[test]
fn a_period_reaching_before_2000_is_refused_not_a_panic() {
    let now = chrono::Utc::now();
    assert!(super::parse_since("300000000000s", now).is_err());
    assert!(super::parse_since("1970-01-02T00:00:00Z", now).is_err());
    assert!(super::parse_since("30d", now).is_ok());
}

/// Bob approves decision `id` and the clock applies it, as the decisions service would.
async fn approve_and_apply(store: &Store, id: i64) {
    use crate::domain::decision::{self as lifecycle, Verdict};
    let now = Utc::now();
    store
        .transition_decision(id, |d, _| {
            lifecycle::vote(d, "bob", Verdict::Approve, None, now).map(|t| vec![t])
        })
        .await
        .unwrap();
    store
        .transition_decision(id, |d, active| lifecycle::activate(d, active, "system", now))
        .await
        .unwrap();
}
