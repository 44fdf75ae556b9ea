//! The watcher over real HTTP: one poll at a time against the fixture server, a real SQLite file.

use crate::fixture::{Fixture, Page, raw_server};
use crate::helpers::{Env, counts};
use signalbox::fetch::ErrorClass;
use signalbox::watch::PollOutcome;
use std::time::Duration;

fn policy(body: &str) -> Page {
    Page::html(&format!(
        "<html><head><title>Usage policy</title><script>var t = {};</script></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/pricing\">Pricing</a></nav>\
         <main><h1>Usage policy</h1>{body}<p class=\"stamp\">Updated: 3 days ago</p></main>\
         <footer>© Acme</footer></body></html>",
        rand_like(body)
    ))
}

/// A value that changes with the body but sits in a script the extractor drops.
fn rand_like(s: &str) -> usize {
    s.len() * 7919
}

const V1: &str = "<h2>Prohibited uses</h2><ul><li>Malware</li><li>Spam</li></ul><p>Effective January 5, 2026.</p>";
const V2: &str = "<h2>Prohibited uses</h2><ul><li>Malware</li><li>Spam</li><li>Election interference</li></ul><p>Effective January 5, 2026.</p>";

fn html_source(env: &Env, fx: &Fixture) {
    env.write_source(
        "acme-policy",
        "html",
        &fx.url("/policy"),
        "policy",
        "select = [\"main\"]\nremove = [\".stamp\"]\n",
    );
}

#[tokio::test]
async fn first_poll_stores_a_snapshot_and_no_change() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    let src = env.source("acme-policy");
    let r = app.watcher.poll(&src).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::First { .. }), "{r:?}");
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (1, 0));
    let snap = app.watcher.store.latest_snapshot("acme-policy").await.unwrap().unwrap();
    let text = app.watcher.store.blob_text(&snap.text_sha256).await.unwrap();
    assert!(text.contains("# Usage policy"), "{text}");
    assert!(text.contains("- Malware"), "{text}");
    assert!(!text.contains("Home"), "nav leaked: {text}");
    assert!(!text.contains("Updated"), "removed element leaked: {text}");
    let raw = app.watcher.store.blob(&snap.raw_sha256).await.unwrap();
    assert!(
        String::from_utf8(raw).unwrap().contains("<nav>"),
        "the raw body is kept whole"
    );
    let state = app.watcher.store.state("acme-policy").await.unwrap().unwrap();
    assert!(state.last_success.is_some());
    assert_eq!(state.consecutive_failures, 0);
}

#[tokio::test]
async fn an_edit_produces_exactly_one_change_with_the_right_diff() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    let src = env.source("acme-policy");
    app.watcher.poll(&src).await.unwrap();
    fx.set("/policy", policy(V2));
    let r = app.watcher.poll(&src).await.unwrap();
    let PollOutcome::Changed { change, .. } = r.outcome else {
        panic!("{r:?}")
    };
    // Polling the same page again is not another change.
    let again = app.watcher.poll(&src).await.unwrap();
    assert_eq!(again.outcome, PollOutcome::Unchanged);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (2, 1));

    let c = app.watcher.store.change(change).await.unwrap().unwrap();
    let diff = c.diff.unwrap();
    assert_eq!(diff["type"], "text");
    assert_eq!(diff["added"], 1, "{diff:#}");
    assert_eq!(diff["removed"], 0, "{diff:#}");
    let inserted: Vec<&str> = diff["hunks"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["op"] == "insert")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(inserted, ["- Election interference"]);
    let state = app.watcher.store.state("acme-policy").await.unwrap().unwrap();
    assert!(state.last_change.is_some());
}

#[tokio::test]
async fn same_bytes_and_not_modified_produce_nothing() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    let src = env.source("acme-policy");
    app.watcher.poll(&src).await.unwrap();
    assert_eq!(app.watcher.poll(&src).await.unwrap().outcome, PollOutcome::Unchanged);

    // Now with an ETag: the next poll is conditional and the server answers 304.
    fx.set("/policy", policy(V1).etag("\"v1\""));
    app.watcher.poll(&src).await.unwrap();
    let r = app.watcher.poll(&src).await.unwrap();
    assert_eq!(r.outcome, PollOutcome::Unchanged);
    let seen = fx.seen("/policy");
    let last = seen.last().unwrap();
    assert_eq!(last.headers.get("if-none-match").unwrap(), "\"v1\"");
    assert_eq!(last.status, 304);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (1, 0));
}

