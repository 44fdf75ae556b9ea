//! Edge cases of the watcher found in review: each of these once produced a false change, a
//! hidden failure, a duplicate record or a crash.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, counts};
use signalbox::watch::PollOutcome;
use std::time::Duration;

const SUMMARY: &str = r#"{
  "page": {"id": "p", "name": "Acme", "url": "https://status.acme.test", "updated_at": "2026-01-01T00:00:00Z"},
  "status": {"indicator": "none", "description": "All Systems Operational"},
  "components": [
    {"id": "c1", "name": "API", "status": "operational", "group_id": null, "group": false, "updated_at": "2026-01-01T00:00:00Z"}
  ],
  "incidents": [],
  "scheduled_maintenances": []
}"#;

#[tokio::test]
async fn an_ignore_rule_never_edits_a_status_page_state() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "st",
        "statuspage",
        &fx.url("/s.json"),
        "status",
        "ignore = ['(?i)operational']",
    );
    fx.set("/s.json", Page::new("application/json", SUMMARY));
    let app = env.app().await;
    let r = app.watcher.poll(&env.source("st")).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::First { .. }), "{r:?}");
    let snap = app.watcher.store.latest_snapshot("st").await.unwrap().unwrap();
    let text = app.watcher.store.blob_text(&snap.text_sha256).await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["components"][0]["status"], "operational", "the state survives");
    assert_eq!(doc["description"], "All Systems", "the prose was cleaned");
}