#[tokio::test]
async fn noise_that_normalizes_away_is_not_a_change() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "acme-terms",
        "html",
        &fx.url("/terms"),
        "terms",
        "ignore = ['Last refreshed \\d+ minutes ago']\n",
    );
    let app = env.app().await;
    let src = env.source("acme-terms");
    fx.set(
        "/terms",
        Page::html("<body><p>Terms  apply.</p><p>Last refreshed 5 minutes ago</p></body>"),
    );
    app.watcher.poll(&src).await.unwrap();
    // Different bytes: whitespace, a tracking parameter, a zero-width space, the ignored stamp.
    fx.set(
        "/terms",
        Page::html("<body>\n  <p>Terms\u{200b} apply.</p>\n<p>Last refreshed 9 minutes ago</p></body>"),
    );
    let r = app.watcher.poll(&src).await.unwrap();
    assert_eq!(r.outcome, PollOutcome::Unchanged);
    assert_eq!(counts(&app.watcher.store, "acme-terms").await, (1, 0));
}

#[tokio::test]
async fn a_flipping_page_is_one_change_not_one_per_flip() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    let app = env.app().await;
    let src = env.source("acme-policy");
    let mut changes = 0;
    for i in 0..8 {
        fx.set("/policy", policy(if i % 2 == 0 { V1 } else { V2 }));
        let r = app.watcher.poll(&src).await.unwrap();
        if matches!(r.outcome, PollOutcome::Changed { .. }) {
            changes += 1;
        }
    }
    assert_eq!(changes, 1);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await.1, 1);
}

/// Polls a source that fails and checks that nothing but health was written.
async fn assert_failure(env: &Env, id: &str, expected: ErrorClass) {
    let app = env.app().await;
    let src = env.source(id);
    let r = app.watcher.poll(&src).await.unwrap();
    match &r.outcome {
        PollOutcome::Failed { class, .. } => assert_eq!(*class, expected, "{r:?}"),
        other => panic!("expected {expected}, got {other:?}"),
    }
    assert_eq!(counts(&app.watcher.store, id).await, (0, 0));
    let state = app.watcher.store.state(id).await.unwrap().unwrap();
    assert_eq!(state.last_error_class.as_deref(), Some(expected.as_str()));
    assert_eq!(state.consecutive_failures, 1);
    assert!(state.last_success.is_none());
}

#[tokio::test]
async fn failures_store_no_snapshot_and_name_their_class() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set("/500", Page::html("oops").status(500));
    fx.set("/404", Page::html("gone").status(404));
    fx.set("/slow", Page::html("<p>late</p>").delay(Duration::from_secs(5)));
    fx.set("/big", Page::html(&"<p>x</p>".repeat(200_000)));
    fx.set("/nomatch", Page::html("<body><div id=other>text</div></body>"));
    fx.set("/image", Page::new("image/png", vec![0x89, b'P', b'N', b'G']));
    fx.set("/loop", Page::html("").status(302).header("location", "/loop"));
    fx.set("/badjson", Page::new("application/json", "{not json"));
    env.write_source("s500", "html", &fx.url("/500"), "docs", "");
    env.write_source("s404", "html", &fx.url("/404"), "docs", "");
    env.write_source("slow", "html", &fx.url("/slow"), "docs", "");
    env.write_source("big", "html", &fx.url("/big"), "docs", "");
    env.write_source("nomatch", "html", &fx.url("/nomatch"), "docs", "select = [\"main\"]");
    env.write_source("image", "html", &fx.url("/image"), "docs", "");
    env.write_source("loop", "html", &fx.url("/loop"), "docs", "");
    env.write_source("badjson", "json", &fx.url("/badjson"), "pricing", "");

    let mut s = env.settings();
    s.fetch.max_body_bytes = 1_000_000;
    // The size cap is a setting: run the oversized case with a 1 MB cap.
    let app = signalbox::server::App::build(s).await.unwrap();
    let r = app.watcher.poll(&env.source("big")).await.unwrap();
    assert!(
        matches!(
            r.outcome,
            PollOutcome::Failed {
                class: ErrorClass::TooLarge,
                ..
            }
        ),
        "{r:?}"
    );
    drop(app);

    assert_failure(&env, "s500", ErrorClass::Http5xx).await;
    // 5xx is transient: the first attempt and one retry, both recorded.
    assert_eq!(fx.seen("/500").len(), 2);
    let app = env.app().await;
    assert_eq!(app.watcher.store.attempts("s500", 10).await.unwrap().len(), 2);
    assert_failure(&env, "s404", ErrorClass::Http4xx).await;
    assert_eq!(fx.seen("/404").len(), 1, "4xx is not retried");
    assert_failure(&env, "slow", ErrorClass::Timeout).await;
    assert_failure(&env, "nomatch", ErrorClass::ExtractFailed).await;
    assert_failure(&env, "image", ErrorClass::UnsupportedType).await;
    assert_failure(&env, "loop", ErrorClass::TooManyRedirects).await;
    assert_eq!(fx.seen("/loop").len(), 6, "the first request and five redirects");
    assert_failure(&env, "badjson", ErrorClass::ExtractFailed).await;
}

#[tokio::test]
async fn a_failing_page_never_replaces_a_good_version() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    let src = env.source("acme-policy");
    app.watcher.poll(&src).await.unwrap();
    for page in [
        Page::html("maintenance").status(503),
        Page::html("<body><p>Please enable JavaScript</p></body>"),
        Page::html(""),
    ] {
        fx.set("/policy", page);
        let r = app.watcher.poll(&src).await.unwrap();
        assert!(matches!(r.outcome, PollOutcome::Failed { .. }), "{r:?}");
    }
    // The page comes back as it was: no change, and nothing was lost.
    fx.set("/policy", policy(V1));
    assert_eq!(app.watcher.poll(&src).await.unwrap().outcome, PollOutcome::Unchanged);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (1, 0));
}

#[tokio::test]
async fn an_error_page_served_as_200_is_a_failed_fetch_not_a_version() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    let src = env.source("acme-policy");
    app.watcher.poll(&src).await.unwrap();
    for shell in [
        "<h2>Page not found</h2><p>The page you are looking for does not exist.</p>",
        "<h2>Access denied</h2><p>You don't have permission to access this page.</p>",
        "<h2>This page isn’t available</h2><p>An unexpected error has occurred. Try reloading the page.</p>",
    ] {
        // Inside the same layout, with status 200: only the words tell.
        fx.set(
            "/policy",
            Page::html(&format!("<html><body><main>{shell}</main></body></html>")),
        );
        let r = app.watcher.poll(&src).await.unwrap();
        match &r.outcome {
            PollOutcome::Failed { class, .. } => assert_eq!(*class, ErrorClass::ErrorPage, "{r:?}"),
            other => panic!("expected error_page, got {other:?}"),
        }
    }
    let state = app.watcher.store.state("acme-policy").await.unwrap().unwrap();
    assert_eq!(state.last_error_class.as_deref(), Some("error_page"));
    // The document comes back: no change either way, one version stored.
    fx.set("/policy", policy(V1));
    assert_eq!(app.watcher.poll(&src).await.unwrap().outcome, PollOutcome::Unchanged);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (1, 0));
}

#[tokio::test]
async fn a_return_to_an_earlier_version_that_stays_is_news() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("acme-prices", "markdown", &fx.url("/prices.md"), "pricing", "");
    let page = |price: &str| {
        Page::new(
            "text/markdown",
            format!("| Model | Output |\n|---|---|\n| acme-x-1 | ${price} |\n"),
        )
    };
    let app = env.app().await;
    let src = env.source("acme-prices");
    let mut outcomes = Vec::new();
    // 18 → 15 → back to 18 (a flip, until the next poll shows it stayed) → 18 → 18.
    for price in ["18", "15", "18", "18", "18"] {
        fx.set("/prices.md", page(price));
        outcomes.push(app.watcher.poll(&src).await.unwrap().outcome);
    }
    assert!(matches!(outcomes[1], PollOutcome::Changed { .. }), "{outcomes:?}");
    assert!(matches!(outcomes[2], PollOutcome::Flapped { .. }), "{outcomes:?}");
    assert!(matches!(outcomes[3], PollOutcome::Changed { .. }), "{outcomes:?}");
    assert_eq!(outcomes[4], PollOutcome::Unchanged);
    let store = &app.watcher.store;
    let changes = store.changes(Some("acme-prices"), 0, 10).await.unwrap();
    assert_eq!(changes.len(), 2);
    // The second change goes from what was last reported (15) to 18.
    assert_eq!(changes[1].before, changes[0].after);
    let text = |id: i64| async move {
        let snap = store.snapshot(id).await.unwrap().unwrap();
        store.blob_text(&snap.text_sha256).await.unwrap()
    };
    assert!(text(changes[1].before).await.contains("$15"));
    assert!(text(changes[1].after).await.contains("$18"));

    // A page that keeps alternating is never confirmed: 18 → 15 → 18 → 15 → 18 ... is one
    // change (the first), whatever the number of flips.
    let env = Env::new();
    env.write_source("acme-prices", "markdown", &fx.url("/flip.md"), "pricing", "");
    let app = env.app().await;
    let src = env.source("acme-prices");
    for price in ["18", "15", "18", "15", "18", "15", "18", "15"] {
        fx.set("/flip.md", page(price));
        app.watcher.poll(&src).await.unwrap();
    }
    assert_eq!(counts(&app.watcher.store, "acme-prices").await.1, 1);
}