#[tokio::test]
async fn new_rules_that_match_nothing_fail_even_when_the_server_answers_304() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("p", "html", &fx.url("/p"), "docs", "select = [\"main\"]");
    fx.set(
        "/p",
        Page::html("<body><main><p>hello</p></main></body>").etag("\"v1\""),
    );
    let app = env.app().await;
    app.watcher.poll(&env.source("p")).await.unwrap();
    env.write_source("p", "html", &fx.url("/p"), "docs", "select = [\"#does-not-exist\"]");
    let src = env.source("p");
    for _ in 0..2 {
        let r = app.watcher.poll(&src).await.unwrap();
        assert!(
            matches!(
                r.outcome,
                PollOutcome::Failed {
                    class: signalbox::fetch::ErrorClass::ExtractFailed,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    assert!(
        fx.seen("/p")
            .iter()
            .skip(1)
            .all(|s| s.headers.get("if-none-match").is_none())
    );
}

#[tokio::test]
async fn re_pointing_a_source_resets_its_baseline_without_a_change() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("u", "html", &fx.url("/old"), "docs", "");
    fx.set("/old", Page::html("<p>old page</p>").etag("\"old\""));
    fx.set("/new", Page::html("<p>new page</p>"));
    let app = env.app().await;
    app.watcher.poll(&env.source("u")).await.unwrap();
    env.write_source("u", "html", &fx.url("/new"), "docs", "");
    let src = env.source("u");
    let r = app.watcher.poll(&src).await.unwrap();
    assert!(
        fx.seen("/new")[0].headers.get("if-none-match").is_none(),
        "old validators sent to the new URL"
    );
    assert!(matches!(r.outcome, PollOutcome::RulesUpgraded { .. }), "{r:?}");
    let history = app.watcher.store.changes(Some("u"), 0, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, signalbox::store::ChangeKind::RulesUpgrade);
    // The new URL is now the baseline: its next edit is a change.
    fx.set("/new", Page::html("<p>new page, edited</p>"));
    assert!(matches!(
        app.watcher.poll(&src).await.unwrap().outcome,
        PollOutcome::Changed { .. }
    ));
}

#[tokio::test]
async fn a_change_the_structured_diff_does_not_model_still_has_a_diff() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("st", "statuspage", &fx.url("/s.json"), "status", "");
    fx.set("/s.json", Page::new("application/json", SUMMARY));
    let app = env.app().await;
    app.watcher.poll(&env.source("st")).await.unwrap();
    fx.set(
        "/s.json",
        Page::new("application/json", SUMMARY.replace("\"API\"", "\"Claude API\"")),
    );
    let r = app.watcher.poll(&env.source("st")).await.unwrap();
    let PollOutcome::Changed { change, .. } = r.outcome else {
        panic!("{r:?}")
    };
    let c = app.watcher.store.change(change).await.unwrap().unwrap();
    let d: signalbox::diff::Diff = serde_json::from_value(c.diff.unwrap()).unwrap();
    assert!(!d.is_empty(), "{d:?}");
    let signalbox::diff::Diff::Text(t) = d else {
        panic!("expected the text fallback")
    };
    assert!(t.hunks[0].lines.iter().any(|l| l.text.contains("Claude API")));
}

#[tokio::test]
async fn feed_items_without_ids_that_share_a_link_stay_distinct() {
    let rss = |items: &str| {
        format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</title>{items}</channel></rss>")
    };
    let item = |t: &str, d: &str| {
        format!("<item><title>{t}</title><link>https://acme.test/changelog</link><pubDate>{d}</pubDate></item>")
    };
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("f", "feed", &fx.url("/f.xml"), "changelog", "");
    let a = item("one", "Mon, 05 Jan 2026 10:00:00 GMT");
    let b = item("two", "Tue, 06 Jan 2026 10:00:00 GMT");
    let c = item("three", "Wed, 07 Jan 2026 10:00:00 GMT");
    fx.set("/f.xml", Page::new("application/rss+xml", rss(&format!("{b}{a}"))));
    let app = env.app().await;
    app.watcher.poll(&env.source("f")).await.unwrap();
    fx.set("/f.xml", Page::new("application/rss+xml", rss(&format!("{c}{b}{a}"))));
    let PollOutcome::Changed { change, .. } = app.watcher.poll(&env.source("f")).await.unwrap().outcome else {
        panic!()
    };
    let d = app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap();
    assert_eq!(d["added"].as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d["added"][0]["title"], "three");
    assert!(d["changed"].as_array().unwrap().is_empty(), "{d:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_polling_one_source_record_one_change() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("p", "html", &fx.url("/p"), "docs", "");
    fx.set("/p", Page::html("<p>v1</p>"));
    // Two apps on one database file stand for `serve` and a `check` run beside it.
    let a = env.app().await;
    let b = env.app().await;
    let src = env.source("p");
    a.watcher.poll(&src).await.unwrap();
    fx.set("/p", Page::html("<p>v2</p>").delay(Duration::from_millis(300)));
    let (ra, rb) = tokio::join!(a.watcher.poll(&src), b.watcher.poll(&src));
    let outcomes = [ra.unwrap().outcome, rb.unwrap().outcome];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, PollOutcome::Changed { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(counts(&a.watcher.store, "p").await, (2, 1), "one edit, one change");
}

#[tokio::test]
async fn a_long_retry_after_is_honoured_by_the_schedule() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("busy", "html", &fx.url("/busy"), "docs", "schedule = \"* * * * *\"");
    fx.set("/busy", Page::html("later").status(429).header("retry-after", "3600"));
    let app = env.app().await;
    let src = env.source("busy");
    let r = app.watcher.poll(&src).await.unwrap();
    assert!(
        matches!(
            r.outcome,
            PollOutcome::Failed {
                class: signalbox::fetch::ErrorClass::RateLimited,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        fx.seen("/busy").len(),
        1,
        "a Retry-After longer than the in-line cap is not waited for"
    );
    let state = app.watcher.store.state("busy").await.unwrap().unwrap();
    let now = chrono::Utc::now();
    let next = signalbox::scheduler::next_run(&src, Some(&state), now, &app.settings.scheduler);
    assert!(
        next >= now + chrono::Duration::seconds(3590),
        "next run {next} ignores Retry-After"
    );
}