#[tokio::test]
async fn a_gzip_bomb_is_too_large_not_an_allocation() {
    use std::io::Write;
    let (env, fx) = (Env::new(), Fixture::start().await);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 50 * 1024 * 1024]).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 200_000);
    fx.set(
        "/bomb",
        Page::new("text/plain", bomb).header("content-encoding", "gzip"),
    );
    env.write_source("bomb", "text", &fx.url("/bomb"), "docs", "");
    assert_failure(&env, "bomb", ErrorClass::TooLarge).await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_truncated() {
    let env = Env::new();
    let addr = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nshort",
    )
    .await;
    env.write_source("short", "text", &format!("http://{addr}/"), "docs", "");
    assert_failure(&env, "short", ErrorClass::Truncated).await;
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_time_the_server_asks() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.sequence(
        "/limited",
        vec![
            Page::html("slow down").status(429).header("retry-after", "1"),
            Page::html("<p>fine</p>"),
        ],
    );
    env.write_source("limited", "html", &fx.url("/limited"), "docs", "");
    let app = env.app().await;
    let t0 = std::time::Instant::now();
    let r = app.watcher.poll(&env.source("limited")).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::First { .. }), "{r:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    let attempts = app.watcher.store.attempts("limited", 10).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].error_class.as_deref(), Some("rate_limited"));
    assert_eq!(attempts[0].status, Some(200));
}

#[tokio::test]
async fn private_addresses_are_blocked_unless_allowed() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set("/p", Page::html("<p>internal</p>"));
    env.write_source("internal", "html", &fx.url("/p"), "docs", "");
    env.write_source(
        "byname",
        "html",
        &format!("http://localhost:{}/p", fx.addr.port()),
        "docs",
        "",
    );
    env.write_source(
        "metadata",
        "html",
        "http://169.254.169.254/latest/meta-data/",
        "docs",
        "",
    );
    let mut s = env.settings();
    s.allow_private_networks = false;
    let app = signalbox::server::App::build(s).await.unwrap();
    for id in ["internal", "byname"] {
        let r = app.watcher.poll(&env.source(id)).await.unwrap();
        assert!(
            matches!(
                r.outcome,
                PollOutcome::Failed {
                    class: ErrorClass::Blocked,
                    ..
                }
            ),
            "{id}: {r:?}"
        );
    }
    assert!(fx.seen("/p").is_empty(), "nothing reached the private server");
    drop(app);
    // Allowing private networks never opens cloud metadata addresses.
    let app = env.app().await;
    let r = app.watcher.poll(&env.source("metadata")).await.unwrap();
    assert!(
        matches!(
            r.outcome,
            PollOutcome::Failed {
                class: ErrorClass::Blocked,
                ..
            }
        ),
        "{r:?}"
    );
    let r = app.watcher.poll(&env.source("byname")).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::First { .. }), "{r:?}");
}

#[tokio::test]
async fn a_redirect_into_a_private_network_is_blocked() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set(
        "/go",
        Page::html("")
            .status(302)
            .header("location", "http://169.254.169.254/latest/meta-data/"),
    );
    env.write_source("redir", "html", &fx.url("/go"), "docs", "");
    assert_failure(&env, "redir", ErrorClass::Blocked).await;
}

#[tokio::test]
async fn a_rules_change_is_a_rules_upgrade_not_a_change() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    let app = env.app().await;
    app.watcher.poll(&env.source("acme-policy")).await.unwrap();

    // The owner stops removing the stamp (page chrome such as the footer is dropped by the
    // extractor whatever the selection, so widening it would change nothing).
    env.write_source(
        "acme-policy",
        "html",
        &fx.url("/policy"),
        "policy",
        "select = [\"main\"]\n",
    );
    let src = env.source("acme-policy");
    let r = app.watcher.poll(&src).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::RulesUpgraded { .. }), "{r:?}");
    let changes = app.watcher.store.changes(Some("acme-policy"), 0, 100).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, signalbox::store::ChangeKind::RulesUpgrade);
    let snap = app.watcher.store.latest_snapshot("acme-policy").await.unwrap().unwrap();
    assert_eq!(snap.origin, "rules_upgrade");
    assert!(
        app.watcher
            .store
            .blob_text(&snap.text_sha256)
            .await
            .unwrap()
            .contains("Updated: 3 days ago")
    );

    // From then on, real edits are changes again, compared under the new rules.
    assert_eq!(app.watcher.poll(&src).await.unwrap().outcome, PollOutcome::Unchanged);
    fx.set("/policy", policy(V2));
    let r = app.watcher.poll(&src).await.unwrap();
    assert!(matches!(r.outcome, PollOutcome::Changed { .. }), "{r:?}");
}

#[tokio::test]
async fn restarting_on_the_same_database_does_not_report_old_changes() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", policy(V1));
    {
        let app = env.app().await;
        let src = env.source("acme-policy");
        app.watcher.poll(&src).await.unwrap();
        fx.set("/policy", policy(V2));
        app.watcher.poll(&src).await.unwrap();
        app.watcher.store.close().await;
    }
    let app = env.app().await;
    let r = app.watcher.poll(&env.source("acme-policy")).await.unwrap();
    assert_eq!(r.outcome, PollOutcome::Unchanged);
    assert_eq!(counts(&app.watcher.store, "acme-policy").await, (2, 1));
}

#[tokio::test]
async fn three_failures_make_a_source_broken_and_it_recovers_by_itself() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    html_source(&env, &fx);
    fx.set("/policy", Page::html("down").status(502));
    let app = env.app().await;
    let src = env.source("acme-policy");
    let health = |app: &signalbox::server::App| {
        let (store, sources, sched) = (
            app.watcher.store.clone(),
            app.sources.clone(),
            app.settings.scheduler.clone(),
        );
        async move {
            signalbox::health::source_rows(&store, &sources, &sched)
                .await
                .unwrap()
                .remove(0)
        }
    };
    for expected in ["failing", "failing", "broken"] {
        app.watcher.poll(&src).await.unwrap();
        let row = health(&app).await;
        assert_eq!(row.health, expected);
        assert_eq!(row.last_error_class.as_deref(), Some("http_5xx"));
    }
    assert_eq!(health(&app).await.consecutive_failures, 3);
    fx.set("/policy", policy(V1));
    app.watcher.poll(&src).await.unwrap();
    let row = health(&app).await;
    assert_eq!(row.health, "ok");
    assert_eq!(row.consecutive_failures, 0);
    assert_eq!(row.last_error_class, None);
}

const SUMMARY_OK: &str = r#"{
  "page": {"id": "p", "name": "Acme", "url": "https://status.acme.test", "updated_at": "2026-01-01T00:00:00Z"},
  "status": {"indicator": "none", "description": "All Systems Operational"},
  "components": [
    {"id": "c1", "name": "API", "status": "operational", "group_id": null, "group": false, "updated_at": "2026-01-01T00:00:00Z"},
    {"id": "c2", "name": "Console", "status": "operational", "group_id": null, "group": false, "updated_at": "2026-01-01T00:00:00Z"}
  ],
  "incidents": [],
  "scheduled_maintenances": []
}"#;

const SUMMARY_OUTAGE: &str = r#"{
  "page": {"id": "p", "name": "Acme", "url": "https://status.acme.test", "updated_at": "2026-01-01T00:10:00Z"},
  "status": {"indicator": "major", "description": "Major outage"},
  "components": [
    {"id": "c2", "name": "Console", "status": "operational", "group_id": null, "group": false, "updated_at": "2026-01-01T00:10:00Z"},
    {"id": "c1", "name": "API", "status": "major_outage", "group_id": null, "group": false, "updated_at": "2026-01-01T00:10:00Z"}
  ],
  "incidents": [{
    "id": "inc1", "name": "Elevated errors on the API", "status": "investigating", "impact": "major",
    "created_at": "2026-01-01T00:05:00Z", "updated_at": "2026-01-01T00:10:00Z", "shortlink": "https://stspg.io/x",
    "incident_updates": [{"id": "u1", "status": "investigating", "body": "We are looking into it.", "created_at": "2026-01-01T00:05:00Z"}],
    "components": [{"id": "c1", "name": "API", "status": "major_outage"}]
  }],
  "scheduled_maintenances": []
}"#;

#[tokio::test]
async fn a_status_page_reports_transitions_and_its_recovery() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("acme-status", "statuspage", &fx.url("/summary.json"), "status", "");
    let app = env.app().await;
    let src = env.source("acme-status");
    fx.set("/summary.json", Page::new("application/json", SUMMARY_OK));
    app.watcher.poll(&src).await.unwrap();

    fx.set("/summary.json", Page::new("application/json", SUMMARY_OUTAGE));
    let PollOutcome::Changed { change, .. } = app.watcher.poll(&src).await.unwrap().outcome else {
        panic!()
    };
    let d = app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap();
    assert_eq!(d["type"], "status");
    assert_eq!(d["indicator"]["to"], "major");
    assert_eq!(d["components"][0]["name"], "API");
    assert_eq!(d["components"][0]["from"], "operational");
    assert_eq!(d["components"][0]["to"], "major_outage");
    assert_eq!(d["incidents_opened"][0]["id"], "inc1");

    // Back to all operational equals the first version, and is still news: the flapping rule
    // does not apply to status pages.
    fx.set(
        "/summary.json",
        Page::new("application/json", SUMMARY_OK.replace("00:00:00Z", "00:30:00Z")),
    );
    let PollOutcome::Changed { change, .. } = app.watcher.poll(&src).await.unwrap().outcome else {
        panic!()
    };
    let d = app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap();
    assert_eq!(d["components"][0]["to"], "operational");
    assert_eq!(d["incidents_resolved"][0]["id"], "inc1");
}

#[tokio::test]
async fn a_feed_is_compared_item_by_item() {
    let rss = |items: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Acme changelog</title>\
             <lastBuildDate>{}</lastBuildDate>{items}</channel></rss>",
            items.len()
        )
    };
    let item = |id: &str, title: &str, date: &str| {
        format!(
            "<item><guid>{id}</guid><title>{title}</title><pubDate>{date}</pubDate><description>&lt;p&gt;{title} details&lt;/p&gt;</description></item>"
        )
    };
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("acme-changelog", "feed", &fx.url("/feed.xml"), "changelog", "");
    let app = env.app().await;
    let src = env.source("acme-changelog");
    let one = item("a1", "New model acme-2", "Mon, 05 Jan 2026 10:00:00 GMT");
    let two = item("a2", "acme-1 retires on 2026-03-01", "Tue, 06 Jan 2026 10:00:00 GMT");
    fx.set("/feed.xml", Page::new("application/rss+xml", rss(&one)));
    app.watcher.poll(&src).await.unwrap();
    fx.set(
        "/feed.xml",
        Page::new("application/rss+xml", rss(&format!("{two}{one}"))),
    );
    let PollOutcome::Changed { change, .. } = app.watcher.poll(&src).await.unwrap().outcome else {
        panic!()
    };
    let d = app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap();
    assert_eq!(d["type"], "feed");
    assert_eq!(d["added"].as_array().unwrap().len(), 1);
    assert_eq!(d["added"][0]["id"], "a2");
    assert_eq!(d["added"][0]["summary"], "acme-1 retires on 2026-03-01 details");
    assert!(d["removed"].as_array().unwrap().is_empty());
    assert!(d["changed"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_json_document_is_watched_through_its_json_path() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "acme-models",
        "json",
        &fx.url("/models.json"),
        "models",
        "json_path = \"$.data\"",
    );
    let app = env.app().await;
    let src = env.source("acme-models");
    fx.set(
        "/models.json",
        Page::new(
            "application/json",
            r#"{"generated":"t1","data":[{"id":"m1","price":{"output":"8","input":"2"}}]}"#,
        ),
    );
    app.watcher.poll(&src).await.unwrap();
    // Outside the path and reordered keys: no change.
    fx.set(
        "/models.json",
        Page::new(
            "application/json",
            r#"{"data":[{"price":{"input":"2","output":"8"},"id":"m1"}],"generated":"t2"}"#,
        ),
    );
    assert_eq!(app.watcher.poll(&src).await.unwrap().outcome, PollOutcome::Unchanged);
    fx.set(
        "/models.json",
        Page::new(
            "application/json",
            r#"{"data":[{"price":{"input":"2","output":"10"},"id":"m1"}],"generated":"t3"}"#,
        ),
    );
    let PollOutcome::Changed { change, .. } = app.watcher.poll(&src).await.unwrap().outcome else {
        panic!()
    };
    let d = app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap();
    let lines = d["hunks"][0]["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["op"] == "insert" && l["text"].as_str().unwrap().contains("\"10\"")),
        "{d:#}"
    );
}
